"""Hostile files and arguments (issue 9): each gets a clear error, nothing runs, nothing is allocated."""

from __future__ import annotations

import json
import os
import pickle

import pytest
import torch

from laat_core.checkpoint import CheckpointError, read_metadata, save_checkpoint
from laat_core.trained import load_trained
from laat_core.training import TrainConfig, train

TINY = dict(epochs=1, n_per_class=3, val_per_class=2, val_pgd_images=16, batch_size=48, attack_steps=1)


class _Payload:
    """Unpickling this writes a marker file: the proof that a loader ran code."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    path = tmp_path_factory.mktemp("good") / "m.safetensors"
    train(TrainConfig(method="anchor-at", **TINY), out=path, progress=False)
    return path


def _rewrite(good, tmp_path, change_metadata=None, change_tensors=None, name="bad.safetensors"):
    from laat_core.checkpoint import load_checkpoint

    tensors, metadata = load_checkpoint(good)
    metadata = {k: v for k, v in metadata.items() if k not in ("format", "version")}
    if change_metadata:
        change_metadata(metadata)
    if change_tensors:
        change_tensors(tensors)
    path = tmp_path / name
    save_checkpoint(path, tensors, metadata)
    return path


def test_cifar_batches_are_read_without_running_code(tmp_path):
    from laat_core.data.real import DataError, load_cifar

    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    marker = tmp_path / "marker"
    for name in ("train", "test", "meta"):
        (folder / name).write_bytes(pickle.dumps(_Payload(str(marker))))
    with pytest.raises(DataError, match="not a CIFAR batch file.*refusing"):
        load_cifar("cifar100", tmp_path, train=True)
    assert not marker.exists()


def test_eval_never_follows_a_data_path_from_the_checkpoint(good, tmp_path, capsys):
    from laat_core.cli import main

    marker = tmp_path / "marker"
    (tmp_path / "cifar-100-python").mkdir()
    for name in ("train", "test", "meta"):
        (tmp_path / "cifar-100-python" / name).write_bytes(pickle.dumps(_Payload(str(marker))))
    crafted = _rewrite(good, tmp_path, lambda m: m.update(data={"source": f"cifar-fs:{tmp_path}"}))
    assert main(["eval", str(crafted), "--full", "--n-per-class", "2", "--no-sanity"]) == 2
    assert "pass --data" in capsys.readouterr().err
    assert not marker.exists()


def test_a_pickle_named_safetensors_is_refused(tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps(_Payload(str(marker))))
    with pytest.raises(CheckpointError):
        load_trained(path)
    assert not marker.exists()


def _set_model(key, value):
    return lambda m: m["model"].update({key: value})


@pytest.mark.parametrize(
    "change_metadata, change_tensors, message",
    [
        (_set_model("n_classes", 20000), None, "do not match the weights"),  # would allocate 20000 x dim
        (_set_model("anchor_dim", 20000), None, "do not match the weights"),
        (_set_model("tau", 0), None, "tau must be a positive"),
        (_set_model("tau", "0.2"), None, "tau must be a positive"),
        (_set_model("std", [0.25, 0.0, 0.25]), None, "std must be positive"),
        (_set_model("backbone", "vit-huge"), None, "unknown backbone"),
        (lambda m: m.update(class_names=[1, 2, 3]), None, "class_names must be a list of strings"),
        (lambda m: m.update(split=["base"]), None, "split must hold"),
        (None, lambda t: t["model.projection.weight"].fill_(float("nan")), "non-finite weights"),
    ],
)
def test_malformed_checkpoints_get_one_clear_error(good, tmp_path, change_metadata, change_tensors, message):
    bad = _rewrite(good, tmp_path, change_metadata, change_tensors)
    with pytest.raises(CheckpointError, match=message):
        load_trained(bad)


def test_metadata_that_is_not_an_object_or_has_a_string_version(good, tmp_path):
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(good))
    for header, message in (('["laat"]', "not a JSON object"), (None, "not an integer")):
        path = tmp_path / "odd.safetensors"
        if header is None:
            metadata = dict(read_metadata(good), version="1")
            header = json.dumps(metadata)
        save_file(tensors, str(path), metadata={"laat": header})
        with pytest.raises(CheckpointError, match=message):
            load_trained(path)


@pytest.mark.parametrize(
    "field, value", [("lr", float("inf")), ("lr", float("nan")), ("tau", float("inf")), ("beta", float("nan"))]
)
def test_non_finite_settings_are_refused(field, value):
    with pytest.raises(ValueError, match="finite"):
        TrainConfig(**{field: value})


def test_the_marker_payload_really_runs_code_when_unpickled(tmp_path):
    """Guard for the tests above: the payload does write its marker under a plain pickle.load."""
    marker = tmp_path / "marker"
    pickle.loads(pickle.dumps(_Payload(str(marker))))
    assert marker.exists()
    os.remove(marker)
    assert torch.tensor(1)  # torch imported for the fixtures
