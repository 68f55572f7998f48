"""Device selection (issue 10): one resolver for every entry point; attacks stay float32 on the model's device."""

from __future__ import annotations

import pytest
import torch

from laat_core.attacks import AttackSpec
from laat_core.cli import main
from laat_core.device import DeviceError, device_of, resolve_device
from laat_core.evaluation import predict_adversarial
from laat_core.training import TrainConfig


def test_auto_is_cuda_when_present_and_a_missing_gpu_is_a_clear_error():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(DeviceError, match="unknown device 'tpu'"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="no CUDA GPU"):
            resolve_device("cuda")
        with pytest.raises(ValueError, match="no CUDA GPU"):
            TrainConfig(device="cuda:0")  # refused before any work


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
def test_cli_says_so_in_one_line(capsys):
    assert main(["eval", "assets/models/shapes-laat.safetensors", "--device", "cuda", "--full"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no CUDA GPU" in err and "Traceback" not in err


def test_predictions_come_back_on_the_cpu_and_attacks_run_in_float32():
    from laat_core.trained import load_trained

    trained = load_trained("assets/models/shapes-laat.safetensors")
    names = trained.names_for("novel")[:5]
    head = trained.head_for(names)
    images = torch.rand(6, 3, 32, 32, dtype=torch.float64)  # a float64 batch is attacked as float32
    labels = torch.arange(6) % 5
    seen = []
    hook = head.model.register_forward_pre_hook(lambda module, args: seen.append(args[0].dtype))
    try:
        predictions = predict_adversarial(head, images, labels, AttackSpec("pgd", 8 / 255, 2), 5)
    finally:
        hook.remove()
    assert predictions.device.type == "cpu" and predictions.shape == (6,)
    assert seen and set(seen) == {torch.float32}
    assert device_of(head) == device_of(trained.model)
