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
        self.register_buffer("anchors", torch.zeros(1, encoder.dim))
        self.class_names: list[str] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=self.image_size, mode="bicubic", align_corners=False).clamp(0, 1)
        features = F.normalize(self.clip.encode_image((x - self.mean) / self.std), dim=1)
        return self.clip.logit_scale.exp() * features @ self.anchors.T

    def set_anchors(self, anchors: torch.Tensor) -> None:
        self.anchors = F.normalize(anchors.float(), dim=1)


class ClipZeroShotModel:
    """The same head_for(names) interface as laat_core.trained.TrainedModel, for the attack lab."""

    zero_shot = True

    def __init__(self, encoder: OpenClipEncoder) -> None:
        self.model = ClipZeroShot(encoder).eval()
        self.metadata = {"encoder": encoder.name, "training": {"method": "CLIP zero-shot (no adversarial training)"}}

    def head_for(self, names: list[str]) -> nn.Module:
        if names != self.model.class_names:
            self.model.set_anchors(build_anchors(self.model.encoder, names, self.model.templates))
            self.model.class_names = list(names)
        return self.model.eval()
