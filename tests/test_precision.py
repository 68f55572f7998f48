"""bf16 autocast, channels_last and torch.compile touch only the loss's forward; attacks stay float32 (issue 10)."""

from __future__ import annotations

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
