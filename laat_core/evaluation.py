"""Honest robustness numbers: named attack, stated eps, eval mode, confidence intervals, sanity checks.

Two protocols:
  full      plain accuracy over every image of the chosen classes (C-way), binomial 95% interval;
  episodes  the official few-shot protocol: 5-way episodes over the split's classes, 20 queries per
            class, mean accuracy over episodes with a Student-t 95% interval. Zero-shot (anchors) or
            few-shot (clean support images per class give the prototypes; laat_core.models.prototype).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
from scipy import stats
from torch import nn
from torch.utils.data import Dataset
from tqdm import tqdm

from laat_core.attacks import AttackSpec, make_attack
from laat_core.attacks.factory import autoattack_plan
from laat_core.data.sources import take
from laat_core.device import device_of
from laat_core.models.head import AnchorHead
from laat_core.models.prototype import PrototypeHead, few_shot_head


@dataclass
class EvalResult:
    split: str
    attack: str
    attack_spec: str
    eps: float
    protocol: str
    n: int
    accuracy: float
    ci95: float
    n_classes: int
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def binomial_ci95(accuracy: float, n: int) -> float:
    """Half-width of the 95% Wilson interval's larger side, as a +- figure."""
    if n == 0:
        return float("nan")
    z = 1.959963984540054
    centre = (accuracy + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(accuracy * (1 - accuracy) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(centre + half - accuracy, accuracy - (centre - half))


def t_ci95(values: torch.Tensor) -> float:
    n = len(values)
    if n < 2:
        return float("nan")
    return float(stats.t.ppf(0.975, n - 1) * values.std(unbiased=True) / math.sqrt(n))


def predict_adversarial(
    model: nn.Module,
    images: torch.Tensor | Dataset,
    labels: torch.Tensor,
    spec: AttackSpec,
    n_classes: int,
    batch_size: int = 256,
    progress: bool = False,
) -> torch.Tensor:
    """Predictions of `model` (eval mode) on attacked images; attack computed against this head, on the device
    the model is on (images are moved there a batch at a time, in float32; predictions come back on the CPU)."""
    model.eval()
    device = device_of(model)
    attack = make_attack(model, spec, n_classes)
    predictions = []
    batches = range(0, len(images), batch_size)
    for start in tqdm(batches, desc=spec.describe(), disable=not progress, leave=False):
        x = take(images, range(start, min(start + batch_size, len(labels)))).to(device, torch.float32)
        y = labels[start : start + batch_size].to(device)
        if attack is not None:
            torch.manual_seed(spec.seed + start)
            x = attack(x, y)
        with torch.no_grad():
            predictions.append(model(x).argmax(1).cpu())
    return torch.cat(predictions)


def evaluate_full(
    model: nn.Module,
    images: torch.Tensor | Dataset,
    labels: torch.Tensor,
    spec: AttackSpec,
    split: str,
    progress: bool = False,
) -> EvalResult:
    """C-way accuracy over all images; `model` must already have its head set to the split's classes."""
    n_classes = n_classes_of(model)
    predictions = predict_adversarial(model, images, labels, spec, n_classes, progress=progress)
    accuracy = float((predictions == labels).float().mean())
    return EvalResult(
        split,
        spec.name,
        spec.describe(),
        spec.eps,
        f"full {n_classes}-way",
        len(labels),
        accuracy,
        binomial_ci95(accuracy, len(labels)),
        n_classes,
        _notes(spec, n_classes),
    )


def evaluate_episodes(
    model: nn.Module,
    images: torch.Tensor | Dataset,
    labels: torch.Tensor,
    class_anchors: torch.Tensor | None,
    spec: AttackSpec,
    split: str,
    episodes: int,
    ways: int = 5,
    queries: int = 20,
    shots: int = 0,
    seed: int = 0,
    progress: bool = False,
) -> EvalResult:
    """The official protocol: `episodes` random `ways`-way tasks, each scored by its own head.

    shots 0: zero-shot, the episode's class anchors (an AnchorHead). shots >= 1: each class's prototype comes from
    `shots` clean support images (laat_core.models.prototype.few_shot_head, in the model's own geometry); the
    attack then runs end to end through query -> features -> prototypes, the supports fixed and never perturbed.
    `class_anchors` may be None for shots >= 1 (a model without anchors, e.g. AQ); the split's classes are then
    0..labels.max().
    """
    if class_anchors is None and shots == 0:
        raise ValueError("zero-shot episodes need class anchors: this model classifies from support images only")
    n_split = class_anchors.shape[0] if class_anchors is not None else int(labels.max()) + 1
    if n_split < ways:
        raise ValueError(f"{ways}-way episodes need at least {ways} classes, the split has {n_split}")
    generator = torch.Generator().manual_seed(seed)
    by_class = [torch.nonzero(labels == c).flatten() for c in range(n_split)]
    if min(len(idx) for idx in by_class) < queries + shots:
        raise ValueError(f"episodes need {queries + shots} images per class; generate more (--n-per-class)")
    accuracies = []
    scorer = model.model if isinstance(model, AnchorHead | PrototypeHead) else model  # the model behind a head
    for _ in tqdm(range(episodes), desc=f"episodes ({spec.describe()})", disable=not progress, leave=False):
        classes = torch.randperm(n_split, generator=generator)[:ways]
        picks = [by_class[c][torch.randperm(len(by_class[c]), generator=generator)[: queries + shots]] for c in classes]
        query = torch.cat([p[shots:] for p in picks])
        episode_labels = torch.arange(ways).repeat_interleave(queries)
        if shots:
            support = take(images, torch.cat([p[:shots] for p in picks])).to(device_of(scorer), torch.float32)
            head = few_shot_head(scorer, support, torch.arange(ways).repeat_interleave(shots).to(support.device), ways)
        else:
            head = AnchorHead(scorer, class_anchors[classes])
        predictions = predict_adversarial(head, take(images, query), episode_labels, spec, ways)
        accuracies.append(float((predictions == episode_labels).float().mean()))
    values = torch.tensor(accuracies)
    protocol = f"{episodes} episodes, {ways}-way {shots}-shot, {queries} queries/class"
    return EvalResult(
        split,
        spec.name,
        spec.describe(),
        spec.eps,
        protocol,
        len(values) * ways * queries,
        float(values.mean()),
        t_ci95(values),
        ways,
        _notes(spec, ways)
        + (
            [f"{shots} clean support image(s) per class give the prototypes; only the queries are attacked"]
            if shots
            else []
        ),
    )


def n_classes_of(model: nn.Module) -> int:
    """How many classes the model's head currently scores (cosine anchors or linear outputs)."""
    anchors = getattr(model, "anchors", None)
    return int(anchors.shape[0]) if anchors is not None else int(model.head.out_features)


def _notes(spec: AttackSpec, n_classes: int) -> list[str]:
    notes = ["model in eval mode; attack computed against the evaluated head"]
    if spec.name == "autoattack":
        notes.append(f"AutoAttack: {autoattack_plan(n_classes).note}")
    return notes


def sanity_warnings(
    results: dict[str, float], large_eps_accuracy: float | None = None, chance: float | None = None
) -> list[str]:
    """Gradient-masking checks: clean >= FGSM >= PGD >= AutoAttack, and ~0 accuracy at a large eps.

    `results` maps attack name to accuracy on the same images. A small tolerance allows for sampling
    noise when the attacks draw different random starts.
    """
    warnings = []
    order = [name for name in ("none", "fgsm", "pgd", "autoattack") if name in results]
    for stronger, weaker in zip(order[1:], order[:-1], strict=True):
        if results[stronger] > results[weaker] + 0.01:
            warnings.append(
                f"possible gradient masking: {stronger} accuracy {results[stronger]:.3f} > {weaker} {results[weaker]:.3f}"
            )
    if large_eps_accuracy is not None:
        floor = max(0.05, (chance or 0) * 1.5)
        if large_eps_accuracy > floor:
            warnings.append(
                f"possible gradient masking: accuracy {large_eps_accuracy:.3f} at a large eps is not near 0"
            )
    return warnings


def episode_sanity(
    model: nn.Module,
    images: torch.Tensor | Dataset,
    labels: torch.Tensor,
    spec: AttackSpec,
    shots: int,
    episodes: int = 10,
    queries: int = 20,
) -> dict:
    """The gradient-masking checks of few-shot evaluation, on `episodes` 5-way episodes (the same for every attack):
    clean >= FGSM >= PGD-10 at spec.eps, and PGD-10 at eps 0.5 near 0, all through the episode's prototype head."""

    def accuracy(name: str, eps: float) -> float:
        probe = AttackSpec(name, eps, 10, seed=spec.seed)
        return evaluate_episodes(
            model, images, labels, None, probe, "sanity", episodes, queries=queries, shots=shots, seed=spec.seed
        ).accuracy

    found = {name: accuracy(name, spec.eps) for name in ("none", "fgsm", "pgd")}
    large = accuracy("pgd", 0.5)
    return {
        "n": episodes * 5 * queries,
        "accuracy": found,
        "pgd_eps_0.5": large,
        "warnings": sanity_warnings(found, large, chance=1 / 5),
    }
