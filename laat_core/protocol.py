"""The paper's evaluation protocol, in the library (the CLI only prints it): zero-shot 5-way episodes with 20
queries per class on the novel classes (or few-shot: prototypes from clean support images), clean / FGSM / PGD-20 /
CW-30 / AutoAttack at one eps, each a mean with its 95% interval over episodes (2,000 episodes, 100 for
AutoAttack, as the official code).

The same episodes (seed) for every attack, so the rows are comparable, and the gradient-masking order
clean >= FGSM >= PGD-20 >= AutoAttack is checked on the result.
"""

from __future__ import annotations

from dataclasses import dataclass

from laat_core.attacks import AttackSpec
from laat_core.evaluation import EvalResult, evaluate_episodes, sanity_warnings


@dataclass(frozen=True)
class ProtocolRow:
    attack: str
    steps: int
    episodes: int


LARGE_EPS = 64 / 255  # the "accuracy goes to 0 as eps grows" check
OFFICIAL_EPISODES = 2000
OFFICIAL_AUTOATTACK_EPISODES = 100
OFFICIAL_ROWS = (
    ProtocolRow("none", 1, OFFICIAL_EPISODES),
    ProtocolRow("fgsm", 1, OFFICIAL_EPISODES),
    ProtocolRow("pgd", 20, OFFICIAL_EPISODES),
    ProtocolRow("cw", 30, OFFICIAL_EPISODES),
    ProtocolRow("autoattack", 1, OFFICIAL_AUTOATTACK_EPISODES),
)


def run_official(
    trained,
    images,
    labels,
    split: str = "novel",
    eps: float = 8 / 255,
    episodes: int | None = None,
    seed: int = 0,
    progress: bool = False,
    shots: int = 0,
    rows: tuple[ProtocolRow, ...] = OFFICIAL_ROWS,
) -> tuple[list[EvalResult], list[str]]:
    """Every row of the protocol (or the `rows` given, which must include clean, FGSM and PGD-20) on the split's
    images; `episodes` caps the episode count (a quick run says so in each result's protocol). shots 0: zero-shot
    against the anchors; shots >= 1: prototypes from clean support images (any model with a backbone, AQ
    included). Returns the results and the gradient-masking warnings."""
    names = trained.names_for(split)
    head, anchors = trained.for_episodes(names, shots)
    results = []
    for row in rows:
        count = row.episodes if episodes is None else min(row.episodes, episodes)
        spec = AttackSpec(row.attack, eps, row.steps, seed=seed)
        results.append(
            evaluate_episodes(
                head, images, labels, anchors, spec, split, count, shots=shots, seed=seed, progress=progress
            )
        )
    by_attack = {r.attack: r for r in results}
    # clean >= FGSM >= PGD-20 on the same episodes; AutoAttack saw only the first of them, so it is held to
    # PGD-20 within its own interval; and PGD-20 at a large eps must bring accuracy near 0.
    large = evaluate_episodes(
        head, images, labels, anchors, AttackSpec("pgd", LARGE_EPS, 20, seed=seed), split, min(20, episodes or 20),
        shots=shots, seed=seed,
    )  # fmt: skip
    warnings = sanity_warnings({k: by_attack[k].accuracy for k in ("none", "fgsm", "pgd")}, large.accuracy, 1 / 5)
    aa, pgd = by_attack.get("autoattack"), by_attack["pgd"]
    if aa is not None and aa.accuracy > pgd.accuracy + aa.ci95:
        warnings.append(f"possible gradient masking: AutoAttack {aa.accuracy:.3f} > PGD-20 {pgd.accuracy:.3f}")
    return results, warnings


def table(results: list[EvalResult]) -> str:
    """The paper-style table: one row per attack, accuracy in % with its 95% interval."""
    lines = ["| attack | accuracy (%) | 95% interval | episodes |", "|---|---|---|---|"]
    for r in results:
        episodes = r.protocol.split(" episodes")[0]
        lines.append(f"| {r.attack_spec} | {100 * r.accuracy:.2f} | ± {100 * r.ci95:.2f} | {episodes} |")
    return "\n".join(lines)


def comparison_table(named: list[tuple[str, list[EvalResult]]]) -> str:
    """One row per model (label, its results on the same rows of the protocol): accuracy in % ± its 95% interval
    per attack, each column naming its attack and eps, and the episode protocol of the row."""
    attacks = [r.attack_spec for r in named[0][1]]
    lines = [
        "| model | protocol | " + " | ".join(f"{a} (%)" for a in attacks) + " |",
        "|---|---|" + "---|" * len(attacks),
    ]
    for label, results in named:
        if [r.attack_spec for r in results] != attacks:
            raise ValueError(f"{label}: its results are not on the same attacks as the first model's")
        cells = " | ".join(f"{100 * r.accuracy:.2f} ± {100 * r.ci95:.2f}" for r in results)
        lines.append(f"| {label} | {results[0].protocol} | {cells} |")
    return "\n".join(lines)
