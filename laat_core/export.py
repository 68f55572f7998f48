"""Export anchors: .npy keeps the row order; .safetensors also stores names and settings. Atomic."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from laat_core.atomic import atomic_target


def export_anchors(path: str | Path, anchors: torch.Tensor, names: list[str], settings: dict) -> Path:
    path = Path(path)
    if path.suffix not in (".npy", ".safetensors"):
        raise ValueError(f"cannot export to {path.name}: use a .npy or .safetensors file name")
    with atomic_target(path) as tmp:
        if path.suffix == ".npy":
            np.save(tmp, anchors.detach().cpu().numpy().astype(np.float32))
        else:
            settings = {k: v for k, v in settings.items() if k != "mean_direction"}
            metadata = {"class_names": json.dumps(names), "settings": json.dumps(settings)}
            save_file({"anchors": anchors.detach().cpu().float().contiguous()}, tmp, metadata=metadata)
    return path
