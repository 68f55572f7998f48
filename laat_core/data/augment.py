"""Training-time augmentation per data set, as the official LAAT recipes do it (one registry: AUGMENTATIONS).

The name a model was trained with is written into its checkpoint (metadata["data"]["augment"]), so evaluation
applies the matching test-time transform (miniImageNet: a centre crop to the 80x80 training input).
The generated shapes data set is not augmented unless asked: its generator already varies position, size,
rotation, colour and background.
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
AUTO = {"shapes": "none", "cifar-fs": "cifar-fs", "imagefolder": "miniimagenet"}  # data kind -> default


def resolve_augmentation(name: str, data_kind: str) -> Augmentation:
    """`auto` -> the data set's official recipe (none for the generated shapes); else a registered name."""
    key = AUTO.get(data_kind, "none") if name == "auto" else name
    if key not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {name!r}: use auto or one of {', '.join(AUGMENTATIONS)}")
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
