"""Which epoch's model to keep: the clean protocol selects on validation classes, never on test classes.

After each epoch the model is scored zero-shot (a model without anchors, e.g. AQ: 1-shot) on a few fixed 5-way
episodes of held-out classes under PGD-20 (the official code does this on its *test* classes). `select_on`:

- ``last``: keep the last epoch (the generated shapes have no validation classes);
- ``val``: the validation classes (CIFAR-FS: its 16; an image folder: <root>/val) — the clean protocol;
- ``test``: the novel test classes — the official code's behaviour, reproducible but optimistic, and labelled
  so in the checkpoint and in every result printed from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from laat_core.attacks import AttackSpec

SELECT_CHOICES = ("last", "val", "test")
SELECT_EPISODES = 20  # fixed 5-way episodes, 20 queries per class, scored after every epoch
SELECT_SEED = 0
SPLIT_OF = {"val": "val", "test": "novel"}
LABELS = {
    "last": "the last epoch",
    "val": "best PGD-20 on the validation classes (clean protocol)",
    "test": "best PGD-20 on the TEST classes (the official code's behaviour): results from it are optimistic",
}


@dataclass
class Selector:
    """Scores each epoch on fixed episodes of the chosen classes and remembers the best."""

    on: str
    images: object  # tensor or dataset of the selection classes' images
    labels: object
    names: list[str]
    eps: float
    episodes: int = SELECT_EPISODES
    shots: int = 0  # 0: zero-shot against anchors; 1: models without anchors (AQ, linear heads), 1-shot
    best_score: float = -1.0
    best_epoch: int = 0

    def score(self, trained) -> float:
        """Fixed episodes under PGD-20. The attack seeds torch's generator; that state is restored afterwards, so
        selecting does not change the training run it watches."""
        import torch

        from laat_core.device import device_of

        device = device_of(trained.model)
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            return self._score(trained)

    def _score(self, trained) -> float:
        from laat_core.evaluation import evaluate_episodes

        model, anchors = trained.for_episodes(self.names, self.shots)
        result = evaluate_episodes(
            model,
            self.images,
            self.labels,
            anchors,
            AttackSpec("pgd", self.eps, 20, seed=SELECT_SEED),
            self.on,
            self.episodes,
            shots=self.shots,
            seed=SELECT_SEED,
        )
        return result.accuracy

    def update(self, trained, epoch: int) -> bool:
        """Score this epoch; True when it is the best so far (ties keep the earlier epoch)."""
        score = self.score(trained)
        if score > self.best_score:
            self.best_score, self.best_epoch = score, epoch
            return True
        return False

    def record(self) -> dict:
        return {
            "on": self.on,
            "label": LABELS[self.on],
            "epoch": self.best_epoch,
            "score": self.best_score,
            "attack": f"PGD-20 eps={self.eps * 255:g}/255",
            "episodes": self.episodes,
            "shots": self.shots,
            "classes": len(self.names),
        }


def make_selector(
    on: str,
    source,
    eps: float,
    n_per_class: int | None,
    seed: int,
    transform=None,
    episodes: int = SELECT_EPISODES,
    shots: int = 0,
) -> Selector | None:
    """The selector for `on` over a data source (None for `last`), with a clear error where the data set has no
    such classes."""
    if on not in SELECT_CHOICES:
        raise ValueError(f"unknown selection {on!r}: use one of {', '.join(SELECT_CHOICES)}")
    if on == "last":
        return None
    split = SPLIT_OF[on]
    names = source.class_names().get(split)
    if not names:
        raise ValueError(
            f"--select-on {on} needs {split} classes, and {source.spec} has none "
            "(CIFAR-FS has 16; an image folder needs <root>/val); use --select-on last"
        )
    from laat_core.data.augment import Transformed
    from laat_core.data.sources import labels_of

    dataset = source.images(split, n_per_class, seed)
    images = dataset.tensors[0] if hasattr(dataset, "tensors") else dataset
    if transform is not None:  # the test-time transform of the training recipe (e.g. an 80x80 centre crop)
        images = Transformed(dataset, transform)
    return Selector(on, images, labels_of(dataset), names, eps, episodes, shots)
