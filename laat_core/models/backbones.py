"""Image backbones used in few-shot and zero-shot robustness work: Conv4, ResNet-12, CIFAR ResNet-18.

Each maps (N, 3, H, W) to (N, out_dim) features via global average pooling.
"""

from __future__ import annotations

import torch
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


BACKBONES = {
    "conv4": lambda: Conv4(64),
    "conv4-512": lambda: Conv4(512),
    "conv4-wide": lambda: Conv4(widths=(32, 64, 128, 128)),
    "resnet12": ResNet12,
    "resnet18": ResNet18,
}


def make_backbone(name: str) -> nn.Module:
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}: choose one of {', '.join(BACKBONES)}")
    return BACKBONES[name]()
