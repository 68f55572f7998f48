"""Faults during `laat train` (issue 9): SIGINT and SIGKILL leave the last checkpoint whole and resumable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from laat_core.checkpoint import read_metadata
from laat_core.trained import load_trained

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["train", "--method", "anchor-at", "--n-per-class", "40", "--steps", "1", "--batch-size", "64", "--fast"]


def _start(out: Path, epochs: int, resume: bool = False) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "laat_core.cli", *ARGS, "--epochs", str(epochs), "--out", str(out)]
    command += ["--resume", str(out)] if resume else []
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell running the tests in the background (CI) starts them with SIGINT ignored, and an ignored signal
        # is inherited: give the child the default a user's terminal gives, so Ctrl-C reaches it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _wait_for_epochs(out: Path, process: subprocess.Popen, epochs: int, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if out.exists() and read_metadata(out)["epochs_done"] >= epochs:
            return
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.2)
    raise AssertionError("no checkpoint in time")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_a_signal_during_training_keeps_the_last_checkpoint_resumable(tmp_path, sig):
    out = tmp_path / "run.safetensors"
    process = _start(out, epochs=30)
    _wait_for_epochs(out, process, 1)
    process.send_signal(sig)
    _, err = process.communicate(timeout=120)
    if sig == signal.SIGINT:
        assert process.returncode == 130 and "interrupted" in err and "Traceback" not in err
    else:
        assert process.returncode == -signal.SIGKILL
    done = read_metadata(out)["epochs_done"]
    assert done >= 1 and load_trained(out).metadata["log"][-1]["epoch"] == done  # whole, never half-written
    if sig == signal.SIGINT:  # (after SIGKILL a temporary file may stay beside it; the checkpoint is whole)
        assert not [p for p in tmp_path.iterdir() if p.name != out.name]
    resumed = _start(out, epochs=done + 1, resume=True)
    _, err = resumed.communicate(timeout=300)
    metadata = read_metadata(out)
    assert resumed.returncode == 0, err
    assert metadata["epochs_done"] == done + 1 and metadata["resumed_from"] == str(out)
