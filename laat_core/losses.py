"""Training objectives. Each takes the model, a clean batch and (when adversarial) its attacked copy.

LAAT ("TRADES-cos" with the cos-span head in the official code):
    L = CE(cos(f(x_adv), a') / tau, y) + beta * mean(1 - cos(f(x), f(x_adv)))
with a' the expanded base anchors and f the projected image feature.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def alignment_cross_entropy(logits_adv: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """L_ACE: cross-entropy of the adversarial image's cosine logits against its class anchor."""
    return F.cross_entropy(logits_adv, labels)


def smoothness(features_clean: torch.Tensor, features_adv: torch.Tensor) -> torch.Tensor:
    """L_smooth: the adversarial feature should point where the clean one points."""
    return (1 - F.cosine_similarity(features_clean, features_adv, dim=1)).mean()


def laat_loss(model: nn.Module, x: torch.Tensor, x_adv: torch.Tensor, y: torch.Tensor, beta: float) -> dict:
    # One forward over clean and adversarial images together: one DDP forward per backward.
    logits, features = model(torch.cat([x, x_adv]), return_features=True)
    clean, adv = features.split(len(x))
    ace = alignment_cross_entropy(logits[len(x) :], y)
    smooth = smoothness(clean, adv)
    return {"loss": ace + beta * smooth, "ace": ace.detach(), "smooth": smooth.detach()}


def cross_entropy_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict:
    loss = F.cross_entropy(model(x), y)
    return {"loss": loss, "ce": loss.detach()}


def trades_loss(model: nn.Module, x: torch.Tensor, x_adv: torch.Tensor, y: torch.Tensor, beta: float) -> dict:
    """TRADES (Zhang et al. 2019): clean CE + beta * KL(p(x) || p(x_adv))."""
    logits = model(torch.cat([x, x_adv]))
    clean, adv = logits.split(len(x))
    ce = F.cross_entropy(clean, y)
    kl = F.kl_div(F.log_softmax(adv, dim=1), F.softmax(clean, dim=1), reduction="batchmean")
    return {"loss": ce + beta * kl, "ce": ce.detach(), "kl": kl.detach()}
