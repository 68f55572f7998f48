"""Milliseconds to build and serialise each figure the app draws per call (what the server spends on plots).

    OMP_NUM_THREADS=1 python benchmarks/bench_figures.py

Anchor lab: heatmaps, histogram and 2-D map of 10 classes; attack lab: probability bars and the anchor-space
view of one attacked image (5 classes). Each figure is built and turned into JSON (what gr.Plot sends), median of
30 after one warm-up call.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from app import figures  # noqa: E402
from laat_core.attack_lab import AnchorSpace  # noqa: E402


def median_ms(build, repeats: int = 30) -> float:
    build()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        build().to_json()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    rng = np.random.default_rng(0)
    names = [f"class {i}" for i in range(10)]
    matrix, points = rng.random((10, 10)), rng.random((10, 2))
    probs = {name: 0.2 for name in names[:5]}
    space = AnchorSpace(names[:5], list(rng.random(5)), list(rng.random(5)), rng.random((5, 2)), rng.random(2),
                        rng.random(2))  # fmt: skip
    rows = [
        ("anchor lab: cosine heatmaps", lambda: figures.cosine_heatmaps(names, matrix, matrix, "expansion")),
        ("anchor lab: cosine histogram", lambda: figures.cosine_histogram(matrix.ravel(), matrix.ravel())),
        ("anchor lab: 2-D maps", lambda: figures.anchor_maps(names, points, points, "PCA", 6)),
        ("attack lab: probability bars", lambda: figures.probability_bars(probs, probs, "title")),
        ("attack lab: anchor-space view", lambda: figures.anchor_space(space, "LAAT", names[0])),
    ]
    print("| figure | ms (build + JSON, median of 30) |\n|---|---|")
    for label, build in rows:
        print(f"| {label} | {median_ms(build):.1f} |")


if __name__ == "__main__":
    main()
