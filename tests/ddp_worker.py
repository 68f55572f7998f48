"""Run by tests/test_ddp.py under torchrun: one tiny epoch, then each rank saves its weights."""

import sys

import torch.distributed as dist
from safetensors.torch import save_file

from laat_core.training import TrainConfig, train

out_dir = sys.argv[1]
bn_mode = sys.argv[2] if len(sys.argv) > 2 else "joint"
data = sys.argv[3] if len(sys.argv) > 3 else "shapes"  # e.g. imagefolder:<root>: read per batch by workers
streamed = {"data": data, "workers": 1, "batch_size": 8} if data != "shapes" else {"batch_size": 32}
config = TrainConfig(
    bn_mode=bn_mode,
    method="laat",
    epochs=1,
    n_per_class=4,
    val_per_class=2,
    val_pgd_images=8,
    attack_steps=2,
    num_threads=1,
    **streamed,
)
trained = train(config, progress=False)
rank = dist.get_rank()
save_file({k: v.contiguous() for k, v in trained.model.state_dict().items()}, f"{out_dir}/rank{rank}.safetensors")
dist.destroy_process_group()
