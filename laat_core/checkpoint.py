"""Checkpoints: one safetensors file, weights plus JSON metadata in its header. Never pickles.

Writes are atomic (laat_core.atomic).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from laat_core.atomic import atomic_target

FORMAT = "laat-lab-checkpoint"
FORMAT_VERSION = 1
REQUIRED_KEYS = ("format", "version", "model", "class_names", "split")


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt, or does not match its metadata."""


def save_checkpoint(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict) -> Path:
    path = Path(path)
    header = {"laat": json.dumps({"format": FORMAT, "version": FORMAT_VERSION, **metadata})}
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    with atomic_target(path) as tmp:
        save_file(tensors, tmp, metadata=header)
    return path


def read_metadata(path: str | Path) -> dict:
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    if path.suffix != ".safetensors":
        raise CheckpointError(f"{path.name}: checkpoints are .safetensors files (pickled .pt/.pth are never loaded)")
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path} is not a readable safetensors file: {error}") from error
    try:
        metadata = json.loads(header["laat"])
    except (KeyError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path} has no LAAT Lab metadata (was it saved by laat train?)") from error
    if not isinstance(metadata, dict):
        raise CheckpointError(f"{path}: its metadata is not a JSON object")
    missing = [key for key in REQUIRED_KEYS if key not in metadata]
    if metadata.get("format") != FORMAT or missing:
        raise CheckpointError(
            f"{path} metadata is not a LAAT Lab checkpoint (missing: {', '.join(missing) or 'format'})"
        )
    if not isinstance(metadata["version"], int):
        raise CheckpointError(f"{path}: metadata version {metadata['version']!r} is not an integer")
    if metadata["version"] > FORMAT_VERSION:
        raise CheckpointError(f"{path} was written by a newer LAAT Lab (format {metadata['version']})")
    return metadata


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    metadata = read_metadata(path)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path} is corrupt: {error}") from error
    return tensors, metadata
