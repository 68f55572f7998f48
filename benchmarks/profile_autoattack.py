"""AutoAttack per component: seconds, image-passes through the model, and what its budget implies.

Runs the official standard components (laat_core.attacks.factory.make_autoattack's settings) one after the
other on the images still classified correctly, as AutoAttack does, on the first N novel images per class of
a checkpoint, and counts every image that goes through the model: with gradients (forward + backward) or
without (forward only). The implied count is what each component's budget needs for one image that it
never breaks (APGD: steps; APGD-T and FAB-T: steps x targets; Square: queries); attacks stop early on images
they break, so measured counts may be lower. A per-pass time from a plain batched forward/backward gives
the "inherent" seconds; the rest is overhead.

    OMP_NUM_THREADS=1 python benchmarks/profile_autoattack.py --checkpoint assets/models/shapes-laat.safetensors --n-per-class 1

--official DIR also runs the official implementation (github.com/fra31/auto-attack, version "standard") on
the same images and model, from a checkout at DIR (it is not a dependency of the project).
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from laat_core.attacks.factory import autoattack_plan, make_autoattack
from laat_core.data import shapes
from laat_core.trained import load_trained


class PassCounter(nn.Module):
    """Wraps a model and counts the images it sees, split by whether autograd is recording."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.with_grad = 0
        self.without_grad = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and x.requires_grad:
            self.with_grad += len(x)
        else:
            self.without_grad += len(x)
        return self.model(x)


def implied_passes(component: str, n_targets: int) -> tuple[int, int]:
    """(forward+backward, forward-only) image-passes that one unbroken image costs under the budget."""
    return {
        "apgd-ce": (100, 0),
        "apgd-t": (100 * n_targets, 0),
        "fab-t": (100 * n_targets, 0),
        "square": (0, 5000),
    }[component]


def unit_costs(model: nn.Module, batch: int = 128, repeats: int = 5) -> tuple[float, float]:
    """Seconds per image for a batched forward+backward (w.r.t. the input) and for a forward alone."""
    x = torch.rand(batch, 3, 32, 32)
    model.eval()
    start = time.perf_counter()
    for _ in range(repeats):
        xg = x.clone().requires_grad_(True)
        model(xg).sum().backward()
    grad = (time.perf_counter() - start) / (repeats * batch)
    start = time.perf_counter()
    with torch.no_grad():
        for _ in range(repeats):
            model(x)
    return grad, (time.perf_counter() - start) / (repeats * batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="assets/models/shapes-laat.safetensors")
    parser.add_argument("--n-per-class", type=int, default=1)
    parser.add_argument("--eps", type=float, default=8 / 255)
    parser.add_argument("--seed", type=int, default=777)
    parser.add_argument("--official", help="folder holding the official 'autoattack' package, to compare")
    args = parser.parse_args()
    trained = load_trained(args.checkpoint)
    names = trained.names_for("novel")
    model = trained.head_for(names)
    images, labels = shapes.make_split(names, args.n_per_class, seed=args.seed).tensors
    counter = PassCounter(model).eval()
    plan = autoattack_plan(len(names))
    attack = make_autoattack(counter, args.eps, len(names), seed=args.seed)
    grad_cost, forward_cost = unit_costs(model)
    with torch.no_grad():
        robust = model(images).argmax(1) == labels
    print(
        f"{args.checkpoint}: {len(labels)} novel images, {int(robust.sum())} correct before the attack; "
        f"threads {torch.get_num_threads()}; per image: forward+backward {grad_cost * 1e3:.2f} ms, forward {forward_cost * 1e3:.2f} ms\n"
    )
    print(
        "| component | images in | broken | seconds | s per image in | fwd+bwd passes | fwd passes "
        "| implied per image (fwd+bwd / fwd) | inherent s | overhead x |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    total = 0.0
    for name, component in zip(plan.components, attack.attacks, strict=True):
        x, y = images[robust], labels[robust]
        if len(x) == 0:
            break
        counter.with_grad = counter.without_grad = 0
        start = time.perf_counter()
        adv = component(x, y)
        seconds = time.perf_counter() - start
        total += seconds
        with torch.no_grad():
            still = model(adv).argmax(1) == y
        inherent = counter.with_grad * grad_cost + counter.without_grad * forward_cost
        implied = implied_passes(name, plan.n_targets)
        print(
            f"| {name} | {len(x)} | {int((~still).sum())} | {seconds:.1f} | {seconds / len(x):.2f} | {counter.with_grad} "
            f"| {counter.without_grad} | {implied[0]} / {implied[1]} | {inherent:.1f} | {seconds / max(inherent, 1e-9):.1f} |"
        )
        robust[robust.clone()] = still
    print(
        f"\ntotal {total:.1f} s; robust accuracy under AutoAttack {float(robust.float().mean()):.3f} (n={len(labels)})"
    )
    if args.official:
        run_official(args, counter, images, labels)


def run_official(args, counter: PassCounter, images: torch.Tensor, labels: torch.Tensor) -> None:
    import sys

    sys.path.insert(0, args.official)
    from autoattack import AutoAttack  # the official package, from the given checkout

    counter.with_grad = counter.without_grad = 0
    adversary = AutoAttack(
        counter, norm="Linf", eps=args.eps, version="standard", seed=args.seed, verbose=True, device="cpu"
    )
    start = time.perf_counter()
    adv = adversary.run_standard_evaluation(images, labels, bs=len(images))
    seconds = time.perf_counter() - start
    with torch.no_grad():
        accuracy = float((counter.model(adv).argmax(1) == labels).float().mean())
    print(
        f"\nofficial AutoAttack (standard): {seconds:.1f} s, fwd+bwd passes {counter.with_grad}, "
        f"fwd passes {counter.without_grad}, robust accuracy {accuracy:.3f} (n={len(labels)})"
    )


if __name__ == "__main__":
    main()
