import pytest
import torch

from laat_core.attacks import AttackSpec, autoattack_plan, make_attack
from laat_core.evaluation import (
    binomial_ci95,
    evaluate_episodes,
    evaluate_full,
    sanity_warnings,
    t_ci95,
)
from laat_core.models import AnchorClassifier, LinearClassifier


def _model(n_classes=5, seed=0):
    torch.manual_seed(seed)
    anchors = torch.nn.functional.normalize(torch.randn(n_classes, 16), dim=1)
    return AnchorClassifier("conv4", anchors, tau=0.1).eval()


def _batch(n=6, n_classes=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, 32, 32, generator=g), torch.randint(0, n_classes, (n,), generator=g)


@pytest.mark.parametrize("name", ["fgsm", "pgd", "cw", "apgd"])
def test_each_attack_stays_in_the_eps_ball_and_hurts(name):
    model = _model()
    x, _ = _batch()
    with torch.no_grad():
        y = model(x).argmax(1)  # attack the model's own predictions: clean accuracy is 100%
    spec = AttackSpec(name, eps=8 / 255, steps=5)
    adv = make_attack(model, spec, 5)(x, y)
    assert (adv - x).abs().max() <= 8 / 255 + 1e-6
    assert adv.min() >= 0 and adv.max() <= 1
    with torch.no_grad():
        assert (model(adv).argmax(1) == y).float().mean() < 1.0


def test_attack_leaves_training_mode_as_it_was():
    model = _model().train()
    x, y = _batch()
    make_attack(model, AttackSpec("pgd", steps=2), 5)(x, y)
    assert model.training


@pytest.mark.parametrize(
    "n_classes, components, targets",
    [
        (3, ("apgd-ce", "fab-t", "square"), 2),
        (5, ("apgd-ce", "apgd-t", "fab-t", "square"), 4),
        (16, ("apgd-ce", "apgd-t", "fab-t", "square"), 9),
    ],
)
def test_autoattack_configuration(n_classes, components, targets):
    plan = autoattack_plan(n_classes)
    assert plan.components == components and plan.n_targets == targets
    attack = make_attack(_model(n_classes), AttackSpec("autoattack"), n_classes)
    kinds = [type(a).__name__ for a in attack.attacks]
    assert kinds == [{"apgd-ce": "APGD", "apgd-t": "APGDT", "fab-t": "FAB", "square": "Square"}[c] for c in components]
    for component in attack.attacks:
        if hasattr(component, "n_target_classes"):
            assert component.n_target_classes == targets
        if type(component).__name__ in ("APGD", "APGDT"):
            assert component.steps == 100
        if type(component).__name__ == "Square":
            assert component.n_queries == 5000


@pytest.mark.parametrize("n_classes", [3, 5, 16])
def test_autoattack_runs_and_is_at_least_as_strong_as_pgd(n_classes):
    # A linear model on pixels: attackable by construction, so every component has work to do and
    # the test stays fast (Square only queries the points that survive the gradient attacks).
    torch.manual_seed(n_classes)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, n_classes)).eval()
    x, _ = _batch(8, n_classes)
    with torch.no_grad():
        y = model(x).argmax(1)
    eps = 2 / 255
    adv = make_attack(model, AttackSpec("autoattack", eps=eps), n_classes)(x, y)
    pgd = make_attack(model, AttackSpec("pgd", eps=eps, steps=10), n_classes)(x, y)
    assert (adv - x).abs().max() <= eps + 1e-6
    with torch.no_grad():
        aa_acc = float((model(adv).argmax(1) == y).float().mean())
        pgd_acc = float((model(pgd).argmax(1) == y).float().mean())
    assert aa_acc <= pgd_acc < 1.0


def test_full_evaluation_reports_ci_and_notes():
    model = _model()
    x, y = _batch(20)
    clean = evaluate_full(model, x, y, AttackSpec("none"), "novel")
    robust = evaluate_full(model, x, y, AttackSpec("pgd", steps=5), "novel")
    assert clean.n == 20 and clean.n_classes == 5 and 0 < clean.ci95 < 0.5
    assert robust.accuracy <= clean.accuracy
    assert "eval mode" in robust.notes[0] and robust.attack_spec == "PGD-5 eps=8/255"


def test_episodes_protocol_leaves_the_model_unchanged():
    model = _model(8)
    anchors = model.anchors.clone()
    x, y = _batch(8 * 6, 8)
    y = torch.arange(8).repeat_interleave(6)
    result = evaluate_episodes(model, x, y, anchors, AttackSpec("none"), "novel", episodes=10, queries=5)
    assert result.n == 10 * 5 * 5 and result.n_classes == 5 and result.ci95 >= 0
    one_shot = evaluate_episodes(model, x, y, anchors, AttackSpec("fgsm"), "novel", episodes=3, queries=5, shots=1)
    assert "1-shot" in one_shot.protocol
    assert torch.equal(model.anchors, anchors)
    with pytest.raises(ValueError, match="need 21 images per class"):
        evaluate_episodes(model, x, y, anchors, AttackSpec("none"), "novel", episodes=1, queries=20, shots=1)


def test_linear_baseline_works_with_attacks():
    model = LinearClassifier("conv4", 4).eval()
    x, y = _batch(6, 4)
    assert evaluate_full(model, x, y, AttackSpec("fgsm"), "base").n_classes == 4


def test_intervals():
    assert binomial_ci95(0.5, 100) == pytest.approx(0.0980, abs=2e-3)
    assert binomial_ci95(1.0, 50) > 0  # Wilson: never a zero-width interval
    assert t_ci95(torch.tensor([0.5, 0.7, 0.6, 0.8])) == pytest.approx(0.2054, abs=1e-3)


def test_sanity_checks_flag_gradient_masking():
    assert sanity_warnings({"none": 0.9, "fgsm": 0.6, "pgd": 0.5}, large_eps_accuracy=0.0, chance=0.1) == []
    warnings = sanity_warnings({"none": 0.9, "fgsm": 0.4, "pgd": 0.6}, large_eps_accuracy=0.5, chance=0.1)
    assert any("pgd accuracy" in w for w in warnings) and any("large eps" in w for w in warnings)


def test_autoattack_time_limit_holds_inside_a_component():
    """Issue 9: the app's AutoAttack limit was only checked between components (45-193 s runs)."""
    import time

    from laat_core.attack_lab import _autoattack_with_deadline

    model = _model(5)
    x, y = _batch(1, 5)
    start = time.perf_counter()
    adversarial, note = _autoattack_with_deadline(model, x, y, AttackSpec("autoattack", 8 / 255), 5, time_limit_s=0.0)
    assert time.perf_counter() - start < 5
    assert "time limit of 0 s reached during apgd-ce" in note and "lower bound" in note
    assert torch.equal(adversarial, x)
