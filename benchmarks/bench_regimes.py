"""The anchor regimes: every candidate prompt's statistics over the 64 shapes classes, and the rule's choice.

python benchmarks/bench_regimes.py
"""

from __future__ import annotations

from laat_core.data.shapes import class_names
from laat_core.regimes import CLIP_LIKE_MIN_MEAN, REGIMES, official_clip_stats, select_clip_like_template


def main() -> None:
    target_mean, target_max = official_clip_stats()
    chosen, rows = select_clip_like_template(class_names())
    print(
        f"official CLIP anchors of CIFAR-FS: mean {target_mean:.3f}, max {target_max:.3f}; eligible: mean >= {CLIP_LIKE_MIN_MEAN}\n"
    )
    print("| candidate template | mean | max | eligible | distance to CLIP (mean, max) |\n|---|---|---|---|---|")
    for row in rows:
        mark = " (chosen)" if row["template"] == chosen else ""
        print(
            f"| `{row['template']}`{mark} | {row['mean']:.3f} | {row['max']:.3f} | {row['eligible']} | {row['distance']:.3f} |"
        )
    print(f"\nREGIMES: {', '.join(f'{r.name} = {r.templates}' for r in REGIMES.values())}")


if __name__ == "__main__":
    main()
