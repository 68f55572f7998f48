import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from laat_core.data import shapes
from laat_core.data.real import DataError, cifar_fs_split, load_cifar, load_cifar_fs, load_image_folder


def test_generator_is_deterministic_by_seed():
    names = shapes.class_names()[:5]
    a, b = shapes.make_split(names, 3, seed=7), shapes.make_split(names, 3, seed=7)
    c = shapes.make_split(names, 3, seed=8)
    assert torch.equal(a.tensors[0], b.tensors[0])
    assert not torch.equal(a.tensors[0], c.tensors[0])
    images = a.tensors[0]
    assert images.shape == (15, 3, 32, 32) and images.min() >= 0 and images.max() <= 1


def test_default_split_is_compositional():
    base, novel = shapes.default_split()
    assert len(base) == 48 and len(novel) == 16 and not set(base) & set(novel)
    assert set(base) | set(novel) == set(shapes.class_names())
    assert {n.split()[0] for n in base} == set(shapes.COLOURS)
    assert {n.split()[1] for n in base} == set(shapes.SHAPES)
    assert "red circle" in novel and "red star" in novel  # colour 0: shapes 0 and 3


def test_pairs_split_still_draws_what_it_drew_before_the_fill_attribute():
    # Sums measured with the code of commit 9bc4d1a (before fills existed): the old split stays reproducible.
    images = shapes.make_split(["red circle", "blue heart", "pink hexagon"], 4, seed=5).tensors[0]
    assert float(images.sum()) == pytest.approx(12035.659, abs=0.05)
    assert float(images.double().pow(2).sum()) == pytest.approx(5957.653, abs=0.05)
    assert shapes.split("pairs") == shapes.default_split() and shapes.class_names("pairs") == shapes.class_names()


def test_fill_split_sees_every_attribute_pair_of_every_novel_class():
    base, novel = shapes.split("fill")
    assert len(base) == 96 and len(novel) == 32 and set(base) | set(novel) == set(shapes.class_names("fill"))
    seen = [shapes.parse_class(name) for name in base]
    for colour, shape, fill in map(shapes.parse_class, novel):
        assert (colour, shape) in {(c, s) for c, s, _ in seen}
        assert (colour, fill) in {(c, f) for c, _, f in seen}
        assert (shape, fill) in {(s, f) for _, s, f in seen}
    # the solid novel classes are the pairs split's, so the two benchmarks share 16 novel classes
    assert [n.removeprefix("solid ") for n in novel if n.startswith("solid ")] == shapes.split("pairs")[1]
    # within a colour and fill the novel task still asks for the shape: two novel shapes each
    by_colour_fill = {}
    for colour, shape, fill in map(shapes.parse_class, novel):
        by_colour_fill.setdefault((colour, fill), []).append(shape)
    assert all(len(v) == 2 for v in by_colour_fill.values()) and len(by_colour_fill) == 16


def test_outlined_shapes_have_a_hole_and_solid_ones_are_unchanged():
    solid, outlined = (shapes.make_split([f"{f} blue square"], 8, seed=3).tensors[0] for f in shapes.FILLS)
    plain = shapes.make_split(["blue square"], 8, seed=3).tensors[0]
    assert torch.equal(solid, plain)
    blue = lambda x: (x[:, 2] - x[:, 0] > 0.4).flatten(1).float().sum(1)  # noqa: E731
    assert (blue(outlined) < 0.8 * blue(solid)).all() and (blue(outlined) > 0).all()


def test_data_source_names_the_split_and_rejects_unknown_ones():
    from laat_core.data.sources import DataSource

    assert DataSource("shapes").class_names()["novel"] == shapes.split("pairs")[1]
    assert DataSource("shapes:fill").class_names()["base"] == shapes.split("fill")[0]
    with pytest.raises(DataError, match="unknown shapes split 'circles'.*pairs, fill"):
        DataSource("shapes:circles").class_names()


def test_classes_are_distinguishable_by_colour():
    ds = shapes.make_split(["red circle", "blue circle"], 20, seed=0)
    images, labels = ds.tensors
    red_minus_blue = (images[:, 0] - images[:, 2]).flatten(1).max(1).values
    assert (red_minus_blue[labels == 0] > 0.3).all()


def test_render_class_and_bad_names():
    image = shapes.render_class("cyan heart", seed=3)
    assert image.shape == (3, 32, 32)
    with pytest.raises(ValueError, match="not a shapes class"):
        shapes.render_class("turquoise dodecahedron")
    with pytest.raises(ValueError, match="not a shapes class"):
        shapes.render_class("striped red star")
    assert shapes.parse_class("outlined red star") == (0, 3, 1) and shapes.parse_class("red star") == (0, 3, 0)


def _write_cifar100(root, n_per_class=2):
    """A tiny CIFAR-100 in torchvision's on-disk pickle format."""
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    fine_names = [f"class_{i}" for i in range(100)]
    fine_names[0:3] = ["train", "skyscraper", "turtle"]
    with open(folder / "meta", "wb") as handle:
        pickle.dump({"fine_label_names": fine_names, "coarse_label_names": ["x"] * 20}, handle)
    for split in ("train", "test"):
        labels = [c for c in range(100) for _ in range(n_per_class)]
        data = np.random.default_rng(0).integers(0, 255, (len(labels), 3072), dtype=np.uint8)
        with open(folder / split, "wb") as handle:
            pickle.dump({"data": data, "fine_labels": labels, "coarse_labels": [0] * len(labels)}, handle)
    return fine_names


def test_cifar100_loader_reads_real_pickle_format(tmp_path):
    _write_cifar100(tmp_path)
    train = load_cifar("cifar100", tmp_path, train=True)
    image, label = train[0]
    assert image.shape == (3, 32, 32) and 0 <= float(image.min()) and float(image.max()) <= 1
    assert len(train) == 200 and train.classes[0] == "train"


def test_cifar_fs_split_and_loader(tmp_path):
    split = cifar_fs_split()
    assert [len(split[k]) for k in ("base", "val", "novel")] == [64, 16, 20]
    assert split["base"][0] == "train"
    fine_names = _write_cifar100(tmp_path)
    # Make the tiny CIFAR-100 use the real names so the CIFAR-FS split can find its classes.
    all_names = split["base"] + split["val"] + split["novel"]
    meta = tmp_path / "cifar-100-python" / "meta"
    with open(meta, "wb") as handle:
        pickle.dump({"fine_label_names": sorted(all_names), "coarse_label_names": ["x"] * 20}, handle)
    novel = load_cifar_fs(tmp_path, "novel")
    assert len(novel) == 20 * 2 * 2  # 20 classes x 2 images x (train + test)
    labels = {int(novel[i][1]) for i in range(len(novel))}
    assert labels == set(range(20))
    assert fine_names  # the helper wrote a real meta file first


def test_missing_cifar_names_expected_path(tmp_path):
    with pytest.raises(DataError, match=str(tmp_path / "cifar-10-batches-py")):
        load_cifar("cifar10", tmp_path, train=True)


def test_image_folder_with_class_subset(tmp_path):
    for name in ("n01", "n02", "n03"):
        (tmp_path / name).mkdir()
        for i in range(2):
            Image.fromarray(np.full((10, 12, 3), 40 * i, dtype=np.uint8)).save(tmp_path / name / f"{i}.png")
    subset = load_image_folder(tmp_path, ["n03", "n01"], image_size=16)
    assert len(subset) == 4 and subset.classes == ["n03", "n01"]
    image, label = subset[0]
    assert image.shape == (3, 16, 16) and label in (0, 1)
    with pytest.raises(DataError, match="not in the data set: n09"):
        load_image_folder(tmp_path, ["n09"])
    with pytest.raises(DataError, match="not found"):
        load_image_folder(tmp_path / "missing")
