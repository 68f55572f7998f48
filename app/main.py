"""Launch LAAT Lab: `python app/main.py` serves http://127.0.0.1:7860 offline."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# Privacy and offline defaults, set before gradio or huggingface_hub are imported.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
if not os.environ.get("LAAT_CLIP"):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing to download unless CLIP is asked for

# glibc gives each thread that allocates a large block its own heap arena (up to 8 per core); with Gradio's
# thread pool the server's memory then kept growing for minutes (1.63 -> 1.96 GB in a 10-minute load test),
# and with two arenas it stayed flat (1.76-1.93 GB, RELIABILITY.md). The variable is read when the C library
# starts, so the process restarts itself once with it set (never when it is already set, e.g. to tune it).
if "MALLOC_ARENA_MAX" not in os.environ and sys.platform.startswith("linux") and __name__ == "__main__":
    os.environ["MALLOC_ARENA_MAX"] = "2"
    os.execv(sys.executable, getattr(sys, "orig_argv", [sys.executable, *sys.argv]))  # keeps -u, -X, -m …

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python app/main.py` from a checkout, without installing
    sys.path.insert(0, str(ROOT))


APP_TORCH_THREADS = 1


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="LAAT Lab web app")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--share", action="store_true", help="ask Gradio for a public share link (needs network)")
    parser.add_argument(
        "--classroom",
        action="store_true",
        default=os.environ.get("LAAT_CLASSROOM", "") not in ("", "0"),
        help="no AutoAttack, short trainings, 'predict, then reveal' on (also LAAT_CLASSROOM=1, e.g. on a Space)",
    )
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    import threading

    from app.ui import build_app
    from laat_core.encoders import get_encoder
    from laat_core.projection import warm_up_umap_in_background

    # The first anchor-lab request should not wait for MiniLM to load or UMAP to compile.
    threading.Thread(target=get_encoder, args=("minilm",), name="minilm-warm-up", daemon=True).start()
    warm_up_umap_in_background()
    import torch

    # One intra-op thread per request: with concurrent requests (and anything else on the machine) two
    # threads made single-image PGD-10 several times slower (benchmarks/bench_threads.py, BENCHMARKS.md).
    torch.set_num_threads(APP_TORCH_THREADS)
    demo = build_app(classroom=args.classroom)
    from app.ui import QUICK_ATTACK_WORKERS

    QUICK_ATTACK_WORKERS.start()  # the attack workers import torch while the page loads, not on the first click
    # No event waits in Gradio's queue behind others: every handler starts at once (Gradio's thread pool bounds
    # the total), the slow ones take one of their page's few slots (app/jobs.py) and AutoAttack and training a
    # server slot. A greedy tab is refused by its own page limit instead of filling a shared queue.
    demo.queue(default_concurrency_limit=None, max_size=64)
    where = "all network interfaces" if args.host in ("0.0.0.0", "::") else args.host
    print(
        f"LAAT Lab: serving on {where}, port {args.port} (--host / GRADIO_SERVER_NAME choose the address)", flush=True
    )
    demo.launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        show_error=True,
        footer_links=["api", "settings"],
    )


if __name__ == "__main__":
    main()
