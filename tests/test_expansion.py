import math

import numpy as np
import pytest
import torch

from laat_core.anchors import anchor_stats
from laat_core.decorrelation import decorrelate
from laat_core.expansion import ExpansionError, apply_expansion, center, expand, fit_expansion


def _official(reference_dir, name):
    raw = torch.from_numpy(np.load(f"{reference_dir}/{name}_anchors.npy"))
    expected = np.load(f"{reference_dir}/{name}_clip_weight_a.npy")
    return raw, expected


@pytest.mark.parametrize("name", ["cifarfs", "miniimagenet"])
def test_reproduces_official_expanded_anchors(reference_dir, name):
    raw, expected = _official(reference_dir, name)
    expanded, _ = expand(raw, n_base=64)
    assert expanded.shape == expected.shape
    assert np.abs(expanded.numpy() - expected).max() < 1e-5


def test_official_statistics_before_and_after(reference_dir):
    raw, _ = _official(reference_dir, "cifarfs")
    names = [str(i) for i in range(100)]
    before = anchor_stats(raw, names)
    after = anchor_stats(expand(raw, 64)[0], names)
    assert before.mean_offdiag == pytest.approx(0.759, abs=1e-3)
    assert before.max_offdiag == pytest.approx(0.955, abs=1e-3)
    assert after.mean_offdiag == pytest.approx(0.175, abs=1e-3)


def _random_anchors(n=30, d=16, seed=0, spread=0.3):
    g = torch.Generator().manual_seed(seed)
    common = torch.randn(d, generator=g)
    return torch.nn.functional.normalize(common + spread * torch.randn(n, d, generator=g), dim=1)


def test_unit_norms_and_base_theta_max_maps_to_right_angle():
    anchors = _random_anchors()
    fit = fit_expansion(anchors[:20])
    out = apply_expansion(anchors, fit)
    assert torch.allclose(out.norm(dim=1), torch.ones(len(out)), atol=1e-6)
    angles = torch.arccos((out[:20].double() @ fit.mean_direction).clamp(-1, 1))
    assert float(angles.max()) == pytest.approx(math.pi / 2, abs=1e-6)


def test_order_of_angles_preserved_and_scaled():
    anchors = _random_anchors()
    fit = fit_expansion(anchors)
    before = torch.arccos((anchors.double() @ fit.mean_direction).clamp(-1, 1))
    after = torch.arccos((apply_expansion(anchors, fit).double() @ fit.mean_direction).clamp(-1, 1))
    assert torch.equal(torch.argsort(before), torch.argsort(after))
    assert torch.allclose(after, before * fit.scale, atol=1e-5)


def test_novel_classes_use_base_statistics_only():
    anchors = _random_anchors(40)
    base_only = apply_expansion(anchors[30:], fit_expansion(anchors[:30]))
    together, _ = expand(anchors, n_base=30)
    assert torch.allclose(base_only, together[30:], atol=1e-6)
    refit, _ = expand(anchors)  # fitting on all rows gives a different map
    assert not torch.allclose(refit[30:], together[30:], atol=1e-3)


def test_anchor_equal_to_mean_stays_at_mean():
    anchors = _random_anchors(10)
    fit = fit_expansion(anchors)
    out = apply_expansion(fit.mean_direction[None].float(), fit)
    assert torch.allclose(out[0].double(), fit.mean_direction, atol=1e-6)


def test_degenerate_inputs_raise_clear_errors():
    anchors = _random_anchors(5)
    with pytest.raises(ExpansionError, match="at least 2 base classes"):
        fit_expansion(anchors[:1])
    with pytest.raises(ExpansionError, match="identical"):
        fit_expansion(anchors[:1].repeat(3, 1))
    with pytest.raises(ExpansionError, match="zero vector"):
        fit_expansion(torch.zeros(3, 4))
    with pytest.raises(ExpansionError, match="dimension"):
        apply_expansion(torch.randn(2, 7), fit_expansion(anchors))
    with pytest.raises(ExpansionError, match="average to zero"):
        fit_expansion(torch.tensor([[1.0, 0.0], [-1.0, 0.0]]))


def test_center_subtracts_base_mean():
    anchors = _random_anchors(20)
    out = center(anchors, n_base=10)
    assert torch.allclose(out.norm(dim=1), torch.ones(20), atol=1e-6)
    names = [str(i) for i in range(20)]
    assert anchor_stats(out, names).mean_offdiag < anchor_stats(anchors, names).mean_offdiag


def test_decorrelate_dispatch_and_errors():
    anchors = _random_anchors(8)
    assert decorrelate(anchors, "none").anchors.shape == anchors.shape
    assert decorrelate(anchors, "expansion", 4).fit is not None
    assert "base_mean" in decorrelate(anchors, "center", 4).to_dict()
    with pytest.raises(ValueError, match="unknown de-correlation"):
        decorrelate(anchors, "whiten")
    with pytest.raises(ValueError, match="between 1 and 8"):
        decorrelate(anchors, "expansion", 9)


def test_anchor_lab_warns_on_identical_anchors_and_on_novel_anchors_pushed_past_90_degrees():
    """Issue 9: MiniLM gives 猫 and 狗 one anchor, and cat/dog/tiger/lion as base pushes car/truck/bus together."""
    from laat_core.anchor_lab import run_anchor_lab

    same = run_anchor_lab(["猫", "狗", "cat"], "minilm", ("a photo of a {}.",), None, "expansion", with_map=False)
    assert any("猫 / 狗" in w for w in same.warnings)
    vehicles = ["cat", "dog", "tiger", "lion", "car", "truck", "bus"]
    crowded = run_anchor_lab(vehicles, "minilm", ("a photo of a {}.",), 4, "expansion", with_map=False)
    assert any("past 90 degrees" in w and "truck" in w for w in crowded.warnings)
    assert crowded.cos_after[4:, 4:].min() > crowded.cos_before[4:, 4:].min()  # the crowding the text names
    fine = run_anchor_lab(["cat", "dog", "ship"], "minilm", ("a photo of a {}.",), None, "expansion", with_map=False)
    assert fine.warnings == []
