"""Everything the anchor lab shows, computed from a class list: before/after cosines, stats, maps."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from laat_core.anchors import AnchorStats, anchor_stats, cosine_matrix, encode_anchors, offdiagonal
from laat_core.decorrelation import decorrelate
from laat_core.projection import project_2d


@dataclass
class AnchorLabResult:
    names: list[str]
    n_base: int
    method: str
    cos_before: np.ndarray
    cos_after: np.ndarray
    pairs_before: np.ndarray  # one cosine per unordered pair
    pairs_after: np.ndarray
    stats_before: AnchorStats
    stats_after: AnchorStats
    map_before: np.ndarray | None
    map_after: np.ndarray | None
    map_method: str
    warnings: list[str]


NEAR_IDENTICAL = 0.999  # anchors this close are one class to any cosine head


def anchor_warnings(names: list[str], raw: torch.Tensor, result) -> list[str]:
    """What a user should know before trusting these anchors: duplicates, and novel anchors the expansion
    pushes past 90 degrees (those further from the base mean than any base anchor crowd together there)."""
    warnings = []
    cos = cosine_matrix(raw.double())
    pairs = [(names[i], names[j], float(cos[i, j])) for i in range(len(names)) for j in range(i + 1, len(names))]
    near = [p for p in pairs if p[2] >= NEAR_IDENTICAL]
    if near:
        listed = "; ".join(f"{a} / {b} ({c:.3f})" for a, b, c in near[:5])
        warnings.append(
            f"{len(near)} pair(s) of classes get (nearly) the same anchor: {listed}. The encoder cannot tell "
            "them apart (MiniLM, for one, knows little outside English); no classifier on these anchors can."
        )
    fit = getattr(result, "fit", None)
    if fit is not None and result.n_base < len(names):
        unit = raw.double() / raw.double().norm(dim=1, keepdim=True)
        angles = torch.arccos((unit[result.n_base :] @ fit.mean_direction).clamp(-1, 1))
        beyond = [names[result.n_base + i] for i, a in enumerate(angles.tolist()) if a > fit.theta_max]
        if beyond:
            warnings.append(
                f"{len(beyond)} novel class(es) lie further from the base mean than any base class "
                f"({', '.join(beyond[:5])}): the expansion scales every angle by {math.pi / 2 / fit.theta_max:.2f}, "
                "so these land past 90 degrees from the base mean, where they crowd together again."
            )
    return warnings


def run_anchor_lab(
    names: list[str], encoder: str, templates: tuple[str, ...], n_base: int | None, method: str, with_map: bool = True
) -> AnchorLabResult:
    raw = encode_anchors(encoder, names, templates)
    result = decorrelate(raw, method, n_base)
    before, after = cosine_matrix(raw.double()), cosine_matrix(result.anchors.double())
    map_before = map_after = None
    map_method = "not computed"
    if with_map:
        map_before, map_method = project_2d(raw)
        map_after, _ = project_2d(result.anchors)
    return AnchorLabResult(
        names,
        result.n_base,
        method,
        before.numpy(),
        after.numpy(),
        offdiagonal(before).numpy(),
        offdiagonal(after).numpy(),
        anchor_stats(raw, names),
        anchor_stats(result.anchors, names),
        map_before,
        map_after,
        map_method,
        anchor_warnings(names, raw, result),
    )


def stats_rows(result: AnchorLabResult) -> list[list]:
    b, a = result.stats_before, result.stats_after
    rows = [
        ["mean off-diagonal cosine", round(b.mean_offdiag, 3), round(a.mean_offdiag, 3)],
        ["max off-diagonal cosine", round(b.max_offdiag, 3), round(a.max_offdiag, 3)],
        ["min off-diagonal cosine", round(b.min_offdiag, 3), round(a.min_offdiag, 3)],
    ]
    after_lookup = {(x, y): c for x, y, c in a.top_pairs}
    index = {n: i for i, n in enumerate(result.names)}
    for x, y, c in b.top_pairs:
        after_value = after_lookup.get((x, y), float(result.cos_after[index[x], index[y]]))
        rows.append([f"most confusable: {x} / {y}", round(c, 3), round(after_value, 3)])
    return rows
