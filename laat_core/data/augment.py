"""Training-time augmentation per data set, as the official LAAT recipes do it (one registry: AUGMENTATIONS).

The name a model was trained with is written into its checkpoint (metadata["data"]["augment"]), so evaluation
applies the matching test-time transform (miniImageNet: a centre crop to the 80x80 training input).
The generated shapes data set is not augmented unless asked: its generator already varies position, size,
rotation, colour and background. `imagenet` (the ImageNet-scale path, `--data imagenet:<root>`) takes full-size
images and crops them to the backbone's input size (224 for ResNet-50 and open_clip towers; `--input-size` sets
another), so its transforms are built per size by imagenet_augmentation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils.data import Dataset
from torchvision import transforms


@dataclass(frozen=True)
class Augmentation:
    name: str
    description: str
    train: Callable[[torch.Tensor], torch.Tensor] | None  # applied to each training image (a [0, 1] tensor)
    test: Callable[[torch.Tensor], torch.Tensor] | None  # applied to validation and evaluation images


AUGMENTATIONS = {
    "none": Augmentation("none", "no augmentation", None, None),
    "cifar-fs": Augmentation(
        "cifar-fs",
        "RandomCrop(32, padding 4), horizontal flip, RandomRotation(15) (the official CIFAR-FS recipe)",
        transforms.Compose(
            [transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(), transforms.RandomRotation(15)]
        ),
        None,
    ),
    "miniimagenet": Augmentation(
        "miniimagenet",
        "RandomCrop(80, padding 8), ColorJitter(0.4, 0.4, 0.4), horizontal flip; 80x80 centre crop at test time "
        "(the official miniImageNet recipe)",
        transforms.Compose(
            [
                transforms.RandomCrop(80, padding=8),
                transforms.ColorJitter(0.4, 0.4, 0.4),
                transforms.RandomHorizontalFlip(),
            ]
        ),
        transforms.CenterCrop(80),
    ),
}


def imagenet_augmentation(size: int = 224) -> Augmentation:
    """The standard ImageNet recipe at `size`: RandomResizedCrop + flip for training; at test time a resize of
    the short side to size * 256/224 and a centre crop (224 -> Resize(256) + CenterCrop(224))."""
    if size < 8:
        raise ValueError(f"the input size must be at least 8 pixels, not {size}")
    short = round(size * 256 / 224)
    return Augmentation(
        "imagenet",
        f"RandomResizedCrop({size}), horizontal flip; Resize({short}) + CenterCrop({size}) at test time "
        "(the standard ImageNet recipe)",
        transforms.Compose([transforms.RandomResizedCrop(size), transforms.RandomHorizontalFlip()]),
        transforms.Compose([transforms.Resize(short), transforms.CenterCrop(size)]),
    )


AUGMENTATIONS["imagenet"] = imagenet_augmentation(224)
# data kind -> default
AUTO = {"shapes": "none", "cifar-fs": "cifar-fs", "imagefolder": "miniimagenet", "imagenet": "imagenet"}
SIZED = {"imagenet": imagenet_augmentation}  # augmentations built for an input size


def resolve_augmentation(name: str, data_kind: str, input_size: int | None = None) -> Augmentation:
    """`auto` -> the data set's official recipe (none for the generated shapes); else a registered name. A sized
    augmentation (imagenet) is built for `input_size` when given."""
    key = AUTO.get(data_kind, "none") if name == "auto" else name
    if key not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {name!r}: use auto or one of {', '.join(AUGMENTATIONS)}")
    if key in SIZED and input_size is not None:
        return SIZED[key](input_size)
    return AUGMENTATIONS[key]


class Transformed(Dataset):
    """A dataset whose images pass through `transform` when read (labels unchanged)."""

    def __init__(self, dataset: Dataset, transform: Callable[[torch.Tensor], torch.Tensor] | None) -> None:
        self.dataset, self.transform = dataset, transform

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int):
        image, label = self.dataset[index]
        return (self.transform(image) if self.transform else image), label
