"""Run by tests/test_ddp.py under torchrun: one tiny epoch, then each rank saves its weights."""

import json
import sys

import torch.distributed as dist
from safetensors.torch import save_file

from laat_core.training import TrainConfig, train

out_dir = sys.argv[1]
bn_mode = sys.argv[2] if len(sys.argv) > 2 else "joint"
data = sys.argv[3] if len(sys.argv) > 3 else "shapes"  # e.g. imagefolder:<root>: read per batch by workers
streamed = {"data": data, "workers": 1, "batch_size": 8} if data != "shapes" else {"batch_size": 32}
# argv[4]: optional JSON of TrainConfig settings that win (e.g. the ImageNet path's backbone and input size), and
# "out": a checkpoint path that rank 0 writes.
extra = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
out = extra.pop("out", None)
settings = dict(
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
config = TrainConfig(**{**settings, **extra})
trained = train(config, out=out, progress=False)
rank = dist.get_rank()
save_file({k: v.contiguous() for k, v in trained.model.state_dict().items()}, f"{out_dir}/rank{rank}.safetensors")
dist.destroy_process_group()
