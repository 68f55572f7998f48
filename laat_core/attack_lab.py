"""Attack one image with one model and report what changed: the attack lab's engine.

Results are computed from tensors; images for display are produced from those tensors, never
re-read from a displayed (possibly lossy) file.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from laat_core.attacks import AttackSpec, make_attack
from laat_core.attacks.factory import autoattack_plan
from laat_core.image_io import MAX_INPUT_PIXELS, MIN_INPUT_SIDE

MAX_STEPS = 200
MAX_EPS_255 = 64


class Classifier(Protocol):
    """A trained model (laat_core.trained.TrainedModel) or CLIP zero-shot: a head for any class list."""

    def head_for(self, names: list[str]) -> nn.Module: ...


class InputError(ValueError):
    """An input the attack lab cannot use; the message is shown to the user."""


def prepare_image(array: np.ndarray | None, size: int = 32) -> torch.Tensor:
    """Any uploaded/drawn image (greyscale, RGB or RGBA, uint8 or float) -> (3, size, size) in [0, 1]."""
    if array is None:
        raise InputError("no image: upload one, draw one, pick an example, or draw a sample of a class")
    array = np.asarray(array)
    if array.dtype == object or array.ndim not in (2, 3):
        raise InputError(f"not an image (array of shape {array.shape})")
    if array.ndim == 3 and array.shape[2] not in (1, 3, 4):
        raise InputError(f"images need 1, 3 or 4 channels, got {array.shape[2]}")
    height, width = array.shape[:2]
    if min(height, width) < MIN_INPUT_SIDE:
        raise InputError(f"image too small ({width}x{height}): at least {MIN_INPUT_SIDE}x{MIN_INPUT_SIDE} pixels")
    if height * width > MAX_INPUT_PIXELS:
        raise InputError(f"image too large ({width}x{height}): at most {MAX_INPUT_PIXELS // 1_000_000} megapixels")
    image = torch.from_numpy(array.astype(np.float32))
    if array.dtype == np.uint8 or image.max() > 1.0:
        image = image / 255.0
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[2] == 4:  # composite RGBA over white, as a viewer would show it
        alpha = image[..., 3:]
        image = image[..., :3] * alpha + (1 - alpha)
    if image.shape[2] == 1:
        image = image.repeat(1, 1, 3)
    image = image.permute(2, 0, 1)[None]
    if height >= size and width >= size:
        # Box filter: a 4x nearest-neighbour upscale (as the app displays images) comes back exactly.
        image = F.interpolate(image, size=(size, size), mode="area")
    else:
        image = F.interpolate(image, size=(size, size), mode="bilinear", align_corners=False)
    return image[0].clamp(0, 1)


def check_attack_settings(name: str, eps_255: float, steps: int) -> AttackSpec:
    if name not in ("fgsm", "pgd", "cw", "apgd", "autoattack"):
        raise InputError(f"unknown attack {name!r}")
    if not 0 <= eps_255 <= MAX_EPS_255:
        raise InputError(f"eps must be between 0 and {MAX_EPS_255}/255, got {eps_255}/255")
    if not 1 <= int(steps) <= MAX_STEPS:
        raise InputError(f"steps must be between 1 and {MAX_STEPS}, got {steps}")
    return AttackSpec(name, eps=eps_255 / 255, steps=int(steps))


@dataclass
class AnchorSpace:
    """Where the clean and the adversarial image land among the class anchors: cosine to every anchor, and
    2-D coordinates from a PCA of this class list's anchors (new points are projected on the same axes)."""

    names: list[str]
    cos_clean: list[float]
    cos_adversarial: list[float]
    anchors_2d: np.ndarray  # (classes, 2)
    clean_2d: np.ndarray  # (2,)
    adversarial_2d: np.ndarray


def anchor_space(
    head: nn.Module, clean: torch.Tensor, adversarial: torch.Tensor, names: list[str]
) -> AnchorSpace | None:
    """None for heads without anchors (the linear baseline)."""
    anchors = getattr(head, "anchors", None)
    if anchors is None or not hasattr(head, "features") or anchors.shape[0] != len(names):
        return None
    with torch.no_grad():
        features = F.normalize(head.features(torch.stack([clean, adversarial])).double(), dim=1)
    unit = F.normalize(anchors.double(), dim=1)
    cosines = features @ unit.T
    centre = unit.mean(0)
    _, _, vh = torch.linalg.svd(unit - centre, full_matrices=False)
    axes = vh[:2].T if vh.shape[0] >= 2 else torch.eye(unit.shape[1], 2, dtype=unit.dtype)
    points = (features - centre) @ axes
    return AnchorSpace(
        list(names),
        cosines[0].tolist(),
        cosines[1].tolist(),
        ((unit - centre) @ axes).numpy(),
        points[0].numpy(),
        points[1].numpy(),
    )


@dataclass
class AttackOutcome:
    model_label: str
    spec: str
    clean: torch.Tensor  # (3, H, W)
    adversarial: torch.Tensor
    clean_probs: dict[str, float]  # top-k, class name -> probability
    adversarial_probs: dict[str, float]
    clean_prediction: str
    adversarial_prediction: str
    label: str
    flipped: bool
    linf: float
    seconds: float
    note: str = ""
    space: AnchorSpace | None = None

    @property
    def result(self) -> str:
        """What happened, in words: the attack cannot flip an answer that was already wrong."""
        if self.clean_prediction != self.label:
            return f"already misclassified before the attack (clean answer {self.clean_prediction}, label {self.label})"
        if self.adversarial_prediction != self.label:
            return f"prediction flipped to {self.adversarial_prediction}"
        return "prediction held: no flip found within the eps budget"

    def perturbation_image(self) -> torch.Tensor:
        """The perturbation scaled to fill [0, 1] around grey, so it is visible."""
        delta = self.adversarial - self.clean
        scale = float(delta.abs().max())
        return (0.5 + 0.5 * delta / scale).clamp(0, 1) if scale > 0 else torch.full_like(delta, 0.5)


def _top_k(probs: torch.Tensor, names: list[str], k: int) -> dict[str, float]:
    values, indices = probs.topk(min(k, len(names)))
    return {names[int(i)]: float(v) for v, i in zip(values, indices, strict=True)}


def attack_image(
    trained: Classifier,
    model_label: str,
    image: torch.Tensor,
    names: list[str],
    spec: AttackSpec,
    true_class: str | None = None,
    top_k: int = 5,
    time_limit_s: float = 60.0,
    watch: AttackWatch | None = None,
) -> AttackOutcome:
    """Untargeted attack on one image; the label is the true class if known, else the clean prediction."""
    model = trained.head_for(names)
    x = image[None]
    with torch.no_grad():
        clean_probs = model(x).softmax(1)[0]
    clean_index = int(clean_probs.argmax())
    if true_class is not None and true_class not in names:
        raise InputError(f"the true class {true_class!r} is not in the class list")
    label = names.index(true_class) if true_class else clean_index
    start = time.perf_counter()
    torch.manual_seed(spec.seed)
    if spec.name == "autoattack":
        adversarial, note = _autoattack_with_deadline(
            model, x, torch.tensor([label]), spec, len(names), time_limit_s, watch
        )
    else:
        adversarial, note = make_attack(model, spec, len(names))(x, torch.tensor([label])), ""
    seconds = time.perf_counter() - start
    with torch.no_grad():
        adversarial_probs = model(adversarial).softmax(1)[0]
    adversarial_index = int(adversarial_probs.argmax())
    return AttackOutcome(
        model_label,
        spec.describe(),
        image,
        adversarial[0].detach(),
        _top_k(clean_probs, names, top_k),
        _top_k(adversarial_probs, names, top_k),
        names[clean_index],
        names[adversarial_index],
        names[label],
        adversarial_index != clean_index,
        float((adversarial[0].detach() - image).abs().max()),
        seconds,
        note,
        anchor_space(model, image, adversarial[0].detach(), names),
    )


class AttackTimeout(RuntimeError):
    """Raised inside the model's forward pass once an attack's time is up."""


class AttackStopped(RuntimeError):
    """Raised inside the model's forward pass once the caller asked the attack to stop."""


@dataclass
class AttackWatch:
    """How a caller follows and stops a long attack: `should_stop` is asked at every forward pass (a Stop
    button, a closed browser tab), `on_progress(component, seconds so far)` is told at most every
    `every_s` seconds."""

    should_stop: Callable[[], bool] = lambda: False
    on_progress: Callable[[str, float], None] = lambda component, seconds: None
    every_s: float = 0.5


class _Deadline(nn.Module):
    """The model, with a clock: every forward pass first checks the time and the caller's stop request, so a
    time limit and a Stop hold inside an attack component (thousands of passes), not only between components."""

    def __init__(self, model: nn.Module, deadline: float, watch: AttackWatch | None = None) -> None:
        super().__init__()
        self.model, self.deadline, self.watch = model, deadline, watch or AttackWatch()
        self.component, self.started, self.reported = "", time.perf_counter(), 0.0
        self.train(model.training)  # as AnchorHead: never switch the shared model to train mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        now = time.perf_counter()
        if now > self.deadline:
            raise AttackTimeout
        if self.watch.should_stop():
            raise AttackStopped
        if now - self.reported >= self.watch.every_s:
            self.reported = now
            self.watch.on_progress(self.component, now - self.started)
        return self.model(x)


def _autoattack_with_deadline(
    model, x, y, spec: AttackSpec, n_classes: int, time_limit_s: float, watch: AttackWatch | None = None
):
    """Run AutoAttack's components in order, stopping at the first success, when time runs out or when the
    caller asks (both checked at every forward pass)."""
    timed = _Deadline(model, time.perf_counter() + time_limit_s, watch)
    attack = make_attack(timed, spec, n_classes)
    plan = autoattack_plan(n_classes)
    adversarial = x
    for name, component in zip(plan.components, attack.attacks, strict=True):
        timed.component = name
        try:
            adversarial = component(x, y)
        except AttackTimeout:
            return x, (
                f"time limit of {time_limit_s:g} s reached during {name}: no flip found so far, which is a lower "
                "bound on the attack's strength, not a robustness result"
            )
        except AttackStopped:
            return x, f"stopped during {name}: no result (a stopped attack says nothing about robustness)"
        with torch.no_grad():
            if int(model(adversarial).argmax(1)) != int(y):
                return adversarial, f"broken by {name}"
    return adversarial, "survived every AutoAttack component"


def smallest_flipping_eps(
    trained: Classifier, image: torch.Tensor, names: list[str], label: int, steps: int = 10, max_eps_255: int = 32
) -> int | None:
    """The smallest eps (in 1/255, scanned upwards) at which PGD-`steps` flips the model's answer on this image;
    None if even `max_eps_255` does not. 0 means the clean answer is already wrong."""
    model = trained.head_for(names)
    x, y = image[None], torch.tensor([label])
    with torch.no_grad():
        if int(model(x).argmax(1)) != label:
            return 0
    for eps_255 in range(1, max_eps_255 + 1):
        torch.manual_seed(0)
        adversarial = make_attack(model, AttackSpec("pgd", eps_255 / 255, steps), len(names))(x, y)
        with torch.no_grad():
            if int(model(adversarial).argmax(1)) != label:
                return eps_255
    return None


def pgd_trajectory(
    trained: Classifier, image: torch.Tensor, names: list[str], label: int, spec: AttackSpec
) -> list[dict]:
    """PGD step by step: for k = 0..steps, the image after k steps (each a k-step torchattacks PGD with the
    same random start and step size, so step k extends step k-1), its probabilities and its loss."""
    model = trained.head_for(names)
    x, y = image[None], torch.tensor([label])
    frames = []
    for k in range(spec.steps + 1):
        torch.manual_seed(spec.seed)
        attack = make_attack(
            model, AttackSpec("pgd", spec.eps, max(k, 1), alpha=spec.step_size, seed=spec.seed), len(names)
        )
        current = x if k == 0 else attack(x, y)
        with torch.no_grad():
            logits = model(current)
        frames.append(
            {
                "step": k,
                "image": current[0].detach(),
                "probs": _top_k(logits.softmax(1)[0], names, 5),
                "loss": float(F.cross_entropy(logits, y)),
                "prediction": names[int(logits.argmax(1))],
            }
        )
    return frames
