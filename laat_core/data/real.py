"""Real data sets through torchvision: CIFAR-10/100, the CIFAR-FS split, and ImageFolder trees.

Nothing here downloads unless asked (download=True); offline, a missing data set is a clear error
naming the path where the files are expected.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from torchvision import datasets, transforms

from laat_core.data.safe_pickle import UnsafePickleError, restricted_load

TO_TENSOR = transforms.ToTensor()


class DataError(ValueError):
    """A data set that is missing or not in the expected format."""


def _cifar_class(base: type[datasets.CIFAR10]) -> type[datasets.CIFAR10]:
    class LocalCIFAR(base):  # type: ignore[misc, valid-type]
        # torchvision checks the md5 of every batch file; a re-packed copy (or a test's own small
        # batch in the same pickle format) has other sums. A download still checks the archive's md5.
        train_list = [[name, None] for name, _ in base.train_list]
        test_list = [[name, None] for name, _ in base.test_list]
        meta = {**base.meta, "md5": None}

        def __init__(self, root, train: bool = True, transform=None, download: bool = False) -> None:
            # torchvision's loader with plain pickle.load replaced by a restricted one (safe_pickle).
            datasets.VisionDataset.__init__(self, root, transform=transform)
            self.train = train
            if download:
                self.download()
            if not self._check_integrity():
                raise RuntimeError("Dataset not found or corrupted. You can use download=True to download it")
            data, self.targets = [], []
            for file_name, _ in self.train_list if train else self.test_list:
                entry = _read_batch(os.path.join(self.root, self.base_folder, file_name))
                data.append(entry["data"])
                self.targets.extend(entry["labels"] if "labels" in entry else entry["fine_labels"])
            self.data = np.vstack(data).reshape(-1, 3, 32, 32).transpose((0, 2, 3, 1))
            self._load_meta()

        def _load_meta(self) -> None:
            path = os.path.join(self.root, self.base_folder, self.meta["filename"])
            self.classes = _read_batch(path)[self.meta["key"]]
            self.class_to_idx = {name: i for i, name in enumerate(self.classes)}

    LocalCIFAR.__name__ = base.__name__
    return LocalCIFAR


def _read_batch(path: str) -> dict:
    try:
        with open(path, "rb") as handle:
            entry = restricted_load(handle)
    except (UnsafePickleError, EOFError, OSError, ValueError) as error:
        raise DataError(f"{path} is not a CIFAR batch file: {error}") from error
    if not isinstance(entry, dict):
        raise DataError(f"{path} is not a CIFAR batch file (no dictionary inside)")
    return entry


def load_cifar(name: str, root: str | Path, train: bool, download: bool = False) -> datasets.CIFAR10:
    """CIFAR-10 or CIFAR-100 from `root` (torchvision layout), as [0, 1] tensors."""
    base = {"cifar10": datasets.CIFAR10, "cifar100": datasets.CIFAR100}.get(name)
    if base is None:
        raise DataError(f"unknown CIFAR variant {name!r}: use cifar10 or cifar100")
    cls = _cifar_class(base)
    expected = Path(root) / cls.base_folder
    try:
        return cls(str(root), train=train, download=download, transform=TO_TENSOR)
    except RuntimeError as error:
        raise DataError(
            f"{name} not found at {expected}: download it with --download when online, or place the "
            f"extracted '{cls.base_folder}' folder there ({error})"
        ) from error


def cifar_fs_split() -> dict[str, list[str]]:
    """The standard CIFAR-FS class split: 64 base, 16 validation, 20 novel CIFAR-100 classes."""
    text = resources.files("laat_core.data").joinpath("cifarfs_classes.txt").read_text()
    names = [line.strip() for line in text.splitlines() if line.strip()]
    return {"base": names[:64], "val": names[64:80], "novel": names[80:100]}


class ClassSubset(torch.utils.data.Dataset):
    """Images of the chosen classes, relabelled 0..k-1 in the order of `names`."""

    def __init__(self, dataset, dataset_classes: list[str], names: list[str]) -> None:
        lookup = {n: i for i, n in enumerate(dataset_classes)}
        missing = [n for n in names if n not in lookup]
        if missing:
            raise DataError(f"classes not in the data set: {', '.join(missing[:5])}")
        remap = {lookup[n]: i for i, n in enumerate(names)}
        targets = [int(t) for t in dataset.targets]
        self.dataset = dataset
        self.indices = [i for i, t in enumerate(targets) if t in remap]
        self.labels = [remap[targets[i]] for i in self.indices]
        self.classes = list(names)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int):
        image, _ = self.dataset[self.indices[index]]
        return image, self.labels[index]


def load_cifar_fs(root: str | Path, split: str, download: bool = False) -> torch.utils.data.Dataset:
    """CIFAR-FS: all 600 images (train and test batches) of each class of the chosen split."""
    names = cifar_fs_split()[split]
    parts = [load_cifar("cifar100", root, train, download) for train in (True, False)]
    return torch.utils.data.ConcatDataset([ClassSubset(p, p.classes, names) for p in parts])


def load_image_folder(root: str | Path, names: list[str] | None = None, image_size: int | None = 84):
    """An ImageFolder tree (one folder per class, e.g. miniImageNet), optionally a subset of classes. Images are
    resized to image_size x image_size, or kept at their own size (image_size None: a crop must follow)."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"image folder not found: {root}")
    resize = [] if image_size is None else [transforms.Resize((image_size, image_size))]
    transform = transforms.Compose([*resize, transforms.ToTensor()])
    folder = datasets.ImageFolder(str(root), transform=transform)
    return ClassSubset(folder, folder.classes, names) if names else folder
