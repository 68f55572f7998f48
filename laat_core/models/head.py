"""A model pointed at a class list, without changing the model.

open_clip's zero-shot classifier passes its class weights into the forward pass and keeps no state in
the model; AnchorHead does the same with anchors. One loaded model then serves any number of class lists
at once (the app's concurrent requests, evaluation episodes) with no lock and nothing to restore.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class AnchorHead(nn.Module):
    """`model` (whose forward takes `anchors=`) scoring the classes whose anchors are given."""

    def __init__(self, model: nn.Module, anchors: torch.Tensor) -> None:
        super().__init__()
        expected = model.anchors.shape[1]
        if anchors.ndim != 2 or anchors.shape[1] != expected:
            raise ValueError(f"anchors must be (classes, {expected}), got {tuple(anchors.shape)}")
        self.model = model
        device = model.anchors.device
        self.register_buffer("anchors", F.normalize(anchors.detach().float(), dim=1).to(device), persistent=False)
        # A new module starts in train mode; torchattacks restores an attacked module's mode afterwards, and
        # that would switch the shared model to train mode (BatchNorm statistics overwritten). Mirror it.
        self.train(model.training)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.features(x)

    def forward(self, x: torch.Tensor, return_features: bool = False):
        if return_features:
            return self.model(x, anchors=self.anchors, return_features=True)
        return self.model(x, anchors=self.anchors)
