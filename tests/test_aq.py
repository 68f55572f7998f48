"""Adversarial Querying (issue 10, item 7): episodic training of a prototype head, and few-shot evaluation of any
model with a backbone, the attack going through query -> features -> distance to fixed, clean prototypes."""

import json
import pickle

import numpy as np
import pytest
import torch

from laat_core.attacks import AttackSpec
from laat_core.cli import main
from laat_core.data import shapes
from laat_core.data.episodes import EpisodeSampler, episode_labels
from laat_core.evaluation import evaluate_episodes
from laat_core.models import AnchorClassifier, AnchorHead, PrototypeHead, PrototypeNet, few_shot_head
from laat_core.trained import load_trained
from laat_core.training import TrainConfig, train

SHIPPED_LAAT = "assets/models/shapes-laat.safetensors"
# One epoch on 8 images per base class, 5-way 2-shot episodes with 3 queries: a few seconds.
TINY_AQ = dict(method="aq", epochs=1, n_per_class=8, val_per_class=3, val_pgd_images=16, attack_steps=2,
               episode_shots=2, episode_queries=3)  # fmt: skip


@pytest.fixture(scope="module")
def aq_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("aq") / "aq.safetensors"
    train(TrainConfig(**TINY_AQ), out=path, progress=False)
    return path


def test_episodes_have_the_documented_layout_and_are_deterministic_per_epoch():
    labels = torch.arange(6).repeat_interleave(4)  # 6 classes, 4 images each
    sampler = EpisodeSampler(labels, ways=3, shots=1, queries=2, episodes=5, seed=0)
    first = list(sampler)
    assert len(first) == 5 and first == list(sampler)  # same epoch, same episodes
    for episode in first:
        assert len(set(episode)) == 9  # no image twice
        support, query = labels[episode[:3]], labels[episode[3:]]
        assert len(set(support.tolist())) == 3  # one support per class, class-major
        assert torch.equal(query, support.repeat_interleave(2))  # queries in the supports' class order
    sampler.set_epoch(1)
    assert list(sampler) != first
    assert [t.tolist() for t in episode_labels(2, 1, 2)] == [[0, 1], [0, 0, 1, 1]]
    with pytest.raises(ValueError, match="need 3 classes with 5 images"):
        EpisodeSampler(labels, ways=3, shots=2, queries=3, episodes=1, seed=0)


def test_aq_trains_on_shapes_and_its_checkpoint_round_trips(aq_checkpoint, tmp_path):
    trained = load_trained(aq_checkpoint)
    meta = trained.metadata
    assert meta["model"]["kind"] == "prototype" and meta["training"]["head"] == "prototype"
    assert trained.few_shot_only and not trained.zero_shot and trained.class_anchors is None
    assert "encoder" not in meta and "decorrelation" not in meta  # no text was used
    log = meta["log"][0]
    assert log["train_adv_acc"] is not None and all(
        np.isfinite([log["loss"], log["val_clean_acc"], log["val_pgd_acc"]])
    )
    assert isinstance(trained.model, PrototypeNet) and not trained.model.training
    x = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(trained.model(x), load_trained(aq_checkpoint).model(x))
    resumed = train(TrainConfig(**{**TINY_AQ, "epochs": 2}), resume=aq_checkpoint, progress=False)
    assert [e["epoch"] for e in resumed.metadata["log"]] == [1, 2]
    with pytest.raises(ValueError, match="another episode_shots"):
        train(TrainConfig(**{**TINY_AQ, "epochs": 2, "episode_shots": 1}), resume=aq_checkpoint, progress=False)
    with pytest.raises(ValueError, match="aq needs the prototype head"):
        TrainConfig(method="aq", head="cosine")


def test_one_shot_eval_of_aq_and_laat_from_the_cli(aq_checkpoint, capsys, monkeypatch):
    for checkpoint in (aq_checkpoint, SHIPPED_LAAT):
        capsys.readouterr()
        argv = ["eval", str(checkpoint), "--shots", "1", "--attack", "fgsm", "--episodes", "2", "--n-per-class", "21"]
        assert main([*argv, "--no-sanity", "--json"]) == 0
        result = json.loads(capsys.readouterr().out)
        assert result["n"] == 2 * 5 * 20 and "5-way 1-shot" in result["protocol"] and result["attack"] == "fgsm"
        assert any("only the queries are attacked" in note for note in result["notes"])
    # the official table, 1-shot, for the model without anchors: 1 episode per row, clean/FGSM/PGD-20 (AutoAttack takes minutes)
    import functools

    import laat_core.protocol as protocol

    quick = functools.partial(protocol.run_official, rows=protocol.OFFICIAL_ROWS[:3])
    monkeypatch.setattr(protocol, "run_official", quick)
    rows = ["eval", str(aq_checkpoint), "--protocol", "official", "--shots", "1", "--episodes", "1"]
    assert main([*rows, "--n-per-class", "21"]) == 0
    out = capsys.readouterr().out
    assert "1-shot (clean support images) 5-way" in out and "| PGD-20 eps=8/255 |" in out


@pytest.mark.parametrize("argv", [[], ["--protocol", "official"], ["--shots", "0", "--full"]])
def test_aq_zero_shot_is_one_clear_line_and_a_non_zero_exit(aq_checkpoint, capsys, argv):
    capsys.readouterr()
    assert main(["eval", str(aq_checkpoint), *argv]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err and captured.out == ""
    assert "no text anchors" in lines[0] and "--shots 1" in lines[0]


def test_an_attack_through_the_prototype_head_lowers_accuracy():
    """A non-robust (untrained) embedding: its 1-shot accuracy on the shapes is well above chance (colour alone
    separates many classes) and PGD, computed through the prototype head, must bring it down. Were the attack
    blind to the head (no gradient through the prototypes' distances), accuracy would not move."""
    torch.manual_seed(0)
    model = PrototypeNet("conv4-wide").eval()
    images, labels = shapes.make_split(shapes.split()[1], 11, seed=3).tensors

    def accuracy(attack: str) -> float:
        spec = AttackSpec(attack, 8 / 255, 5)
        return evaluate_episodes(model, images, labels, None, spec, "novel", 6, queries=10, shots=1, seed=1).accuracy

    clean, pgd = accuracy("none"), accuracy("pgd")
    assert clean > 0.3 and pgd < clean - 0.15


def test_supports_are_clean_and_their_prototypes_fixed_while_the_queries_are_attacked(monkeypatch):
    import laat_core.evaluation as evaluation

    torch.manual_seed(0)
    model = PrototypeNet("conv4-wide").eval()
    images, labels = shapes.make_split(shapes.split()[1], 6, seed=4).tensors
    heads = []

    def recording(model, support, support_labels, ways):
        head = few_shot_head(model, support, support_labels, ways)
        heads.append((support.clone(), head, head.prototypes.clone()))
        return head

    monkeypatch.setattr(evaluation, "few_shot_head", recording)
    evaluate_episodes(model, images, labels, None, AttackSpec("pgd", 8 / 255, 3), "novel", 3, queries=5, shots=1)
    assert len(heads) == 3
    for support, head, before in heads:
        # every support image is exactly one of the clean images (nothing perturbed it) ...
        assert (images[None] == support[:, None]).flatten(2).all(-1).any(-1).all()
        # ... and the head the attack saw kept the prototypes of those clean images
        with torch.no_grad():
            assert torch.equal(head.prototypes, before) and torch.allclose(before, model.features(support), atol=1e-6)
        assert isinstance(head, PrototypeHead) and not head.prototypes.requires_grad


def test_few_shot_head_keeps_each_model_in_its_own_geometry():
    """Anchor models (LAAT): a normalized support prototype replaces the text anchor (cosine / tau), as the
    1-shot evaluation did before AQ; AQ: its scaled squared distance."""
    torch.manual_seed(0)
    laat = AnchorClassifier("conv4", torch.randn(4, 16), tau=0.2).eval()
    support, query = torch.rand(2, 3, 32, 32), torch.rand(3, 3, 32, 32)
    head = few_shot_head(laat, support, torch.tensor([0, 1]), 2)
    with torch.no_grad():
        prototypes = torch.nn.functional.normalize(laat.features(support), dim=1)
        assert isinstance(head, AnchorHead) and torch.allclose(head(query), laat(query, anchors=prototypes))
        aq = PrototypeNet("conv4").eval()
        aq.scale.data.fill_(3.0)
        expected = -3.0 * torch.cdist(aq.features(query), aq.features(support)).pow(2) / aq.backbone.out_dim
        assert torch.allclose(few_shot_head(aq, support, torch.tensor([0, 1]), 2)(query), expected, atol=1e-4)


def _write_cifar_fs(root, per_split: int) -> None:
    """CIFAR-100 in torchvision's on-disk pickle format, with the CIFAR-FS class names, `per_split` images per class
    in each of the train and test batches; each class a random colour (something to learn)."""
    from laat_core.data.real import cifar_fs_split

    names = sorted(sum(cifar_fs_split().values(), []))
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    with open(folder / "meta", "wb") as handle:
        pickle.dump({"fine_label_names": names, "coarse_label_names": ["x"] * 20}, handle)
    rng = np.random.default_rng(0)
    colours = rng.integers(0, 255, (100, 3, 1))
    for split in ("train", "test"):
        labels = [c for c in range(100) for _ in range(per_split)]
        pixels = colours[labels] + rng.integers(-30, 30, (len(labels), 3, 1024))
        data = np.clip(pixels, 0, 255).astype(np.uint8).reshape(len(labels), 3072)
        with open(folder / split, "wb") as handle:
            pickle.dump({"data": data, "fine_labels": labels, "coarse_labels": [0] * len(labels)}, handle)


def test_aq_trains_on_cifar_pickles_selects_one_shot_on_val_and_evaluates(tmp_path, capsys):
    """The CIFAR-FS path on small files in the real pickle format: training (the official augmentation), selection
    1-shot on the 16 validation classes, and 1-shot evaluation on the 20 novel ones."""
    _write_cifar_fs(tmp_path, per_split=11)  # 22 images per class: 2 base-val, 20 queries + 1 support
    out = tmp_path / "cifar-aq.safetensors"
    data = f"cifar-fs:{tmp_path}"
    config = TrainConfig(method="aq", data=data, epochs=1, attack_steps=1, episode_shots=1, episode_queries=8,
                         val_pgd_images=10, select_on="val", select_episodes=1)  # fmt: skip
    train(config, out=out, progress=False)
    trained = load_trained(out)
    assert trained.metadata["data"]["augment"] == "cifar-fs" and trained.metadata["selection"]["shots"] == 1
    assert len(trained.split["novel"]) == 20 and (tmp_path / "cifar-aq-best.safetensors").is_file()
    capsys.readouterr()
    argv = ["eval", str(out), "--data", data, "--shots", "1", "--attack", "pgd", "--steps", "2", "--episodes", "2"]
    assert main([*argv, "--no-sanity", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 200 and "1-shot" in result["protocol"] and 0 <= result["accuracy"] <= 1


def test_aq_under_two_process_ddp_keeps_the_ranks_identical(tmp_path):
    """Each rank draws its own episodes; the learned logit scale, used in the loss outside the model's forward,
    must still be synchronised (it moves, and both ranks end with the same weights)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from safetensors.torch import load_file

    worker = Path(__file__).with_name("ddp_worker.py")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(worker.parent.parent)}
    settings = {"method": "aq", "episode_shots": 1, "episode_queries": 3, "n_per_class": 8, "val_per_class": 3}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
               "--master_port=29547", str(worker), str(tmp_path), "joint", "shapes", json.dumps(settings)]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rank0, rank1 = load_file(str(tmp_path / "rank0.safetensors")), load_file(str(tmp_path / "rank1.safetensors"))
    assert all(torch.equal(rank0[key], rank1[key]) for key in rank0) and float(rank0["scale"]) != 1.0


def test_aq_checkpoint_says_which_settings_it_ignored_and_how_it_was_validated(aq_checkpoint):
    from laat_core.checkpoint import read_metadata

    metadata = read_metadata(aq_checkpoint)
    assert {"encoder", "templates", "tau", "beta", "batch_size"} <= set(metadata["unused_settings"])
    assert metadata["validation"] == "5-way 1-shot episodes"
    laat = read_metadata(SHIPPED_LAAT)  # written before these keys existed: still readable, nothing claimed
    assert "unused_settings" not in laat
