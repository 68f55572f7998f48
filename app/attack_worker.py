"""Attacks in worker processes, so that no attack's Python holds the server's GIL.

Torch releases the GIL inside its kernels, but an attack on a 32x32 image is mostly Python (one small forward
and backward after another), and in the server's process that Python held the GIL every other request needs:
with one student running AutoAttack back to back the class's PGD p95 rose above 2 s, and 16 users clicking
together queued behind one another's PGD (RELIABILITY.md). So AutoAttack runs in a worker of its own
(AttackWorker, spawned on first use; the server's AUTOATTACK_SLOTS allows one at a time) and the quick attacks
in a small pool (WorkerPool, one worker per core, spawned at launch). Workers live as long as the server:
importing torch and loading the models takes seconds.

Progress and Stop cross the process boundary: a worker sends (component, seconds) while it runs, and the server
sets a shared flag when the page stops listening, which the worker's AttackWatch checks at every forward pass.
Requests and results are pickled between these processes of ours only; nothing from a user is unpickled (images
arrive as tensors the server already decoded and checked, checkpoints as paths the worker loads as safetensors).
"""

from __future__ import annotations

import multiprocessing
import pickle
import queue
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection

POLL_S = 0.1  # how often the server looks for progress, a result, or a stop request
START_ALLOWANCE_S = 60.0  # importing torch and loading the models, on top of the attack's own time limit


class WorkerCrashed(RuntimeError):
    """The worker process ended, or stopped answering, during an attack; the next attack starts a fresh one."""


# Messages are pickled by value (pickle.dumps + send_bytes): multiprocessing's own send would pass tensors as
# shared-memory handles, which sessions keeping outcomes would hold open (file descriptors, /dev/shm).
def _send(connection: Connection, message) -> None:
    connection.send_bytes(pickle.dumps(message))


def _receive(connection: Connection):
    return pickle.loads(connection.recv_bytes())


def _serve(requests: Connection, stop) -> None:
    """The worker process: one request at a time, until the server closes the connection."""
    import torch

    from app.services import CLIP_LABEL, get_clip, get_model
    from laat_core.attack_lab import AttackWatch, attack_image

    torch.set_num_threads(1)  # the server's own setting (BENCHMARKS.md, threads): one attack, one core
    while True:
        try:
            request = _receive(requests)
        except EOFError:  # the server went away
            return
        model_ref, label, image, names, spec, true_class, time_limit_s, every_s = request
        # The server clears `stop` before each request; clearing it here could erase a Stop it has just set.
        watch = AttackWatch(
            should_stop=lambda: bool(stop.value),
            on_progress=lambda component, seconds: _send(requests, ("progress", component, seconds)),
            every_s=every_s,
        )
        try:
            trained = get_clip() if model_ref == CLIP_LABEL else get_model(model_ref)
            outcome = attack_image(trained, label, image, names, spec, true_class, time_limit_s=time_limit_s,
                                   watch=watch)  # fmt: skip
            _send(requests, ("done", outcome))
        except Exception as error:  # handed back to the server, which shows it to the user
            print(traceback.format_exc(), flush=True)  # the server's log keeps the worker's traceback
            try:
                _send(requests, ("error", error))
            except Exception:  # an error that does not pickle still reaches the user, as text
                _send(requests, ("error", RuntimeError(f"{type(error).__name__}: {error}")))


class AttackWorker:
    """The server's handle on the worker process (thread-safe: one attack at a time)."""

    def __init__(self) -> None:
        self._context = multiprocessing.get_context("spawn")  # never fork a multi-threaded server
        self._lock = threading.Lock()
        self._process = None
        self._connection: Connection | None = None
        self._stop = None

    def _start(self) -> None:
        # A fresh lock-free flag per worker: a process killed while holding an Event's lock would leave the next
        # clear() blocked for ever.
        self._stop = self._context.RawValue("b", 0)
        ours, theirs = self._context.Pipe()
        self._process = self._context.Process(target=_serve, args=(theirs, self._stop), daemon=True,
                                              name="laat-autoattack")  # fmt: skip
        self._process.start()
        theirs.close()
        self._connection = ours

    def _alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def _discard(self) -> None:
        """End the worker for good (closed pipe, process killed and reaped); the next attack starts another."""
        if self._connection is not None:
            self._connection.close()
        if self._process is not None:
            if self._process.is_alive():
                self._process.kill()
            self._process.join(timeout=5)
        self._process, self._connection = None, None

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
        every_s: float = 0.5,
    ):
        """attack_image in the worker: `model_ref` is a checkpoint path (or the CLIP label); progress is reported,
        `should_stop` is passed on to the worker's watch. Returns the AttackOutcome or raises the worker's error;
        a worker that dies or overruns its time limit plus START_ALLOWANCE_S is ended and WorkerCrashed raised."""
        with self._lock:
            if not self._alive():
                self._discard()
                self._start()
            self._stop.value = 0
            deadline = time.monotonic() + time_limit_s + START_ALLOWANCE_S
            try:
                _send(self._connection, (model_ref, label, image, names, spec, true_class, time_limit_s, every_s))
                while True:
                    if should_stop():
                        self._stop.value = 1  # the worker stops at its next forward pass and answers
                    if time.monotonic() > deadline:
                        self._discard()
                        raise WorkerCrashed("the AutoAttack worker stopped answering and was ended; try again")
                    message = _receive(self._connection) if self._connection.poll(POLL_S) else None
                    if message is None:
                        if not self._alive():
                            self._discard()
                            raise WorkerCrashed("the AutoAttack worker stopped unexpectedly; try again")
                        continue
                    kind, *payload = message
                    if kind == "progress":
                        on_progress(*payload)
                    elif kind == "done":
                        return payload[0]
                    else:
                        raise payload[0]
            except (EOFError, OSError, pickle.UnpicklingError):
                self._discard()
                raise WorkerCrashed("the AutoAttack worker stopped unexpectedly; try again") from None

    def warm(self) -> None:
        """Start the process now if it is not running (it imports torch while the server goes on)."""
        with self._lock:
            if not self._alive():
                self._discard()
                self._start()

    def close(self) -> None:
        with self._lock:
            self._discard()


class WorkerPool:
    """A few AttackWorkers for the quick attacks (FGSM, PGD, CW, APGD): each runs its attack outside the server's
    GIL, so both cores serve attacks while the server process keeps only Gradio's work. A call takes an idle
    worker, or waits for one (the per-page limits bound how many calls can wait)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._idle: queue.Queue[AttackWorker] = queue.Queue()
        for _ in range(size):
            self._idle.put(AttackWorker())

    def start(self) -> None:
        """Spawn every worker now (at launch), so the first class's first click does not wait for torch."""
        workers = [self._idle.get() for _ in range(self.size)]
        try:
            for worker in workers:
                worker.warm()
        finally:
            for worker in workers:
                self._idle.put(worker)

    def attack(self, *args, **kwargs):
        worker = self._idle.get()
        try:
            return worker.attack(*args, **kwargs)
        finally:
            self._idle.put(worker)
