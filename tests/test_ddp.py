import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file


@pytest.mark.parametrize("bn_mode, port", [("joint", 29533), ("separate", 29534)])
def test_two_process_ddp_training_ends_with_identical_weights(tmp_path, bn_mode, port):
    """Both BatchNorm modes under DDP: separate mode runs two forwards before one backward."""
    worker = Path(__file__).with_name("ddp_worker.py")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(worker.parent.parent)}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_addr=127.0.0.1",
        f"--master_port={port}",
        str(worker),
        str(tmp_path),
        bn_mode,
    ]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rank0, rank1 = load_file(str(tmp_path / "rank0.safetensors")), load_file(str(tmp_path / "rank1.safetensors"))
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    # Training really ran: BatchNorm running means start at zero and move only in train-mode forwards.
    assert rank0["backbone.body.1.running_mean"].abs().sum() > 0
