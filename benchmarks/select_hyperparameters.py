"""Choose the backbone, tau and beta for the shapes data set on BASE-class validation images only.

Novel classes are never looked at here: they are for the final report (the official code picks its
best checkpoint on the novel test classes; we do not). Prints a table; the chosen defaults live in
TrainConfig and BENCHMARKS.md records the run.

    python benchmarks/select_hyperparameters.py --epochs 3 --n-per-class 80
    python benchmarks/select_hyperparameters.py --backbones conv4,conv4-wide --taus 0.1,0.2 --betas 4
"""

from __future__ import annotations

import argparse
import itertools
import time

from laat_core.training import TrainConfig, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbones", default=TrainConfig.backbone)
    parser.add_argument("--taus", default="0.05,0.1,0.2")
    parser.add_argument("--betas", default="0,1,4")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--n-per-class", type=int, default=80)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--alphas", default="auto", help="training PGD step sizes in /255; auto = 2.5 * eps / steps")
    parser.add_argument("--val-per-class", type=int, default=20, help="base-class validation images per class")
    parser.add_argument("--val-pgd-images", type=int, default=320, help="of those, how many PGD-10 attacks")
    args = parser.parse_args()
    rows = []
    auto_alpha = 2.5 * 8 / args.steps
    alphas = [auto_alpha if a == "auto" else float(a) for a in args.alphas.split(",")]
    grid = itertools.product(
        args.backbones.split(","), map(float, args.taus.split(",")), map(float, args.betas.split(",")), alphas
    )
    for backbone, tau, beta, alpha in grid:
        config = TrainConfig(
            method="laat",
            backbone=backbone,
            tau=tau,
            beta=beta,
            epochs=args.epochs,
            n_per_class=args.n_per_class,
            attack_steps=args.steps,
            attack_alpha=alpha / 255,
            val_per_class=args.val_per_class,
            val_pgd_images=args.val_pgd_images,
        )
        start = time.perf_counter()
        last = train(config, progress=False).metadata["log"][-1]
        rows.append(
            (backbone, tau, beta, alpha, last["val_clean_acc"], last["val_pgd_acc"], time.perf_counter() - start)
        )
        print(
            f"backbone={backbone} tau={tau} beta={beta} alpha={alpha:.3g}/255 val_clean={last['val_clean_acc']:.3f} val_pgd10={last['val_pgd_acc']:.3f}",
            flush=True,
        )
    print(
        "\n| backbone | tau | beta | PGD step | base-val clean | base-val PGD-10 8/255 | seconds |"
        "\n|---|---|---|---|---|---|---|"
    )
    for backbone, tau, beta, alpha, clean, robust, seconds in sorted(rows, key=lambda r: -r[5]):
        print(f"| {backbone} | {tau:g} | {beta:g} | {alpha:.3g}/255 | {clean:.3f} | {robust:.3f} | {seconds:.0f} |")


if __name__ == "__main__":
    main()
