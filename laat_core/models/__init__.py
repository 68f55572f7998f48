from laat_core.models.backbones import BACKBONES, make_backbone
from laat_core.models.classifier import AnchorClassifier, LinearClassifier
from laat_core.models.head import AnchorHead

__all__ = ["BACKBONES", "make_backbone", "AnchorClassifier", "AnchorHead", "LinearClassifier"]
