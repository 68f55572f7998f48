"""Fair use of one shared server by a class: limits on slow jobs, refused at once with a message.

Gradio's queue has one global size and no per-session cap, so one tab could fill it (45 submissions were
measured). Slow handlers therefore run outside the queue (concurrency_limit=None) and take a slot here: at most
MAX_JOBS_PER_SESSION at once per browser session (a tab, or one gradio_client Client), and at most
TRAINING_SLOTS trainings on the whole server. Past a limit the request fails at once with a message; it never
waits behind other users' work. Sessions, not IP addresses: a classroom behind one NAT shares one address.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Iterator

MAX_JOBS_PER_SESSION = 2  # e.g. a training and an attack at once; more from one tab is refused
TRAINING_SLOTS = 2  # trainings at once on the server (each uses one core)


class Busy(RuntimeError):
    """A limit is reached: the message says which, and what to do."""


class SessionJobs:
    def __init__(self, per_session: int = MAX_JOBS_PER_SESSION) -> None:
        self.per_session = per_session
        self._running: Counter[str] = Counter()
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def job(self, session: str | None) -> Iterator[None]:
        key = session or "local"
        with self._lock:
            if self._running[key] >= self.per_session:
                raise Busy(
                    f"this page already runs {self._running[key]} slow jobs (at most {self.per_session} per page): "
                    "wait for one to finish, or stop it"
                )
            self._running[key] += 1
        try:
            yield
        finally:
            with self._lock:
                self._running[key] -= 1
                if self._running[key] <= 0:
                    del self._running[key]

    def running(self, session: str | None = None) -> int:
        with self._lock:
            return self._running[session or "local"] if session is not None else sum(self._running.values())


def session_of(request) -> str | None:
    """The Gradio session of a request (None when a handler is called directly, e.g. in tests)."""
    return getattr(request, "session_hash", None) if request is not None else None


JOBS = SessionJobs()
TRAININGS = threading.BoundedSemaphore(TRAINING_SLOTS)
