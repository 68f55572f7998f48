"""Image backbones used in few-shot and zero-shot robustness work: Conv4, ResNet-12, CIFAR ResNet-18, and for the
ImageNet-scale path torchvision's ResNet-50 and open_clip visual towers.

Each maps (N, 3, H, W) to (N, out_dim) features. One registry, BACKBONES: name -> BackboneSpec, which also says
how the model normalizes its input (mean, std: the classifier reads them from here) and the input size the
backbone is trained at when the data do not fix one (224 for the ImageNet backbones; None: the data's own size).
No backbone downloads anything: they start from random weights, and pretrained weights come only from a local
.safetensors file the user names (load_backbone_weights).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


def _conv_bn_relu(in_ch: int, out_ch: int) -> list[nn.Module]:
    return [nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False), nn.BatchNorm2d(out_ch), nn.ReLU(inplace=True)]


class Conv4(nn.Module):
    """Four conv-BN-ReLU-maxpool blocks (Vinyals et al.); width 64 or 512 in the LAAT paper.

    `widths` gives one width per block instead: (32, 64, 128, 128) doubles channels as resolution halves,
    which costs fewer FLOPs than width 64 throughout yet has twice the channels in the last blocks.
    """

    def __init__(self, width: int = 64, widths: tuple[int, ...] | None = None) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = 3
        for out_ch in widths or (width,) * 4:
            layers += _conv_bn_relu(in_ch, out_ch) + [nn.MaxPool2d(2)]
            in_ch = out_ch
        self.body = nn.Sequential(*layers)
        self.out_dim = in_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).mean(dim=(2, 3))


class _ResNet12Block(nn.Module):
    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            *_conv_bn_relu(in_ch, out_ch),
            *_conv_bn_relu(out_ch, out_ch),
            nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_ch),
        )
        self.shortcut = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, bias=False), nn.BatchNorm2d(out_ch))
        self.out = nn.Sequential(nn.LeakyReLU(0.1), nn.MaxPool2d(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.convs(x) + self.shortcut(x))


class ResNet12(nn.Module):
    """The few-shot ResNet-12 (Lee et al., MetaOptNet): four 3-conv residual blocks with pooling."""

    def __init__(self, widths: tuple[int, ...] = (64, 160, 320, 640)) -> None:
        super().__init__()
        blocks, in_ch = [], 3
        for width in widths:
            blocks.append(_ResNet12Block(in_ch, width))
            in_ch = width
        self.body = nn.Sequential(*blocks)
        self.out_dim = in_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).mean(dim=(2, 3))


class _BasicBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False),
            nn.BatchNorm2d(out_ch),
        )
        self.shortcut = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.convs(x) + self.shortcut(x))


class ResNet18(nn.Module):
    """The CIFAR ResNet-18 (3x3 stem, no initial pooling), as in adversarial-training papers."""

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        self.stem = nn.Sequential(*_conv_bn_relu(3, width))
        stages, in_ch = [], width
        for i, multiplier in enumerate((1, 2, 4, 8)):
            out_ch = width * multiplier
            stride = 1 if i == 0 else 2
            stages += [_BasicBlock(in_ch, out_ch, stride), _BasicBlock(out_ch, out_ch, 1)]
            in_ch = out_ch
        self.body = nn.Sequential(*stages)
        self.out_dim = in_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.stem(x)).mean(dim=(2, 3))


class TorchvisionResNet50(nn.Module):
    """torchvision's ResNet-50 (the ImageNet one: 7x7 stem, max-pool), its classifier removed: 2048-d features.

    The parameter names are torchvision's own (less fc.*), so a torchvision state dict loads into it."""

    out_dim = 2048

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models import resnet50

        net = resnet50(weights=None)  # random initialisation; never a download
        net.fc = nn.Identity()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class _QuietNoWeights(logging.Filter):
    """open_clip warns that a model built without weights is random: here that is the point."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "No pretrained weights loaded" not in record.getMessage()


class OpenClipVisual(nn.Module):
    """The visual tower of an open_clip architecture, built without weights (pretrained=None: nothing is read or
    downloaded). Its features are the tower's projected output (512-d for ViT-B-32). A ViT's position embedding
    fixes its input size: other sizes are resized to it (bilinear) inside forward, so every attack still perturbs
    the pixels the caller gives."""

    def __init__(self, architecture: str) -> None:
        super().__init__()
        import open_clip

        quiet, root = _QuietNoWeights(), logging.getLogger()
        root.addFilter(quiet)
        try:
            model = open_clip.create_model(architecture, pretrained=None, device="cpu")
        finally:
            root.removeFilter(quiet)
        self.architecture = architecture
        self.tower = model.visual
        size = self.tower.image_size
        self.input_size = tuple(size) if isinstance(size, tuple | list) else (int(size), int(size))
        self.out_dim = int(self.tower.output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != self.input_size:
            x = F.interpolate(x, size=self.input_size, mode="bilinear", align_corners=False)
        return self.tower(x)


# Input statistics. The small backbones use the generated shapes' (close to CIFAR's), a fixed, documented choice;
# ResNet-50 the ImageNet ones torchvision's weights expect; open_clip towers CLIP's (open_clip.constants
# OPENAI_DATASET_MEAN/STD, which tests/test_imagenet_path.py compares with the built tower's preprocess_cfg).
SHAPES_MEAN, SHAPES_STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class BackboneSpec:
    build: Callable[[], nn.Module]
    description: str
    mean: tuple[float, float, float] = SHAPES_MEAN
    std: tuple[float, float, float] = SHAPES_STD
    input_size: int | None = None  # what the ImageNet-style augmentation crops to; None: the data's own size

    def __call__(self) -> nn.Module:
        return self.build()


BACKBONES = {
    "conv4": BackboneSpec(lambda: Conv4(64), "Conv4, width 64"),
    "conv4-512": BackboneSpec(lambda: Conv4(512), "Conv4, width 512 (the paper's)"),
    "conv4-wide": BackboneSpec(lambda: Conv4(widths=(32, 64, 128, 128)), "Conv4, widths 32-64-128-128"),
    "resnet12": BackboneSpec(ResNet12, "the few-shot ResNet-12"),
    "resnet18": BackboneSpec(ResNet18, "the CIFAR ResNet-18"),
    "resnet50": BackboneSpec(
        TorchvisionResNet50, "torchvision ResNet-50 (ImageNet stem), 2048-d", IMAGENET_MEAN, IMAGENET_STD, 224
    ),
    "openclip-vit-b-32": BackboneSpec(
        lambda: OpenClipVisual("ViT-B-32"), "open_clip ViT-B-32 visual tower, 512-d", CLIP_MEAN, CLIP_STD, 224
    ),
}


def backbone_spec(name: str) -> BackboneSpec:
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}: choose one of {', '.join(BACKBONES)}")
    return BACKBONES[name]


def make_backbone(name: str) -> nn.Module:
    return backbone_spec(name).build()


def load_backbone_weights(backbone: nn.Module, path: str | Path) -> None:
    """Pretrained weights from a local .safetensors file (never a pickle, never a download).

    Accepted: the backbone's own state dict; a torchvision ResNet-50 state dict (its fc.* is dropped); a whole
    open_clip model's (its visual.* keys are taken). Every weight of the backbone must be in the file."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path).expanduser()
    if path.suffix != ".safetensors":
        raise ValueError(f"backbone weights must be a .safetensors file (pickles are never loaded), got {path}")
    if not path.is_file():
        raise ValueError(f"backbone weights not found: {path}")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as error:
        raise ValueError(f"{path} is not a readable safetensors file: {error}") from None
    target = backbone.tower if isinstance(backbone, OpenClipVisual) else getattr(backbone, "net", backbone)
    if any(key.startswith("visual.") for key in tensors):  # a whole open_clip model
        tensors = {key[len("visual.") :]: value for key, value in tensors.items() if key.startswith("visual.")}
    expected = target.state_dict()
    tensors = {key: value for key, value in tensors.items() if key in expected or not key.startswith("fc.")}
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = [k for k in expected if k in tensors and tensors[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        detail = "; ".join(
            f"{label}: {', '.join(keys[:3])}{' …' if len(keys) > 3 else ''}"
            for label, keys in (("missing", missing), ("unexpected", unexpected), ("other shape", wrong))
            if keys
        )
        raise ValueError(f"{path} does not hold this backbone's weights ({detail})")
    target.load_state_dict(tensors, strict=True)
