"""Anchors: class names x prompt templates -> one fixed unit vector per class, and their analysis."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from laat_core.encoders import TextEncoder, get_encoder

DEFAULT_TEMPLATE = "a photo of a {}."
# A short CLIP-style ensemble (a subset of the CLIP paper's ImageNet prompts).
ENSEMBLE_TEMPLATES = (
    "a photo of a {}.",
    "a blurry photo of a {}.",
    "a photo of the large {}.",
    "a photo of the small {}.",
    "a drawing of a {}.",
    "a close-up photo of a {}.",
    "a bright photo of a {}.",
    "a low resolution photo of a {}.",
)
MAX_CLASSES = 1000
MAX_NAME_CHARS = 200  # longer inputs only cost encoder time (a 1 MB template held a worker for minutes)
MAX_TEMPLATE_CHARS = 500


class AnchorError(ValueError):
    """Class names or templates that cannot make anchors."""


def parse_class_names(text: str, min_classes: int = 2, max_classes: int = MAX_CLASSES) -> list[str]:
    """Split comma- or newline-separated names, trim them, and reject empties and duplicates."""
    if text is None or not text.strip():
        raise AnchorError("the class list is empty: type class names separated by commas or new lines")
    # Blank lines and a comma at the end of a line are layout, not names; "a, , b" is a typo.
    lines = [line.strip().removesuffix(",") for line in text.splitlines() if line.strip()]
    names = [name.strip() for line in lines for name in line.split(",")]
    check_class_names(names, min_classes, max_classes)
    return names


def check_class_names(names: list[str], min_classes: int = 2, max_classes: int = MAX_CLASSES) -> None:
    for i, name in enumerate(names):
        if not name.strip():
            raise AnchorError(f"empty class name at position {i + 1}: remove the extra comma")
        if len(name) > MAX_NAME_CHARS:
            raise AnchorError(
                f"class name at position {i + 1} is too long ({len(name)} characters, at most {MAX_NAME_CHARS})"
            )
    if len(names) < min_classes:
        raise AnchorError(f"need at least {min_classes} classes, got {len(names)}")
    if len(names) > max_classes:
        raise AnchorError(f"at most {max_classes} classes are supported, got {len(names)}")
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        key = name.strip().lower()
        if key in seen:
            raise AnchorError(f"duplicate class name {name!r} (positions {seen[key] + 1} and {i + 1})")
        seen[key] = i


def check_templates(templates: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    templates = tuple(t for t in templates if t.strip())
    if not templates:
        raise AnchorError("no prompt template given")
    for template in templates:
        if len(template) > MAX_TEMPLATE_CHARS:
            raise AnchorError(f"prompt template too long ({len(template)} characters, at most {MAX_TEMPLATE_CHARS})")
        if template.count("{}") != 1:
            raise AnchorError(f"prompt template {template!r} must contain exactly one '{{}}' for the class name")
        try:
            template.format("x")
        except (KeyError, IndexError, ValueError):
            raise AnchorError(
                f"prompt template {template!r} has braces other than one '{{}}' (write {{{{ or }}}} for a literal brace)"
            ) from None
    return templates


def build_anchors(encoder: TextEncoder, names: list[str], templates=(DEFAULT_TEMPLATE,)) -> torch.Tensor:
    """Encode every (template, name) prompt and average over templates on the sphere."""
    check_class_names(names, min_classes=1)
    if not encoder.uses_prompts:  # precomputed features are looked up by class name
        return encoder.encode(list(names))
    templates = check_templates(templates)
    per_template = [encoder.encode([t.format(name) for name in names]) for t in templates]
    mean = torch.stack(per_template).mean(dim=0)
    return mean / mean.norm(dim=1, keepdim=True)


def encode_anchors(encoder_spec: str, names: list[str], templates=(DEFAULT_TEMPLATE,)) -> torch.Tensor:
    """Anchors for a class list, cached per (encoder, templates, names) so a UI never re-encodes."""
    return _cached_anchors(encoder_spec, tuple(names), tuple(templates)).clone()


@functools.lru_cache(maxsize=64)
def _cached_anchors(encoder_spec: str, names: tuple[str, ...], templates: tuple[str, ...]) -> torch.Tensor:
    return build_anchors(get_encoder(encoder_spec), list(names), templates)


def cosine_matrix(anchors: torch.Tensor) -> torch.Tensor:
    unit = anchors / anchors.norm(dim=1, keepdim=True)
    return unit @ unit.T


@dataclass(frozen=True)
class AnchorStats:
    n_classes: int
    mean_offdiag: float
    min_offdiag: float
    max_offdiag: float
    top_pairs: tuple[tuple[str, str, float], ...]

    def to_dict(self) -> dict:
        return {
            "n_classes": self.n_classes,
            "mean_offdiag": self.mean_offdiag,
            "min_offdiag": self.min_offdiag,
            "max_offdiag": self.max_offdiag,
            "top_pairs": [list(p) for p in self.top_pairs],
        }


def offdiagonal(cosines: torch.Tensor) -> torch.Tensor:
    """The strict upper triangle, one value per unordered pair."""
    rows, cols = torch.triu_indices(cosines.shape[0], cosines.shape[0], offset=1)
    return cosines[rows, cols]


def anchor_stats(anchors: torch.Tensor, names: list[str], top_k: int = 5) -> AnchorStats:
    if anchors.shape[0] < 2:
        raise AnchorError("statistics need at least 2 anchors")
    cosines = cosine_matrix(anchors.double())
    rows, cols = torch.triu_indices(cosines.shape[0], cosines.shape[0], offset=1)
    values = cosines[rows, cols]
    order = torch.argsort(values, descending=True)[:top_k]
    pairs = tuple((names[rows[i]], names[cols[i]], float(values[i])) for i in order)
    return AnchorStats(len(names), float(values.mean()), float(values.min()), float(values.max()), pairs)
