"""The headline table: novel- and base-class accuracy x {clean, FGSM, PGD-20, AutoAttack} at eps 8/255 and
4/255, on fresh generated images (never seen in training or validation), every model in eval mode, with
95% intervals and paired differences between models on the same images.

    python benchmarks/bench_robustness.py --n-per-class 50 --out benchmarks/results/robustness.json
    python benchmarks/bench_robustness.py --curves   # also writes assets/models/robustness_curves.json

AutoAttack uses the official standard settings (laat_core.attacks.factory.make_autoattack).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path

import torch

from laat_core.attacks import AttackSpec
from laat_core.compare import default_eps_grid, robustness_curve
from laat_core.data import shapes
from laat_core.evaluation import binomial_ci95, predict_adversarial, sanity_warnings
from laat_core.trained import load_trained

ROOT = Path(__file__).resolve().parent.parent
MODELS = {
    "standard": ROOT / "assets/models/shapes-standard.safetensors",
    "anchor-at": ROOT / "assets/models/shapes-anchor-at.safetensors",
    "laat": ROOT / "assets/models/shapes-laat.safetensors",
}
ATTACKS = ("none", "fgsm", "pgd", "autoattack")


def correctness(trained, split: str, attack: str, eps: float, n_per_class: int, seed: int, aa_limit: int | None):
    names = trained.names_for(split)
    images, labels = shapes.make_split(names, n_per_class, seed=seed).tensors
    if attack == "autoattack" and aa_limit:
        keep = torch.arange(len(labels)).view(len(names), n_per_class)[:, :aa_limit].flatten()
        images, labels = images[keep], labels[keep]
    model = trained.head_for(names)
    spec = AttackSpec(attack, eps, steps=20, seed=seed)
    return (
        predict_adversarial(model, images, labels, spec, len(names), batch_size=400, progress=True) == labels
    ).float()


def paired_difference(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float]:
    """Mean of per-image (a - b) correctness with a normal 95% interval: the same images for both."""
    diff = a - b
    return float(diff.mean()), 1.96 * float(diff.std(unbiased=True)) / math.sqrt(len(diff))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-per-class", type=int, default=50)
    parser.add_argument("--aa-n-per-class", type=int, default=None, help="AutoAttack on the first K images per class")
    parser.add_argument("--eps", default="8,4", help="eps values in /255")
    parser.add_argument("--splits", default="novel,base")
    parser.add_argument("--seed", type=int, default=777)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/robustness.json"))
    parser.add_argument("--curves", action="store_true")
    args = parser.parse_args()

    models = {name: load_trained(MODELS[name]) for name in args.models.split(",")}
    rows, correct = [], {}
    for split in args.splits.split(","):
        for eps_255 in map(float, args.eps.split(",")):
            for name, trained in models.items():
                for attack in ATTACKS:
                    start = time.perf_counter()
                    c = correctness(
                        trained, split, attack, eps_255 / 255, args.n_per_class, args.seed, args.aa_n_per_class
                    )
                    correct[(split, eps_255, name, attack)] = c
                    accuracy = float(c.mean())
                    rows.append(
                        {
                            "split": split,
                            "eps_255": eps_255,
                            "model": name,
                            "attack": attack,
                            "accuracy": accuracy,
                            "ci95": binomial_ci95(accuracy, len(c)),
                            "n": len(c),
                            "seconds": time.perf_counter() - start,
                        }
                    )
                    print(json.dumps(rows[-1]), flush=True)
    report = {
        "rows": rows,
        "paired": [],
        "warnings": [],
        "machine": platform.platform(),
        "threads": torch.get_num_threads(),
        "date": time.strftime("%Y-%m-%d"),
    }
    for split in args.splits.split(","):
        for eps_255 in map(float, args.eps.split(",")):
            for name in models:
                accs = {a: float(correct[(split, eps_255, name, a)].mean()) for a in ATTACKS}
                report["warnings"] += [f"{name} {split} {eps_255}/255: {w}" for w in sanity_warnings(accs)]
            for a, b in (("laat", "anchor-at"), ("anchor-at", "standard"), ("laat", "standard")):
                if a in models and b in models:
                    for attack in ATTACKS:
                        ca, cb = correct[(split, eps_255, a, attack)], correct[(split, eps_255, b, attack)]
                        mean, ci = paired_difference(ca, cb)
                        report["paired"].append(
                            {
                                "split": split,
                                "eps_255": eps_255,
                                "attack": attack,
                                "comparison": f"{a} - {b}",
                                "difference": mean,
                                "ci95": ci,
                            }
                        )
    for name, trained in models.items():  # accuracy -> 0 as eps grows (gradient-masking check)
        names = trained.names_for("novel")
        images, labels = shapes.make_split(names, 10, seed=args.seed).tensors
        model = trained.head_for(names)
        large = predict_adversarial(model, images, labels, AttackSpec("pgd", 64 / 255, 20), len(names))
        accuracy = float((large == labels).float().mean())
        report.setdefault("large_eps", {})[name] = accuracy
        report["warnings"] += [f"{name}: {w}" for w in sanity_warnings({}, accuracy, chance=1 / len(names))]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))
    print_table(report)
    if args.curves:
        write_curves(models)


def print_table(report: dict) -> None:
    print("\n| split | eps | model | clean | FGSM | PGD-20 | AutoAttack |\n|---|---|---|---|---|---|---|")
    cells: dict = {}
    for row in report["rows"]:
        cells.setdefault((row["split"], row["eps_255"], row["model"]), {})[row["attack"]] = row
    for (split, eps, model), by_attack in cells.items():
        values = " | ".join(f"{by_attack[a]['accuracy']:.3f} ± {by_attack[a]['ci95']:.3f}" for a in ATTACKS)
        print(f"| {split} | {eps:g}/255 | {model} | {values} |")
    print("\n| split | eps | comparison | clean | FGSM | PGD-20 | AutoAttack |\n|---|---|---|---|---|---|---|")
    paired: dict = {}
    for p in report["paired"]:
        paired.setdefault((p["split"], p["eps_255"], p["comparison"]), {})[p["attack"]] = p
    for (split, eps, comparison), by_attack in paired.items():
        values = " | ".join(f"{by_attack[a]['difference']:+.3f} ± {by_attack[a]['ci95']:.3f}" for a in ATTACKS)
        print(f"| {split} | {eps:g}/255 | {comparison} | {values} |")
    print(f"\nPGD-20 at eps 64/255 (novel): {report['large_eps']}")
    print("warnings:", report["warnings"] or "none")


def write_curves(models: dict) -> None:
    labels = {"standard": "standard (shipped)", "laat": "LAAT (shipped)", "anchor-at": "anchor-AT (shipped)"}
    points = []
    for name, trained in models.items():
        for split in ("base", "novel"):
            points += [
                p.to_dict() for p in robustness_curve(trained, labels[name], split, default_eps_grid(), "pgd", 10, 10)
            ]
    out = ROOT / "assets/models/robustness_curves.json"
    out.write_text(
        json.dumps({"attack": "PGD-10 (clean at eps 0)", "n_per_class": 10, "seed": 2024, "points": points}, indent=1)
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
