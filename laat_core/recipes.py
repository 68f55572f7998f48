"""The paper's training recipes as named settings (one registry: RECIPES).

`laat train --recipe official-cifarfs --data cifar-fs:<folder>` sets everything below and prints what it set;
flags given on the command line still win. Values follow the official LAAT code (LixiaoTHU/LAAT): Conv4-512,
PGD-7 with step 2/255 at eps 8/255, SGD lr 0.05, momentum 0.9, weight decay 5e-4, batch 128, 100 epochs, lr
x0.1 at epoch 60, the data set's augmentation. One deliberate difference: the model is selected on the
validation classes (the clean protocol); `--select-on test` reproduces the official code's choice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

_OFFICIAL = {
    "method": "laat",
    "backbone": "conv4-512",
    "attack_steps": 7,
    "attack_alpha": 2 / 255,
    "eps": 8 / 255,
    "fast": False,
    "lr": 0.05,
    "momentum": 0.9,
    "weight_decay": 5e-4,
    "batch_size": 128,
    "epochs": 100,
    "lr_schedule": "official",
    "select_on": "val",
}


@dataclass(frozen=True)
class Recipe:
    name: str
    data_kind: str  # the --data kind it is for
    description: str
    settings: dict = field(default_factory=dict)  # TrainConfig field -> value


RECIPES = {
    "official-cifarfs": Recipe(
        "official-cifarfs",
        "cifar-fs",
        "the paper's CIFAR-FS recipe (32x32, 64 base / 16 val / 20 novel classes)",
        {**_OFFICIAL, "augment": "cifar-fs"},
    ),
    "official-miniimagenet": Recipe(
        "official-miniimagenet",
        "imagefolder",
        "the paper's miniImageNet recipe (84x84 images, 80x80 crops; <root>/base, <root>/val, <root>/novel)",
        {**_OFFICIAL, "augment": "miniimagenet"},
    ),
}


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}: use one of {', '.join(RECIPES)}")
    return RECIPES[name]


def describe(settings: dict) -> str:
    """What a recipe sets, one line per setting (eps and alpha in 1/255)."""

    def shown(key: str, value) -> str:
        return f"{value * 255:g}/255" if key in ("eps", "attack_alpha") else str(value)

    return "\n".join(f"  {key} = {shown(key, value)}" for key, value in settings.items())
