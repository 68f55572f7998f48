from laat_core.models.backbones import BACKBONES, make_backbone
from laat_core.models.classifier import AnchorClassifier, LinearClassifier
from laat_core.models.head import AnchorHead
from laat_core.models.prototype import PrototypeHead, PrototypeNet, few_shot_head

__all__ = [
    "BACKBONES",
    "make_backbone",
    "AnchorClassifier",
    "AnchorHead",
    "LinearClassifier",
    "PrototypeHead",
    "PrototypeNet",
    "few_shot_head",
]
