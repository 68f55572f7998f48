"""Why do some novel shapes classes fail for every adversarially trained model? Two measurements:

1. Text side: are the anchors compositional? For each novel class (c, s), predict its anchor from base
   anchors only, a(c, s') + a(c', s) - a(c', s') averaged over base triples, and check that the prediction's
   nearest novel anchor is the right one. If so, the text anchors are not the cause.
2. Image side: can a model tell apart the two novel shapes of one colour when it has seen both shapes in
   other colours? Binary accuracy (clean / PGD-10 8/255) between those shape pairs on *base* colours where
   both are base classes, versus the novel colour where neither was seen.

    python benchmarks/diagnose_novel_failures.py --models assets/models/shapes-anchor-at.safetensors,assets/models/shapes-laat.safetensors
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from laat_core.anchors import encode_anchors
from laat_core.attacks import AttackSpec
from laat_core.data import shapes
from laat_core.evaluation import predict_adversarial
from laat_core.regimes import REGIMES
from laat_core.trained import load_trained


def text_compositionality(regime: str) -> None:
    base, novel = shapes.default_split()
    names = base + novel
    index = {n: i for i, n in enumerate(names)}
    raw = F.normalize(encode_anchors("minilm", names, REGIMES[regime].templates), dim=1)
    novel_anchors = raw[[index[n] for n in novel]]
    hits = 0
    for j, name in enumerate(novel):
        colour, shape = name.split()
        predictions = [
            raw[index[f"{colour} {s2}"]] + raw[index[f"{c2} {shape}"]] - raw[index[f"{c2} {s2}"]]
            for s2 in shapes.SHAPES
            for c2 in shapes.COLOURS
            if all(t in base for t in (f"{colour} {s2}", f"{c2} {shape}", f"{c2} {s2}"))
        ]
        predicted = F.normalize(torch.stack(predictions).mean(0), dim=0)
        hits += int((novel_anchors @ predicted).argmax()) == j
    print(f"{regime}: the base-only analogy finds the right novel anchor for {hits}/{len(novel)} novel classes")


def same_colour_pairs() -> list[tuple[str, str, str]]:
    """(colour, shape a, shape b): the two novel shapes of each colour."""
    _, novel = shapes.default_split()
    by_colour: dict[str, list[str]] = {}
    for name in novel:
        colour, shape = name.split()
        by_colour.setdefault(colour, []).append(shape)
    return [(colour, *pair) for colour, pair in by_colour.items()]


def binary_accuracy(trained, colours: list[str], a: str, b: str, n: int = 20) -> tuple[float, float]:
    clean, robust = [], []
    for colour in colours:
        names = [f"{colour} {a}", f"{colour} {b}"]
        x, y = shapes.make_split(names, n, seed=99).tensors
        head = trained.head_for(names)
        with torch.no_grad():
            clean.append(float((head(x).argmax(1) == y).float().mean()))
        robust.append(float((predict_adversarial(head, x, y, AttackSpec("pgd", 8 / 255, 10), 2) == y).float().mean()))
    return sum(clean) / len(clean), sum(robust) / len(robust)


def image_side(path: str) -> None:
    trained = load_trained(path)
    base, _ = shapes.default_split()
    print(f"\n{path}: binary accuracy clean / PGD-10, same-colour novel pairs\n")
    print(
        "| novel colour | shapes | in base colours (both seen) | in the novel colour (neither seen) |\n|---|---|---|---|"
    )
    for colour, a, b in same_colour_pairs():
        seen = [c for c in shapes.COLOURS if f"{c} {a}" in base and f"{c} {b}" in base]
        in_base = binary_accuracy(trained, seen, a, b)
        in_novel = binary_accuracy(trained, [colour], a, b)
        print(
            f"| {colour} | {a} / {b} | {in_base[0]:.2f} / {in_base[1]:.2f} ({len(seen)} colours) | {in_novel[0]:.2f} / {in_novel[1]:.2f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--models", default="assets/models/shapes-anchor-at.safetensors,assets/models/shapes-laat.safetensors"
    )
    args = parser.parse_args()
    for regime in REGIMES:
        text_compositionality(regime)
    for path in args.models.split(","):
        image_side(path)


if __name__ == "__main__":
    main()
