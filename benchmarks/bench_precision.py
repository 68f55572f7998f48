"""Is bf16 autocast, channels_last or torch.compile faster for the loss's forward and backward? (issue 10)

    OMP_NUM_THREADS=2 python benchmarks/bench_precision.py                      # CPU here
    python benchmarks/bench_precision.py --device cuda --steps 50 --batch 128     # a GPU

For each backbone and input size, images/s of one LAAT training step's forward + backward + SGD step on a fixed
random batch (clean and adversarial halves, so no data loading and no attack: the part these settings change),
in each mode, all in one run so the ratios compare. The attack itself always runs in float32
(laat_core/precision.py). torch.compile's first call (compilation) is excluded and printed on its own.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from laat_core.device import device_name, resolve_device  # noqa: E402
from laat_core.methods import get_method  # noqa: E402
from laat_core.models import AnchorClassifier  # noqa: E402
from laat_core.precision import prepare_for_training, to_memory_format, training_autocast  # noqa: E402

MODES = {  # name -> (precision, channels_last, compile)
    "fp32": ("fp32", False, False),
    "bf16 autocast": ("bf16", False, False),
    "channels_last": ("fp32", True, False),
    "torch.compile": ("fp32", False, True),
}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_rate(backbone: str, size: int, mode: str, device, batch: int, steps: int) -> tuple[float, float]:
    """(images/s, seconds of the first step) for one mode."""
    precision, channels_last, compile_model = MODES[mode]
    torch.manual_seed(0)
    model = AnchorClassifier(backbone, torch.nn.functional.normalize(torch.randn(16, 384), dim=1)).to(device)
    net = prepare_for_training(model, channels_last, compile_model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    method = get_method("laat")
    x = to_memory_format(torch.rand(batch, 3, size, size, device=device), channels_last)
    x_adv = to_memory_format((x + 0.03 * torch.randn_like(x)).clamp(0, 1), channels_last)
    y = torch.randint(0, 16, (batch,), device=device)

    def step() -> None:
        net.train()
        with training_autocast(precision, device):
            loss = method.loss(net, x, x_adv, y, 4.0, "joint")["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    start = time.perf_counter()
    step()  # warm-up: allocations, and compilation for torch.compile
    sync(device)
    first = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return batch * steps / (time.perf_counter() - start), first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--backbones", default="conv4-512,resnet12")
    parser.add_argument("--sizes", default="32,80")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    device = resolve_device(args.device)
    card = device_name(device)
    print(f"device {device} ({card}), torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"batch {args.batch}, {args.steps} timed steps after one warm-up step")  # fmt: skip
    print("| backbone | size | mode | train images/s | x fp32 | first step s |\n|---|---|---|---|---|---|")
    for backbone in args.backbones.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            base = None
            for mode in ["fp32", *(m for m in args.modes.split(",") if m != "fp32")]:  # the ratios' reference first
                rate, first = step_rate(backbone, size, mode, device, args.batch, args.steps)
                base = base or rate
                print(f"| {backbone} | {size} | {mode} | {rate:.1f} | {rate / base:.2f} | {first:.1f} |", flush=True)


if __name__ == "__main__":
    main()
