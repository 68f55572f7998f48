"""The training table of BENCHMARKS.md, read from the shipped checkpoints' metadata (their per-epoch logs).

python benchmarks/training_table.py
"""

from __future__ import annotations

from pathlib import Path

from laat_core.checkpoint import read_metadata

ROOT = Path(__file__).resolve().parent.parent
MODELS = ("standard", "anchor-at", "laat")


def main() -> None:
    print(
        "| model | backbone | epochs | training seconds (without validation) | images/s (mean over epochs) | final base-val clean "
        "| final base-val PGD-10 |\n|---|---|---|---|---|---|---|"
    )
    for name in MODELS:
        meta = read_metadata(ROOT / f"assets/models/shapes-{name}.safetensors")
        log = meta["log"]
        seconds = sum(entry["seconds"] for entry in log)
        speed = sum(entry["images_per_s"] for entry in log) / len(log)
        robust = log[-1]["val_pgd_acc"]
        print(
            f"| {name} | {meta['model']['backbone']} | {len(log)} | {seconds:.0f} | {speed:.1f} "
            f"| {log[-1]['val_clean_acc']:.3f} | {'—' if robust is None else f'{robust:.3f}'} |"
        )


if __name__ == "__main__":
    main()
