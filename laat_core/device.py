"""Which device runs a model: `auto` picks CUDA when present (the local rank's GPU under torchrun), else CPU.

Every entry point (training, evaluation, the app, the benchmarks) resolves its device here, so `--device`
means the same everywhere. Attacks always run in float32 on that device (mixed precision, where used, is
confined to training forwards).
"""

from __future__ import annotations

import os

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda")


class DeviceError(ValueError):
    """A device that this machine does not have; the message says what it has."""


def resolve_device(spec: str = "auto") -> torch.device:
    """'auto' | 'cpu' | 'cuda' | 'cuda:N' -> a torch.device this machine has."""
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "cuda" or spec.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise DeviceError(f"--device {spec}: this machine has no CUDA GPU that torch can use; use cpu or auto")
        index = int(os.environ.get("LOCAL_RANK", "0")) if spec == "cuda" else _index(spec)
        if index >= torch.cuda.device_count():
            raise DeviceError(f"--device {spec}: only {torch.cuda.device_count()} GPU(s) here")
        return torch.device("cuda", index)
    raise DeviceError(f"unknown device {spec!r}: use auto, cpu, cuda or cuda:N")


def _index(spec: str) -> int:
    try:
        return int(spec.split(":", 1)[1])
    except ValueError:
        raise DeviceError(f"unknown device {spec!r}: use auto, cpu, cuda or cuda:N") from None


def device_of(model: torch.nn.Module) -> torch.device:
    """Where a model's weights are (CPU for a model without any)."""
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def loader_workers(requested: int | None, device: torch.device, in_memory: bool = False) -> int:
    """DataLoader worker processes: as requested, else none on a CPU (the cores compute) or for data already in
    memory, and on a GPU up to 8 per process sharing the machine's cores (images are decoded while it computes)."""
    if requested is not None:
        return requested
    if device.type != "cuda" or in_memory:
        return 0
    per_process = (os.cpu_count() or 1) // max(int(os.environ.get("LOCAL_WORLD_SIZE", "1")), 1)
    return max(0, min(8, per_process - 1))


def device_name(device: torch.device) -> str:
    """The card a benchmark ran on: the GPU's name, or the CPU's model name (/proc/cpuinfo on Linux)."""
    import platform
    from pathlib import Path

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    info = Path("/proc/cpuinfo")
    if info.is_file():
        for line in info.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "CPU"
