"""Anchor benchmarks: MiniLM encoding of 10/100/1000 names and expansion at 100x512 and 1000x512.

    python benchmarks/bench_anchors.py            # prints a markdown table

Times are the median of repeated warm runs (the encoder is loaded and run once before timing).
"""

from __future__ import annotations

import argparse
import platform
import time

import torch
from timing import median_seconds  # benchmarks/timing.py, beside this script

from laat_core.encoders import get_encoder
from laat_core.expansion import expand


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rows = []
    start = time.perf_counter()
    encoder = get_encoder("minilm")
    rows.append(("load MiniLM encoder (cold)", time.perf_counter() - start))
    encoder.encode(["warm up"])
    for n in (10, 100, 1000):
        prompts = [f"a photo of a class number {i}." for i in range(n)]
        rows.append(
            (f"encode {n} names (minilm, warm)", median_seconds(lambda p=prompts: encoder.encode(p), args.repeat))
        )
    generator = torch.Generator().manual_seed(0)
    for n in (100, 1000):
        anchors = torch.randn(512, generator=generator) + 0.5 * torch.randn(n, 512, generator=generator)
        rows.append(
            (
                f"expansion {n}x512 (fit on 64%)",
                median_seconds(lambda a=anchors: expand(a, int(0.64 * len(a))), args.repeat * 4),
            )
        )
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    print("| operation | median seconds |\n|---|---|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.4f} |")


if __name__ == "__main__":
    main()
