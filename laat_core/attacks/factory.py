"""Attacks by name, all from torchattacks (CW-Linf excepted), on [0, 1] images, L-infinity.

AutoAttack is assembled from its components with the official settings, because torchattacks'
own AutoAttack class runs 10-step APGD and assumes at least 10 classes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torchattacks
from torch import nn

from laat_core.attacks.cw_linf import CWLinf

ATTACKS = ("none", "fgsm", "pgd", "cw", "apgd", "autoattack")


@dataclass(frozen=True)
class AttackSpec:
    name: str = "pgd"
    eps: float = 8 / 255
    steps: int = 10
    alpha: float | None = None  # step size; default 2.5 * eps / steps, at least eps / 4 (as in Madry et al.)
    seed: int = 0

    @property
    def step_size(self) -> float:
        return self.alpha if self.alpha is not None else max(2.5 * self.eps / max(self.steps, 1), self.eps / 4)

    def describe(self) -> str:
        eps255 = f"{self.eps * 255:g}/255"
        if self.name == "none":
            return "clean"
        if self.name == "fgsm":
            return f"FGSM eps={eps255}"
        if self.name == "autoattack":
            return f"AutoAttack (standard, Linf) eps={eps255}"
        label = {"pgd": "PGD", "cw": "CW-Linf", "apgd": "APGD-CE"}[self.name]
        return f"{label}-{self.steps} eps={eps255}"


@dataclass(frozen=True)
class AutoAttackPlan:
    components: tuple[str, ...]
    n_targets: int
    note: str


def autoattack_plan(n_classes: int) -> AutoAttackPlan:
    """The official 'standard' AutoAttack for C classes: APGD-CE, APGD-T, FAB-T, Square.

    Targeted attacks use min(9, C-1) target classes. APGD-T's targeted DLR loss reads the 4th-largest
    logit, so it is undefined below 4 classes; there we run the remaining three and say so.
    """
    if n_classes < 2:
        raise ValueError("AutoAttack needs at least 2 classes")
    n_targets = min(9, n_classes - 1)
    if n_classes >= 4:
        return AutoAttackPlan(("apgd-ce", "apgd-t", "fab-t", "square"), n_targets, "official standard version")
    return AutoAttackPlan(
        ("apgd-ce", "fab-t", "square"),
        n_targets,
        f"APGD-T skipped: its DLR loss needs at least 4 classes, this head has {n_classes}",
    )


def make_attack(model: nn.Module, spec: AttackSpec, n_classes: int):
    """A callable attack(images, labels) -> adversarial images, or None for clean evaluation."""
    eps, steps, seed = spec.eps, spec.steps, spec.seed
    if spec.name == "none":
        return None
    if spec.name == "fgsm":
        return torchattacks.FGSM(model, eps=eps)
    if spec.name == "pgd":
        return torchattacks.PGD(model, eps=eps, alpha=spec.step_size, steps=steps, random_start=True)
    if spec.name == "cw":
        return CWLinf(model, eps=eps, alpha=spec.step_size, steps=steps)
    if spec.name == "apgd":
        return torchattacks.APGD(model, eps=eps, steps=steps, loss="ce", n_restarts=1, seed=seed)
    if spec.name == "autoattack":
        return make_autoattack(model, eps, n_classes, seed)
    raise ValueError(f"unknown attack {spec.name!r}: choose one of {', '.join(ATTACKS)}")


def make_autoattack(model: nn.Module, eps: float, n_classes: int, seed: int = 0):
    plan = autoattack_plan(n_classes)
    # torchattacks derives the number of target classes as n_classes - 1.
    targets_as_classes = plan.n_targets + 1
    components = {
        "apgd-ce": lambda: torchattacks.APGD(model, eps=eps, steps=100, loss="ce", n_restarts=1, seed=seed),
        "apgd-t": lambda: torchattacks.APGDT(
            model, eps=eps, steps=100, n_restarts=1, seed=seed, n_classes=targets_as_classes
        ),
        "fab-t": lambda: torchattacks.FAB(
            model, eps=eps, steps=100, n_restarts=1, multi_targeted=True, n_classes=targets_as_classes, seed=seed
        ),
        "square": lambda: torchattacks.Square(model, eps=eps, n_queries=5000, n_restarts=1, seed=seed),
    }
    attack = torchattacks.MultiAttack([components[name]() for name in plan.components])
    attack.plan = plan
    return attack
