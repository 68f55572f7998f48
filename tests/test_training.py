import json

import pytest
import torch

from laat_core.checkpoint import CheckpointError, read_metadata, save_checkpoint
from laat_core.methods import METHODS
from laat_core.trained import load_trained, save_trained
from laat_core.training import TrainConfig, train

TINY = dict(epochs=1, n_per_class=3, val_per_class=2, val_pgd_images=16, batch_size=48, attack_steps=2)


@pytest.fixture(scope="module")
def laat_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "laat.safetensors"
    train(TrainConfig(method="laat", **TINY), out=path, progress=False)
    return path


@pytest.mark.parametrize("name", list(METHODS))
def test_one_epoch_smoke_training_of_each_registered_method(name):
    method = METHODS[name]
    tiny_episodes = {"episode_shots": 1, "episode_queries": 2} if method.episodic else {}  # 3 images per class
    trained = train(TrainConfig(method=name, **TINY, **tiny_episodes), progress=False)
    log = trained.metadata["log"]
    assert len(log) == 1 and torch.isfinite(torch.tensor(log[0]["loss"]))
    assert (log[0]["train_adv_acc"] is None) == (not method.adversarial)
    assert trained.metadata["training"]["method"] == name
    if method.episodic:  # a prototype model: no text anchors at all (tests/test_aq.py)
        assert trained.class_anchors is None and "decorrelation" not in trained.metadata and not trained.zero_shot
    else:
        assert trained.metadata["decorrelation"]["method"] == method.anchors
        assert torch.allclose(trained.model.anchors, trained.class_anchors[:48])  # the head holds the base anchors
    assert set(log[0]["parts"]) and all(torch.isfinite(torch.tensor(v)) for v in log[0]["parts"].values())


def test_registry_is_the_packages_all_and_every_entry_is_complete():
    import laat_core.methods as registry
    from laat_core.decorrelation import METHODS as DECORRELATIONS
    from laat_core.methods.method import TRAINING_ATTACKS

    assert [registry.__dict__[key].name for key in registry.__all__] == list(METHODS)
    for method in METHODS.values():
        assert method.attack in TRAINING_ATTACKS and method.anchors in DECORRELATIONS
        assert method.summary and set(method.heads) <= {"cosine", "linear", "prototype"}
        assert method.episodic == (method.heads == ("prototype",))
    # the ablation's rows differ in one thing each
    assert METHODS["anchor-at"].anchors == "none" and METHODS["anchor-at-center"].anchors == "center"
    assert METHODS["anchor-at-expansion"].anchors == "expansion" and not METHODS["anchor-at-expansion"].uses_beta


def test_an_unregistered_method_name_is_an_error_not_a_silent_fallback():
    with pytest.raises(ValueError, match="unknown method 'mart'.*anchor-at-center"):
        TrainConfig(method="mart")


@pytest.mark.parametrize("bn_mode", ["joint", "separate"])
def test_both_batchnorm_modes_train(bn_mode):
    trained = train(TrainConfig(method="laat", bn_mode=bn_mode, **TINY), progress=False)
    assert trained.metadata["training"]["bn_mode"] == bn_mode
    assert torch.isfinite(torch.tensor(trained.metadata["log"][0]["loss"]))


def test_batchnorm_modes_differ_only_in_the_batch_statistics():
    from laat_core.losses import clean_and_adversarial
    from laat_core.models import AnchorClassifier

    torch.manual_seed(0)
    model = AnchorClassifier("conv4-wide", torch.randn(5, 16)).train()
    x, x_adv = torch.rand(8, 3, 32, 32), torch.rand(8, 3, 32, 32)
    (joint_clean, _), _ = clean_and_adversarial(model, x, x_adv, "joint")
    (separate_clean, _), _ = clean_and_adversarial(model, x, x_adv, "separate")
    (alone, _) = model(x, return_features=True)
    assert torch.allclose(separate_clean, alone, atol=1e-5)  # separate: the clean batch's own statistics
    assert not torch.allclose(joint_clean, alone, atol=1e-3)  # joint: statistics mixed with x_adv
    model.eval()  # in eval mode (running statistics) the two modes agree
    (joint_eval, _), _ = clean_and_adversarial(model, x, x_adv, "joint")
    (separate_eval, _), _ = clean_and_adversarial(model, x, x_adv, "separate")
    assert torch.allclose(joint_eval, separate_eval, atol=1e-5)
    with pytest.raises(ValueError, match="BatchNorm mode"):
        TrainConfig(bn_mode="mixed")


def test_training_step_size_has_one_source():
    assert TrainConfig(eps=8 / 255, attack_steps=4).attack_alpha == pytest.approx(2.5 * (8 / 255) / 4)
    assert TrainConfig(attack_alpha=1 / 255).attack_alpha == 1 / 255


def test_linear_head_baseline_trains_and_knows_only_its_classes(tmp_path):
    path = tmp_path / "linear.safetensors"
    train(TrainConfig(method="standard", head="linear", **TINY), out=path, progress=False)
    trained = load_trained(path)
    assert not trained.zero_shot and trained.class_anchors is None
    assert trained.head_for(trained.names_for("base"))(torch.rand(2, 3, 32, 32)).shape == (2, 48)
    with pytest.raises(ValueError, match="only classify its training classes"):
        trained.head_for(trained.names_for("novel"))
    with pytest.raises(ValueError, match="needs the cosine head"):
        TrainConfig(method="laat", head="linear")


def test_anchors_are_fixed_buffers_not_parameters():
    trained = train(TrainConfig(method="laat", **TINY), progress=False)
    names = [name for name, _ in trained.model.named_parameters()]
    assert "anchors" not in names and "projection.bias" not in names
    assert torch.allclose(trained.model.anchors, trained.class_anchors[:48])


def test_laat_training_improves_over_initialisation():
    config = TrainConfig(
        method="laat", epochs=2, n_per_class=10, val_per_class=4, val_pgd_images=16, batch_size=64, fast=True
    )
    trained = train(config, progress=False)
    assert trained.metadata["log"][-1]["val_clean_acc"] > 2 / 48  # chance is 1/48


def test_checkpoint_round_trip(laat_checkpoint):
    trained = load_trained(laat_checkpoint)
    meta = trained.metadata
    for key in (
        "model",
        "encoder",
        "templates",
        "class_names",
        "split",
        "decorrelation",
        "training",
        "log",
        "versions",
    ):
        assert key in meta
    assert meta["decorrelation"]["n_base"] == 48 and len(meta["split"]["novel"]) == 16
    x = torch.rand(4, 3, 32, 32)
    again = load_trained(laat_checkpoint)
    with torch.no_grad():
        assert torch.equal(trained.model(x), again.model(x))
    novel = trained.names_for("novel")
    assert trained.anchors_for(novel).shape == (16, 384)


def test_typed_class_list_gets_base_fitted_anchors(laat_checkpoint):
    trained = load_trained(laat_checkpoint)
    stored = trained.anchors_for(["red circle", "red star"])
    reencoded = trained.anchors_for(["red circle", "red star", "grey spiral"])  # unknown name: encoded from text
    assert torch.allclose(stored, reencoded[:2], atol=1e-5)


def test_resume_continues_epochs(tmp_path, laat_checkpoint):
    out = tmp_path / "resumed.safetensors"
    trained = train(
        TrainConfig(method="laat", **{**TINY, "epochs": 2}), out=out, resume=laat_checkpoint, progress=False
    )
    assert [e["epoch"] for e in trained.metadata["log"]] == [1, 2]
    assert trained.metadata["resumed_from"] == str(laat_checkpoint)


def test_resume_refuses_a_checkpoint_trained_with_other_settings(tmp_path, laat_checkpoint):
    for change in ({"tau": 0.05}, {"bn_mode": "separate"}, {"templates": ("a {}",)}, {"attack_alpha": 1e-3}):
        with pytest.raises(ValueError, match=f"another {next(iter(change))}.*cannot resume"):
            train(TrainConfig(method="laat", **{**TINY, "epochs": 2, **change}), resume=laat_checkpoint, progress=False)


@pytest.mark.parametrize("alpha", [0.0, -1.0, float("nan")])
def test_an_explicit_attack_step_must_be_positive(alpha):
    with pytest.raises(ValueError, match="step size"):
        TrainConfig(attack_alpha=alpha)


def test_rejects_corrupt_and_mismatched_checkpoints(tmp_path, laat_checkpoint):
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(laat_checkpoint.read_bytes()[:1000])
    with pytest.raises(CheckpointError):
        load_trained(truncated)
    pickle_like = tmp_path / "model.pt"
    pickle_like.write_bytes(b"\x80\x04")
    with pytest.raises(CheckpointError, match="never loaded"):
        load_trained(pickle_like)
    foreign = tmp_path / "foreign.safetensors"
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(CheckpointError, match="no LAAT Lab metadata"):
        load_trained(foreign)
    trained = load_trained(laat_checkpoint)
    wrong = dict(trained.metadata, model={**trained.metadata["model"], "backbone": "resnet12"})
    mismatched = tmp_path / "mismatched.safetensors"
    save_checkpoint(mismatched, {f"model.{k}": v for k, v in trained.model.state_dict().items()}, wrong)
    with pytest.raises(CheckpointError, match="do not match"):
        load_trained(mismatched)
    with pytest.raises(CheckpointError, match="not found"):
        load_trained(tmp_path / "absent.safetensors")


def test_atomic_write_keeps_old_checkpoint_on_failure(tmp_path, laat_checkpoint):
    target = tmp_path / "keep.safetensors"
    target.write_bytes(laat_checkpoint.read_bytes())
    before = target.read_bytes()
    trained = load_trained(laat_checkpoint)
    trained.metadata["unserialisable"] = object()
    with pytest.raises(TypeError):
        save_trained(target, trained)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.safetensors"]  # no temporary left behind
    assert read_metadata(target)["format"] == "laat-lab-checkpoint"


def test_config_validation():
    with pytest.raises(ValueError, match="positive"):
        TrainConfig(epochs=0)
    assert json.dumps(TrainConfig().__dict__)


def test_train_and_eval_on_an_image_folder(tmp_path, capsys):
    """Real-data path: <root>/base/<class>/*.png and <root>/novel/<class>/*.png, PNGs written here."""
    import numpy as np
    from PIL import Image

    from laat_core.cli import main

    colours = {"base": ["red", "green", "blue"], "novel": ["yellow", "purple"]}
    rng = np.random.default_rng(0)
    for split, names in colours.items():
        for name in names:
            folder = tmp_path / "data" / split / f"{name} square"
            folder.mkdir(parents=True)
            for i in range(6):
                Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    out = tmp_path / "folder.safetensors"
    config = TrainConfig(
        method="laat",
        data=f"imagefolder:{tmp_path / 'data'}",
        batch_size=8,
        **{k: v for k, v in TINY.items() if k != "batch_size"},
    )
    trained = train(config, out=out, progress=False)
    assert trained.split == {
        "base": ["blue square", "green square", "red square"],
        "novel": ["purple square", "yellow square"],
    }
    assert trained.metadata["data"]["augment"] == "miniimagenet"  # the image-folder default: the official recipe
    code = main(
        [
            "eval",
            str(out),
            "--split",
            "novel",
            "--attack",
            "fgsm",
            "--full",
            "--n-per-class",
            "4",
            "--no-sanity",
            "--json",
            "--data",
            f"imagefolder:{tmp_path / 'data'}",
        ]
    )
    assert code == 0 and json.loads(capsys.readouterr().out.splitlines()[-1])["n"] == 8
    # without --data the checkpoint's own data path is not followed (it could point anywhere)
    assert main(["eval", str(out), "--full", "--n-per-class", "4", "--no-sanity"]) == 2
    assert "pass --data" in capsys.readouterr().err


def test_heads_carry_their_anchors_so_one_model_serves_many_class_lists_at_once(laat_checkpoint):
    """Issue 9: heads used to be re-pointed in place, so the app serialised requests with locks."""
    from concurrent.futures import ThreadPoolExecutor

    trained = load_trained(laat_checkpoint)
    base, novel = trained.names_for("base"), trained.names_for("novel")
    x = torch.rand(6, 3, 32, 32)
    with torch.no_grad():
        expected = {"base": trained.head_for(base)(x), "novel": trained.head_for(novel)(x)}

    def score(split: str) -> bool:
        with torch.no_grad():
            return torch.allclose(trained.head_for(base if split == "base" else novel)(x), expected[split], atol=1e-5)

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(score, ["base", "novel"] * 8))
    assert expected["base"].shape == (6, 48) and expected["novel"].shape == (6, 16)
    assert torch.allclose(trained.model.anchors, trained.class_anchors[:48])  # the model itself never changed


def test_attacking_a_head_leaves_the_shared_model_in_eval_mode_and_its_statistics_unchanged(laat_checkpoint):
    """Review finding: torchattacks restores the attacked module's mode, which used to switch the shared
    model to train mode, so later forwards rewrote BatchNorm's running statistics."""
    from laat_core.attack_lab import attack_image
    from laat_core.attacks import AttackSpec

    trained = load_trained(laat_checkpoint)
    before = {k: v.clone() for k, v in trained.model.state_dict().items()}
    names = trained.names_for("novel")
    for attack in ("pgd", "autoattack"):
        attack_image(trained, "m", torch.rand(3, 32, 32), names, AttackSpec(attack, 8 / 255, 2), time_limit_s=0.5)
        assert not trained.model.training
    after = trained.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_augmentation_follows_the_data_set_and_a_misfit_is_refused_before_work():
    from laat_core.data.augment import AUGMENTATIONS, resolve_augmentation
    from laat_core.data.sources import labels_of
    from laat_core.training import make_data

    assert resolve_augmentation("auto", "shapes").name == "none"
    assert resolve_augmentation("auto", "cifar-fs").name == "cifar-fs"
    assert resolve_augmentation("auto", "imagefolder").name == "miniimagenet"
    with pytest.raises(ValueError, match="unknown augmentation 'mixup'"):
        TrainConfig(augment="mixup")
    # asked for on the shapes: applied to training images only, labels untouched
    _, _, train_set, val_set = make_data(TrainConfig(augment="cifar-fs", **TINY))
    x, y = train_set[0]
    assert x.shape == (3, 32, 32) and int(y) == int(labels_of(train_set)[0]) and hasattr(val_set, "tensors")
    assert AUGMENTATIONS["cifar-fs"].train is not None and AUGMENTATIONS["miniimagenet"].test is not None
    with pytest.raises(ValueError, match="'miniimagenet' does not fit these images"):
        make_data(TrainConfig(augment="miniimagenet", **TINY))  # an 80x80 crop of 32x32 shapes


def test_data_loader_workers_read_batches_in_other_processes(tmp_path):
    """Issue 10: real data is read per batch by DataLoader workers (here 2, on a generated image folder)."""
    import numpy as np
    from PIL import Image

    for split, names in {"base": ["red", "green", "blue"], "novel": ["yellow", "purple"]}.items():
        for name in names:
            folder = tmp_path / split / f"{name} circle"
            folder.mkdir(parents=True)
            for i in range(6):
                Image.fromarray(np.full((84, 84, 3), 40 * i, dtype=np.uint8)).save(folder / f"{i}.png")
    config = TrainConfig(method="laat", data=f"imagefolder:{tmp_path}", workers=2, batch_size=8,
                         **{k: v for k, v in TINY.items() if k != "batch_size"})  # fmt: skip
    trained = train(config, progress=False)
    assert trained.metadata["training"]["workers"] == 2 and len(trained.metadata["log"]) == 1
    with pytest.raises(ValueError, match="workers"):
        TrainConfig(workers=-1)
