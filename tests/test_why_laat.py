"""The "Why LAAT" explanation follows the numbers it is given, whichever way they point."""

from __future__ import annotations

import pytest

from laat_core.why_laat import explanation, row_results


def _summary(per_seed: list[float]) -> dict:
    import statistics

    mean = statistics.mean(per_seed)
    half = 4.303 * statistics.stdev(per_seed) / len(per_seed) ** 0.5  # t(0.975, 2) for 3 seeds
    rows = {
        name: {"novel|pgd": {"mean": value, "sd": 0.01, "n_seeds": 3}}
        for name, value in (
            ("standard", 0.05),
            ("anchor-at", 0.50),
            ("anchor-at-expansion", 0.52),
            ("laat", 0.5 + mean),
        )
    }
    paired = {"novel|pgd": {"mean": mean, "ci95_over_seeds": half, "seeds": 3, "per_seed": per_seed}}
    return {
        "budget": {"epochs": 8, "n_per_class": 150, "fast": True},
        "regimes": {"mild": {"rows": rows, "paired": paired}, "clip-like": {"rows": rows, "paired": paired}},
    }


@pytest.mark.parametrize(
    "per_seed, verdict",
    [
        ([0.05, 0.06, 0.04], "LAAT is better"),
        ([-0.05, -0.06, -0.04], "LAAT is worse"),
        ([0.05, -0.04, 0.01], "no difference we can distinguish from seed noise"),
    ],
)
def test_the_verdict_is_written_from_the_paired_interval(per_seed, verdict):
    text = explanation(_summary(per_seed))
    assert verdict in text
    assert "8 epochs, 150 images per base class, fast AT" in text


def test_rows_carry_an_interval_over_seeds_and_a_missing_summary_says_so():
    rows = row_results(_summary([0.01, 0.02, 0.03]))
    assert {r.row for r in rows} == {"standard", "anchor-at", "anchor-at-expansion", "laat"}
    assert all(r.n_seeds == 3 and r.ci95 > 0 for r in rows)
    assert "not been run" in explanation(None)


def test_one_seed_says_there_is_no_interval_and_a_loss_is_not_called_a_gain():
    summary = _summary([-0.02, -0.03, -0.01])
    for content in summary["regimes"].values():
        for values in content["rows"].values():
            values["novel|pgd"]["n_seeds"] = 1
    text = explanation(summary)
    assert "one seed: no interval yet" in text and "intervals overlap" not in text
    assert "gain is" not in text and "is not larger there" in text


def test_each_split_has_its_summary_label_and_the_text_names_the_split():
    from laat_core.why_laat import SPLIT_LABELS, STUDY_SPLIT, SUMMARIES

    assert set(SUMMARIES) == set(SPLIT_LABELS) == set(STUDY_SPLIT) == {"pairs", "fill", "fill-tau0.1"}
    summary = _summary([0.01, 0.02, 0.03])
    summary["split"] = "fill"
    assert "fill split, 8 epochs" in explanation(summary)


def test_a_higher_but_negative_difference_is_not_called_a_gain():
    summary = _summary([0.01, 0.02, 0.03])
    for regime, mean in (("mild", -0.05), ("clip-like", -0.01)):  # each regime its own dict
        summary["regimes"][regime] = {
            **summary["regimes"][regime],
            "paired": {"novel|pgd": {"mean": mean, "ci95_over_seeds": 0.01, "seeds": 3, "per_seed": [mean] * 3}},
        }
    assert "higher there but not a gain" in explanation(summary)
