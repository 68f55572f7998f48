import json
import os
import subprocess
import sys

import numpy as np
import pytest
from safetensors import safe_open

from laat_core.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_official_example_offline(reference_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(
        capsys,
        "anchors",
        "--encoder",
        f"file:{reference_dir}/cifarfs_anchors.npy",
        "--classes-file",
        f"{reference_dir}/cifarfs_classes.txt",
        "--base",
        "64",
        "--out",
        "expanded.npy",
    )
    assert code == 0
    assert "0.759" in out and "0.175" in out
    expected = np.load(f"{reference_dir}/cifarfs_clip_weight_a.npy")
    assert np.abs(np.load(tmp_path / "expanded.npy") - expected).max() < 1e-5


def test_json_output_and_safetensors_export(tmp_path, capsys):
    out_path = tmp_path / "anchors.safetensors"
    code, out, _ = run(
        capsys,
        "anchors",
        "--classes",
        "cat, dog, ship, truck",
        "--base",
        "3",
        "--method",
        "center",
        "--out",
        str(out_path),
        "--json",
    )
    assert code == 0
    report = json.loads(out)
    assert report["before"]["n_classes"] == 4 and report["method"] == "center" and report["n_base"] == 3
    assert report["after"]["mean_offdiag"] < report["before"]["mean_offdiag"]
    with safe_open(str(out_path), framework="pt") as handle:
        assert json.loads(handle.metadata()["class_names"]) == ["cat", "dog", "ship", "truck"]
        assert handle.get_tensor("anchors").shape == (4, 384)


def test_prompt_ensemble_and_method_none(capsys):
    code, out, _ = run(capsys, "anchors", "--classes", "cat,dog", "--prompt", "ensemble", "--method", "none", "--json")
    report = json.loads(out)
    assert code == 0
    assert report["after"]["mean_offdiag"] == pytest.approx(report["before"]["mean_offdiag"], abs=1e-6)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--classes", ""], "no classes given"),
        (["--classes", " , "], "empty class name"),
        (["--classes", "cat, dog, cat"], "duplicate class name 'cat'"),
        (["--classes", "cat"], "at least 2 classes"),
        (["--classes", "cat,dog", "--encoder", "word2vec"], "unknown encoder"),
        (["--classes-file", "/no/such/file.txt"], "classes file not found"),
        (["--classes", "cat,dog", "--encoder", "file:/no/such.npy"], "feature file not found"),
        (["--classes", "cat,dog", "--prompt", "a photo"], "must contain exactly one"),
        (["--classes", "cat,dog", "--base", "5"], "between 1 and 2"),
        (["--classes", "cat,dog", "--out", "x.csv"], "use a .npy or .safetensors"),
    ],
)
def test_user_errors_exit_2_with_message(capsys, argv, message):
    code, _, err = run(capsys, "anchors", *argv)
    assert code == 2
    assert message in err and "Traceback" not in err


def test_malformed_and_mismatched_feature_files(tmp_path, capsys):
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"garbage")
    code, _, err = run(capsys, "anchors", "--classes", "a,b", "--encoder", f"file:{bad}")
    assert code == 2 and "could not read" in err
    three = tmp_path / "three.npy"
    np.save(three, np.random.rand(3, 8).astype(np.float32))
    code, _, err = run(capsys, "anchors", "--classes", "a,b", "--encoder", f"file:{three}")
    assert code == 2 and "exactly that many" in err


def test_dimension_mismatch_when_reusing_a_fit(tmp_path, capsys):
    import torch

    from laat_core.expansion import ExpansionError, apply_expansion, fit_expansion

    fit = fit_expansion(torch.randn(4, 384))
    with pytest.raises(ExpansionError, match="dimension 512 does not match the fit's 384"):
        apply_expansion(torch.randn(2, 512), fit)


def test_console_entry_point_without_traceback(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "laat_core.cli", "anchors", "--classes", "x"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "at least 2 classes" in proc.stderr and "Traceback" not in proc.stderr


def test_oversized_template_and_names_are_refused_before_encoding(capsys):
    """Issue 9: a 1 MB template held an anchor-lab worker for 209 s."""
    from laat_core.anchor_lab import run_anchor_lab
    from laat_core.anchors import AnchorError

    huge = "a photo of a {} " + "x" * 1_000_000
    assert main(["anchors", "--classes", "cat, dog", "--prompt", huge]) == 2
    assert "too long" in capsys.readouterr().err
    with pytest.raises(AnchorError, match="too long"):
        run_anchor_lab(["cat", "dog"], "minilm", (huge,), None, "expansion", with_map=False)
    assert main(["anchors", "--classes", "cat, " + "d" * 300]) == 2
    assert "too long" in capsys.readouterr().err
