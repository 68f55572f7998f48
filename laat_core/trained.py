"""A trained model with everything needed to use it: weights, class anchors, split and provenance."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from laat_core.anchors import encode_anchors
from laat_core.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from laat_core.expansion import ExpansionFit, apply_expansion
from laat_core.models import AnchorClassifier, AnchorHead, LinearClassifier, PrototypeNet


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

    @property
    def few_shot_only(self) -> bool:
        """A prototype model (AQ): no anchors and no classifier, classes come from support images only."""
        return self.metadata["model"]["kind"] == "prototype"

    def _no_anchors(self) -> ValueError:
        if self.few_shot_only:
            return ValueError(
                f"this checkpoint ({self.metadata.get('training', {}).get('method', 'prototype model')}) has no text "
                "anchors: it classifies from support images only, so it supports --shots 1 or more, not zero-shot"
            )
        return ValueError("a linear-head model has no anchors: it only knows its training classes")

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
            raise self._no_anchors()
        known = {n: i for i, n in enumerate(self.class_names)}
        if all(n in known for n in names):
            return self.class_anchors[[known[n] for n in names]]
        raw = encode_anchors(self.metadata["encoder"], names, tuple(self.metadata["templates"]))
        return decorrelate_with(raw, self.metadata["decorrelation"])

    def head_for(self, names: list[str]) -> nn.Module:
        """The model scoring `names` (linear models: their own classes only), in eval mode. The shared
        model is not changed: the anchors travel with the returned head (AnchorHead)."""
        if self.zero_shot:
            return AnchorHead(self.model.eval(), self.anchors_for(names))
        if self.few_shot_only:
            raise self._no_anchors()
        if names != self.split["base"]:
            raise ValueError("a linear-head model can only classify its training classes")
        return self.model.eval()

    def for_episodes(self, names: list[str], shots: int) -> tuple[nn.Module, torch.Tensor | None]:
        """The (model, class anchors) that evaluation.evaluate_episodes takes for `names`: zero-shot, the classes'
        head and anchors; with support images, the bare model (each episode builds its head from its supports)."""
        if shots == 0:
            return self.head_for(names), self.anchors_for(names)
        return self.model.eval(), None


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
    if spec["kind"] == "prototype":
        return PrototypeNet(spec["backbone"], mean, std)
    raise CheckpointError(f"unknown model kind {spec['kind']!r}")


def save_trained(path: str | Path, trained: TrainedModel, extra: dict[str, torch.Tensor] | None = None) -> Path:
    tensors = {f"model.{k}": v for k, v in trained.model.state_dict().items()}
    if trained.class_anchors is not None:
        tensors["class_anchors"] = trained.class_anchors
    tensors.update(extra or {})
    return save_checkpoint(path, tensors, trained.metadata)


def _is_names(value) -> bool:
    return isinstance(value, list) and all(isinstance(n, str) for n in value)


def validate(metadata: dict, tensors: dict[str, torch.Tensor], path: str | Path) -> None:
    """Check the metadata's schema and types against the tensors before any model is built from it, so a
    crafted file cannot ask for huge allocations, non-positive temperatures or non-finite weights."""
    from laat_core.models.backbones import BACKBONES

    def fail(reason: str):
        raise CheckpointError(f"{path}: {reason}")

    if not isinstance(metadata, dict):
        fail("metadata is not a JSON object")
    if not isinstance(metadata.get("version"), int):
        fail("metadata version is not an integer")
    spec = metadata.get("model")
    if not isinstance(spec, dict) or spec.get("kind") not in ("anchor", "linear", "prototype"):
        fail("metadata 'model' must be an object with kind 'anchor', 'linear' or 'prototype'")
    if spec.get("backbone") not in BACKBONES:
        fail(f"unknown backbone {spec.get('backbone')!r}")
    for key in ("mean", "std"):
        values = spec.get(key)
        if not (isinstance(values, list) and len(values) == 3 and all(_finite_number(v) for v in values)):
            fail(f"model {key} must be three finite numbers")
    if min(spec["std"]) <= 0:
        fail("model std must be positive")
    if not _is_names(metadata.get("class_names")):
        fail("class_names must be a list of strings")
    split = metadata.get("split")
    if not (isinstance(split, dict) and _is_names(split.get("base")) and _is_names(split.get("novel"))):
        fail("split must hold lists of class names 'base' and 'novel'")
    if spec["kind"] == "anchor":
        if not (_finite_number(spec.get("tau")) and spec["tau"] > 0):
            fail("tau must be a positive number")
        anchors = tensors.get("model.anchors")
        if anchors is None or anchors.ndim != 2:
            fail("the anchor head's weights are missing")
        if (spec.get("n_classes"), spec.get("anchor_dim")) != tuple(anchors.shape):
            fail(
                f"metadata sizes {spec.get('n_classes')}x{spec.get('anchor_dim')} do not match the weights {tuple(anchors.shape)}"
            )
    elif spec["kind"] == "prototype":
        scale = tensors.get("model.scale")
        if spec.get("metric") != "euclidean" or scale is None or scale.numel() != 1:
            fail("a prototype model needs metric 'euclidean' and its scalar logit scale")
    else:
        head = tensors.get("model.head.weight")
        if head is None or spec.get("n_classes") != head.shape[0]:
            fail("metadata n_classes does not match the linear head's weights")
    bad = [name for name, tensor in tensors.items() if tensor.is_floating_point() and not torch.isfinite(tensor).all()]
    if bad:
        fail(f"non-finite weights in {', '.join(bad[:3])}")


def _finite_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def load_trained(path: str | Path) -> TrainedModel:
    tensors, metadata = load_checkpoint(path)
    validate(metadata, tensors, path)
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
