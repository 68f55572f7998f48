"""Where training and evaluation images come from, picked by a spec string.

    shapes                 the embedded generated data set (default; its pairs split, 48 base / 16 novel)
    shapes:<split>         a named split of it: pairs, or fill (a third attribute; 96 base / 32 novel)
    cifar-fs:<root>        CIFAR-FS from a torchvision CIFAR-100 folder (64 base / 20 novel classes)
    imagefolder:<root>     <root>/base/<class>/*.png and <root>/novel/<class>/*.png (e.g. miniImageNet)
    imagenet:<root>        <root>/<class>/*: one tree whose every class is a training (base) class, e.g. ImageNet-1K's
                           train folder; class names from a class-name file (laat_core.data.classnames) or the folders

Each source gives, for a split, its class names and a dataset of (image in [0, 1], label) pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset, Subset

from laat_core.data import shapes
from laat_core.data.classnames import class_folders, read_class_names
from laat_core.data.real import DataError, cifar_fs_split, load_cifar_fs, load_image_folder


@dataclass(frozen=True)
class DataSource:
    spec: str = "shapes"
    download: bool = False
    image_size: int = 84  # image folders only; CIFAR and shapes are 32x32; imagenet: full size (its augmentation crops)
    class_names_file: str | None = None  # imagenet only: folder -> class name (laat_core.data.classnames)

    @property
    def kind(self) -> str:
        return self.spec.split(":", 1)[0]

    @property
    def root(self) -> Path:
        if ":" not in self.spec:
            raise DataError(f"{self.spec!r} needs a folder: {self.kind}:<path>")
        return Path(self.spec.split(":", 1)[1])

    @property
    def shapes_split(self) -> str:
        """The named split of the generated data set: `shapes` is `shapes:pairs`."""
        return self.spec.split(":", 1)[1] if ":" in self.spec else "pairs"

    def class_names(self) -> dict[str, list[str]]:
        if self.kind == "shapes":
            try:
                base, novel = shapes.split(self.shapes_split)
            except ValueError as error:
                raise DataError(str(error)) from None
            return {"base": base, "novel": novel}
        if self.kind == "cifar-fs":
            split = cifar_fs_split()
            return {"base": split["base"], "val": split["val"], "novel": split["novel"]}
        if self.kind == "imagefolder":
            missing = [s for s in ("base", "novel") if not (self.root / s).is_dir()]
            if missing:
                raise DataError(
                    f"{self.root} is not an image-folder data set: it needs the folders "
                    f"{self.root / 'base'} and {self.root / 'novel'} with one folder per class"
                )
            parts = [s for s in ("base", "val", "novel") if (self.root / s).is_dir()]  # val: optional
            return {s: sorted(p.name for p in (self.root / s).iterdir() if p.is_dir()) for s in parts}
        if self.kind == "imagenet":
            folders = class_folders(self.root)
            names = read_class_names(self.class_names_file, folders) if self.class_names_file else folders
            return {"base": names, "novel": []}
        raise DataError(
            f"unknown data source {self.spec!r}: use shapes, shapes:<split>, cifar-fs:<root>, imagefolder:<root> "
            "or imagenet:<root>"
        )

    def images(self, split: str, n_per_class: int | None, seed: int) -> Dataset:
        """Images of the split's classes, labels in class_names()[split] order. Generated data is drawn
        fresh for `seed`; real data takes `n_per_class` images per class (all when None)."""
        names = self.class_names()[split]
        if self.kind == "shapes":
            return shapes.make_split(names, n_per_class or 50, seed=seed)
        if self.kind == "cifar-fs":
            dataset = load_cifar_fs(self.root, split, download=self.download)
        elif self.kind == "imagenet":  # labels in sorted folder order = class_names() order
            dataset = load_image_folder(self.root.expanduser(), image_size=None)
        else:
            dataset = load_image_folder(self.root / split, image_size=self.image_size)
        return dataset if n_per_class is None else per_class_subset(dataset, n_per_class, seed)


def labels_of(dataset: Dataset) -> torch.Tensor:
    """Every label of a dataset, read without loading its images."""
    from laat_core.data.augment import Transformed

    if isinstance(dataset, Subset):
        return labels_of(dataset.dataset)[torch.as_tensor(dataset.indices, dtype=torch.long)]
    if isinstance(dataset, Transformed):
        return labels_of(dataset.dataset)
    if hasattr(dataset, "tensors"):
        return dataset.tensors[1]
    if hasattr(dataset, "datasets"):  # ConcatDataset of relabelled subsets
        return torch.cat([labels_of(d) for d in dataset.datasets])
    if hasattr(dataset, "labels"):
        return torch.as_tensor(dataset.labels)
    return torch.as_tensor(dataset.targets)


def per_class_subset(dataset: Dataset, n_per_class: int, seed: int) -> Subset:
    labels = labels_of(dataset)
    generator = torch.Generator().manual_seed(seed)
    keep = []
    for c in labels.unique():
        members = torch.nonzero(labels == c).flatten()
        keep += members[torch.randperm(len(members), generator=generator)[:n_per_class]].tolist()
    return Subset(dataset, sorted(keep))


def hold_out(dataset: Dataset, fraction: float, seed: int, per_class: int | None = None) -> tuple[Subset, Subset]:
    """Split real training images into (train, base-class validation), stratified by class: `fraction` of each
    class, or `per_class` images of each (at most half of it) when given."""
    labels = labels_of(dataset)
    generator = torch.Generator().manual_seed(seed)
    train, val = [], []
    for c in labels.unique():
        members = torch.nonzero(labels == c).flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        cut = max(1, min(per_class, len(members) // 2) if per_class else int(round(fraction * len(members))))
        val += members[:cut].tolist()
        train += members[cut:].tolist()
    return Subset(dataset, sorted(train)), Subset(dataset, sorted(val))


def stack(dataset: Dataset, limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Materialise (images, labels) tensors: attacks and episodes work on tensors."""
    if hasattr(dataset, "tensors") and limit is None:
        return dataset.tensors[0], dataset.tensors[1]
    count = len(dataset) if limit is None else min(limit, len(dataset))
    items = [dataset[i] for i in range(count)]
    return torch.stack([x for x, _ in items]), torch.tensor([int(y) for _, y in items])


def take(images: torch.Tensor | Dataset, indices) -> torch.Tensor:
    """The images at `indices`, from a tensor or read one by one from a dataset (nothing else is loaded)."""
    if isinstance(images, torch.Tensor):
        return images[torch.as_tensor(indices, dtype=torch.long)]
    return torch.stack([images[int(i)][0] for i in indices])
