"""Classifiers on [0, 1] pixels: normalization inside, so every attack sees raw images.

AnchorClassifier: backbone -> bias-free projection to the anchor dimension -> cosine to fixed anchors / tau.
LinearClassifier: backbone -> linear layer; the ordinary, non-zero-shot baseline.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from laat_core.models.backbones import SHAPES_MEAN, SHAPES_STD, backbone_spec, make_backbone

# Per-channel statistics of the coloured-shapes data (and close to CIFAR's): a fixed, documented
# choice stored in every checkpoint. The classifiers take their backbone's (BACKBONES[name].mean/std) unless given.
DEFAULT_MEAN = SHAPES_MEAN
DEFAULT_STD = SHAPES_STD


class Normalize(nn.Module):
    def __init__(self, mean=DEFAULT_MEAN, std=DEFAULT_STD) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def backbone_normalize(backbone: str, mean=None, std=None) -> Normalize:
    """The input normalization a backbone expects (its registry entry), unless mean and std are given."""
    spec = backbone_spec(backbone)
    return Normalize(spec.mean if mean is None else mean, spec.std if std is None else std)


class AnchorClassifier(nn.Module):
    def __init__(self, backbone: str, anchors: torch.Tensor, tau: float = 0.1, mean=None, std=None):
        super().__init__()
        self.normalize = backbone_normalize(backbone, mean, std)
        self.backbone = make_backbone(backbone)
        self.projection = nn.Linear(self.backbone.out_dim, anchors.shape[1], bias=False)
        self.tau = tau
        # A buffer, not a parameter: anchors are fixed by the text encoder and never trained.
        self.register_buffer("anchors", F.normalize(anchors.detach().float(), dim=1))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Projected (not normalized) image features in the anchor space."""
        return self.projection(self.backbone(self.normalize(x)))

    def logits_from_features(self, features: torch.Tensor, anchors: torch.Tensor | None = None) -> torch.Tensor:
        anchors = self.anchors if anchors is None else anchors
        return F.normalize(features, dim=1) @ anchors.T / self.tau

    def forward(self, x: torch.Tensor, anchors: torch.Tensor | None = None, return_features: bool = False):
        """Logits against `anchors` (unit rows; default: the training anchors). The anchors are an input, not
        state (see laat_core.models.head.AnchorHead). Features come out of forward() too, so losses that need
        them still go through DistributedDataParallel's forward (and its gradient synchronisation)."""
        features = self.features(x)
        logits = self.logits_from_features(features, anchors)
        return (logits, features) if return_features else logits


class LinearClassifier(nn.Module):
    def __init__(self, backbone: str, n_classes: int, mean=None, std=None) -> None:
        super().__init__()
        self.normalize = backbone_normalize(backbone, mean, std)
        self.backbone = make_backbone(backbone)
        self.head = nn.Linear(self.backbone.out_dim, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Backbone features: what few-shot evaluation compares (laat_core.models.prototype.few_shot_head)."""
        return self.backbone(self.normalize(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(self.normalize(x)))
