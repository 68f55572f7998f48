"""Load on loopback: K simulated users (gradio_client) against a freshly started app, bounded in time.

Each user loops: one anchor-lab call, then one PGD-10 attack of both shipped models, until --seconds pass.
Optionally one more user runs AutoAttack back to back. Prints errors, latency p50/p95 per endpoint, the
server's resident memory (sampled every second) and its temporary files at the end.

    python benchmarks/load_test.py --users 1,4,16 --seconds 60 --autoattack-user
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gradio_client import Client, handle_file  # noqa: E402

from tests.app_server import AppServer  # noqa: E402

CLASSES = "red star, blue heart, green cross, red circle, cyan triangle"
MODELS = ("standard (shipped)", "LAAT (shipped)")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6 if path.exists() else 0.0


def user(url: str, seed: int, stop: float, results: dict, attack: str) -> None:
    client = Client(url, verbose=False)
    image, _ = client.predict("red star", seed, api_name="/draw_sample")  # each user has an image of their own
    while time.monotonic() < stop:
        for endpoint, args in (
            ("anchor_lab", (CLASSES, "MiniLM (offline)", "a photo of a {}.", False, 0, "expansion")),
            ("attack", (handle_file(image), None, CLASSES, "red star", *MODELS, attack, 8, 10)),
        ):
            if endpoint == "anchor_lab" and attack == "autoattack":
                continue
            start = time.monotonic()
            try:
                client.predict(*args, api_name=f"/{endpoint}")
                results.setdefault(f"{endpoint}:{attack}", []).append(time.monotonic() - start)
            except Exception as error:  # counted and reported, the load goes on
                results.setdefault("errors", []).append(f"{endpoint}: {str(error)[:120]}")


def run(users: int, seconds: float, autoattack_user: bool) -> None:
    server = AppServer()
    try:
        results: dict = {}
        memory: list[float] = []
        stop = time.monotonic() + seconds
        threads = [threading.Thread(target=user, args=(server.url, i, stop, results, "pgd")) for i in range(users)]
        if autoattack_user:
            threads.append(threading.Thread(target=user, args=(server.url, users, stop, results, "autoattack")))
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            memory.append(rss_mb(server.process.pid))
            time.sleep(1)
        for key, values in sorted(results.items()):
            if key == "errors":
                continue
            values.sort()
            p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
            print(
                f"| {users}{' + 1 AutoAttack' if autoattack_user else ''} | {key} | {len(values)} | "
                f"{statistics.median(values):.2f} | {p95:.2f} | {len(results.get('errors', []))} | "
                f"{min(memory):.0f}–{max(memory):.0f} | {folder_mb(Path(tempfile.gettempdir()) / 'gradio'):.0f} |",
                flush=True,
            )
        for error in results.get("errors", [])[:5]:
            print(f"  error: {error}")
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", default="1,4,16")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--autoattack-user", action="store_true")
    args = parser.parse_args()
    print(
        "| users | endpoint:attack | calls | p50 s | p95 s | errors | server RSS MB | gradio temp MB |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    for users in map(int, args.users.split(",")):
        run(users, args.seconds, args.autoattack_user)


if __name__ == "__main__":
    main()
