"""The ImageNet-scale path (issue 10, item 6) on small generated files in the real formats: ImageFolder trees of PNGs
in varied sizes with WordNet-id folders and a class-name file; a 2-rank CPU DDP run (gloo) of ResNet-50 at 64x64
under torchrun; `laat zeroshot` over two other trees; the open_clip visual tower built offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from laat_core.cli import main
from laat_core.data.classnames import read_class_names
from laat_core.data.real import DataError
from laat_core.models.backbones import (
    BACKBONES,
    CLIP_MEAN,
    CLIP_STD,
    IMAGENET_MEAN,
    OpenClipVisual,
    TorchvisionResNet50,
    load_backbone_weights,
)
from laat_core.models.classifier import AnchorClassifier

ROOT = Path(__file__).resolve().parent.parent
TRAIN_CLASSES = ["red square", "blue circle", "green triangle", "yellow star"]


def write_tree(root: Path, names: list[str], per_class: int, seed: int = 0, mapping: bool = True) -> Path:
    """<root>/<wnid>/<i>.png in varied sizes (as real photos), and the class-name file beside it: 'wnid name' lines
    in shuffled order (mapping) or a plain list in folder order. Returns the class-name file."""
    rng = np.random.default_rng(seed)
    wnids = [f"n{seed:02d}{i:06d}" for i in range(len(names))]
    for wnid in wnids:
        (root / wnid).mkdir(parents=True)
        for i in range(per_class):
            height, width = rng.integers(40, 90, 2)
            Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(root / wnid / f"{i}.png")
    lines = [f"{w} {n}" for w, n in zip(wnids, names, strict=True)] if mapping else list(names)
    if mapping:
        lines = [lines[i] for i in rng.permutation(len(lines))]
    path = root.parent / f"{root.name}_classes.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------- class-name files
def test_class_name_file_mapping_and_plain_list(tmp_path):
    folders = ["n01", "n02", "n03"]
    mapping = tmp_path / "map.txt"
    mapping.write_text("# wnid name\nn03 tiger shark\n\nn01 tench\nn02 goldfish\n")
    assert read_class_names(mapping, folders) == ["tench", "goldfish", "tiger shark"]
    plain = tmp_path / "plain.txt"
    plain.write_text("tench\ngoldfish\ntiger shark\n")
    assert read_class_names(plain, folders) == ["tench", "goldfish", "tiger shark"]
    same = tmp_path / "same.txt"  # folders that are names already: a line holding only the folder keeps it
    same.write_text("n02\nn01\nn03\n")
    assert read_class_names(same, folders) == folders


@pytest.mark.parametrize(
    "text, message",
    [
        ("n01 tench\nn09 goldfish\nn03 shark\n", "line 2: 'n09' is not a class folder"),
        ("n01 tench\nn03 shark\n", r"no class for the folder\(s\) n02"),
        ("n01 tench\nn01 carp\nn02 a\nn03 b\n", "line 2: the folder 'n01' is named twice"),
        ("tench\ngoldfish\n", "2 class names for 3 class folders"),
        ("tench\ntench\nshark\n", "'tench' is given to both n01 and n02"),
        ("\n# nothing\n", "holds no class names"),
    ],
)
def test_class_name_file_mistakes_are_named(tmp_path, text, message):
    path = tmp_path / "names.txt"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        read_class_names(path, ["n01", "n02", "n03"])


# ---------------------------------------------------------------- backbones
def test_imagenet_backbones_are_registered_with_their_input_statistics():
    assert BACKBONES["resnet50"].input_size == BACKBONES["openclip-vit-b-32"].input_size == 224
    anchors = torch.nn.functional.normalize(torch.randn(3, 16), dim=1)
    for name, mean in (("resnet50", IMAGENET_MEAN), ("conv4", (0.5, 0.5, 0.5))):
        model = AnchorClassifier(name, anchors)  # normalisation from the registry entry, not a constant
        assert torch.allclose(model.normalize.mean.flatten(), torch.tensor(mean))
    backbone = TorchvisionResNet50().eval()
    with torch.no_grad():
        assert backbone(torch.rand(2, 3, 64, 64)).shape == (2, 2048) == (2, backbone.out_dim)


def test_openclip_tower_builds_offline_and_trains(tmp_path):
    """One forward/backward at the tower's 224x224 through the classifier; its registered statistics are the ones
    open_clip itself configures; weights load from a whole open_clip model's safetensors (visual.* keys)."""
    torch.manual_seed(0)
    model = AnchorClassifier("openclip-vit-b-32", torch.nn.functional.normalize(torch.randn(3, 16), dim=1))
    tower = model.backbone
    assert isinstance(tower, OpenClipVisual) and tower.out_dim == 512
    cfg = tower.tower.preprocess_cfg
    assert tuple(cfg["mean"]) == CLIP_MEAN and tuple(cfg["std"]) == CLIP_STD
    assert torch.allclose(model.normalize.std.flatten(), torch.tensor(CLIP_STD))
    x = torch.rand(2, 3, 224, 224, requires_grad=True)
    features = tower(x)
    assert features.shape == (2, 512)
    loss = torch.nn.functional.cross_entropy(model(x), torch.tensor([0, 2]))
    loss.backward()
    assert x.grad.abs().sum() > 0 and tower.tower.conv1.weight.grad.abs().sum() > 0
    with torch.no_grad():  # another input size is resized to the tower's, inside forward
        assert tower(torch.rand(1, 3, 64, 64)).shape == (1, 512)

    state = {f"visual.{k}": v.detach().clone() for k, v in tower.tower.state_dict().items()}
    state["text_projection"] = torch.zeros(2, 2)  # the rest of a CLIP model is ignored
    save_file(state, str(tmp_path / "open_clip_model.safetensors"))
    with torch.no_grad():
        tower.tower.conv1.weight.zero_()
    load_backbone_weights(tower, tmp_path / "open_clip_model.safetensors")
    assert torch.equal(tower.tower.conv1.weight, state["visual.conv1.weight"])


def test_resnet50_weights_from_a_local_safetensors_file_only(tmp_path):
    from torchvision.models import resnet50

    reference = resnet50(weights=None)
    save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, str(tmp_path / "rn50.safetensors"))
    backbone = TorchvisionResNet50()
    load_backbone_weights(backbone, tmp_path / "rn50.safetensors")  # torchvision's own file: fc.* dropped
    assert torch.equal(backbone.net.conv1.weight, reference.conv1.weight)
    with pytest.raises(ValueError, match="pickles are never loaded"):
        load_backbone_weights(backbone, tmp_path / "rn50.pth")
    save_file({"conv1.weight": torch.zeros(1)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="does not hold this backbone's weights"):
        load_backbone_weights(backbone, tmp_path / "other.safetensors")


# ---------------------------------------------------------------- DDP training on a streamed ImageFolder tree
@pytest.fixture(scope="module")
def imagenet_run(tmp_path_factory):
    """Two ranks (gloo, CPU) train ResNet-50 at 64x64 for one short epoch on a 4-class tree; rank 0 writes the
    checkpoint, each rank its final weights."""
    tmp = tmp_path_factory.mktemp("imagenet")
    names_file = write_tree(tmp / "train", TRAIN_CLASSES, per_class=8)
    out = tmp / "runs" / "imagenet-laat.safetensors"
    extra = {
        "backbone": "resnet50",
        "input_size": 64,
        "class_names": str(names_file),
        "batch_size": 4,
        "attack_steps": 1,
        "val_pgd_images": 4,
        "out": str(out),
    }
    worker = Path(__file__).with_name("ddp_worker.py")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
               "--master_port=29541", str(worker), str(tmp), "joint", f"imagenet:{tmp / 'train'}", json.dumps(extra)]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp, out


def test_two_rank_resnet50_training_on_an_imagenet_tree(imagenet_run):
    tmp, out = imagenet_run
    rank0, rank1 = load_file(str(tmp / "rank0.safetensors")), load_file(str(tmp / "rank1.safetensors"))
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    assert rank0["backbone.net.bn1.running_mean"].abs().sum() > 0  # train-mode forwards ran
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # rank 0 alone wrote, atomically (no temp left)
    from laat_core.checkpoint import read_metadata

    metadata = read_metadata(out)
    assert metadata["split"] == {"base": TRAIN_CLASSES, "novel": []}  # names from the file, in folder order
    assert metadata["data"]["augment"] == "imagenet" and metadata["data"]["input_size"] == 64
    assert metadata["model"]["backbone"] == "resnet50" and metadata["model"]["mean"] == list(IMAGENET_MEAN)
    assert metadata["log"][0]["images_per_s"] > 0


# ---------------------------------------------------------------- zero-shot on other data sets
def test_zeroshot_prints_a_table_per_data_set(imagenet_run, capsys):
    tmp, checkpoint = imagenet_run
    classes_a = write_tree(tmp / "zs" / "setA", ["pink square", "purple circle", "orange star"], 4, seed=1)
    classes_b = write_tree(tmp / "zs" / "setB", ["white cross", "black ring"], 5, seed=2, mapping=False)
    args = ["zeroshot", str(checkpoint), "--dataset", f"alpha={tmp / 'zs' / 'setA'}:{classes_a}",
            "--dataset", f"beta={tmp / 'zs' / 'setB'}:{classes_b}", "--steps", "2", "--device", "cpu"]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert printed.count("| attack | accuracy (%) | 95% interval | images |") == 2
    assert "alpha: 3 classes, 12 images" in printed and "beta: 2 classes, 10 images" in printed
    assert printed.count("| PGD-2 eps=1/255 |") == 2 and "model in eval mode" in printed
    assert "| mean of 2 |" in printed

    assert main([*args, "--json"]) == 0
    sets = {s["name"]: s for s in json.loads(capsys.readouterr().out)["sets"]}
    # The clean row, recomputed by hand: anchors from setA's names with the checkpoint's encoder, images through
    # the Resize + CenterCrop of the trained 64x64 input, labels in folder order.
    from torchvision import transforms

    from laat_core.trained import load_trained

    trained = load_trained(checkpoint)
    head = trained.head_for(["pink square", "purple circle", "orange star"])
    test = transforms.Compose([transforms.ToTensor(), transforms.Resize(73), transforms.CenterCrop(64)])
    correct = 0
    for label, folder in enumerate(sorted((tmp / "zs" / "setA").iterdir())):
        for file in sorted(folder.iterdir()):
            with torch.no_grad():
                correct += int(head(test(Image.open(file).convert("RGB"))[None]).argmax(1) == label)
    clean, pgd = sets["alpha"]["rows"]
    assert clean["n"] == 12 and clean["accuracy"] == pytest.approx(correct / 12)
    assert pgd["attack"] == "PGD-2 eps=1/255" and 0 <= pgd["accuracy"] <= 1 and 0 < clean["ci95"] < 1


@pytest.mark.parametrize(
    "dataset, message",
    [
        ("gone={tmp}/missing", "data set 'gone': image folder not found"),
        ("short={tmp}/set:{tmp}/two.txt", "data set 'short': .* lists 2 class names for 3 class folders"),
        ("odd={tmp}/set:{tmp}/unknown.txt", "data set 'odd': .* line 1: 'n99' is not a class folder"),
        ("nolist={tmp}/set:{tmp}/absent.txt", "data set 'nolist': class-name file not found"),
        ("{tmp}/set", "write NAME=FOLDER or NAME=FOLDER:CLASSNAMES_FILE"),
    ],
)
def test_zeroshot_user_mistakes_are_one_line(tmp_path, capsys, dataset, message):
    import re

    names = write_tree(tmp_path / "set", ["cat", "dog", "ship"], 1, seed=3)
    (tmp_path / "two.txt").write_text("cat\ndog\n")
    (tmp_path / "unknown.txt").write_text("n99 cat\n" + names.read_text())
    checkpoint = ROOT / "assets" / "models" / "shapes-laat.safetensors"
    code = main(["zeroshot", str(checkpoint), "--dataset", dataset.format(tmp=tmp_path), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert re.search(message, err), err


def test_train_refuses_imagenet_mistakes_in_one_line(tmp_path, capsys):
    names = write_tree(tmp_path / "train", ["cat", "dog"], 1)
    cases = [
        (["--data", f"imagenet:{tmp_path / 'nowhere'}"], "image folder not found"),
        (["--data", "shapes", "--class-names", str(names)], "--class-names names the classes of --data imagenet"),
        (["--data", f"imagenet:{tmp_path / 'train'}", "--augment", "none"], "need the imagenet augmentation"),
    ]
    for flags, message in cases:
        assert (
            main(["train", *flags, "--epochs", "1", "--device", "cpu", "--out", str(tmp_path / "x.safetensors")]) == 2
        )
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err


def test_zeroshot_attack_lowers_a_trained_models_accuracy(tmp_path):
    """A model that is not at chance: the shipped shapes LAAT model, zero-shot on its 16 novel classes written as an
    ImageFolder of PNGs (wnid folders, a class-name file). PGD must lower accuracy, and clean accuracy must be far
    above chance: a misaligned class list or a broken input transform would fail here."""
    from laat_core.data import shapes
    from laat_core.device import resolve_device
    from laat_core.trained import load_trained
    from laat_core.zeroshot import EvalSet, ZeroShotSettings, evaluate_set, prepare

    _, novel = shapes.split("pairs")
    images, labels = shapes.make_split(novel, 6, seed=5).tensors
    root, lines = tmp_path / "novel", []
    for index, name in enumerate(novel):
        wnid = f"n{90 + index:08d}"
        (root / wnid).mkdir(parents=True)
        for i in torch.nonzero(labels == index).flatten().tolist():
            pixels = (images[i].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
            Image.fromarray(pixels).save(root / wnid / f"{i}.png")
        lines.append(f"{wnid} {name}")
    (tmp_path / "novel.txt").write_text("\n".join(reversed(lines)))
    trained = load_trained(ROOT / "assets" / "models" / "shapes-laat.safetensors")
    prepared = prepare(EvalSet("novel", root, tmp_path / "novel.txt"), trained.metadata)
    assert prepared.names == novel
    result = evaluate_set(trained, prepared, ZeroShotSettings(eps=32 / 255, steps=5), resolve_device("cpu"))
    clean, pgd = result.rows
    assert clean.n == pgd.n == 6 * len(novel)
    assert clean.accuracy > 3 / len(novel), clean  # chance is 1/16
    assert pgd.accuracy < clean.accuracy - 0.1 and not result.warnings, (clean, pgd)


def test_zeroshot_refuses_models_without_anchors_before_reading_data(tmp_path, capsys):
    """Checked first: the data set below does not exist, and the error is about the model, in one line."""
    from laat_core.training import TrainConfig, train
    from laat_core.zeroshot import check_model

    with pytest.raises(ValueError, match="prototype model: it classifies from support images"):
        check_model({"model": {"kind": "prototype"}})
    checkpoint = tmp_path / "linear.safetensors"
    train(TrainConfig(method="standard", head="linear", epochs=1, n_per_class=3, val_per_class=2, batch_size=48),
          out=checkpoint, progress=False)  # fmt: skip
    capsys.readouterr()  # the text encoder's loading bar
    assert main(["zeroshot", str(checkpoint), "--dataset", "x=/nowhere", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "anchor (cosine) head; this one is linear" in err and len(err.strip().splitlines()) == 1, err


def test_zeroshot_names_classes_the_model_was_trained_on(tmp_path):
    """A data set that shares classes with training is not zero-shot for them: the result says how many."""
    from laat_core.data import shapes
    from laat_core.device import resolve_device
    from laat_core.trained import load_trained
    from laat_core.zeroshot import EvalSet, ZeroShotSettings, evaluate_set, prepare

    base, novel = shapes.split("pairs")
    classes = [base[0], base[1], novel[0]]
    images, labels = shapes.make_split(classes, 2, seed=5).tensors
    for index, name in enumerate(classes):
        (tmp_path / name).mkdir()
        for i in torch.nonzero(labels == index).flatten().tolist():
            pixels = (images[i].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
            Image.fromarray(pixels).save(tmp_path / name / f"{i}.png")
    trained = load_trained(ROOT / "assets" / "models" / "shapes-laat.safetensors")
    prepared = prepare(EvalSet("mixed", tmp_path), trained.metadata)
    result = evaluate_set(trained, prepared, ZeroShotSettings(steps=2), resolve_device("cpu"))
    assert any("2 of 3 classes were training classes" in w and base[0] in w for w in result.warnings), result.warnings
