"""LAAT's anchor expansion, in closed form.

The official code (anchors/convert_anchor.py in LixiaoTHU/LAAT) rotates the base mean direction m onto
the first axis with d x d Givens rotations, rescales the polar angle of every anchor from theta to
theta * (pi/2) / theta_max, and rotates back. A rotation fixing m only matters through the plane that
contains m and the anchor, so the same map is: move each anchor along its great circle through m.
That needs one dot product per anchor: O(N*d) instead of O(d^3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

# Below this angle (radians) an anchor is taken to coincide with m: its great circle is undefined.
_COINCIDENT_ANGLE = 1e-6


class ExpansionError(ValueError):
    """The anchors cannot be expanded (degenerate input)."""


@dataclass(frozen=True)
class ExpansionFit:
    """What the expansion learns from the base anchors."""

    mean_direction: torch.Tensor  # (d,), unit norm, float64
    theta_max: float  # largest angle (radians) between a base anchor and mean_direction

    @property
    def scale(self) -> float:
        return (math.pi / 2) / self.theta_max

    def to_dict(self) -> dict:
        return {"mean_direction": self.mean_direction.tolist(), "theta_max": self.theta_max}

    @classmethod
    def from_dict(cls, data: dict) -> ExpansionFit:
        return cls(torch.tensor(data["mean_direction"], dtype=torch.float64), float(data["theta_max"]))


def _unit_rows(anchors: torch.Tensor) -> torch.Tensor:
    anchors = torch.as_tensor(anchors).to(torch.float64)
    if anchors.ndim != 2:
        raise ExpansionError(f"anchors must be a 2-D matrix (classes x dim), got shape {tuple(anchors.shape)}")
    norms = anchors.norm(dim=1, keepdim=True)
    if bool((norms == 0).any()):
        raise ExpansionError("an anchor is the zero vector and has no direction")
    return anchors / norms


def fit_expansion(base_anchors: torch.Tensor) -> ExpansionFit:
    """Fit the expansion on the base (training) classes only."""
    base = _unit_rows(base_anchors)
    if base.shape[0] < 2:
        raise ExpansionError("expansion needs at least 2 base classes (one anchor has no spread to expand)")
    mean = base.mean(dim=0)
    if float(mean.norm()) < 1e-12:
        raise ExpansionError("the base anchors average to zero: their mean direction is undefined")
    mean = mean / mean.norm()
    theta_max = float(torch.arccos((base @ mean).clamp(-1.0, 1.0)).max())
    if theta_max < _COINCIDENT_ANGLE:
        raise ExpansionError("all base anchors are identical: there is no angle to expand")
    return ExpansionFit(mean, theta_max)


def apply_expansion(anchors: torch.Tensor, fit: ExpansionFit) -> torch.Tensor:
    """Map anchors (base or novel) from polar angle theta to theta * scale around the fitted mean.

    An anchor equal to the mean direction stays where it is (angle 0 maps to 0). The result is
    float32, unit norm, in the input's row order.
    """
    unit = _unit_rows(anchors)
    mean = fit.mean_direction.to(unit.device)
    if unit.shape[1] != mean.shape[0]:
        raise ExpansionError(f"anchor dimension {unit.shape[1]} does not match the fit's {mean.shape[0]}")
    cos_theta = (unit @ mean).clamp(-1.0, 1.0)
    theta = torch.arccos(cos_theta)
    orthogonal = unit - cos_theta[:, None] * mean
    sin_theta = orthogonal.norm(dim=1)
    coincident = theta < _COINCIDENT_ANGLE
    direction = orthogonal / torch.where(coincident, torch.ones_like(sin_theta), sin_theta)[:, None]
    new_theta = theta * fit.scale
    expanded = torch.cos(new_theta)[:, None] * mean + torch.sin(new_theta)[:, None] * direction
    expanded[coincident] = mean
    return expanded.to(torch.float32)


def expand(anchors: torch.Tensor, n_base: int | None = None) -> tuple[torch.Tensor, ExpansionFit]:
    """Fit on the first n_base rows (all rows when None) and expand every row."""
    n_base = anchors.shape[0] if n_base is None else n_base
    fit = fit_expansion(anchors[:n_base])
    return apply_expansion(anchors, fit), fit


def center(anchors: torch.Tensor, n_base: int | None = None) -> torch.Tensor:
    """Mean-centering baseline: subtract the base mean, then renormalize."""
    unit = _unit_rows(anchors)
    n_base = unit.shape[0] if n_base is None else n_base
    if n_base < 2:
        raise ExpansionError("centering needs at least 2 base classes")
    centered = unit - unit[:n_base].mean(dim=0)
    norms = centered.norm(dim=1, keepdim=True)
    if bool((norms < 1e-12).any()):
        raise ExpansionError("an anchor equals the base mean: centering leaves it without a direction")
    return (centered / norms).to(torch.float32)
