"""CLIP zero-shot as a classifier on [0, 1] pixels: the open_clip image tower against text anchors.

Resizing and CLIP's normalization live inside forward(), so every attack perturbs the raw pixels,
exactly as for the trained models.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from laat_core.anchors import DEFAULT_TEMPLATE, build_anchors
from laat_core.encoders import OpenClipEncoder
from laat_core.models.head import AnchorHead


class ClipZeroShot(nn.Module):
    def __init__(self, encoder: OpenClipEncoder, templates: tuple[str, ...] = (DEFAULT_TEMPLATE,)) -> None:
        super().__init__()
        self.encoder, self.templates = encoder, templates
        self.clip = encoder.model
        cfg = getattr(self.clip.visual, "preprocess_cfg", {})
        self.image_size = tuple(cfg.get("size", self.clip.visual.image_size))
        self.register_buffer(
            "mean", torch.tensor(cfg.get("mean", (0.48145466, 0.4578275, 0.40821073))).view(1, 3, 1, 1)
        )
        self.register_buffer("std", torch.tensor(cfg.get("std", (0.26862954, 0.26130258, 0.27577711))).view(1, 3, 1, 1))
        self.register_buffer("anchors", torch.zeros(1, encoder.dim))  # only its width is used (AnchorHead)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=self.image_size, mode="bicubic", align_corners=False).clamp(0, 1)
        return self.clip.encode_image((x - self.mean) / self.std)

    def forward(self, x: torch.Tensor, anchors: torch.Tensor, return_features: bool = False):
        features = self.features(x)
        logits = self.clip.logit_scale.exp() * F.normalize(features, dim=1) @ anchors.T
        return (logits, features) if return_features else logits


class ClipZeroShotModel:
    """The same head_for(names) interface as laat_core.trained.TrainedModel, for the attack lab."""

    zero_shot = True

    def __init__(self, encoder: OpenClipEncoder) -> None:
        self.model = ClipZeroShot(encoder).eval()
        self._anchors: dict[tuple[str, ...], torch.Tensor] = {}
        self.metadata = {"encoder": encoder.name, "training": {"method": "CLIP zero-shot (no adversarial training)"}}

    def head_for(self, names: list[str]) -> nn.Module:
        anchors = self._anchors.get(tuple(names))
        if anchors is None:
            anchors = build_anchors(self.model.encoder, names, self.model.templates)
            if len(self._anchors) >= 16:  # a few recent class lists; text encoding is the slow part
                self._anchors.pop(next(iter(self._anchors)))
            self._anchors[tuple(names)] = anchors
        return AnchorHead(self.model.eval(), anchors)
