"""App timings through gradio_client against a launched app (the way a browser calls it).

    python benchmarks/bench_app.py

Rows: start to ready (process start until the page answers), anchor lab for 10 and 100 classes (first call
and warm), PGD-10 on one image against each shipped model (end to end, 16 novel classes), and one
compare-tab recompute (PGD-10, 1 image per class, 8 eps values, every shipped model x 2 splits).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gradio_client import Client, handle_file  # noqa: E402
from timing import median_seconds as timed  # noqa: E402  (benchmarks/timing.py)

from laat_core.data import shapes  # noqa: E402
from tests.app_server import AppServer  # noqa: E402


def bench(client: Client) -> list[tuple[str, float]]:
    rows = []
    base, novel = shapes.default_split()
    lists = {
        "10": "airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck",
        "100": ", ".join(base + novel + [f"object number {i}" for i in range(36)]),
    }
    for label, names in lists.items():

        def anchor_lab(names=names):
            client.predict(names, "MiniLM (offline)", "a photo of a {}.", False, 0, "expansion", api_name="/anchor_lab")

        rows.append((f"anchor lab, {label} classes, first call", timed(anchor_lab)))
        rows.append((f"anchor lab, {label} classes, warm (median of 3)", timed(anchor_lab, 3)))
    image, _ = client.predict("red star", 0, api_name="/draw_sample")
    for model in ("standard (shipped)", "LAAT (shipped)"):

        def attack(model=model):
            # The endpoint attacks model A and model B; with A = B = model, half the time is one model's.
            client.predict(
                handle_file(image), None, ", ".join(novel), "red star", model, model, "pgd", 8, 10, api_name="/attack"
            )

        rows.append((f"PGD-10 on one image, {model} (median of 3, per model)", timed(attack, 3) / 2))
    rows.append(
        (
            "compare recompute (PGD-10, 1 image/class)",
            timed(lambda: client.predict("pgd", 1, api_name="/recompute_curves")),
        )
    )
    return rows


def main() -> None:
    start = time.perf_counter()
    server = AppServer()
    rows = [("app start to ready", time.perf_counter() - start)]
    try:
        rows += bench(Client(server.url, verbose=False))
    finally:
        server.stop()
    print("| operation | seconds |\n|---|---|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
