"""The "Why LAAT" view's content: each anchor regime's cosine matrix next to the ablation's novel-class
robust accuracy per method, and an explanation written from those numbers (never fixed in advance).

The numbers come from one summary per split of the shapes data (SUMMARIES), written by
`python benchmarks/ablation.py [--split fill] --combine`.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from laat_core.anchors import cosine_matrix, encode_anchors
from laat_core.data import shapes
from laat_core.decorrelation import decorrelate
from laat_core.regimes import REGIMES

ASSETS = Path(__file__).resolve().parent.parent / "assets"
SUMMARY = ASSETS / "ablation_summary.json"
# One ablation per split of the shapes data; the fill split is the benchmark built to tell methods apart
# (the pairs split's novel classes fail for structural reasons; BENCHMARKS.md), so it is shown first.
SUMMARIES = {
    "fill": ASSETS / "ablation_summary_fill.json",
    "fill-tau0.1": ASSETS / "ablation_summary_fill_tau0.1.json",
    "pairs": SUMMARY,
}
SPLIT_LABELS = {
    "fill": "fill split: 128 classes, colour × shape × solid/outlined",
    "fill-tau0.1": "fill split at tau 0.1: is expansion more than a temperature?",
    "pairs": "pairs split: 64 classes, colour × shape",
}
STUDY_SPLIT = {"fill": "fill", "fill-tau0.1": "fill", "pairs": "pairs"}  # the shapes split each study used
METRIC = "novel|pgd"  # the headline: novel classes (zero-shot), PGD-20 at 8/255
METRIC_LABEL = "novel-class accuracy under PGD-20 at 8/255"


@dataclass(frozen=True)
class RowResult:
    regime: str
    row: str
    mean: float
    ci95: float  # Student-t over training seeds
    n_seeds: int


def load_summary(path: Path = SUMMARY) -> dict | None:
    """The ablation summary, or None when the benchmark has not been combined yet."""
    if isinstance(path, str):
        path = SUMMARIES[path]
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def seed_interval(sd: float, n: int) -> float:
    if n < 2 or math.isnan(sd):
        return float("nan")
    return float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)


def row_results(summary: dict, metric: str = METRIC) -> list[RowResult]:
    out = []
    for regime, content in summary["regimes"].items():
        for row, values in content["rows"].items():
            if metric in values:
                v = values[metric]
                out.append(RowResult(regime, row, v["mean"], seed_interval(v["sd"], v["n_seeds"]), v["n_seeds"]))
    return out


@functools.lru_cache(maxsize=8)
def regime_matrices(regime: str, split: str = "pairs") -> tuple[list[str], np.ndarray, np.ndarray]:
    """(names, raw cosine matrix, expanded cosine matrix) of a shapes split's classes in a regime."""
    base, novel = shapes.split(split)
    names = base + novel
    raw = encode_anchors("minilm", names, REGIMES[regime].templates)
    expanded = decorrelate(raw, "expansion", n_base=len(base)).anchors
    return names, cosine_matrix(raw).numpy(), cosine_matrix(expanded).numpy()


def _verdict(paired: dict) -> str:
    """What a paired difference with its 95% interval over seeds says."""
    mean, half = paired["mean"], paired["ci95_over_seeds"]
    if math.isnan(half):
        return f"{mean:+.3f} (one seed: no interval yet)"
    if mean - half > 0:
        return f"{mean:+.3f} ± {half:.3f}: LAAT is better"
    if mean + half < 0:
        return f"{mean:+.3f} ± {half:.3f}: LAAT is worse"
    return f"{mean:+.3f} ± {half:.3f}: no difference we can distinguish from seed noise"


def explanation(summary: dict | None) -> str:
    """Markdown that says what the numbers say, regime by regime."""
    if summary is None:
        return "The ablation has not been run yet: `python benchmarks/ablation.py` (see BENCHMARKS.md)."
    results = {(r.regime, r.row): r for r in row_results(summary)}
    lines = [
        f"**Metric:** {METRIC_LABEL}, mean over training seeds with a 95% interval over seeds. "
        f"Same backbone and training budget for every method ({_budget(summary)})."
    ]
    for regime, content in summary["regimes"].items():
        anchors = summary.get("anchor_stats", {}).get(regime)
        head = f"**{regime}**"
        if anchors:
            head += (
                f" — anchors' mean off-diagonal cosine {anchors['raw']['mean_offdiag']:.2f} raw, "
                f"{anchors['expanded']['mean_offdiag']:.2f} after expansion"
            )
        lines.append("\n" + head + ".\n")  # a paragraph of its own, then its list
        tau = summary.get("selection", {}).get(regime)
        if tau is not None:
            rule = summary.get("tau_rule", "chosen on base-class validation data only")
            lines.append(f"- temperature tau {tau:g}, {rule}.")
        paired = content.get("paired", {}).get(METRIC)
        if paired:
            lines.append(
                f"- LAAT − anchor-AT, paired on the same images: {_verdict(paired)} ({paired['seeds']} seeds)."
            )
        strongest = content.get("paired", {}).get("novel|autoattack")
        if strongest:
            lines.append(
                f"- the same under AutoAttack, on a subset of {strongest['images']} images: {_verdict(strongest)}."
            )
        for a, b, what in (
            ("anchor-at-expansion", "anchor-at", "expansion alone (anchor-AT + expansion − anchor-AT)"),
            ("anchor-at-center", "anchor-at", "mean-centering instead (anchor-AT + centering − anchor-AT)"),
            ("laat", "anchor-at-expansion", "the smoothness term (LAAT − anchor-AT + expansion)"),
            ("anchor-at", "standard", "adversarial training itself (anchor-AT − standard)"),
        ):
            if (regime, a) in results and (regime, b) in results:
                ra, rb = results[(regime, a)], results[(regime, b)]
                lines.append(f"- {what}: {ra.mean - rb.mean:+.3f} ({_overlap(ra, rb)})")
        ranked = sorted((r for r in results.values() if r.regime == regime), key=lambda r: -r.mean)
        if ranked:
            lines.append(f"- highest here: {ranked[0].row} ({ranked[0].mean:.3f}, {ranked[0].n_seeds} seed(s)).")
    lines.append("\n" + _regime_contrast(summary))
    return "\n".join(line for line in lines if line.strip())


def _overlap(a: RowResult, b: RowResult) -> str:
    if math.isnan(a.ci95) or math.isnan(b.ci95):
        return "one seed: no interval yet"
    if abs(a.mean - b.mean) <= a.ci95 + b.ci95:
        return "intervals overlap: not resolved"
    return "intervals do not overlap"


def _regime_contrast(summary: dict) -> str:
    paired = {g: c.get("paired", {}).get(METRIC) for g, c in summary["regimes"].items()}
    if not all(paired.get(g) for g in ("mild", "clip-like")):
        return ""
    mild, crowded = paired["mild"]["mean"], paired["clip-like"]["mean"]
    if crowded > mild and crowded > 0:
        return (
            f"LAAT's thesis predicts a larger gain where anchors are crowded: here LAAT − anchor-AT is {crowded:+.3f} "
            f"in the clip-like regime against {mild:+.3f} in the mild one (see the intervals above before reading a "
            "trend)."
        )
    if crowded > mild:
        return (
            f"LAAT's thesis predicts a larger gain where anchors are crowded; here LAAT − anchor-AT is higher there "
            f"but not a gain ({crowded:+.3f} clip-like vs {mild:+.3f} mild)."
        )
    return (
        f"LAAT's thesis predicts a larger gain where anchors are crowded; here LAAT − anchor-AT is not larger there "
        f"({crowded:+.3f} clip-like vs {mild:+.3f} mild)."
    )


def _budget(summary: dict) -> str:
    b = summary.get("budget", {})
    attack = "fast AT (FGSM-RS)" if b.get("fast") else "PGD"
    split = summary.get("split", "pairs")
    return f"{split} split, {b.get('epochs', '?')} epochs, {b.get('n_per_class', '?')} images per base class, {attack}"
