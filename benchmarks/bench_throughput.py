"""Training and attack throughput (issue 10): images/s for the paper's backbones at 32x32 and 80x80, with data
read from generated files in the real on-disk formats (a CIFAR-100 pickle batch; an ImageFolder of PNGs) through
the same DataLoader path as `laat train`, on the device `--device` picks (auto: CUDA when present). Any other size
is the ImageNet-scale path: full-size PNGs (300x250) through the imagenet augmentation (RandomResizedCrop to it):

    OMP_NUM_THREADS=1 python benchmarks/bench_throughput.py --backbones resnet50 --sizes 224 --batch 8

    OMP_NUM_THREADS=2 python benchmarks/bench_throughput.py                       # CPU here
    python benchmarks/bench_throughput.py --device cuda --batches 20 --aa-images 64   # a GPU
Prints one table; every figure names the device, threads and batch size. Small counts by default (a CPU run
takes minutes); the steady-state figures need more batches on a GPU.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from laat_core.attacks import AttackSpec, make_attack  # noqa: E402
from laat_core.data.augment import AUGMENTATIONS, Transformed, imagenet_augmentation  # noqa: E402
from laat_core.data.real import load_cifar, load_image_folder  # noqa: E402
from laat_core.device import device_name, resolve_device  # noqa: E402
from laat_core.methods import get_method  # noqa: E402
from laat_core.models import AnchorClassifier  # noqa: E402


def write_cifar(root: Path, n: int) -> Path:
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    with open(folder / "meta", "wb") as handle:
        pickle.dump({"fine_label_names": [f"c{i}" for i in range(100)], "coarse_label_names": ["x"] * 20}, handle)
    labels = [i % 100 for i in range(n)]
    data = np.random.default_rng(0).integers(0, 255, (n, 3072), dtype=np.uint8)
    for part in ("train", "test"):
        with open(folder / part, "wb") as handle:
            pickle.dump({"data": data, "fine_labels": labels, "coarse_labels": [0] * n}, handle)
    return root


def write_folder(root: Path, n: int, classes: int = 16, shape: tuple[int, int] = (84, 84)) -> Path:
    rng = np.random.default_rng(0)
    for i in range(n):
        folder = root / f"class{i % classes}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (*shape, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return root


def dataset(size: int, root: Path, n: int):
    if size == 32:
        return Transformed(
            load_cifar("cifar100", write_cifar(root / "cifar", n), train=True), AUGMENTATIONS["cifar-fs"].train
        )
    if size == 80:
        return Transformed(
            load_image_folder(write_folder(root / "folder", n), image_size=84), AUGMENTATIONS["miniimagenet"].train
        )
    # ImageNet-style: images at their own (larger) size, decoded per batch and cropped by the augmentation
    folder = write_folder(root / "imagenet", n, shape=(250, 300))
    return Transformed(load_image_folder(folder, image_size=None), imagenet_augmentation(size).train)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_rate(backbone: str, data, device, batch: int, batches: int, workers: int) -> float:
    model = AnchorClassifier(backbone, torch.nn.functional.normalize(torch.randn(16, 384), dim=1)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    method = get_method("laat")
    import torchattacks

    attack = torchattacks.PGD(model, eps=8 / 255, alpha=2 / 255, steps=7, random_start=True)  # the official PGD-7
    loader = DataLoader(
        data, batch, shuffle=True, num_workers=workers, pin_memory=device.type == "cuda", drop_last=True
    )
    seen, start = 0, None
    for i, (x, y) in enumerate(loader):
        if i == 1:  # the first batch warms up (allocations, workers starting)
            sync(device)
            start, seen = time.perf_counter(), 0
        if i > batches:
            break
        x, y = x.to(device, non_blocking=True), (y % 16).to(device, non_blocking=True)
        x_adv = attack(x, y)
        model.train()
        loss = method.loss(model, x, x_adv, y, 4.0, "joint")["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        seen += len(y)
    sync(device)
    return seen / (time.perf_counter() - start)


def attack_rate(backbone: str, size: int, device, name: str, images: int) -> float:
    model = AnchorClassifier(backbone, torch.nn.functional.normalize(torch.randn(5, 384), dim=1)).to(device).eval()
    x = torch.rand(images, 3, size, size, device=device)
    y = torch.arange(images, device=device) % 5
    attack = make_attack(model, AttackSpec(name, 8 / 255, 20), 5)
    sync(device)
    start = time.perf_counter()
    attack(x, y)
    sync(device)
    return images / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--backbones", default="conv4-512,resnet12")
    parser.add_argument("--sizes", default="32,80")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--batches", type=int, default=3, help="timed training batches (after one warm-up)")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--pgd-images", type=int, default=64)
    parser.add_argument("--aa-images", type=int, default=4, help="random-weight models: AutoAttack breaks most fast")
    args = parser.parse_args()
    device = resolve_device(args.device)
    name = device_name(device)
    print(f"device {device} ({name}), torch threads {torch.get_num_threads()}, batch {args.batch}, "
          f"workers {args.workers}, torch {torch.__version__}\n")  # fmt: skip
    print("| backbone | input | train images/s (LAAT, PGD-7) | PGD-20 images/s | AutoAttack images/s |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for size in map(int, args.sizes.split(",")):
            data = dataset(size, Path(tmp) / f"s{size}", args.batch * (args.batches + 2))
            for backbone in args.backbones.split(","):
                train = train_rate(backbone, data, device, args.batch, args.batches, args.workers)
                pgd = attack_rate(backbone, size, device, "pgd", args.pgd_images)
                aa = attack_rate(backbone, size, device, "autoattack", args.aa_images)
                print(f"| {backbone} | {size}x{size} | {train:.1f} | {pgd:.1f} | {aa:.2f} |", flush=True)


if __name__ == "__main__":
    main()
