"""How many torch threads the app should use: single-image PGD-10 latency on the shipped LAAT model, alone
and with concurrent requests in the same process (as the app serves them), for 1 and 2 intra-op threads.

    python benchmarks/bench_threads.py            # say in BENCHMARKS.md what else ran on the machine
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import torch

from laat_core.attacks import AttackSpec, make_attack
from laat_core.data import shapes
from laat_core.trained import load_trained

MODEL = "assets/models/shapes-laat.safetensors"


def one_request(trained, names, seed: int) -> float:
    image = shapes.render_class(names[seed % len(names)], seed=seed)[None]
    head = trained.head_for(names)
    start = time.perf_counter()
    make_attack(head, AttackSpec("pgd", 8 / 255, 10), len(names))(image, torch.tensor([seed % len(names)]))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=24)
    parser.add_argument("--concurrency", default="1,4")
    parser.add_argument("--threads", default="1,2")
    args = parser.parse_args()
    trained = load_trained(MODEL)
    names = trained.names_for("novel")
    one_request(trained, names, 0)  # warm-up
    print("| torch threads | concurrent requests | median s | p95 s | requests/s |\n|---|---|---|---|---|")
    for threads in map(int, args.threads.split(",")):
        torch.set_num_threads(threads)
        for concurrency in map(int, args.concurrency.split(",")):
            start = time.perf_counter()
            with ThreadPoolExecutor(concurrency) as pool:
                latencies = sorted(pool.map(lambda s: one_request(trained, names, s), range(args.requests)))
            wall = time.perf_counter() - start
            p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
            print(
                f"| {threads} | {concurrency} | {statistics.median(latencies):.3f} | {p95:.3f} | {args.requests / wall:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
