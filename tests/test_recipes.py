"""Recipes, model selection and the lr schedule (issue 10), on small files in the real formats."""

from __future__ import annotations

import json

import pytest

from laat_core.cli import main
from laat_core.recipes import RECIPES
from laat_core.training import LR_SCHEDULES, TrainConfig


def test_recipes_are_valid_train_configs_and_name_their_data():
    for recipe in RECIPES.values():
        config = TrainConfig(**recipe.settings)
        assert config.select_on == "val" and config.lr_schedule == "official" and config.attack_steps == 7
        assert recipe.data_kind in ("cifar-fs", "imagefolder")


def test_official_schedule_drops_tenfold_at_epoch_60_and_cosine_decays():
    official = LR_SCHEDULES["official"](100, 10, 0)
    assert official(599) == 1.0 and official(600) == 0.1 and official(999) == 0.1
    cosine = LR_SCHEDULES["cosine"](10, 10, 0)
    assert cosine(0) == 1.0 and cosine(50) == pytest.approx(0.5) and cosine(100) == pytest.approx(0.0)


def test_a_recipe_needs_its_data_and_prints_what_it_sets(tmp_path, capsys):
    assert main(["train", "--recipe", "official-cifarfs", "--epochs", "1"]) == 2
    assert "is for --data cifar-fs:<folder>" in capsys.readouterr().err


def _cifar_fs(root, n_per_class: int = 12):
    """A tiny CIFAR-100 in torchvision's pickle format, with the real class names, so CIFAR-FS finds its 64 base,
    16 validation and 20 novel classes (n_per_class images in each of the train and test batches)."""
    import pickle

    import numpy as np

    from laat_core.data.real import cifar_fs_split

    split = cifar_fs_split()
    names = sorted(split["base"] + split["val"] + split["novel"])
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    with open(folder / "meta", "wb") as handle:
        pickle.dump({"fine_label_names": names, "coarse_label_names": ["x"] * 20}, handle)
    rng = np.random.default_rng(0)
    for part in ("train", "test"):
        labels = [c for c in range(100) for _ in range(n_per_class)]
        data = rng.integers(0, 255, (len(labels), 3072), dtype=np.uint8)
        with open(folder / part, "wb") as handle:
            pickle.dump({"data": data, "fine_labels": labels, "coarse_labels": [0] * len(labels)}, handle)


def test_cifarfs_recipe_selects_on_val_classes_and_eval_labels_a_test_selection(tmp_path, capsys):
    """The official CIFAR-FS recipe on CIFAR pickle batches written here, its budget cut down by flags."""
    _cifar_fs(tmp_path / "cifar")
    data = f"cifar-fs:{tmp_path / 'cifar'}"
    out = tmp_path / "m.safetensors"
    tiny = ["--epochs", "2", "--batch-size", "64", "--backbone", "conv4", "--steps", "1", "--select-episodes", "2",
            "--out", str(out)]  # fmt: skip
    assert main(["train", "--recipe", "official-cifarfs", "--data", data, *tiny]) == 0
    printed = capsys.readouterr().out
    assert "recipe official-cifarfs" in printed and "select_on = val" in printed and "augment = cifar-fs" in printed
    assert "your flags kept: attack_steps, backbone, batch_size, epochs" in printed
    best = tmp_path / "m-best.safetensors"
    assert best.exists() and "selected: epoch" in printed
    from laat_core.checkpoint import read_metadata

    selection = read_metadata(best)["selection"]
    assert selection["on"] == "val" and selection["classes"] == 16 and 0 <= selection["score"] <= 1
    assert selection["epoch"] in (1, 2) and read_metadata(best)["data"]["augment"] == "cifar-fs"
    assert read_metadata(out)["training"]["lr_schedule"] == "official"
    # the official code's behaviour, test-class selection, is labelled in every result printed from it
    from laat_core.selection import LABELS
    from laat_core.trained import load_trained, save_trained

    chosen_on_test = load_trained(best)
    chosen_on_test.metadata["selection"].update(on="test", label=LABELS["test"])
    save_trained(tmp_path / "t-best.safetensors", chosen_on_test)
    args = ["eval", str(tmp_path / "t-best.safetensors"), "--data", data, "--full", "--attack", "fgsm"]
    assert main([*args, "--no-sanity", "--n-per-class", "4"]) == 0
    assert "WARNING: model: best PGD-20 on the TEST classes" in capsys.readouterr().out
    assert main([*args, "--no-sanity", "--n-per-class", "4", "--json"]) == 0
    assert "TEST classes" in json.loads(capsys.readouterr().out.splitlines()[-1])["selection"]


def test_selecting_on_val_classes_that_the_data_set_lacks_is_refused(capsys):
    assert main(["train", "--select-on", "val", "--epochs", "1", "--n-per-class", "3"]) == 2
    assert "needs val classes" in capsys.readouterr().err


def test_official_protocol_prints_the_paper_table(capsys):
    """clean / FGSM / PGD-20 / CW-30 / AutoAttack on the same 5-way episodes (capped to 1 here: the default is
    2000, and 100 for AutoAttack), with the gradient-masking checks."""
    from laat_core.protocol import OFFICIAL_ROWS

    model = "assets/models/shapes-standard.safetensors"
    assert main(["eval", model, "--protocol", "official", "--episodes", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.splitlines()[-1])
    rows = report["rows"]
    assert (
        [r["attack"] for r in rows]
        == [row.attack for row in OFFICIAL_ROWS]
        == ["none", "fgsm", "pgd", "cw", "autoattack"]
    )
    assert all(r["n"] == 100 and r["n_classes"] == 5 for r in rows) and "warnings" in report
    accuracy = [r["accuracy"] for r in rows]
    assert accuracy[0] >= accuracy[2] >= accuracy[4]  # the standard model falls to every attack


def test_abbreviated_flags_are_refused_so_a_recipe_cannot_override_them(capsys):
    """`--epoch 10` used to parse as --epochs but was invisible to the recipe, which then replaced it."""
    with pytest.raises(SystemExit):
        main(["train", "--recipe", "official-cifarfs", "--epoch", "1"])
    assert "unrecognized arguments: --epoch" in capsys.readouterr().err


def test_a_resumed_run_remembers_its_best_epoch(tmp_path):
    from laat_core.training import train

    tiny = dict(n_per_class=3, val_per_class=2, val_pgd_images=16, batch_size=48, attack_steps=1, select_on="test",
                select_episodes=1)  # fmt: skip
    out = tmp_path / "m.safetensors"
    first = train(TrainConfig(method="laat", epochs=1, **tiny), out=out, progress=False)
    resumed = train(TrainConfig(method="laat", epochs=2, **tiny), out=out, resume=out, progress=False)
    assert resumed.metadata["selection"]["score"] >= first.metadata["selection"]["score"]
    with pytest.raises(ValueError, match="another select_on"):
        train(TrainConfig(method="laat", epochs=3, **{**tiny, "select_on": "last"}), resume=out, progress=False)
