"""What a training method is: one registered object with its loss, training attack, anchors and heads.

Each method lives in its own module (as torchattacks keeps one attack per file) and the package's
`__all__` is the registry that the CLI, the app, the benchmarks and the tests read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

# loss(model, x, x_adv, y, beta, bn_mode) -> {"loss": scalar to minimise, other parts: detached scalars}.
# An episodic method's loss gets one episode instead: x the clean support images, x_adv the attacked queries and
# y their episode labels, support labels then query labels (laat_core.data.episodes).
LossFn = Callable[[nn.Module, torch.Tensor, torch.Tensor | None, torch.Tensor, float, str], dict]

TRAINING_ATTACKS = ("none", "pgd", "trades-kl")  # pgd: PGD-k, or FGSM-RS with --fast; trades-kl: TPGD


@dataclass(frozen=True)
class Method:
    name: str
    summary: str  # one line, shown in --help and in the app
    loss: LossFn
    attack: str = "pgd"  # one of TRAINING_ATTACKS
    anchors: str = "expansion"  # de-correlation of the class anchors (laat_core.decorrelation.METHODS)
    heads: tuple[str, ...] = ("cosine",)  # heads it can train: cosine (fixed anchors), linear, prototype
    uses_beta: bool = False  # whether TrainConfig.beta weighs a term of its loss
    # Trained on few-shot episodes (laat_core.data.episodes): the loop attacks each episode's queries against the
    # prototypes of its clean supports, and the model has no class anchors (no zero-shot; shots >= 1 only).
    episodic: bool = False

    def __post_init__(self) -> None:
        if self.attack not in TRAINING_ATTACKS:
            raise ValueError(f"{self.name}: unknown training attack {self.attack!r}")
        if self.episodic != (self.heads == ("prototype",)):
            raise ValueError(f"{self.name}: episodic methods, and only they, train the prototype head")

    @property
    def adversarial(self) -> bool:
        return self.attack != "none"
