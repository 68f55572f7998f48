"""Export anchors: .npy keeps the row order; .safetensors also stores names and settings. Atomic."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file


def export_anchors(path: str | Path, anchors: torch.Tensor, names: list[str], settings: dict) -> Path:
    path = Path(path)
    if path.suffix not in (".npy", ".safetensors"):
        raise ValueError(f"cannot export to {path.name}: use a .npy or .safetensors file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(handle)
    try:
        if path.suffix == ".npy":
            np.save(tmp, anchors.detach().cpu().numpy().astype(np.float32))
        else:
            settings = {k: v for k, v in settings.items() if k != "mean_direction"}
            metadata = {"class_names": json.dumps(names), "settings": json.dumps(settings)}
            save_file({"anchors": anchors.detach().cpu().float().contiguous()}, tmp, metadata=metadata)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
