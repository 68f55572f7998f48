"""Load on loopback: K simulated users (gradio_client) against a freshly started app, bounded in time.

Each user loops: one anchor-lab call, then one PGD-10 attack of both shipped models, until --seconds pass; with
--think, each waits a random 0.5-1.5 x that many seconds between actions (--lockstep: exactly that, all users
together, as when a teacher says "now click"). Users run as threads of 4 client processes, and fetch the images
the page shows, as a browser does (a test run is measured after the server's start-up work has ended).
Optionally one more user runs AutoAttack back to back, one more runs short trainings back to back, and one
client bursts many submissions at once (each is told "busy" or served; nobody hangs). Prints errors, latency
p50/p95 per endpoint, the server's resident memory (sampled every second; per minute with --seconds >= 120) and
its temporary files at the end.

    python benchmarks/load_test.py --users 1,4,16 --seconds 60 --autoattack-user
    python benchmarks/load_test.py --users 4 --seconds 600 --autoattack-user --trainer-user   # memory plateau
    python benchmarks/load_test.py --users 16 --seconds 60 --burst 45                           # one greedy tab
    python benchmarks/load_test.py --users 16 --seconds 90 --think 5 --autoattack-user          # a class at work
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from gradio_client import Client, handle_file  # noqa: E402

from tests.app_server import AppServer  # noqa: E402

LOCKSTEP = {"on": False}  # --lockstep: every user thinks exactly think_s, all starting together
NICE_CLIENTS = {"on": False}  # --nice-clients: the simulated users yield the CPU to the server (as if elsewhere)
CLIENT_PROCESSES = 4  # simulated users run in this many processes: in one, their own GIL queued them
CLASSES = "red star, blue heart, green cross, red circle, cyan triangle"
MODELS = ("standard (shipped)", "LAAT (shipped)")


def rss_mb(pid: int) -> float:
    """Resident memory of the server and its child processes (the AutoAttack worker), in MB."""
    total = 0.0
    for process in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{process}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:  # a child that just ended
            continue
    return total or float("nan")


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found + [grandchild for child in found for grandchild in _children(child)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc, in clock ticks); 0 for one that has ended."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until_idle(pid: int, timeout_s: float = 180.0) -> float:
    """Seconds until the server's start-up work ends (UMAP's numba compilation runs in the background for
    about 30 s of CPU): a class meets a server started before the lesson, so load is measured after it."""
    start = time.monotonic()
    used = cpu_seconds(pid)
    while time.monotonic() - start < timeout_s:
        time.sleep(2)
        now = cpu_seconds(pid)
        if now - used < 0.1:
            break
        used = now
    return time.monotonic() - start


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6 if path.exists() else 0.0


def user(url: str, seed: int, stop: float, results: dict, attack: str, think_s: float = 0.0) -> None:
    """One simulated user; `think_s` seconds between actions models a student reading the result (0: back to
    back, the worst case). Students are independent: each waits a random 0.5-1.5 x think_s (its own seed), and
    starts after a random part of the first one, so 16 users do not click in lockstep (unless --lockstep)."""
    rng = random.Random(seed)
    if think_s and not LOCKSTEP["on"]:
        time.sleep(rng.uniform(0, think_s))
    try:  # a user that cannot even start is an error of the run, not a user that silently never was
        image, _ = Client(url, verbose=False).predict("red star", seed, api_name="/draw_sample")  # its own image
        # Like a browser: fetch the images the page shows, not the download files it only links to (gradio_client
        # would download every output file, which cost the simulated users as much CPU as the server).
        client = Client(url, verbose=False, download_files=False)
    except Exception as error:
        results.setdefault("errors", []).append(f"user {seed} could not start: {str(error)[:120]}")
        return
    with httpx.Client(timeout=60) as fetcher:
        _loop(client, fetcher, image, stop, results, attack, think_s, rng)


def _loop(client, fetcher, image, stop: float, results: dict, attack: str, think_s: float, rng) -> None:
    while time.monotonic() < stop:
        for endpoint, args in (
            ("anchor_lab", (CLASSES, "MiniLM (offline)", "a photo of a {}.", False, 0, "expansion")),
            ("attack", (handle_file(image), None, CLASSES, "red star", *MODELS, attack, 8, 10)),
        ):
            if endpoint == "anchor_lab" and attack == "autoattack":
                continue
            start = time.monotonic()
            try:
                outputs = client.predict(*args, api_name=f"/{endpoint}")
                if endpoint == "attack":
                    for shown in outputs[:3] + outputs[7:10]:  # clean, adversarial, perturbation of each model
                        fetcher.get(shown["url"]).raise_for_status()
                results.setdefault(f"{endpoint}:{attack}", []).append(time.monotonic() - start)
            except Exception as error:  # counted and reported, the load goes on
                results.setdefault("errors", []).append(f"{endpoint}: {str(error)[:120]}")
            time.sleep(think_s if LOCKSTEP["on"] else think_s * rng.uniform(0.5, 1.5))


def user_process(url: str, ids: list[int], stop: float, think_s: float, lockstep: bool, nice: bool, queue) -> None:
    """A client process: its users as threads; sends back their results and its CPU seconds."""
    LOCKSTEP["on"] = lockstep
    if nice:  # a classroom's browsers run on their own machines: here they only take what the server leaves
        os.nice(19)
    results: dict = {}
    threads = [threading.Thread(target=user, args=(url, i, stop, results, "pgd", think_s)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    queue.put((results, time.process_time()))


def _merge(results: dict, item) -> float:
    """Add a client process's results; return its CPU seconds."""
    theirs, cpu = item
    for key, values in theirs.items():
        results.setdefault(key, []).extend(values)
    return cpu


def trainer(url: str, stop: float, results: dict) -> None:
    """Short trainings back to back (1 epoch, 10 images per class): what grew server memory in issue 9."""
    client = Client(url, verbose=False)
    while time.monotonic() < stop:
        start = time.monotonic()
        try:
            client.predict("laat", "mild", 1, True, 10, 60, 0.2, 4.0, api_name="/train")
            results.setdefault("train:1 epoch", []).append(time.monotonic() - start)
        except Exception as error:  # counted and reported
            results.setdefault("errors", []).append(f"train: {str(error)[:120]}")


def burst(url: str, count: int, results: dict) -> None:
    """One client submits `count` calls at once: anchor-lab calls (queued, Gradio's max_size) and attacks
    (limited per page). Each must end served or refused with a message, none may hang."""
    client = Client(url, verbose=False)
    image, _ = client.predict("red star", 0, api_name="/draw_sample")
    jobs = []
    for i in range(count):
        if i % 2:
            jobs.append(client.submit(handle_file(image), None, CLASSES, "red star", *MODELS, "pgd", 8, 10,
                                      api_name="/attack"))  # fmt: skip
        else:
            jobs.append(client.submit(f"{CLASSES}, class {i}", "MiniLM (offline)", "a photo of a {}.", False, 0,
                                      "expansion", api_name="/anchor_lab"))  # fmt: skip
    outcomes: dict[str, int] = {}
    for job in jobs:
        try:
            job.result(timeout=120)
            key = "served"
        except Exception as error:  # the message a refused call gets
            text = str(error)
            key = "refused: " + (
                "queue full" if "queue" in text.lower() else "page limit" if "slow jobs" in text else text[:60]
            )
        outcomes[key] = outcomes.get(key, 0) + 1
    results["burst"] = outcomes


def run(
    users: int,
    seconds: float,
    autoattack_user: bool,
    trainer_user: bool = False,
    burst_size: int = 0,
    think_s: float = 0.0,
) -> None:
    server = AppServer()
    try:
        print(f"  server start-up work (UMAP's compilation) done after {wait_until_idle(server.process.pid):.0f} s")
        results: dict = {}
        memory: list[float] = []
        stop = time.monotonic() + seconds
        # The users run in CLIENT_PROCESSES processes (threads within each): one Python process for 16 clients
        # queued them behind its own GIL, which the server's latency then seemed to include.
        shares = [list(range(users))[k::CLIENT_PROCESSES] for k in range(min(CLIENT_PROCESSES, users))]
        queue = multiprocessing.get_context("spawn").Queue()
        processes = [
            multiprocessing.get_context("spawn").Process(
                target=user_process, args=(server.url, share, stop, think_s, LOCKSTEP["on"], NICE_CLIENTS["on"], queue)
            )
            for share in shares
        ]
        threads = []
        if autoattack_user:
            threads.append(threading.Thread(target=user, args=(server.url, users, stop, results, "autoattack")))
        if trainer_user:
            threads.append(threading.Thread(target=trainer, args=(server.url, stop, results)))
        if burst_size:
            threads.append(threading.Thread(target=burst, args=(server.url, burst_size, results)))
        server_cpu, client_cpu, children_cpu = cpu_seconds(server.process.pid), time.process_time(), 0.0
        worker_cpu = sum(cpu_seconds(child) for child in _children(server.process.pid))
        for t in [*threads, *processes]:
            t.start()
        while any(t.is_alive() for t in threads) or any(p.is_alive() for p in processes):
            memory.append(rss_mb(server.process.pid))
            time.sleep(1)
            while not queue.empty():  # drained as they finish: a full pipe would block a process's exit
                children_cpu += _merge(results, queue.get())
        while not queue.empty():
            children_cpu += _merge(results, queue.get())
        server_cpu = cpu_seconds(server.process.pid) - server_cpu
        worker_cpu = sum(cpu_seconds(child) for child in _children(server.process.pid)) - worker_cpu
        client_cpu = time.process_time() - client_cpu + children_cpu
        for process in processes:  # a client process that died took its users' calls with it: count it
            if process.exitcode != 0:
                results.setdefault("errors", []).append(f"a client process ended with code {process.exitcode}")
        label = f"{users}{' + 1 AutoAttack' if autoattack_user else ''}{' + 1 trainer' if trainer_user else ''}"
        label += f", think {think_s:g} s" if think_s else ""
        for key, values in sorted(results.items()):
            if key in ("errors", "burst"):
                continue
            values.sort()
            p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
            print(
                f"| {label} | {key} | {len(values)} | "
                f"{statistics.median(values):.2f} | {p95:.2f} | {len(results.get('errors', []))} | "
                f"{min(memory):.0f}–{max(memory):.0f} | {folder_mb(Path(tempfile.gettempdir()) / 'gradio'):.0f} |",
                flush=True,
            )
        calls = sum(len(v) for k, v in results.items() if k not in ("errors", "burst"))
        print(f"  CPU seconds over the run: server {server_cpu:.0f}, its attack workers {worker_cpu:.0f}, "
              f"simulated clients {client_cpu:.0f} (same machine, their start-up included); server CPU per call "
              f"{server_cpu / max(calls, 1):.3f} s (the workers' excluded)")  # fmt: skip
        for error in results.get("errors", [])[:5]:
            print(f"  error: {error}")
        if "burst" in results:
            print(f"  burst of {burst_size} submissions from one client: {results['burst']}")
        if len(memory) >= 120:
            per_minute = [statistics.median(memory[i : i + 60]) for i in range(0, len(memory) - 59, 60)]
            print("  server RSS MB, median of each minute: " + ", ".join(f"{m:.0f}" for m in per_minute))
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", default="1,4,16")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--autoattack-user", action="store_true")
    parser.add_argument("--trainer-user", action="store_true", help="one more user training back to back")
    parser.add_argument("--burst", type=int, default=0, help="one client submits this many calls at once")
    parser.add_argument("--think", type=float, default=0.0, help="seconds each user waits between actions")
    parser.add_argument("--lockstep", action="store_true", help="every user thinks exactly --think, all together")
    parser.add_argument("--nice-clients", action="store_true", help="simulated users at nice 19 (server first)")
    args = parser.parse_args()
    LOCKSTEP["on"], NICE_CLIENTS["on"] = args.lockstep, args.nice_clients
    print(
        "| users | endpoint:attack | calls | p50 s | p95 s | errors | server RSS MB (with its worker) | gradio temp MB |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    for users in map(int, args.users.split(",")):
        run(users, args.seconds, args.autoattack_user, args.trainer_user, args.burst, args.think)


if __name__ == "__main__":
    main()
