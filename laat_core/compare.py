"""Robust accuracy as a function of eps: the compare tab's curves and the benchmark's table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from laat_core.attacks import AttackSpec
from laat_core.data import shapes
from laat_core.evaluation import binomial_ci95, predict_adversarial
from laat_core.trained import TrainedModel


@dataclass
class CurvePoint:
    model: str
    split: str
    attack: str
    eps_255: float
    accuracy: float
    ci95: float
    n: int

    def to_dict(self) -> dict:
        return asdict(self)


def robustness_curve(
    trained: TrainedModel,
    label: str,
    split: str,
    eps_255: list[float],
    attack: str = "pgd",
    steps: int = 10,
    n_per_class: int = 10,
    seed: int = 2024,
    on_point: Callable[[int, int], None] | None = None,
) -> list[CurvePoint]:
    """Accuracy on freshly generated shapes of `split` under `attack` at each eps (same images throughout)."""
    names = trained.names_for(split)
    images, labels = shapes.make_split(names, n_per_class, seed=seed).tensors
    model = trained.head_for(names)
    points = []
    for i, eps in enumerate(eps_255):
        spec = AttackSpec("none" if eps == 0 else attack, eps / 255, steps, seed=seed)
        predictions = predict_adversarial(model, images, labels, spec, len(names))
        accuracy = float((predictions == labels).float().mean())
        points.append(
            CurvePoint(label, split, spec.describe(), eps, accuracy, binomial_ci95(accuracy, len(labels)), len(labels))
        )
        if on_point:
            on_point(i + 1, len(eps_255))
    return points


def default_eps_grid() -> list[float]:
    return [0, 1, 2, 4, 8, 12, 16, 32]
