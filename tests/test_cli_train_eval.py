import json

import pytest

from laat_core.cli import main, parse_eps


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "laat.safetensors"
    code = main(
        ["train", "--method", "laat", "--epochs", "1", "--n-per-class", "3", "--steps", "2", "--out", str(path)]
    )
    assert code == 0 and path.is_file()
    return path


def test_eval_json_has_the_contract_fields(checkpoint, capsys):
    capsys.readouterr()
    code = main(
        [
            "eval",
            str(checkpoint),
            "--split",
            "novel",
            "--attack",
            "fgsm",
            "--eps",
            "8/255",
            "--full",
            "--n-per-class",
            "3",
            "--json",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    result = json.loads(out)
    for key in ("split", "attack", "eps", "n", "accuracy", "ci95"):
        assert key in result
    assert result["split"] == "novel" and result["attack"] == "fgsm" and result["n"] == 48
    assert result["eps"] == pytest.approx(8 / 255) and 0 <= result["accuracy"] <= 1
    assert set(result["sanity"]["accuracy"]) == {"none", "fgsm", "pgd"}


def test_eval_episodes_zero_and_one_shot(checkpoint, capsys):
    for shots in ("0", "1"):
        capsys.readouterr()
        code = main(
            [
                "eval",
                str(checkpoint),
                "--attack",
                "none",
                "--episodes",
                "5",
                "--n-per-class",
                "21",
                "--shots",
                shots,
                "--no-sanity",
                "--json",
            ]
        )
        result = json.loads(capsys.readouterr().out)
        assert code == 0 and result["n"] == 5 * 5 * 20 and f"{shots}-shot" in result["protocol"]


def test_split_all_is_generalized_zero_shot_over_64_classes(checkpoint, capsys):
    outputs = []
    for seed in ("1", "2"):
        capsys.readouterr()
        main(
            [
                "eval",
                str(checkpoint),
                "--split",
                "all",
                "--attack",
                "none",
                "--full",
                "--n-per-class",
                "2",
                "--seed",
                seed,
                "--no-sanity",
                "--json",
            ]
        )
        outputs.append(json.loads(capsys.readouterr().out))
    assert outputs[0]["n"] == outputs[1]["n"] == 128


@pytest.mark.parametrize(
    "argv, message",
    [
        (["eval", "/no/such.safetensors"], "checkpoint not found"),
        (["eval", "{ckpt}", "--eps", "8/0"], "eps must be a number"),
        (["eval", "{ckpt}", "--eps", "2"], "eps must lie in [0, 1]"),
        (["eval", "{ckpt}", "--steps", "0"], "must be between 1 and"),
        (["eval", "{bad}"], "not a readable safetensors"),
        (["train", "--epochs", "0"], "must be between 1 and"),
        (["train", "--tau", "0"], "tau and lr must be positive"),
        # issue 9: each of these used to end in a traceback or to be accepted
        (["train", "--n-per-class", "2", "--epochs", "1"], "make no full batch"),
        (["train", "--data", "imagefolder:/etc/passwd", "--epochs", "1"], "not an image-folder data set"),
        (["eval", "{ckpt}", "--n-per-class", "-5"], "must be between 1 and"),
        (["anchors", "--classes", "cat, dog", "--prompt", "a {} of {x}"], "braces other than"),
        (["train", "--out", "{tmp}"], "is a directory"),
        (["train", "--out", "model.pt"], "checkpoints are .safetensors files"),
        (["train", "--steps", "1e9"], "must be an integer"),
        (["train", "--steps", "1000000000"], "must be between 1 and"),
        (["eval", "{ckpt}", "--episodes", "1000000000"], "must be between 1 and"),
        (["train", "--lr", "inf"], "must be finite"),
    ],
)
def test_cli_errors(checkpoint, tmp_path, capsys, argv, message):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not safetensors at all")
    fill = {"{ckpt}": str(checkpoint), "{bad}": str(bad), "{tmp}": str(tmp_path)}
    argv = [fill.get(a, a) for a in argv]
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own validation
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err


def test_parse_eps():
    assert parse_eps("8/255") == pytest.approx(8 / 255)
    assert parse_eps("0.03") == pytest.approx(0.03)
