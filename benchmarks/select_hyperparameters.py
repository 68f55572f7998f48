"""Choose tau and beta for the shapes data set on BASE-class validation images only.

Novel classes are never looked at here: they are for the final report (the official code picks its
best checkpoint on the novel test classes; we do not). Prints a table; the chosen defaults live in
TrainConfig and BENCHMARKS.md records the run.

    python benchmarks/select_hyperparameters.py --epochs 3 --n-per-class 80
"""

from __future__ import annotations

import argparse
import itertools
import time

from laat_core.training import TrainConfig, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--taus", default="0.05,0.1,0.2")
    parser.add_argument("--betas", default="0,1,4")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--n-per-class", type=int, default=80)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for tau, beta in itertools.product(map(float, args.taus.split(",")), map(float, args.betas.split(","))):
        config = TrainConfig(
            method="laat",
            tau=tau,
            beta=beta,
            epochs=args.epochs,
            n_per_class=args.n_per_class,
            attack_steps=args.steps,
            attack_alpha=2.5 * (8 / 255) / args.steps,
            val_per_class=20,
        )
        start = time.perf_counter()
        last = train(config, progress=False).metadata["log"][-1]
        rows.append((tau, beta, last["val_clean_acc"], last["val_pgd_acc"], time.perf_counter() - start))
        print(
            f"tau={tau} beta={beta} val_clean={last['val_clean_acc']:.3f} val_pgd10={last['val_pgd_acc']:.3f}",
            flush=True,
        )
    print("\n| tau | beta | base-val clean | base-val PGD-10 8/255 | seconds |\n|---|---|---|---|---|")
    for tau, beta, clean, robust, seconds in sorted(rows, key=lambda r: -r[3]):
        print(f"| {tau:g} | {beta:g} | {clean:.3f} | {robust:.3f} | {seconds:.0f} |")


if __name__ == "__main__":
    main()
