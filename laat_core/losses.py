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


BN_MODES = ("joint", "separate")


def clean_and_adversarial(model: nn.Module, x: torch.Tensor, x_adv: torch.Tensor, bn_mode: str = "joint"):
    """(logits, features) of the clean and the adversarial batch, as two (clean, adv) pairs.

    joint:    one forward over both batches together (BatchNorm sees their mixed statistics);
    separate: two forwards, each batch normalised with its own statistics, as the official code does.
    """
    if bn_mode == "joint":
        logits, features = model(torch.cat([x, x_adv]), return_features=True)
        return logits.split(len(x)), features.split(len(x))
    if bn_mode == "separate":
        clean_logits, clean_features = model(x, return_features=True)
        adv_logits, adv_features = model(x_adv, return_features=True)
        return (clean_logits, adv_logits), (clean_features, adv_features)
    raise ValueError(f"unknown BatchNorm mode {bn_mode!r}: choose one of {', '.join(BN_MODES)}")


def laat_loss(
    model: nn.Module, x: torch.Tensor, x_adv: torch.Tensor, y: torch.Tensor, beta: float, bn_mode: str = "joint"
) -> dict:
    (_, logits_adv), (clean, adv) = clean_and_adversarial(model, x, x_adv, bn_mode)
    ace = alignment_cross_entropy(logits_adv, y)
    smooth = smoothness(clean, adv)
    return {"loss": ace + beta * smooth, "ace": ace.detach(), "smooth": smooth.detach()}


def cross_entropy_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict:
    loss = F.cross_entropy(model(x), y)
    return {"loss": loss, "ce": loss.detach()}


def trades_loss(
    model: nn.Module, x: torch.Tensor, x_adv: torch.Tensor, y: torch.Tensor, beta: float, bn_mode: str = "joint"
) -> dict:
    """TRADES (Zhang et al. 2019): clean CE + beta * KL(p(x) || p(x_adv))."""
    (clean, adv), _ = clean_and_adversarial(model, x, x_adv, bn_mode)
    ce = F.cross_entropy(clean, y)
    kl = F.kl_div(F.log_softmax(adv, dim=1), F.softmax(clean, dim=1), reduction="batchmean")
    return {"loss": ce + beta * kl, "ce": ce.detach(), "kl": kl.detach()}


def adversarial_querying_loss(
    model: nn.Module, support: torch.Tensor, query_adv: torch.Tensor, labels: torch.Tensor, bn_mode: str = "joint"
) -> dict:
    """Adversarial Querying (Goldblum et al. 2020): CE of the attacked queries against the prototypes of the clean
    support images, gradients through both (the AQ code: ProtoNet head, support features kept in the graph).

    `labels`: support labels then query labels, classes 0..ways-1. BatchNorm as clean_and_adversarial: joint is
    one forward over supports and queries, separate two (the AQ code's order: supports, then queries).
    """
    from laat_core.models.prototype import class_means, euclidean_logits

    n_support = len(support)
    support_labels, query_labels = labels[:n_support], labels[n_support:]
    if bn_mode == "joint":
        support_features, query_features = model(torch.cat([support, query_adv])).split([n_support, len(query_adv)])
    elif bn_mode == "separate":
        support_features, query_features = model(support), model(query_adv)
    else:
        raise ValueError(f"unknown BatchNorm mode {bn_mode!r}: choose one of {', '.join(BN_MODES)}")
    prototypes = class_means(support_features, support_labels, int(support_labels.max()) + 1)
    scale = getattr(model, "module", model).scale  # the bare model's under DistributedDataParallel
    ce = F.cross_entropy(euclidean_logits(query_features, prototypes, scale), query_labels)
    return {"loss": ce, "query_ce": ce.detach()}
