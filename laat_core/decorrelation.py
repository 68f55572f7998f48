"""Pick a de-correlation method by name: LAAT's expansion, mean-centering, or none."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from laat_core.expansion import ExpansionFit, center, expand

METHODS = ("expansion", "center", "none")


@dataclass
class Decorrelated:
    anchors: torch.Tensor
    method: str
    n_base: int
    fit: ExpansionFit | None = field(default=None)
    base_mean: torch.Tensor | None = field(default=None)  # for "center": what was subtracted

    def to_dict(self) -> dict:
        params: dict = {"method": self.method, "n_base": self.n_base}
        if self.fit is not None:
            params["theta_max"] = self.fit.theta_max
            params["mean_direction"] = self.fit.mean_direction.tolist()
        if self.base_mean is not None:
            params["base_mean"] = self.base_mean.tolist()
        return params


def decorrelate(anchors: torch.Tensor, method: str = "expansion", n_base: int | None = None) -> Decorrelated:
    """De-correlate anchors with statistics of the first n_base rows (all rows when None)."""
    n_base = anchors.shape[0] if n_base is None else n_base
    if not 1 <= n_base <= anchors.shape[0]:
        raise ValueError(f"the number of base classes must be between 1 and {anchors.shape[0]}, got {n_base}")
    if method == "expansion":
        expanded, fit = expand(anchors, n_base)
        return Decorrelated(expanded, method, n_base, fit)
    if method == "center":
        base_mean = F.normalize(anchors[:n_base].double(), dim=1).mean(dim=0)
        return Decorrelated(center(anchors, n_base), method, n_base, base_mean=base_mean)
    if method == "none":
        unit = anchors / anchors.norm(dim=1, keepdim=True)
        return Decorrelated(unit.to(torch.float32), method, n_base)
    raise ValueError(f"unknown de-correlation method {method!r}: choose one of {', '.join(METHODS)}")
