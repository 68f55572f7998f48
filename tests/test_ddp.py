import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file


def _image_folder(root: Path) -> str:
    """A small ImageFolder tree in the real layout: <root>/base/<class>/*.png and <root>/novel/<class>/*.png."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, names in {"base": ["red", "green", "blue", "pink"], "novel": ["yellow", "purple"]}.items():
        for name in names:
            folder = root / split / f"{name} square"
            folder.mkdir(parents=True)
            for i in range(10):
                Image.fromarray(rng.integers(0, 255, (84, 84, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return f"imagefolder:{root}"


@pytest.mark.parametrize(
    "bn_mode, port, data", [("joint", 29533, "shapes"), ("separate", 29534, "shapes"), ("joint", 29535, "folder")]
)
def test_two_process_ddp_training_ends_with_identical_weights(tmp_path, bn_mode, port, data):
    """Both BatchNorm modes under DDP (separate mode runs two forwards before one backward), and a streamed
    ImageFolder tree read per batch by a DataLoader worker on each rank (issue 10)."""
    if data == "folder":
        data = _image_folder(tmp_path / "data")
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
        data,
    ]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rank0, rank1 = load_file(str(tmp_path / "rank0.safetensors")), load_file(str(tmp_path / "rank1.safetensors"))
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    # Training really ran: BatchNorm running means start at zero and move only in train-mode forwards.
    assert rank0["backbone.body.1.running_mean"].abs().sum() > 0
