"""The LAAT ablation: every registered method x anchor regime x training seed, one budget for all.

Each cell trains one model on the base classes (checkpoint after every epoch in runs/ablation/, resumed if
the run was cut), then measures it on fresh images never seen in training or validation: base (48-way) and
novel (16-way zero-shot) classes of the pairs split (--split fill: 96-way and 32-way, STUDIES below), clean / FGSM / PGD-20 at 8/255, model in eval mode. Per-image
correctness is kept, so methods can be compared on the same images. The cell's result is written
atomically to benchmarks/ablation/<regime>/<row>-seed<k>.json, and a finished cell is never redone: the
same command continues after an interruption.

    # first tau per regime, on base-class validation data only (rule: SELECTION below), two workers:
    OMP_NUM_THREADS=1 python benchmarks/ablation.py --select --worker 0/2 &
    OMP_NUM_THREADS=1 python benchmarks/ablation.py --select --worker 1/2; wait
    # then every cell, two workers, one core each (the cells are split between them), then the tables:
    OMP_NUM_THREADS=1 python benchmarks/ablation.py --worker 0/2 &
    OMP_NUM_THREADS=1 python benchmarks/ablation.py --worker 1/2; wait
    OMP_NUM_THREADS=1 python benchmarks/ablation.py --autoattack 2 --worker 0/1   # AutoAttack subset, resumable
    python benchmarks/ablation.py --combine      # tables for BENCHMARKS.md + assets/ablation_summary.json

Budget (the same for every row, stated in the output): the study's budget in STUDIES below. beta is TrainConfig's (4, chosen earlier on
base-class validation data). tau is chosen per regime by a rule fixed before any run: train anchor-at and laat
(seed 0, the ablation's budget) at each tau in study.taus and keep the tau with the best mean final
base-val PGD-10 of the two; novel classes are never looked at for it.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import platform
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from scipy import stats

from laat_core.attacks import AttackSpec
from laat_core.checkpoint import read_metadata
from laat_core.data import shapes
from laat_core.evaluation import predict_adversarial, sanity_warnings
from laat_core.methods import METHODS
from laat_core.regimes import REGIMES
from laat_core.trained import load_trained
from laat_core.training import TrainConfig, train

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Study:
    """One ablation on one split of the shapes data: where its files go, its budget and its tau grid."""

    split: str
    results: Path
    checkpoints: Path
    summary: Path
    budget: dict
    taus: tuple[float, ...]
    eval_per_class: dict

    @property
    def data(self) -> str:
        return "shapes" if self.split == "pairs" else f"shapes:{self.split}"


# One budget for every row and regime: fast AT (FGSM-RS; TRADES takes one KL step of the same size).
def _fast(n_per_class: int) -> dict:
    return {"epochs": 8, "n_per_class": n_per_class, "fast": True, "val_per_class": 20, "val_pgd_images": 256}


STUDIES = {
    "pairs": Study(
        "pairs",
        ROOT / "benchmarks" / "ablation",
        ROOT / "runs" / "ablation",
        ROOT / "assets" / "ablation_summary.json",
        _fast(150),
        (0.1, 0.2, 0.4),
        {"novel": 25, "base": 10},
    ),
    # Fixed before any run on this split: the same images per epoch as the pairs study (96 base classes x 75 =
    # 48 x 150 = 7,200), so the same number of steps. The tau grid moves down: 0.2 and 0.4 lost to 0.1 by more
    # than 0.15 base-val PGD-10 in both regimes of the pairs study, and 0.1 was its edge.
    "fill": Study(
        "fill",
        ROOT / "benchmarks" / "ablation-fill",
        ROOT / "runs" / "ablation-fill",
        ROOT / "assets" / "ablation_summary_fill.json",
        _fast(75),
        (0.05, 0.1),
        {"novel": 25, "base": 10},
    ),
}
# The temperature question (issue 8): the fill study's anchor-AT and LAAT at the pairs study's tau (0.1), every
# seed, so "LAAT - anchor-AT" can be read at both temperatures. Same checkpoints folder: names carry tau.
STUDIES["fill-tau0.1"] = replace(
    STUDIES["fill"],
    results=ROOT / "benchmarks" / "ablation-fill-tau0.1",
    summary=ROOT / "assets" / "ablation_summary_fill_tau0.1.json",
    taus=(0.1,),
)
# The grid's edge: base-class validation at tau 0.025 only (--select), to see whether the fill study's rule should
# have looked lower. Not a selection: its grid was fixed at {0.05, 0.1} before the run.
STUDIES["fill-edge"] = replace(
    STUDIES["fill"],
    results=ROOT / "benchmarks" / "ablation-fill-edge",
    summary=ROOT / "benchmarks" / "ablation-fill-edge" / "summary.json",
    taus=(0.025,),
)
study = STUDIES["pairs"]  # main() switches it with --split
# Rows: (label, method, TrainConfig overrides). Every registered zero-shot method (episodic ones, e.g. aq, have no
# anchors: benchmarks/bench_few_shot.py), plus LAAT with the official code's separate BatchNorm passes (the default
# is chosen from this pair by base-val PGD-10).
ROWS = [(name, name, {}) for name, method in METHODS.items() if not method.episodic] + [
    ("laat-bn-separate", "laat", {"bn_mode": "separate"})
]
SELECTION_METHODS = ("anchor-at", "laat")
SELECTION_SEED = 0
EVAL_SEED = 777  # evaluation images: training used data seed 0, validation 1000003
ATTACKS = ("none", "fgsm", "pgd")
AA_ROWS = ("anchor-at", "laat")
# The order cells run in within a seed: the comparison that matters first.
PRIORITY = (
    "anchor-at",
    "laat",
    "standard",
    "anchor-at-expansion",
    "anchor-at-center",
    "trades",
    "laat-bn-separate",
)  # AutoAttack (the final word) on a stated subset of novel images


def cells(regimes: list[str], rows: list[str], seeds: list[int]) -> list[tuple[str, str, int]]:
    # Seed-major, so an interrupted run has every row of the first seeds rather than all seeds of some rows.
    return [(regime, row, seed) for seed in seeds for regime in regimes for row in rows]


def result_path(regime: str, row: str, seed: int) -> Path:
    return study.results / regime / f"{row}-seed{seed}.json"


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def config_for(regime: str, row: str, seed: int, tau: float) -> TrainConfig:
    label, method, overrides = next(r for r in ROWS if r[0] == row)
    return TrainConfig(
        method=method,
        templates=REGIMES[regime].templates,
        seed=seed,
        tau=tau,
        data=study.data,
        **study.budget,
        **overrides,
    )


def checkpoint_path(regime: str, row: str, seed: int, tau: float) -> Path:
    return study.checkpoints / regime / f"{row}-tau{tau:g}-seed{seed}.safetensors"


def train_cell(regime: str, row: str, seed: int, tau: float) -> tuple[Path, float]:
    """Train (or finish training) one model; a finished checkpoint is reused as it is."""
    config = config_for(regime, row, seed, tau)
    path = checkpoint_path(regime, row, seed, tau)
    path.parent.mkdir(parents=True, exist_ok=True)
    resume = path if path.exists() and read_metadata(path)["epochs_done"] < config.epochs else None
    start = time.perf_counter()
    if resume or not path.exists():
        train(config, out=path, resume=resume, progress=False)
    return path, time.perf_counter() - start


# ---------------------------------------------------------------- tau selection (base-class validation only)
def selection_path(regime: str, method: str, tau: float) -> Path:
    return study.results / "selection" / f"{regime}-{method}-tau{tau:g}.json"


def run_selection(regime: str, method: str, tau: float) -> None:
    out = selection_path(regime, method, tau)
    if out.exists():
        return
    path, seconds = train_cell(regime, method, SELECTION_SEED, tau)
    last = read_metadata(path)["log"][-1]
    write_json(
        out,
        {
            "regime": regime,
            "method": method,
            "tau": tau,
            "seed": SELECTION_SEED,
            "base_val_clean": last["val_clean_acc"],
            "base_val_pgd10": last["val_pgd_acc"],
            "train_seconds": seconds,
            "commit": _commit(),
        },
    )
    print(f"selection {regime} {method} tau {tau:g}: base-val PGD-10 {last['val_pgd_acc']:.3f}", flush=True)


def selected_tau(regime: str) -> float:
    """The rule in the module docstring; an error until every selection run of the regime is done."""
    scores = {}
    for tau in study.taus:
        paths = [selection_path(regime, m, tau) for m in SELECTION_METHODS]
        if not all(p.exists() for p in paths):
            raise SystemExit(f"tau selection for {regime} is not finished: run benchmarks/ablation.py --select first")
        scores[tau] = sum(json.loads(p.read_text())["base_val_pgd10"] for p in paths) / len(paths)
    return max(study.taus, key=lambda tau: scores[tau])  # first of the best in study.taus order


def correctness(trained, split: str, attack: str, eps: float, n_per_class: int, steps: int = 20) -> str:
    """Per-image 0/1 correctness as a string, class-major, on the fixed fresh evaluation images."""
    names = trained.names_for(split)
    images, labels = shapes.make_split(names, n_per_class, seed=EVAL_SEED).tensors
    spec = AttackSpec(attack, eps, steps=steps, seed=EVAL_SEED)
    predictions = predict_adversarial(trained.head_for(names), images, labels, spec, len(names), batch_size=400)
    return "".join("1" if ok else "0" for ok in (predictions == labels).tolist())


def run_cell(regime: str, row: str, seed: int) -> None:
    out = result_path(regime, row, seed)
    tau = selected_tau(regime)
    if out.exists() and json.loads(out.read_text())["training"]["tau"] == tau:
        return
    path, seconds = train_cell(regime, row, seed, tau)
    trained = load_trained(path)
    start = time.perf_counter()
    bits = {
        f"{split}|{attack}": correctness(trained, split, attack, 8 / 255, n)
        for split, n in study.eval_per_class.items()
        for attack in ATTACKS
    }
    large = correctness(trained, "novel", "pgd", 64 / 255, 5)
    last = trained.metadata["log"][-1]
    write_json(
        out,
        {
            "regime": regime,
            "row": row,
            "method": trained.metadata["training"]["method"],
            "seed": seed,
            "training": trained.metadata["training"],
            "train_seconds": seconds,
            "eval_seconds": time.perf_counter() - start,
            "base_val_clean": last["val_clean_acc"],
            "base_val_pgd10": last["val_pgd_acc"],
            "eval": {"seed": EVAL_SEED, "per_class": study.eval_per_class, "eps": "8/255", "pgd_steps": 20},
            "correct": bits,
            "pgd20_eps64_novel": large.count("1") / len(large),
            "threads": torch.get_num_threads(),
            "machine": platform.platform(),
            "commit": _commit(),
            "date": time.strftime("%Y-%m-%d"),
        },
    )
    print(f"{regime} {row} seed {seed}: train {seconds:.0f} s, novel PGD-20 {_acc(bits['novel|pgd']):.3f}", flush=True)


def run_autoattack(regime: str, row: str, seed: int, n_per_class: int) -> None:
    """AutoAttack (official standard settings) on the first n_per_class novel evaluation images per class."""
    out = result_path(regime, row, seed)
    if not out.exists():
        return
    result = json.loads(out.read_text())
    if result.get("autoattack", {}).get("n_per_class", 0) >= n_per_class:
        return
    trained = load_trained(checkpoint_path(regime, row, seed, result["training"]["tau"]))
    names = trained.names_for("novel")
    images, labels = shapes.make_split(names, study.eval_per_class["novel"], seed=EVAL_SEED).tensors
    keep = torch.arange(len(labels)).view(len(names), -1)[:, :n_per_class].flatten()
    start = time.perf_counter()
    spec = AttackSpec("autoattack", 8 / 255, seed=EVAL_SEED)
    predictions = predict_adversarial(trained.head_for(names), images[keep], labels[keep], spec, len(names))
    result["autoattack"] = {
        "n_per_class": n_per_class,
        "correct": "".join("1" if ok else "0" for ok in (predictions == labels[keep]).tolist()),
        "seconds": time.perf_counter() - start,
        "commit": _commit(),
    }
    write_json(out, result)
    print(f"{regime} {row} seed {seed}: AutoAttack {_acc(result['autoattack']['correct']):.3f}", flush=True)


@functools.lru_cache(maxsize=1)
def _commit() -> str:
    """The commit this process started on (main() calls it first), '+dirty' if tracked files differed."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
        dirty = subprocess.run(["git", "status", "--porcelain", "-uno"], capture_output=True, text=True, cwd=ROOT)
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except OSError:
        return "unknown"


def _priority(row: str) -> int:
    return PRIORITY.index(row) if row in PRIORITY else len(PRIORITY)


def _acc(bits: str) -> float:
    return bits.count("1") / max(len(bits), 1)


def _bits(bits: str) -> torch.Tensor:
    return torch.tensor([c == "1" for c in bits], dtype=torch.float32)


# ---------------------------------------------------------------- combine
def load_all() -> dict[tuple[str, str], list[dict]]:
    table: dict[tuple[str, str], list[dict]] = {}
    for path in sorted(p for regime in REGIMES for p in (study.results / regime).glob("*.json")):
        result = json.loads(path.read_text())
        table.setdefault((result["regime"], result["row"]), []).append(result)
    return table


def mean_sd(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else float("nan")
    return mean, sd


def metrics(result: dict) -> dict[str, float]:
    values = {f"{key}": _acc(bits) for key, bits in result["correct"].items()}
    values["base_val_pgd10"] = result["base_val_pgd10"] if result["base_val_pgd10"] is not None else float("nan")
    if "autoattack" in result:
        values["novel|autoattack"] = _acc(result["autoattack"]["correct"])
    return values


def paired(a: list[dict], b: list[dict], key: str = "novel|pgd") -> dict | None:
    """LAAT - anchor-AT on the same images: per-seed differences (t interval over seeds) and the pooled
    image-level difference (normal interval), on the seeds both rows have."""
    seeds = sorted({r["seed"] for r in a} & {r["seed"] for r in b})
    if not seeds:
        return None
    by_seed_a, by_seed_b = {r["seed"]: r for r in a}, {r["seed"]: r for r in b}
    per_seed, pooled = [], []
    for seed in seeds:
        if key == "novel|autoattack":
            if "autoattack" not in by_seed_a[seed] or "autoattack" not in by_seed_b[seed]:
                continue
            bits_a, bits_b = by_seed_a[seed]["autoattack"]["correct"], by_seed_b[seed]["autoattack"]["correct"]
            k, n_classes = min(len(bits_a), len(bits_b)), len(shapes.split(study.split)[1])
            # The same first images of each class in both rows, even if one ran AutoAttack on more per class.
            x, y = _bits(_first_k(bits_a, k, n_classes)), _bits(_first_k(bits_b, k, n_classes))
        else:
            x, y = _bits(by_seed_a[seed]["correct"][key]), _bits(by_seed_b[seed]["correct"][key])
        per_seed.append(float((x - y).mean()))
        pooled.append(x - y)
    if not per_seed:
        return None
    diff = torch.cat(pooled)
    mean = sum(per_seed) / len(per_seed)
    t_half = (
        float(stats.t.ppf(0.975, len(per_seed) - 1)) * mean_sd(per_seed)[1] / math.sqrt(len(per_seed))
        if len(per_seed) > 1
        else float("nan")
    )
    return {
        "seeds": len(per_seed),
        "mean": mean,
        "ci95_over_seeds": t_half,
        "per_seed": per_seed,
        "images": len(diff),
        "ci95_images": 1.96 * float(diff.std(unbiased=True)) / math.sqrt(len(diff)),
    }


COLUMNS = [
    ("base_val_pgd10", "base-val PGD-10"),
    ("base|none", "base clean"),
    ("base|pgd", "base PGD-20"),
    ("novel|none", "novel clean"),
    ("novel|fgsm", "novel FGSM"),
    ("novel|pgd", "novel PGD-20"),
    ("novel|autoattack", "novel AutoAttack"),
]


def combine() -> dict:
    table = load_all()
    regimes = [r for r in REGIMES if any(k[0] == r for k in table)]
    summary: dict = {
        "split": study.split,
        "budget": study.budget,
        "eval": {"seed": EVAL_SEED, "per_class": study.eval_per_class},
        "regimes": {},
    }
    summary["selection"] = selection_table(regimes)
    summary["tau_rule"] = (
        "chosen on base-class validation data only"
        if len(study.taus) > 1
        else "fixed at the pairs study's choice, to compare temperatures (not selected)"
    )
    print(
        f"Budget: {study.budget}, conv4-wide, beta {TrainConfig.beta}, tau per regime below; eps 8/255; mean ± sd over seeds\n"
    )
    print("| regime | row | seeds | " + " | ".join(c[1] for c in COLUMNS) + " |")
    print("|---|---|---|" + "---|" * len(COLUMNS))
    warnings = []
    n_novel = len(shapes.split(study.split)[1])
    for regime in regimes:
        summary["regimes"][regime] = {"templates": list(REGIMES[regime].templates), "rows": {}}
        for row, _, _ in ROWS:
            results = table.get((regime, row))
            if not results:
                continue
            per_metric: dict[str, list[float]] = {}
            for result in results:
                for key, value in metrics(result).items():
                    per_metric.setdefault(key, []).append(value)
                m = metrics(result)
                checks = {a: m[f"novel|{a}"] for a in ("none", "fgsm", "pgd")}
                if "novel|autoattack" in m:
                    k = len(result["autoattack"]["correct"])
                    checks = {
                        a: _acc(_first_k(result["correct"][f"novel|{a}"], k, n_novel)) for a in ("none", "fgsm", "pgd")
                    }
                    checks["autoattack"] = m["novel|autoattack"]
                warnings += [
                    f"{regime} {row} seed {result['seed']}: {w}"
                    for w in sanity_warnings(checks, result["pgd20_eps64_novel"], chance=1 / n_novel)
                ]
            cells, row_summary = [], {}
            for key, _ in COLUMNS:
                values = [v for v in per_metric.get(key, []) if not math.isnan(v)]
                if not values:
                    cells.append("—")
                    continue
                mean, sd = mean_sd(values)
                row_summary[key] = {"mean": mean, "sd": sd, "n_seeds": len(values)}
                cells.append(f"{mean:.3f} ± {sd:.3f}" + (f" ({len(values)})" if len(values) != len(results) else ""))
            summary["regimes"][regime]["rows"][row] = row_summary
            print(f"| {regime} | {row} | {len(results)} | " + " | ".join(cells) + " |")
    print("\nPaired LAAT − anchor-AT on novel classes (same images; t interval over seeds, normal over images):\n")
    print(
        "| regime | attack | seeds | mean | 95% over seeds | per seed | images | 95% over images |\n|---|---|---|---|---|---|---|---|"
    )
    for regime in regimes:
        summary["regimes"][regime]["paired"] = {}
        for key in ("novel|none", "novel|pgd", "novel|autoattack"):
            result = paired(table.get((regime, "laat"), []), table.get((regime, "anchor-at"), []), key)
            if result is None:
                continue
            summary["regimes"][regime]["paired"][key] = result
            print(
                f"| {regime} | {key.split('|')[1]} | {result['seeds']} | {result['mean']:+.3f} | ± {result['ci95_over_seeds']:.3f} | "
                + ", ".join(f"{v:+.3f}" for v in result["per_seed"])
                + f" | {result['images']} | ± {result['ci95_images']:.3f} |"
            )
    per_class(table, regimes, summary)
    print("\nGradient-masking warnings:", warnings or "none")
    summary["warnings"] = warnings
    summary["anchor_stats"] = anchor_statistics(regimes)
    write_json(study.summary, summary)
    print(f"wrote {study.summary}")
    return summary


def selection_table(regimes: list[str]) -> dict:
    """The tau selection runs (base-class validation only) and the tau the rule picked per regime."""
    print("tau selection (seed 0, base-class validation, final epoch): base-val clean / PGD-10\n")
    print(
        "| regime | tau | "
        + " | ".join(SELECTION_METHODS)
        + " | mean PGD-10 |\n|---|---|"
        + "---|" * (len(SELECTION_METHODS) + 1)
    )
    out = {}
    for regime in regimes:
        for tau in study.taus:
            runs = [selection_path(regime, m, tau) for m in SELECTION_METHODS]
            if not all(p.exists() for p in runs):
                continue
            values = [json.loads(p.read_text()) for p in runs]
            mean = sum(v["base_val_pgd10"] for v in values) / len(values)
            cells = " | ".join(f"{v['base_val_clean']:.3f} / {v['base_val_pgd10']:.3f}" for v in values)
            print(f"| {regime} | {tau:g} | {cells} | {mean:.3f} |")
        try:
            out[regime] = selected_tau(regime)
        except SystemExit:
            out[regime] = None
    print(f"\nchosen tau: {out}\n")
    return out


def _first_k(bits: str, k_total: int, n_classes: int) -> str:
    """The first k_total / n_classes images of each class from a class-major bit string."""
    per = len(bits) // n_classes
    k = k_total // n_classes
    return "".join(bits[c * per : c * per + k] for c in range(n_classes))


def per_class(table: dict, regimes: list[str], summary: dict) -> None:
    """Novel PGD-20 accuracy per class (mean over seeds): is the benchmark bimodal?"""
    _, novel = shapes.split(study.split)
    rows = [r for r in ("standard", "anchor-at", "laat") if any((g, r) in table for g in regimes)]
    print(
        f"\nPer novel class, PGD-20 at 8/255, mean over seeds ({study.eval_per_class['novel']} images per class and seed):\n"
    )
    print("| class | " + " | ".join(f"{g} {r}" for g in regimes for r in rows) + " |")
    print("|---|" + "---|" * (len(regimes) * len(rows)))
    grid = {}
    for g in regimes:
        for r in rows:
            results = table.get((g, r), [])
            if results:
                acc = torch.stack([_bits(x["correct"]["novel|pgd"]).view(len(novel), -1).mean(1) for x in results])
                grid[(g, r)] = acc.mean(0)
    for i, name in enumerate(novel):
        print(
            f"| {name} | "
            + " | ".join(f"{grid[(g, r)][i]:.2f}" if (g, r) in grid else "—" for g in regimes for r in rows)
            + " |"
        )
    for (g, r), acc in grid.items():
        summary["regimes"][g].setdefault("per_class_novel_pgd", {})[r] = dict(zip(novel, acc.tolist(), strict=True))
    print(f"\nDistribution of per-class novel PGD-20 accuracy (number of the {len(novel)} classes per bin):\n")
    bins = [0, 0.2, 0.4, 0.6, 0.8, 1.0001]
    print(
        "| regime row | "
        + " | ".join(f"{lo:.1f}–{min(hi, 1):.1f}" for lo, hi in zip(bins, bins[1:], strict=False))
        + " |"
    )
    print("|---|" + "---|" * (len(bins) - 1))
    for (g, r), acc in grid.items():
        counts = [int(((acc >= lo) & (acc < hi)).sum()) for lo, hi in zip(bins, bins[1:], strict=False)]
        print(f"| {g} {r} | " + " | ".join(map(str, counts)) + " |")


def anchor_statistics(regimes: list[str]) -> dict:
    from laat_core.anchors import anchor_stats, encode_anchors
    from laat_core.decorrelation import decorrelate

    base, novel = shapes.split(study.split)
    names = base + novel
    out = {}
    for regime in regimes:
        raw = encode_anchors(TrainConfig.encoder, names, REGIMES[regime].templates)
        expanded = decorrelate(raw, "expansion", n_base=len(base)).anchors
        out[regime] = {
            "raw": anchor_stats(raw, names).to_dict(),
            "expanded": anchor_stats(expanded, names).to_dict(),
        }
    return out


def ship(regime: str = "clip-like", seed: int = 0) -> None:
    """Copy a regime's anchor-AT and LAAT models (seed 0) into assets/models, weights and metadata only."""
    from laat_core.trained import save_trained

    for row in ("anchor-at", "laat"):
        result = json.loads(result_path(regime, row, seed).read_text())
        trained = load_trained(checkpoint_path(regime, row, seed, result["training"]["tau"]))
        trained.metadata["shipped_from"] = f"benchmarks/ablation.py {regime} {row} seed {seed}"
        out = ROOT / "assets" / "models" / f"shapes-{regime}-{row}.safetensors"
        save_trained(out, trained)  # no optimizer state: a small file
        print(f"wrote {out.relative_to(ROOT)} ({out.stat().st_size / 1e6:.1f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=list(STUDIES), default="pairs", help="which study (STUDIES): a split")
    parser.add_argument("--regimes", default=",".join(REGIMES))
    parser.add_argument("--rows", default=",".join(sorted((r[0] for r in ROWS), key=_priority)))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--worker", default="0/1", help="i/k: run every k-th cell starting at i")
    parser.add_argument("--select", action="store_true", help="the tau selection runs (base-class validation)")
    parser.add_argument("--autoattack", type=int, default=0, help="AutoAttack on this many novel images per class")
    parser.add_argument("--combine", action="store_true")
    parser.add_argument("--ship", action="store_true", help="copy the clip-like anchor-AT and LAAT models to assets/")
    args = parser.parse_args()
    global study
    study = STUDIES[args.split]
    _commit()  # fixed at start: later commits do not change the code this process runs
    if args.combine or args.ship:
        if args.combine:
            combine()
        if args.ship:
            ship()
        return
    index, count = (int(v) for v in args.worker.split("/"))
    if args.select:
        runs = [(g, m, t) for t in study.taus for g in args.regimes.split(",") for m in SELECTION_METHODS]
        for regime, method, tau in runs[index::count]:
            run_selection(regime, method, tau)
        return
    todo = cells(args.regimes.split(","), args.rows.split(","), [int(s) for s in args.seeds.split(",")])
    if args.autoattack:
        todo = [c for c in todo if c[1] in AA_ROWS]
    for regime, row, seed in todo[index::count]:
        if args.autoattack:
            run_autoattack(regime, row, seed, args.autoattack)
        else:
            run_cell(regime, row, seed)


if __name__ == "__main__":
    main()
