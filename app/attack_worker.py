"""AutoAttack in a process of its own, so the server's fast attacks never wait for it.

Torch releases the GIL inside its kernels, but AutoAttack on a 32x32 image is mostly Python (APGD's loop, one
small forward after another), and in the server's process that Python held the GIL that every PGD request
needs: with one student running AutoAttack back to back, the class's PGD p95 rose above 2 s (RELIABILITY.md).
One long-lived worker process (spawned on the first AutoAttack, then reused: importing torch and loading the
models takes seconds) runs one attack at a time; the server's AUTOATTACK_SLOTS already allows only one.

Progress and Stop cross the process boundary: the worker sends (component, seconds) while it runs, and the
server sets a shared Event when the page stops listening, which the worker's AttackWatch checks at every
forward pass. Requests and results are pickled between these two processes of ours only; nothing from a user
is unpickled (images arrive as tensors the server already decoded and checked).
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection

POLL_S = 0.1  # how often the server looks for progress, a result, or a stop request


class WorkerCrashed(RuntimeError):
    """The worker process ended during an attack; the next attack starts a fresh one."""


def _serve(requests: Connection, stop) -> None:
    """The worker process: one request at a time, until the server closes the connection."""
    import torch

    from app.services import CLIP_LABEL, get_clip, get_model
    from laat_core.attack_lab import AttackWatch, attack_image

    torch.set_num_threads(1)  # the server's own setting (BENCHMARKS.md, threads): one attack, one core
    while True:
        try:
            request = requests.recv()
        except EOFError:  # the server went away
            return
        model_ref, label, image, names, spec, true_class, time_limit_s = request
        stop.clear()
        watch = AttackWatch(
            should_stop=stop.is_set,
            on_progress=lambda component, seconds: requests.send(("progress", component, seconds)),
        )
        try:
            trained = get_clip() if model_ref == CLIP_LABEL else get_model(model_ref)
            outcome = attack_image(trained, label, image, names, spec, true_class, time_limit_s=time_limit_s,
                                   watch=watch)  # fmt: skip
            requests.send(("done", outcome))
        except Exception as error:  # handed back to the server, which shows it to the user
            requests.send(("error", error))


class AttackWorker:
    """The server's handle on the worker process (thread-safe: one attack at a time)."""

    def __init__(self) -> None:
        self._context = multiprocessing.get_context("spawn")  # never fork a multi-threaded server
        self._lock = threading.Lock()
        self._process = None
        self._connection: Connection | None = None
        self._stop = self._context.Event()

    def _start(self) -> None:
        ours, theirs = self._context.Pipe()
        self._process = self._context.Process(target=_serve, args=(theirs, self._stop), daemon=True,
                                              name="laat-autoattack")  # fmt: skip
        self._process.start()
        theirs.close()
        self._connection = ours

    def _alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def attack(
        self,
        model_ref: str,
        label: str,
        image,
        names: list[str],
        spec,
        true_class: str | None,
        time_limit_s: float,
        should_stop: Callable[[], bool],
        on_progress: Callable[[str, float], None],
    ):
        """attack_image in the worker: `model_ref` is a checkpoint path (or the CLIP label); progress is reported,
        `should_stop` is passed on to the worker's watch. Returns the AttackOutcome or raises the worker's error."""
        with self._lock:
            if not self._alive():
                self._start()
            self._stop.clear()
            self._connection.send((model_ref, label, image, names, spec, true_class, time_limit_s))
            while True:
                if should_stop():
                    self._stop.set()  # the worker stops at its next forward pass and answers
                try:
                    ready = self._connection.poll(POLL_S)
                    message = self._connection.recv() if ready else None
                except (EOFError, OSError):
                    self._process = None
                    raise WorkerCrashed("the AutoAttack worker stopped unexpectedly; try again") from None
                if message is None:
                    if not self._alive():
                        self._process = None
                        raise WorkerCrashed("the AutoAttack worker stopped unexpectedly; try again")
                    continue
                kind, *payload = message
                if kind == "progress":
                    on_progress(*payload)
                elif kind == "done":
                    return payload[0]
                else:
                    raise payload[0]

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
            if self._alive():
                self._process.join(timeout=5)
                if self._process.is_alive():
                    self._process.kill()
            self._process = None
