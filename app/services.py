"""The app's model store: shipped checkpoints, uploaded ones and those trained in the session.

Models are shared by every request without locks: pointing a model at a class list (head_for) builds a
head that carries its anchors into the forward pass and changes nothing in the model.
"""

from __future__ import annotations

import functools
import os
import threading
from pathlib import Path

from laat_core.encoders import get_encoder
from laat_core.models.clip_zero_shot import ClipZeroShotModel
from laat_core.trained import TrainedModel, load_trained

ASSETS = Path(__file__).resolve().parent.parent / "assets"
SHIPPED = {
    "standard (shipped)": ASSETS / "models" / "shapes-standard.safetensors",
    "LAAT (shipped)": ASSETS / "models" / "shapes-laat.safetensors",
    "anchor-AT (shipped)": ASSETS / "models" / "shapes-anchor-at.safetensors",
    # the clip-like anchor regime's models from the ablation (benchmarks/ablation.py --ship)
    "LAAT clip-like (shipped)": ASSETS / "models" / "shapes-clip-like-laat.safetensors",
    "anchor-AT clip-like (shipped)": ASSETS / "models" / "shapes-clip-like-anchor-at.safetensors",
}
CLIP_LABEL = "CLIP zero-shot"
CURVES = ASSETS / "models" / "robustness_curves.json"
CIFARFS_ANCHORS = ASSETS / "anchors" / "cifarfs_clip_anchors.safetensors"
EXAMPLES = ASSETS / "examples"

MAX_CACHED = 12  # shipped + a few uploaded or trained models; older uploads are reloaded on demand
_cache: dict[str, TrainedModel] = {}
_guard = threading.Lock()  # guards the cache dictionary only, never a model


def shipped_models() -> dict[str, Path]:
    return {label: path for label, path in SHIPPED.items() if path.is_file()}


def get_model(path: str | Path) -> TrainedModel:
    key = str(Path(path).resolve())
    with _guard:
        if key not in _cache:
            if len(_cache) >= MAX_CACHED:
                _cache.pop(next(iter(_cache)))
            _cache[key] = load_trained(key)
        return _cache[key]


def clip_spec() -> str | None:
    """LAAT_CLIP=<model>/<pretrained tag or local file> turns CLIP on (e.g. ViT-B-32/openai on Spaces)."""
    return os.environ.get("LAAT_CLIP") or None


@functools.lru_cache(maxsize=1)
def get_clip() -> ClipZeroShotModel:
    return ClipZeroShotModel(get_encoder(f"openclip:{clip_spec()}"))
