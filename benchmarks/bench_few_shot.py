"""The paper's baseline family on the shapes: Adversarial Querying 1-shot next to LAAT 1-shot and LAAT zero-shot.

Every model is scored on the same fresh novel-class images (seed 777, as the ablation; never seen in training or
validation) and the same 5-way episodes with 20 queries per class: clean, FGSM and PGD-20 at eps 8/255, each a
mean over episodes with its 95% interval (laat_core.protocol.run_official, with its gradient-masking checks).

- AQ 1-shot: prototypes = mean features of 1 clean support image per class, scaled squared Euclidean (its head);
- LAAT 1-shot: the same support image, its normalized projected feature replaces the text anchor (cosine / tau);
- LAAT zero-shot: the text anchors.
The queries are attacked end to end through each head; the supports stay clean.

    python benchmarks/bench_few_shot.py --worker 0/2 & python benchmarks/bench_few_shot.py --worker 1/2; wait
    python benchmarks/bench_few_shot.py --combine

Checkpoints: runs/aq/aq-seed<k>.safetensors (`laat train --method aq --fast --epochs 8 --n-per-class 150 --seed k`)
and the ablation's runs/ablation/mild/laat-tau0.1-seed<k>.safetensors (benchmarks/run_ablation.sh): the same
backbone, data and budget. Results: benchmarks/few-shot/<cell>.json (a cell is skipped when its file exists).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import time
from datetime import date
from pathlib import Path

import torch

from laat_core.data import shapes
from laat_core.protocol import OFFICIAL_ROWS, comparison_table, run_official
from laat_core.trained import load_trained

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "few-shot"
EVAL_SEED = 777
N_PER_CLASS = 40
ROWS = OFFICIAL_ROWS[:3]  # clean, FGSM, PGD-20 (AutoAttack: minutes per episode on this CPU)
# (label, checkpoint pattern, shots)
MODELS = (
    ("AQ 1-shot", "runs/aq/aq-seed{seed}.safetensors", 1),
    ("LAAT 1-shot", "runs/ablation/mild/laat-tau0.1-seed{seed}.safetensors", 1),
    ("LAAT zero-shot", "runs/ablation/mild/laat-tau0.1-seed{seed}.safetensors", 0),
)


def cells(seeds: list[int]) -> list[tuple[str, str, int, int]]:
    return [(label, pattern.format(seed=seed), shots, seed) for seed in seeds for label, pattern, shots in MODELS]


def cell_path(label: str, seed: int) -> Path:
    return OUT / f"{label.lower().replace(' ', '-')}-seed{seed}.json"


def commit() -> str:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "laat_core"], cwd=ROOT, capture_output=True, text=True)
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def run_cell(label: str, checkpoint: str, shots: int, seed: int, episodes: int, code: str) -> dict:
    trained = load_trained(ROOT / checkpoint)
    names = trained.names_for("novel")
    images, labels = shapes.make_split(names, N_PER_CLASS, seed=EVAL_SEED).tensors
    started = time.perf_counter()
    results, warnings = run_official(trained, images, labels, "novel", 8 / 255, episodes, EVAL_SEED, shots=shots,
                                     rows=ROWS)  # fmt: skip
    return {
        "label": label,
        "checkpoint": checkpoint,
        "seed": seed,
        "shots": shots,
        "results": [r.to_dict() for r in results],
        "warnings": warnings,
        "seconds": time.perf_counter() - started,
        "commit": code,  # the code this process imported, at its start (HEAD may move while it runs)
        "date": str(date.today()),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch thread(s)",
    }


def combine(seeds: list[int]) -> None:
    from laat_core.evaluation import EvalResult

    found = {(label, seed): cell_path(label, seed) for label, _, _, seed in cells(seeds)}
    missing = [str(p) for p in found.values() if not p.exists()]
    if missing:
        raise SystemExit(f"not evaluated yet: {', '.join(missing)}")
    per_seed = []
    means: dict[str, list[list[float]]] = {}
    for (label, seed), path in found.items():
        cell = json.loads(path.read_text())
        results = [EvalResult(**r) for r in cell["results"]]
        per_seed.append((f"{label}, seed {seed}", results))
        means.setdefault(label, []).append([r.accuracy for r in results])
        for warning in cell["warnings"]:
            print(f"WARNING ({label}, seed {seed}): {warning}")
    print(comparison_table(per_seed))
    attacks = [r.attack_spec for r in per_seed[0][1]]
    print(f"\nmean ± sd over {len(seeds)} training seeds (accuracy %):\n")
    print("| model | " + " | ".join(attacks) + " |\n|---|" + "---|" * len(attacks))
    for label, values in means.items():
        table = torch.tensor(values) * 100
        sd = table.std(0, unbiased=True) if len(values) > 1 else torch.full((len(attacks),), float("nan"))
        print(f"| {label} | " + " | ".join(f"{m:.1f} ± {s:.1f}" for m, s in zip(table.mean(0), sd, strict=True)) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--episodes", type=int, default=100, help="5-way episodes per attack (official: 2000)")
    parser.add_argument("--worker", default="0/1", help="i/n: evaluate every n-th cell from the i-th")
    parser.add_argument("--combine", action="store_true", help="print the tables from the cells' files")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.combine:
        return combine(seeds)
    index, count = (int(v) for v in args.worker.split("/"))
    OUT.mkdir(parents=True, exist_ok=True)
    code = commit()
    for label, checkpoint, shots, seed in cells(seeds)[index::count]:
        path = cell_path(label, seed)
        if path.exists():
            continue
        cell = run_cell(label, checkpoint, shots, seed, args.episodes, code)
        path.write_text(json.dumps(cell, indent=1))
        print(f"{label}, seed {seed}: {[round(r['accuracy'], 3) for r in cell['results']]} ({cell['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
