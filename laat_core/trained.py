"""A trained model with everything needed to use it: weights, class anchors, split and provenance."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from laat_core.anchors import encode_anchors
from laat_core.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from laat_core.expansion import ExpansionFit, apply_expansion
from laat_core.models import AnchorClassifier, LinearClassifier


@dataclass
class TrainedModel:
    model: nn.Module
    metadata: dict
    class_anchors: torch.Tensor | None  # de-correlated anchors of metadata["class_names"], row order kept

    @property
    def class_names(self) -> list[str]:
        return list(self.metadata["class_names"])

    @property
    def split(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self.metadata["split"].items()}

    @property
    def zero_shot(self) -> bool:
        return self.metadata["model"]["kind"] == "anchor"

    def names_for(self, split: str) -> list[str]:
        if split == "all":
            return self.split["base"] + self.split["novel"]
        if split not in self.split:
            raise ValueError(f"unknown split {split!r}: use base, novel or all")
        return self.split[split]

    def anchors_for(self, names: list[str]) -> torch.Tensor:
        """Anchors for any class list: stored ones by name, others encoded from text and mapped
        with the stored de-correlation (fitted on the base classes only)."""
        if not self.zero_shot:
            raise ValueError("a linear-head model has no anchors: it only knows its training classes")
        known = {n: i for i, n in enumerate(self.class_names)}
        if all(n in known for n in names):
            return self.class_anchors[[known[n] for n in names]]
        raw = encode_anchors(self.metadata["encoder"], names, tuple(self.metadata["templates"]))
        return decorrelate_with(raw, self.metadata["decorrelation"])

    def head_for(self, names: list[str]) -> nn.Module:
        """The model with its cosine head pointed at `names` (linear models: their own classes only)."""
        if self.zero_shot:
            self.model.set_anchors(self.anchors_for(names))
        elif names != self.split["base"]:
            raise ValueError("a linear-head model can only classify its training classes")
        return self.model.eval()


def decorrelate_with(raw: torch.Tensor, params: dict) -> torch.Tensor:
    """Apply a stored de-correlation (fitted on the base classes at training time) to new anchors."""
    method = params["method"]
    if method == "expansion":
        return apply_expansion(raw, ExpansionFit.from_dict(params))
    if method == "center":
        return F.normalize(F.normalize(raw, dim=1) - torch.tensor(params["base_mean"]), dim=1)
    return F.normalize(raw, dim=1)


def build_model(spec: dict, anchors: torch.Tensor | None = None) -> nn.Module:
    mean, std = tuple(spec["mean"]), tuple(spec["std"])
    if spec["kind"] == "anchor":
        anchors = torch.zeros(spec["n_classes"], spec["anchor_dim"]) if anchors is None else anchors
        return AnchorClassifier(spec["backbone"], anchors, spec["tau"], mean, std)
    if spec["kind"] == "linear":
        return LinearClassifier(spec["backbone"], spec["n_classes"], mean, std)
    raise CheckpointError(f"unknown model kind {spec['kind']!r}")


def save_trained(path: str | Path, trained: TrainedModel, extra: dict[str, torch.Tensor] | None = None) -> Path:
    tensors = {f"model.{k}": v for k, v in trained.model.state_dict().items()}
    if trained.class_anchors is not None:
        tensors["class_anchors"] = trained.class_anchors
    tensors.update(extra or {})
    return save_checkpoint(path, tensors, trained.metadata)


def load_trained(path: str | Path) -> TrainedModel:
    tensors, metadata = load_checkpoint(path)
    try:
        model = build_model(metadata["model"])
        state = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
        model.load_state_dict(state, strict=True)
    except (KeyError, TypeError, RuntimeError, ValueError) as error:
        raise CheckpointError(f"{path}: weights do not match the metadata's model ({error})") from error
    anchors = tensors.get("class_anchors")
    if metadata["model"]["kind"] == "anchor":
        if anchors is None or anchors.shape != (len(metadata["class_names"]), metadata["model"]["anchor_dim"]):
            raise CheckpointError(f"{path}: class anchors missing or not matching the class list and anchor dimension")
    return TrainedModel(model.eval(), metadata, anchors)
