import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from laat_core.anchors import (
    ENSEMBLE_TEMPLATES,
    AnchorError,
    anchor_stats,
    build_anchors,
    encode_anchors,
    parse_class_names,
)
from laat_core.encoders import EncoderError, FileEncoder, TextEncoder, get_encoder


def test_minilm_encodes_unit_vectors(minilm):
    assert isinstance(minilm, TextEncoder)
    features = minilm.encode(["a photo of a cat.", "a photo of a dog.", "a photo of a truck."])
    assert features.shape == (3, 384)
    assert torch.allclose(features.norm(dim=1), torch.ones(3), atol=1e-5)
    cat_dog, cat_truck = float(features[0] @ features[1]), float(features[0] @ features[2])
    assert cat_dog > cat_truck  # a real language model, not random vectors


def test_prompt_ensemble_is_a_normalized_average(minilm):
    names = ["cat", "dog"]
    single = build_anchors(minilm, names)
    ensemble = build_anchors(minilm, names, ENSEMBLE_TEMPLATES)
    assert torch.allclose(ensemble.norm(dim=1), torch.ones(2), atol=1e-5)
    assert not torch.allclose(single, ensemble)
    manual = torch.stack([minilm.encode([t.format(n) for n in names]) for t in ENSEMBLE_TEMPLATES]).mean(0)
    assert torch.allclose(ensemble, torch.nn.functional.normalize(manual, dim=1), atol=1e-6)


def test_encoded_anchors_are_cached():
    first = encode_anchors("minilm", ["cat", "dog"])
    second = encode_anchors("minilm", ["cat", "dog"])
    assert torch.equal(first, second) and first is not second  # callers get copies
    from laat_core.anchors import _cached_anchors

    assert _cached_anchors.cache_info().hits >= 1


def test_openclip_text_tower_from_local_random_checkpoint(tmp_path):
    import open_clip

    model = open_clip.create_model("ViT-S-32-alt", pretrained=None)
    path = tmp_path / "random-vit-s-32-alt.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    encoder = get_encoder(f"openclip:ViT-S-32-alt/{path}")
    features = encoder.encode(["a photo of a cat.", "a photo of a dog."])
    assert features.shape == (2, encoder.dim) and encoder.dim == 256
    with torch.no_grad():
        expected = model.encode_text(open_clip.get_tokenizer("ViT-S-32-alt")(["a photo of a cat."]))
    assert torch.allclose(features[0], torch.nn.functional.normalize(expected, dim=1)[0], atol=1e-5)


def test_openclip_offline_fails_fast_with_advice():
    with pytest.raises(EncoderError, match="pass its path"):
        get_encoder("openclip:ViT-B-32/openai")


@pytest.mark.parametrize(
    "spec, message",
    [
        ("glove", "unknown encoder"),
        ("openclip:ViT-B-32", "expected openclip"),
        ("openclip:NoSuchModel/openai", "unknown open_clip model"),
        ("openclip:ViT-B-32/no-such-tag", "neither a local file nor a pretrained tag"),
        ("file:/nonexistent/anchors.npy", "not found"),
    ],
)
def test_bad_encoder_specs(spec, message):
    with pytest.raises(EncoderError, match=message):
        get_encoder(spec)


def test_file_encoder_npy_with_names_file(reference_dir):
    encoder = get_encoder(f"file:{reference_dir}/cifarfs_anchors.npy")
    assert encoder.dim == 512 and not encoder.uses_prompts
    raw = np.load(f"{reference_dir}/cifarfs_anchors.npy")
    anchors = encode_anchors(f"file:{reference_dir}/cifarfs_anchors.npy", ["turtle", "train"])
    expected = raw[[2, 0]] / np.linalg.norm(raw[[2, 0]], axis=1, keepdims=True)  # turtle is line 3
    assert np.allclose(anchors.numpy(), expected, atol=1e-6)
    with pytest.raises(EncoderError, match="no features for: unicorn"):
        encoder.encode(["unicorn"])


def test_file_encoder_safetensors_with_stored_names(tmp_path):
    path = tmp_path / "feats.safetensors"
    save_file({"anchors": torch.randn(3, 8)}, str(path), metadata={"class_names": json.dumps(["a", "b", "c"])})
    encoder = FileEncoder(path)
    assert encoder.names == ["a", "b", "c"]
    assert encoder.encode(["c", "a"]).shape == (2, 8)


def test_file_encoder_without_names_needs_matching_count(tmp_path):
    path = tmp_path / "plain.npy"
    np.save(path, np.random.rand(4, 6).astype(np.float32))
    encoder = FileEncoder(path)
    assert encoder.encode(["w", "x", "y", "z"]).shape == (4, 6)
    with pytest.raises(EncoderError, match="exactly that many"):
        encoder.encode(["w", "x"])


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not a numpy file", "could not read"),
        (None, "2-D float matrix"),
    ],
)
def test_file_encoder_malformed(tmp_path, content, message):
    path = tmp_path / "bad.npy"
    if content is None:
        np.save(path, np.arange(5, dtype=np.float32))
    else:
        path.write_bytes(content)
    with pytest.raises(EncoderError, match=message):
        FileEncoder(path)


def test_file_encoder_refuses_pickles(tmp_path):
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(EncoderError, match="could not read"):
        FileEncoder(path)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("cat, dog ,ship", ["cat", "dog", "ship"]),
        ("cat\ndog\n", ["cat", "dog"]),
        ("red star,\nblue circle", ["red star", "blue circle"]),
    ],
)
def test_parse_class_names(text, expected):
    assert parse_class_names(text) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("   \n ", "empty"),
        ("cat, , dog", "empty class name at position 2"),
        ("cat, dog, Cat", "duplicate class name"),
        ("cat", "at least 2 classes"),
        (",".join(f"c{i}" for i in range(1001)), "at most 1000"),
    ],
)
def test_parse_class_names_errors(text, message):
    with pytest.raises(AnchorError, match=message):
        parse_class_names(text)


def test_anchor_stats_most_similar_pairs():
    anchors = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    stats = anchor_stats(anchors, ["a", "b", "c"], top_k=1)
    assert stats.top_pairs[0][:2] == ("a", "b")
    assert stats.max_offdiag == pytest.approx(
        float(torch.nn.functional.cosine_similarity(anchors[0], anchors[1], dim=0))
    )


def test_clip_zero_shot_classifier_is_attackable_on_raw_pixels(tmp_path):
    import open_clip

    from laat_core.attack_lab import attack_image
    from laat_core.attacks import AttackSpec
    from laat_core.models.clip_zero_shot import ClipZeroShotModel

    path = tmp_path / "random-vit-s-32-alt.safetensors"
    save_file({k: v.contiguous() for k, v in open_clip.create_model("ViT-S-32-alt").state_dict().items()}, str(path))
    clip = ClipZeroShotModel(get_encoder(f"openclip:ViT-S-32-alt/{path}"))
    head = clip.head_for(["cat", "dog", "ship"])
    image = torch.rand(3, 32, 32)
    assert head(image[None]).shape == (1, 3)
    outcome = attack_image(clip, "CLIP", image, ["cat", "dog", "ship"], AttackSpec("fgsm", eps=8 / 255))
    assert outcome.linf <= 8 / 255 + 1e-6 and set(outcome.clean_probs) <= {"cat", "dog", "ship"}


def test_file_encoder_matches_underscored_names():
    from app.services import CIFARFS_ANCHORS

    encoder = FileEncoder(CIFARFS_ANCHORS)  # names stored with spaces: "aquarium fish"
    assert torch.equal(encoder.encode(["aquarium_fish"]), encoder.encode(["Aquarium Fish"]))
