"""Prototype heads: each class is the mean feature of a few clean support images (ProtoNet, Snell et al. 2017).

PrototypeNet is what Adversarial Querying (Goldblum et al. 2020) trains: an image embedding and nothing else; its
classes exist only as prototypes passed in, like the anchors of AnchorHead. Its logits are MetaOptNet's ProtoNet
head, which the AQ code uses: -scale * ||f(q) - p||^2 / d with a learned scale.

few_shot_head builds an episode's head for any model with features(): the prototypes are computed once, without
gradients, so an attack on the queries goes query -> features -> distance to fixed prototypes and never touches
the support images.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from laat_core.models.backbones import make_backbone
from laat_core.models.classifier import AnchorClassifier, backbone_normalize
from laat_core.models.head import AnchorHead


def class_means(features: torch.Tensor, labels: torch.Tensor, ways: int) -> torch.Tensor:
    """(ways, d) mean feature per class 0..ways-1 (support images in any order), in float32: a sum, not a matmul,
    so bf16 autocast (which casts matmuls) leaves it exact."""
    features = features.float()
    sums = torch.zeros(ways, features.shape[1], device=features.device).index_add_(0, labels, features)
    counts = torch.bincount(labels, minlength=ways).clamp(min=1).to(features.dtype)
    return sums / counts[:, None]


def euclidean_logits(features: torch.Tensor, prototypes: torch.Tensor, scale: torch.Tensor | float) -> torch.Tensor:
    """-scale * squared distance / d. Written out (not torch.cdist): cdist's gradient is NaN at distance 0.
    In float32 even under bf16 autocast: a sum of d squared differences in bf16 keeps about 3 significant digits."""
    features, prototypes = features.float(), prototypes.float()
    squared = (features[:, None, :] - prototypes[None, :, :]).pow(2).sum(-1)
    return -scale * squared / features.shape[1]


class PrototypeNet(nn.Module):
    """Normalization and a backbone; forward gives features. Classes come from prototypes (PrototypeHead)."""

    def __init__(self, backbone: str, mean=None, std=None) -> None:
        super().__init__()
        self.normalize = backbone_normalize(backbone, mean, std)
        self.backbone = make_backbone(backbone)
        # MetaOptNet's learned logit scale: distances / d start small, and a fixed 1 would keep softmax flat.
        self.scale = nn.Parameter(torch.tensor(1.0))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(self.normalize(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


class PrototypeHead(nn.Module):
    """`model` (with features()) scoring the classes whose prototypes are given; stateless like AnchorHead."""

    def __init__(self, model: nn.Module, prototypes: torch.Tensor) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("prototypes", prototypes.detach().float(), persistent=False)
        self.train(model.training)  # as AnchorHead: torchattacks restores this mode on the shared model

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # A PrototypeNet's learned scale (read here, not copied: the head holds no parameters); else 1.
        return euclidean_logits(self.model.features(x), self.prototypes, getattr(self.model, "scale", 1.0))


@torch.no_grad()
def few_shot_head(model: nn.Module, support: torch.Tensor, support_labels: torch.Tensor, ways: int) -> nn.Module:
    """The head of one episode from its clean support images, in the model's own geometry.

    - an anchor model (LAAT, anchor-AT, ...): cosine / tau to the normalized mean of the normalized projected
      support features, i.e. a prototype replaces the text anchor (AnchorHead);
    - a PrototypeNet (AQ): its trained head, scaled squared Euclidean distance to the mean feature;
    - any other model with features() (a linear-head baseline): the nearest class mean in its feature space
      (squared Euclidean, scale 1).
    The model is put in eval mode; the prototypes are fixed tensors, so the support images are never attacked.
    """
    model.eval()
    features = model.features(support)
    if isinstance(model, AnchorClassifier):
        return AnchorHead(model, class_means(F.normalize(features, dim=1), support_labels, ways))
    return PrototypeHead(model, class_means(features, support_labels, ways))
