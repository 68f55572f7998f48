"""Speed settings of the training forward passes (issue 10): bf16 autocast, channels_last, torch.compile.

They touch only the loss's forward and backward. The training attack, validation, selection and every
evaluation run the plain float32 model: an attack's gradient in bf16 keeps 8 bits of mantissa, too few to rank
pixels by their effect, which would make a model look more robust than it is. All three are off by default: on
this project's CPU each was faster (BENCHMARKS.md, "Precision and compilation": bf16 1.7-2.1x), but every recorded
result was trained in float32 and whether bf16 training reaches the same robustness is not measured yet; on a GPU
nothing is measured yet.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

__all__ = ["PRECISIONS", "check_precision", "training_autocast", "prepare_for_training", "to_memory_format"]

PRECISIONS = ("fp32", "bf16")


def check_precision(precision: str, device: torch.device) -> None:
    """A ValueError with the fix, before any work, when `precision` cannot run on `device`."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError("this GPU has no bf16 support: use --precision fp32")


def training_autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The context for the loss's forward pass: bf16 autocast, or nothing for fp32. Parameters, gradients
    and the optimiser stay float32 (autocast casts per op), so bf16 needs no loss scaling."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def prepare_for_training(net: nn.Module, channels_last: bool, compile_model: bool) -> nn.Module:
    """The module the loss calls: in channels_last memory format and/or compiled. Compilation wraps it and
    shares its parameters, so the optimiser, the checkpoint and the eager float32 model used by attacks see
    the same weights."""
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    if compile_model:
        net = torch.compile(net)
    return net


def to_memory_format(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """A batch in the memory format the model's convolutions use (a copy only when it differs)."""
    return x.contiguous(memory_format=torch.channels_last) if channels_last and x.dim() == 4 else x
