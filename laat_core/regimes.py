"""Anchor-similarity regimes of the embedded benchmark: named prompt templates for the MiniLM encoder.

LAAT's premise is that recent text encoders give class anchors that are far too similar (the official
CLIP anchors of CIFAR-FS: mean off-diagonal cosine 0.76). MiniLM with the short default prompt gives
the 64 shapes classes a mean of about 0.49 ("mild"); a long, mostly class-independent prompt makes
every anchor share most of its text and reaches CLIP's regime ("clip-like") with the same encoder.

The clip-like template is picked by `select_clip_like_template`, a rule that looks only at anchor
statistics (never at robustness): among CLIP_LIKE_CANDIDATES, in their fixed order, keep those whose
mean off-diagonal cosine over the 64 classes is at least CLIP_LIKE_MIN_MEAN, then take the one whose
(mean, max) off-diagonal cosine is closest to the official CLIP CIFAR-FS anchors' (shipped in assets/).
A test re-runs the rule and checks that REGIMES holds its answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from laat_core.anchors import DEFAULT_TEMPLATE, anchor_stats, encode_anchors

CLIP_LIKE_MIN_MEAN = 0.70
CLIP_LIKE_CANDIDATES = (
    "This is a photo of a {}",
    "a drawing of a {} shape.",
    "a small {} drawn on a plain grey background, centred in a tiny 32 by 32 pixel image.",
    "a blurry low resolution photo of a {} in the middle of a grey square canvas with random noise.",
    "a tiny computer-generated picture of a single {}, drawn with soft edges on a dark grey background.",
)
OFFICIAL_CLIP_ANCHORS = Path(__file__).resolve().parent.parent / "assets/anchors/cifarfs_clip_anchors.safetensors"


@dataclass(frozen=True)
class Regime:
    name: str
    templates: tuple[str, ...]
    description: str


REGIMES: dict[str, Regime] = {
    "mild": Regime(
        "mild",
        (DEFAULT_TEMPLATE,),
        "MiniLM, short prompt: anchors moderately similar (mean off-diagonal cosine about 0.49)",
    ),
    "clip-like": Regime(
        "clip-like",
        ("a blurry low resolution photo of a {} in the middle of a grey square canvas with random noise.",),
        "MiniLM, long shared prompt: anchors as crowded as CLIP's (mean off-diagonal cosine >= 0.70)",
    ),
}
DEFAULT_REGIME = "mild"


def get_regime(name: str) -> Regime:
    try:
        return REGIMES[name]
    except KeyError:
        raise ValueError(f"unknown anchor regime {name!r}: choose one of {', '.join(REGIMES)}") from None


def regime_of(templates: tuple[str, ...]) -> str | None:
    """The name of the regime these templates belong to, if any."""
    return next((r.name for r in REGIMES.values() if r.templates == tuple(templates)), None)


def official_clip_stats() -> tuple[float, float]:
    """(mean, max) off-diagonal cosine of the official CLIP anchors of the 100 CIFAR-FS classes."""
    from laat_core.encoders import load_feature_file

    features, names = load_feature_file(OFFICIAL_CLIP_ANCHORS)
    stats = anchor_stats(features, list(names or range(len(features))))
    return stats.mean_offdiag, stats.max_offdiag


def select_clip_like_template(
    names: list[str], encoder: str = "minilm", candidates: tuple[str, ...] = CLIP_LIKE_CANDIDATES
) -> tuple[str, list[dict]]:
    """The rule in the module docstring. Returns the chosen template and every candidate's statistics."""
    target_mean, target_max = official_clip_stats()
    rows = []
    for template in candidates:
        stats = anchor_stats(encode_anchors(encoder, names, (template,)), names)
        distance = ((stats.mean_offdiag - target_mean) ** 2 + (stats.max_offdiag - target_max) ** 2) ** 0.5
        rows.append(
            {
                "template": template,
                "mean": stats.mean_offdiag,
                "max": stats.max_offdiag,
                "eligible": stats.mean_offdiag >= CLIP_LIKE_MIN_MEAN,
                "distance": distance,
            }
        )
    eligible = [row for row in rows if row["eligible"]]
    if not eligible:
        raise ValueError(f"no candidate template reaches a mean off-diagonal cosine of {CLIP_LIKE_MIN_MEAN}")
    return min(eligible, key=lambda row: row["distance"])["template"], rows
