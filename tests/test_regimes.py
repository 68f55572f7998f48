"""Anchor regimes: the rule that picks the clip-like template, and regime selection from the CLI."""

from __future__ import annotations

import json

import pytest

from laat_core.anchors import anchor_stats, encode_anchors
from laat_core.data.shapes import class_names
from laat_core.regimes import CLIP_LIKE_MIN_MEAN, REGIMES, get_regime, official_clip_stats, select_clip_like_template


def test_the_rule_picks_the_shipped_clip_like_template_from_anchor_statistics_alone():
    chosen, rows = select_clip_like_template(class_names())
    assert REGIMES["clip-like"].templates == (chosen,)
    picked = next(r for r in rows if r["template"] == chosen)
    assert picked["mean"] >= CLIP_LIKE_MIN_MEAN
    assert picked["distance"] == min(r["distance"] for r in rows if r["eligible"])


def test_the_rule_refuses_when_no_candidate_is_crowded_enough():
    with pytest.raises(ValueError, match="no candidate"):
        select_clip_like_template(class_names(), candidates=("{}",))


def test_regimes_are_what_their_names_say():
    names = class_names()
    mild = anchor_stats(encode_anchors("minilm", names, REGIMES["mild"].templates), names)
    clip_like = anchor_stats(encode_anchors("minilm", names, REGIMES["clip-like"].templates), names)
    target_mean, _ = official_clip_stats()
    assert mild.mean_offdiag < 0.6 <= CLIP_LIKE_MIN_MEAN <= clip_like.mean_offdiag
    assert abs(clip_like.mean_offdiag - target_mean) < 0.05  # official CLIP CIFAR-FS: 0.759
    with pytest.raises(ValueError, match="unknown anchor regime"):
        get_regime("extreme")


@pytest.mark.parametrize(
    "flags, expected",
    [
        (["--regime", "clip-like"], list(REGIMES["clip-like"].templates)),
        (["--regime", "mild"], list(REGIMES["mild"].templates)),
        (["--prompt", "a {} on grey."], ["a {} on grey."]),
    ],
)
def test_train_cli_selects_the_regime(tmp_path, capsys, flags, expected):
    from laat_core.checkpoint import read_metadata
    from laat_core.cli import main

    out = tmp_path / "m.safetensors"
    argv = ["train", "--method", "anchor-at", "--epochs", "1", "--n-per-class", "2", "--steps", "1"]
    assert main([*argv, "--batch-size", "32", "--out", str(out), *flags]) == 0
    assert read_metadata(out)["templates"] == expected


def test_train_cli_rejects_prompt_and_regime_together(capsys):
    from laat_core.cli import main

    assert main(["train", "--prompt", "a {}.", "--regime", "mild"]) == 2
    assert "either --prompt or --regime" in capsys.readouterr().err
    json.dumps(REGIMES["mild"].__dict__)
