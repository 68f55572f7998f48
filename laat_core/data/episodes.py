"""Episodes for episodic training: a DataLoader batch sampler whose every batch is one few-shot task.

A batch holds `ways` random classes' images in a fixed layout: first `shots` support images per class, then
`queries` query images per class, both class-major. The loop then knows which image is which from the layout
alone (episode_labels), whatever dataset (in memory, CIFAR files, an image folder) the indices point into.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


def episode_labels(ways: int, shots: int, queries: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(support labels, query labels) of an episode batch: classes 0..ways-1 in layout order."""
    return torch.arange(ways).repeat_interleave(shots), torch.arange(ways).repeat_interleave(queries)


class EpisodeSampler(Sampler[list[int]]):
    """`episodes` batches of dataset indices per epoch, each a ways-way task (module docstring for the layout).

    Deterministic per (seed, epoch): set_epoch() picks the epoch, so a resumed run draws the episodes it would
    have drawn. Distributed ranks pass different seeds (each its own episodes, as DistributedSampler gives each
    its own shard).
    """

    def __init__(self, labels: torch.Tensor, ways: int, shots: int, queries: int, episodes: int, seed: int) -> None:
        if min(ways, shots, queries) < 1:
            raise ValueError("an episode needs at least 1 way, 1 shot and 1 query")
        labels = torch.as_tensor(labels)
        per_class = [torch.nonzero(labels == c).flatten() for c in labels.unique()]
        self.members = [m for m in per_class if len(m) >= shots + queries]
        if len(self.members) < ways:
            raise ValueError(
                f"{ways}-way episodes of {shots} shots + {queries} queries need {ways} classes with "
                f"{shots + queries} images each; only {len(self.members)} have that many"
            )
        if episodes < 1:
            raise ValueError(f"{len(labels)} training images make no full episode of {ways * (shots + queries)}")
        self.ways, self.shots, self.queries, self.episodes, self.seed = ways, shots, queries, episodes, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.episodes

    def __iter__(self) -> Iterator[list[int]]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        for _ in range(self.episodes):
            classes = torch.randperm(len(self.members), generator=generator)[: self.ways]
            picks = []
            for c in classes.tolist():
                members = self.members[c]
                picks.append(members[torch.randperm(len(members), generator=generator)[: self.shots + self.queries]])
            support = [int(i) for p in picks for i in p[: self.shots]]
            query = [int(i) for p in picks for i in p[self.shots :]]
            yield support + query
