"""The headline table: novel- and base-class accuracy x {clean, FGSM, PGD-20, AutoAttack} at eps 8/255 and
4/255 on fresh generated images (never seen in training or validation), every model in eval mode, 95%
intervals, and paired differences between models on the same images.

One process per model (they run in parallel, one core each), then --combine prints the tables:

    python benchmarks/bench_robustness.py --model laat &       # writes benchmarks/results/laat.safetensors
    python benchmarks/bench_robustness.py --model anchor-at &
    python benchmarks/bench_robustness.py --model standard; wait
    python benchmarks/bench_robustness.py --combine --curves   # tables + assets/models/robustness_curves.json
    python benchmarks/bench_robustness.py --model laat --resume --splits novel --eps 8  # cells a budget skipped

AutoAttack uses the official standard settings (laat_core.attacks.factory.make_autoattack). It costs about 14 s
per correctly classified image on one core of this CPU (BENCHMARKS.md), so it runs on the first --aa-n-per-class (novel) / --aa-base-n-per-class
(base) images of each class, in chunks of --aa-chunk images per class that are saved as they finish; after
--budget-min no new chunk starts, and the table reports the n that was reached (--resume continues).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from laat_core.attacks import AttackSpec
from laat_core.compare import default_eps_grid, robustness_curve
from laat_core.data import shapes
from laat_core.evaluation import binomial_ci95, predict_adversarial, sanity_warnings
from laat_core.trained import load_trained

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
MODELS = {
    "standard": ROOT / "assets/models/shapes-standard.safetensors",
    "anchor-at": ROOT / "assets/models/shapes-anchor-at.safetensors",
    "laat": ROOT / "assets/models/shapes-laat.safetensors",
}
LABELS = {"standard": "standard (shipped)", "laat": "LAAT (shipped)", "anchor-at": "anchor-AT (shipped)"}
ATTACKS = ("none", "fgsm", "pgd", "autoattack")


def correctness(trained, split, attack, eps, n_per_class, seed, per_class: range) -> torch.Tensor:
    """Per-image 0/1 correctness, shape (classes, len(per_class)), on images per_class of the n_per_class
    fresh images generated for each class (the same images for every model and attack)."""
    names = trained.names_for(split)
    images, labels = shapes.make_split(names, n_per_class, seed=seed).tensors
    keep = torch.arange(len(labels)).view(len(names), n_per_class)[:, per_class.start : per_class.stop].flatten()
    model = trained.head_for(names)
    spec = AttackSpec(attack, eps, steps=20, seed=seed + per_class.start)
    predictions = predict_adversarial(model, images[keep], labels[keep], spec, len(names), batch_size=400)
    return (predictions == labels[keep]).float().view(len(names), -1)


def run_model(args) -> None:
    """Cheap cells first, then AutoAttack cells in order of importance, saving after each cell or chunk, so
    a time limit (--budget-min) leaves a usable partial result."""
    trained = load_trained(MODELS[args.model])
    tensors, rows, meta = {}, [], {"date": time.strftime("%Y-%m-%d"), "machine": platform.platform()}
    previous = load_results().get(args.model)
    if previous and args.resume:  # keep finished cells, compute only the missing ones
        tensors, meta = previous["tensors"], dict(previous["meta"])
        rows = json.loads(meta["rows"])
    if "pgd20_eps64_novel" not in meta:  # accuracy -> 0 as eps grows: the gradient-masking check
        names = trained.names_for("novel")
        images, labels = shapes.make_split(names, 10, seed=args.seed).tensors
        large = predict_adversarial(
            trained.head_for(names), images, labels, AttackSpec("pgd", 64 / 255, 20), len(names)
        )
        meta["pgd20_eps64_novel"] = str(float((large == labels).float().mean()))
    splits, eps_values = args.splits.split(","), [float(e) for e in args.eps.split(",")]
    cells = [(s, e, a) for s in splits for e in eps_values for a in ATTACKS if a != "autoattack"]
    cells += [(s, e, "autoattack") for e in eps_values for s in splits]
    started = time.perf_counter()
    for split, eps_255, attack in cells:
        key = f"{split}|{eps_255:g}|{attack}"
        n_classes = len(trained.names_for(split))
        target, chunk = args.n_per_class, args.n_per_class
        if attack == "autoattack":  # in chunks of a few images per class, saved as they finish
            target = args.aa_n_per_class if split == "novel" else args.aa_base_n_per_class
            chunk = args.aa_chunk
        done = tensors[key].view(n_classes, -1) if key in tensors else torch.empty(n_classes, 0)
        while done.shape[1] < target:
            if attack == "autoattack" and time.perf_counter() - started > args.budget_min * 60:
                print(f"budget reached: AutoAttack {split} {eps_255:g}/255 stops at {done.shape[1]}/class", flush=True)
                break
            start = time.perf_counter()
            per_class = range(done.shape[1], min(done.shape[1] + chunk, target))
            c = correctness(trained, split, attack, eps_255 / 255, args.n_per_class, args.seed, per_class)
            done = torch.cat([done, c], dim=1)
            tensors[key] = done.flatten().contiguous()
            cell = {"model": args.model, "split": split, "eps_255": eps_255, "attack": attack}
            earlier = [r for r in rows if r.items() >= cell.items()]  # this cell's previous chunks
            rows = [r for r in rows if r not in earlier] + [
                {
                    **cell,
                    "accuracy": float(done.mean()),
                    "n": done.numel(),
                    "seconds": time.perf_counter() - start + sum(r["seconds"] for r in earlier),
                }
            ]
            print(json.dumps(rows[-1]), flush=True)
            meta.update(rows=json.dumps(rows), threads=str(torch.get_num_threads()))
            RESULTS.mkdir(parents=True, exist_ok=True)
            save_file(tensors, str(RESULTS / f"{args.model}.safetensors"), metadata=meta)


def load_results() -> dict:
    results = {}
    for path in sorted(RESULTS.glob("*.safetensors")):
        with safe_open(str(path), framework="pt") as handle:
            results[path.stem] = {
                "tensors": {k: handle.get_tensor(k) for k in handle.keys()},
                "meta": handle.metadata(),
            }
    return results


def paired_difference(a: torch.Tensor, b: torch.Tensor, n_classes: int) -> tuple[float, float]:
    """Mean of per-image (a - b) correctness, normal 95% interval, on the images both models saw (the
    first k of each class: AutoAttack coverage may differ between models)."""
    k = min(len(a), len(b)) // n_classes
    diff = (a.view(n_classes, -1)[:, :k] - b.view(n_classes, -1)[:, :k]).flatten()
    return float(diff.mean()), 1.96 * float(diff.std(unbiased=True)) / math.sqrt(len(diff))


def same_images(tensors: dict, split: str, eps: str) -> dict[str, float]:
    """Accuracy per attack on the images every attack saw (AutoAttack runs on the first k per class), so
    the ordering check clean >= FGSM >= PGD >= AutoAttack compares like with like."""
    cells = {a: tensors[f"{split}|{eps}|{a}"] for a in ATTACKS if f"{split}|{eps}|{a}" in tensors}
    n_classes = _n_classes(split)
    k = min(len(c) for c in cells.values()) // n_classes
    return {a: float(c.view(n_classes, -1)[:, :k].mean()) for a, c in cells.items()}


def _n_classes(split: str) -> int:
    base, novel = shapes.default_split()
    return len(novel) if split == "novel" else len(base)


def combine() -> None:
    results = load_results()
    models = [m for m in ("standard", "anchor-at", "laat") if m in results]
    settings = {tuple(k.split("|")[:2]) for m in models for k in results[m]["tensors"]}
    settings = sorted(settings, key=lambda s: (s[0] != "novel", -float(s[1])))  # novel first, larger eps first
    print("| split | eps | model | clean | FGSM | PGD-20 | AutoAttack |\n|---|---|---|---|---|---|---|")
    warnings = []
    for split, eps in settings:
        for model in models:
            t = results[model]["tensors"]
            cells = []
            for attack in ATTACKS:
                c = t.get(f"{split}|{eps}|{attack}")
                if c is None:
                    cells.append("not run")
                    continue
                cells.append(f"{c.mean():.3f} ± {binomial_ci95(float(c.mean()), len(c)):.3f} (n={len(c)})")
            warnings += [f"{model} {split} {eps}/255: {w}" for w in sanity_warnings(same_images(t, split, eps))]
            print(f"| {split} | {eps}/255 | {model} | " + " | ".join(cells) + " |")
    print("\nPaired differences on the same images (mean of per-image correctness difference ± 95%):\n")
    print("| split | eps | comparison | clean | FGSM | PGD-20 | AutoAttack |\n|---|---|---|---|---|---|---|")
    for split, eps in settings:
        for a, b in (("laat", "anchor-at"), ("anchor-at", "standard"), ("laat", "standard")):
            if a in results and b in results:
                cells = []
                for attack in ATTACKS:
                    key = f"{split}|{eps}|{attack}"
                    if key not in results[a]["tensors"] or key not in results[b]["tensors"]:
                        cells.append("not run")
                        continue
                    mean, ci = paired_difference(
                        results[a]["tensors"][key], results[b]["tensors"][key], _n_classes(split)
                    )
                    cells.append(f"{mean:+.3f} ± {ci:.3f}")
                print(f"| {split} | {eps}/255 | {a} − {b} | " + " | ".join(cells) + " |")
    per_class_table(results, models)
    print("\nPGD-20 at eps 64/255, novel classes (should be near 0):")
    for model in models:
        large = float(results[model]["meta"]["pgd20_eps64_novel"])
        warnings += [f"{model}: {w}" for w in sanity_warnings({}, large, chance=1 / 16)]
        print(f"- {model}: {large:.3f}")
    print(
        "\nTimes (s) per cell:",
        {m: round(sum(r["seconds"] for r in json.loads(results[m]["meta"]["rows"]))) for m in models},
    )
    print("Gradient-masking warnings:", warnings or "none")


def per_class_table(results: dict, models: list[str], eps: str = "8") -> None:
    """Novel-class accuracy per class (clean / PGD-20): where zero-shot transfer fails, and for whom."""
    _, novel = shapes.default_split()
    print(f"\nPer novel class, clean / PGD-20 at {eps}/255 (50 images each):\n")
    print("| class | " + " | ".join(models) + " |\n|---|" + "---|" * len(models))
    cells = {m: [results[m]["tensors"].get(f"novel|{eps}|{a}") for a in ("none", "pgd")] for m in models}
    for i, name in enumerate(novel):
        row = []
        for m in models:
            clean, pgd = cells[m]
            if clean is None or pgd is None:
                row.append("not run")
                continue
            row.append(f"{clean.view(len(novel), -1)[i].mean():.2f} / {pgd.view(len(novel), -1)[i].mean():.2f}")
        print(f"| {name} | " + " | ".join(row) + " |")


def write_curves(n_per_class: int = 4) -> None:
    """The compare tab's shipped curves: PGD-10 over the eps grid on a small fresh sample (the tab's
    Recompute measures again on demand); the table above is the careful measurement."""
    points = []
    for name, path in MODELS.items():
        trained = load_trained(path)
        for split in ("base", "novel"):
            points += [
                p.to_dict()
                for p in robustness_curve(trained, LABELS[name], split, default_eps_grid(), "pgd", 10, n_per_class)
            ]
    out = ROOT / "assets/models/robustness_curves.json"
    out.write_text(
        json.dumps(
            {"attack": "PGD-10 (clean at eps 0)", "n_per_class": n_per_class, "seed": 2024, "points": points}, indent=1
        )
    )
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=list(MODELS))
    parser.add_argument("--combine", action="store_true")
    parser.add_argument("--curves", action="store_true")
    parser.add_argument("--n-per-class", type=int, default=50)
    parser.add_argument("--aa-n-per-class", type=int, default=50, help="AutoAttack images per novel class")
    parser.add_argument("--aa-base-n-per-class", type=int, default=5, help="AutoAttack images per base class")
    parser.add_argument("--aa-chunk", type=int, default=10, help="AutoAttack images per class between saves")
    parser.add_argument("--budget-min", type=float, default=40, help="start no AutoAttack cell after this")
    parser.add_argument("--resume", action="store_true", help="keep this model's finished cells, run the rest")
    parser.add_argument("--eps", default="8,4", help="eps values in /255")
    parser.add_argument("--splits", default="novel,base")
    parser.add_argument("--seed", type=int, default=777, help="evaluation images; training used 0, validation 1000003")
    args = parser.parse_args()
    if args.model:
        run_model(args)
    if args.combine:
        combine()
    if args.curves:
        write_curves()


if __name__ == "__main__":
    main()
