"""bf16 autocast, channels_last and torch.compile touch only the loss's forward; attacks stay float32 (issue 10)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from laat_core.models import AnchorClassifier
from laat_core.precision import check_precision, prepare_for_training, to_memory_format, training_autocast


def _model() -> AnchorClassifier:
    torch.manual_seed(0)
    return AnchorClassifier("conv4", torch.nn.functional.normalize(torch.randn(4, 384), dim=1))


def test_unknown_precision_is_one_clear_error():
    with pytest.raises(ValueError, match="unknown precision 'fp16': use one of fp32, bf16"):
        check_precision("fp16", torch.device("cpu"))
    check_precision("bf16", torch.device("cpu"))  # CPU autocast supports bf16


def test_bf16_autocast_changes_the_forward_only_inside_its_context():
    model, x = _model(), torch.rand(2, 3, 32, 32)
    with training_autocast("bf16", torch.device("cpu")):
        assert model.features(x).dtype == torch.bfloat16
    assert model.features(x).dtype == torch.float32
    assert all(p.dtype == torch.float32 for p in model.parameters())  # weights and optimiser stay float32
    with training_autocast("fp32", torch.device("cpu")):
        assert model.features(x).dtype == torch.float32


def test_channels_last_keeps_the_same_function_and_parameters():
    model = _model().eval()
    x = torch.rand(2, 3, 32, 32)
    before = model(x)
    net = prepare_for_training(model, channels_last=True, compile_model=False)
    assert net is model  # the optimiser's and the attacks' parameters are the same tensors
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    xl = to_memory_format(x, True)
    assert xl.is_contiguous(memory_format=torch.channels_last) and torch.equal(xl, x)
    torch.testing.assert_close(model(xl), before, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("method", ["laat", "aq"])
def test_bf16_training_attacks_in_float32_and_trains_in_bf16(monkeypatch, method):
    """Every forward inside the training attack is float32; the loss's forward is bf16. Both
    halves are checked, so a run where autocast leaked into the attack, or never switched on, fails."""
    from laat_core import training

    seen = {"attack": set(), "loss": set()}
    phase = {"now": "other"}
    real_attack = training._train_attack

    def traced_attack(model, config):
        attack = real_attack(model, config)

        def run(*args):
            phase["now"] = "attack"
            try:
                return attack(*args)
            finally:
                phase["now"] = "other"

        return run

    real_loss = training.TrainConfig.method_spec.fget

    def traced_spec(config):
        spec = real_loss(config)

        def loss(net, *args):
            phase["now"] = "loss"
            try:
                return spec.loss(net, *args)
            finally:
                phase["now"] = "other"

        return dataclasses.replace(spec, loss=loss)

    monkeypatch.setattr(training, "_train_attack", traced_attack)
    monkeypatch.setattr(training.TrainConfig, "method_spec", property(traced_spec))

    def record(module, inputs, output):
        if phase["now"] in seen:
            seen[phase["now"]].add(output.dtype)

    original_init = torch.nn.Conv2d.__init__

    def hooked_init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.register_forward_hook(record)

    monkeypatch.setattr(torch.nn.Conv2d, "__init__", hooked_init)
    settings = dict(epochs=1, n_per_class=4, val_per_class=2, val_pgd_images=8, batch_size=48, attack_steps=2)
    if method == "aq":
        settings = dict(settings, episode_shots=2, episode_queries=2, batch_size=20, n_per_class=8)
    trained = training.train(
        training.TrainConfig(method=method, precision="bf16", channels_last=True, **settings), progress=False
    )
    assert seen["attack"] == {torch.float32}, seen
    assert seen["loss"] == {torch.bfloat16}, seen
    assert trained.metadata["training"]["precision"] == "bf16"  # named in the checkpoint
    assert all(p.dtype == torch.float32 for p in trained.model.parameters())


def test_a_compiled_training_writes_a_plain_checkpoint(tmp_path):
    """torch.compile wraps the module the loss calls; the checkpoint must hold the plain model's weights (no
    '_orig_mod.' names), load as any other and answer like the trained model (one short epoch, ~20 s to compile)."""
    from laat_core.checkpoint import read_metadata
    from laat_core.trained import load_trained
    from laat_core.training import TrainConfig, train

    path = tmp_path / "compiled.safetensors"
    settings = dict(epochs=1, n_per_class=3, val_per_class=2, val_pgd_images=8, batch_size=48, attack_steps=1)
    trained = train(TrainConfig(backbone="conv4", compile=True, **settings), out=path, progress=False)
    assert read_metadata(path)["training"]["compile"] is True
    loaded = load_trained(path)
    assert not any("_orig_mod" in name for name in loaded.model.state_dict())
    x = torch.rand(4, 3, 32, 32)
    names = trained.split["novel"][:3]
    with torch.no_grad():
        torch.testing.assert_close(loaded.head_for(names)(x), trained.head_for(names)(x))
