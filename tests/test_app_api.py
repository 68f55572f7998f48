"""Every public endpoint through gradio_client against a launched app, bad input included."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from PIL import Image

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402

from tests.app_server import AppServer  # noqa: E402

STANDARD, LAAT = "standard (shipped)", "LAAT (shipped)"


@pytest.fixture(scope="module")
def server():
    app = AppServer()
    yield app
    app.stop()


@pytest.fixture(scope="module")
def client(server):
    return Client(server.url, verbose=False)


def expect_error(client, message, *args, api_name):
    """The call fails with a message shown to the user; `message` may list alternatives with '|'."""
    with pytest.raises(Exception) as info:
        client.predict(*args, api_name=api_name)
    assert any(m in str(info.value) for m in message.split("|")), str(info.value)


def test_api_lists_the_endpoints(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    for name in (
        "/anchor_lab",
        "/preset",
        "/draw_sample",
        "/attack",
        "/upload_checkpoint",
        "/shipped_curves",
        "/recompute_curves",
        "/train",
        "/why_laat",
    ):
        assert name in endpoints


def test_anchor_lab_happy_path(client):
    heatmaps, histogram, stats, anchor_map, message = client.predict(
        "cat, dog, ship, truck", "MiniLM (offline)", "a photo of a {}.", False, 3, "expansion", api_name="/anchor_lab"
    )
    assert "4 classes" in message and "first 3 are base" in message
    assert stats["data"][0][0] == "mean off-diagonal cosine"


def test_anchor_lab_presets_and_official_clip_file(client):
    classes, encoder, n_base = client.predict("CIFAR-FS, official CLIP anchors", api_name="/preset")
    assert n_base == 64 and "file" in encoder
    *_, message = client.predict(
        classes, encoder, "a photo of a {}.", False, n_base, "expansion", api_name="/anchor_lab"
    )
    assert "0.759 → 0.175" in message  # the official numbers, from the shipped preset file
    assert "template and ensemble are not used" not in message
    *_, message = client.predict(
        classes, encoder, "a drawing of a {}.", False, n_base, "expansion", api_name="/anchor_lab"
    )
    assert "template and ensemble are not used" in message  # the file encoder says it ignores them


@pytest.mark.parametrize(
    "classes, message",
    [
        ("", "empty"),
        ("cat, cat", "duplicate"),
        ("cat", "at least 2"),
        (", ".join(f"class {i}" for i in range(2000)), "at most 300"),
    ],
)
def test_anchor_lab_bad_class_lists(client, server, classes, message):
    expect_error(
        client, message, classes, "MiniLM (offline)", "a photo of a {}.", False, 0, "expansion", api_name="/anchor_lab"
    )
    assert server.alive()


def test_anchor_lab_bad_template_and_base(client):
    expect_error(
        client, "exactly one", "cat, dog", "MiniLM (offline)", "a photo", False, 0, "expansion", api_name="/anchor_lab"
    )
    expect_error(
        client, "between 2 and 2", "cat, dog", "MiniLM (offline)", "a {}", False, 7, "expansion", api_name="/anchor_lab"
    )


def _png(tmp_path, array, name="img.png"):
    path = tmp_path / name
    Image.fromarray(array).save(path)
    return handle_file(str(path))


def _attack(
    client,
    image,
    classes="red star, blue heart, green cross, red circle, cyan triangle",
    true_class="red star",
    attack="pgd",
    eps=8,
    steps=5,
):
    return client.predict(image, None, classes, true_class, STANDARD, LAAT, attack, eps, steps, api_name="/attack")


def test_draw_sample_then_attack_both_models(client, tmp_path):
    image, true_class = client.predict("red star", 3, api_name="/draw_sample")
    assert true_class == "red star"
    outputs = _attack(client, handle_file(image))
    assert len(outputs) == 14
    summary_a, summary_b = outputs[4], outputs[11]
    assert "cosine to" in outputs[6]["plot"] and "red star" in outputs[6]["plot"]  # model A's anchor-space view
    assert STANDARD in summary_a and LAAT in summary_b and "PGD-5 eps=8/255" in summary_a
    assert f"Transfer: {STANDARD}'s adversarial image → {LAAT} answers" in summary_a  # A's image fed to B
    clean = np.asarray(Image.open(outputs[0]))
    adversarial = np.asarray(Image.open(outputs[1]))
    assert outputs[0].endswith(".png") and clean.shape == adversarial.shape == (128, 128, 3)
    assert np.abs(clean.astype(int) - adversarial.astype(int)).max() <= 9  # eps 8/255 plus rounding
    assert outputs[5] is None and outputs[12] is None  # written only when asked for: the Download button
    files_a, files_b = client.predict(api_name="/download_adversarial")
    assert any("LAAT-shipped" in path for path in files_b)
    png, tensors = sorted(files_a, key=lambda path: path.endswith(".safetensors"))
    assert "red-star_standard-shipped-_PGD-5-eps-8-255" in png and tensors.endswith(".safetensors")
    assert np.asarray(Image.open(png)).shape == (32, 32, 3)  # native resolution
    from safetensors import safe_open

    with safe_open(tensors, framework="pt") as handle:
        assert handle.metadata()["model"] == STANDARD and handle.get_tensor("adversarial").shape == (3, 32, 32)


def test_attack_result_says_what_happened(client):
    """Issue 9: a wrong true class used to read 'prediction held'; now the verdict names the case."""
    image, _ = client.predict("red star", 3, api_name="/draw_sample")
    outputs = _attack(client, handle_file(image), true_class="blue heart", attack="fgsm", eps=1)
    for summary in (outputs[4], outputs[11]):
        assert "already misclassified before the attack" in summary or "prediction flipped" in summary
    outputs = _attack(client, handle_file(image), true_class="red star", attack="pgd", eps=16)
    assert "prediction flipped to" in outputs[4]  # the standard model falls at 16/255


def test_fast_attacks_do_not_wait_behind_an_autoattack(client):
    """Issue 9: a 0.1 s PGD waited 47-59 s behind another tab's AutoAttack."""
    image, _ = client.predict("red star", 3, api_name="/draw_sample")
    slow = client.submit(
        handle_file(image), None, "red star, blue heart, green cross, red circle, cyan triangle", "red star",
        STANDARD, LAAT, "autoattack", 1, 1, api_name="/attack",
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while slow.status().code.name not in ("PROCESSING",) and time.monotonic() < deadline:
        time.sleep(0.1)
    outputs = _attack(client, handle_file(image), attack="pgd", eps=8, steps=5)
    assert "PGD-5 eps=8/255" in outputs[4]
    # The PGD came back while the AutoAttack (at 1/255 LAAT survives, so it runs its whole budget) still runs.
    assert not slow.done()
    assert "AutoAttack" in slow.result()[4]


def test_a_second_autoattack_is_told_the_server_is_busy():
    import gradio as gr

    from app import ui

    assert ui.AUTOATTACK_SLOTS.acquire(blocking=False)  # as if another user's AutoAttack were running
    try:
        with pytest.raises(gr.Error, match="Another AutoAttack is running"):
            next(ui.run_attacks(None, None, "red star, blue heart", "", STANDARD, LAAT, "autoattack", 8, 1, {}))
    finally:
        ui.AUTOATTACK_SLOTS.release()


def _red_star() -> np.ndarray:
    from laat_core.data import shapes

    return (shapes.render_class("red star", seed=3).permute(1, 2, 0).numpy() * 255).astype(np.uint8)


def test_autoattack_shows_progress_and_stops_when_its_page_leaves(monkeypatch):
    """Issue 9: AutoAttack ran up to 193 s with no progress and no cancel. Closing the generator is what Gradio
    does when the page stops listening (Stop button, closed tab): the worker must end within seconds."""
    from app import ui

    monkeypatch.setattr(ui, "CLIENT_GONE_S", 1.0)
    classes = "red star, blue heart, green cross, red circle, cyan triangle"
    run = ui.run_attacks(_red_star(), None, classes, "red star", LAAT, LAAT, "autoattack", 1, 1, {})
    deadline = time.monotonic() + 90  # a cold worker process imports torch and loads the models first
    while not any(name in next(run)[ui.ATTACK_SUMMARY_INDEX] for name in ("apgd-ce", "apgd-t", "fab-t", "square")):
        assert time.monotonic() < deadline, "no progress naming an AutoAttack component"  # LAAT holds at 1/255
    run.close()
    deadline = time.monotonic() + 15
    while not ui.AUTOATTACK_SLOTS.acquire(blocking=False):
        assert time.monotonic() < deadline, "the AutoAttack worker kept running after its page left"
        time.sleep(0.2)
    ui.AUTOATTACK_SLOTS.release()


def test_each_page_gets_a_few_slow_jobs_and_is_told_when_it_has_used_them():
    """Issue 9: one client could fill the whole queue (45 submissions, no per-client limit)."""
    import gradio as gr

    from app import jobs, ui

    class Page:
        session_hash = "one-tab"

    held = [jobs.JOBS.job("one-tab") for _ in range(jobs.MAX_JOBS_PER_SESSION)]
    for slot in held:
        slot.__enter__()
    try:
        with pytest.raises(gr.Error, match="already runs 2 slow jobs"):
            next(ui.run_attacks(_red_star(), None, "red star, blue heart", "", STANDARD, LAAT, "pgd", 8, 5, {}, Page()))
        with pytest.raises(gr.Error, match="already runs 2 slow jobs"):
            next(ui.train_live("laat", "mild", 1, True, 10, 30, 0.2, 4.0, {}, Page()))

        class Other:
            session_hash = "another-tab"

        outputs = next(
            ui.run_attacks(_red_star(), None, "red star, blue heart", "", STANDARD, LAAT, "pgd", 8, 5, {}, Other())
        )
        assert "PGD-5" in outputs[ui.ATTACK_SUMMARY_INDEX]  # another page is not affected
    finally:
        for slot in held:
            slot.__exit__(None, None, None)
    assert jobs.JOBS.running() == 0


def test_a_greedy_tab_is_refused_by_its_own_limit_and_others_are_served(server):
    """Issue 9: one client could fill the whole queue (45 submissions); others then got "Queue is full"."""
    classes = "red star, blue heart, green cross, red circle, cyan triangle"
    greedy = Client(server.url, verbose=False)
    jobs = [
        greedy.submit(f"{classes}, class {i}", "MiniLM (offline)", "a photo of a {}.", False, 0, "expansion",
                      api_name="/anchor_lab")
        for i in range(24)
    ]  # fmt: skip
    other = Client(server.url, verbose=False)
    start = time.monotonic()
    other.predict(classes, "MiniLM (offline)", "a photo of a {}.", False, 0, "expansion", api_name="/anchor_lab")
    assert time.monotonic() - start < 30
    outcomes = []
    for job in jobs:
        try:
            job.result(timeout=120)
            outcomes.append("served")
        except Exception as error:  # each refusal must be the page limit's message, never a full queue
            assert "slow jobs" in str(error), str(error)
            outcomes.append("refused")
    assert "served" in outcomes and "refused" in outcomes


def test_a_download_is_written_when_the_attack_returned_its_input():
    """Found by the load test: an AutoAttack stopped by its time limit returns the clean image itself, and
    safetensors refused to write two tensors sharing memory ("Some tensors share memory")."""
    import torch
    from safetensors.torch import load_file

    from app import ui
    from laat_core.attack_lab import AttackOutcome

    image = torch.rand(3, 32, 32)
    same = AttackOutcome("LAAT", "AutoAttack eps=8/255", image, image, {}, {}, "red star", "red star", "red star",
                         False, 0.0, 60.0, "time limit reached")  # fmt: skip
    png, tensors = ui._downloads("LAAT", same)
    assert torch.equal(load_file(tensors)["adversarial"], image)


def test_download_before_any_attack_says_what_to_do(server):
    fresh = Client(server.url, verbose=False)  # a page of its own: no attack yet
    expect_error(fresh, "Attack first", api_name="/download_adversarial")


def test_old_result_files_are_deleted_at_most_once_a_minute(tmp_path, monkeypatch):
    """Scanning the folder with every image cost 2/3 of each image's time under load; old files still go."""
    from app import ui

    monkeypatch.setattr(ui, "OUTPUT_ROOT", tmp_path)
    monkeypatch.setitem(ui._cleanup, "last", 0.0)
    old = tmp_path / "old.png"
    old.write_bytes(b"x")
    os.utime(old, (time.time() - ui.OUTPUT_MAX_AGE_S - 1,) * 2)
    ui._delete_old_outputs()
    assert not old.exists()
    old.write_bytes(b"x")
    os.utime(old, (time.time() - ui.OUTPUT_MAX_AGE_S - 1,) * 2)
    ui._delete_old_outputs()  # within the minute: no scan
    assert old.exists()
    monkeypatch.setitem(ui._cleanup, "last", time.time() - ui.CLEANUP_EVERY_S - 1)
    ui._delete_old_outputs()
    assert not old.exists()


def test_the_server_runs_with_two_malloc_arenas(server):
    """Issue 9: memory kept growing over a 10-minute load test with glibc's default arenas; app/main.py
    restarts itself once with MALLOC_ARENA_MAX=2 (RELIABILITY.md)."""
    from pathlib import Path

    environ = Path(f"/proc/{server.process.pid}/environ").read_bytes().split(b"\0")
    assert b"MALLOC_ARENA_MAX=2" in environ or os.environ.get("MALLOC_ARENA_MAX")


def test_a_full_server_refuses_a_training_at_once():
    import gradio as gr

    from app import jobs, ui

    taken = [jobs.TRAININGS.acquire(blocking=False) for _ in range(jobs.TRAINING_SLOTS)]
    assert all(taken)
    try:
        with pytest.raises(gr.Error, match="already runs 2 trainings"):
            next(ui.train_live("laat", "mild", 1, True, 10, 30, 0.2, 4.0, {}))
    finally:
        for _ in taken:
            jobs.TRAININGS.release()


def test_a_training_whose_page_left_stops_and_frees_its_slot(monkeypatch):
    """Issue 9: a training kept running for more than 26 minutes after its client disconnected."""
    from app import jobs, ui

    monkeypatch.setattr(ui, "CLIENT_GONE_S", 1.0)
    run = ui.train_live("laat", "mild", 30, True, 40, 600, 0.2, 4.0, {})
    for _ in range(3):
        next(run)  # "training started", then running updates: the page is listening
    # the page stops asking for updates (closed tab) without closing the generator
    deadline = time.monotonic() + 60
    while True:
        slots = [jobs.TRAININGS.acquire(blocking=False) for _ in range(jobs.TRAINING_SLOTS)]
        for ok in slots:
            if ok:
                jobs.TRAININGS.release()
        if all(slots):
            break
        assert time.monotonic() < deadline, "the training went on after its page left"
        time.sleep(0.5)


def test_no_share_button_off_spaces(server, monkeypatch):
    """Issue 9: Gradio's Share button (a post to a Spaces discussion) failed off Spaces; only a Space offers it."""
    import json
    import urllib.request

    from app.components import image_buttons

    with urllib.request.urlopen(server.url + "config", timeout=30) as response:
        config = json.loads(response.read())
    images = [c for c in config["components"] if c.get("type") in ("image", "imageeditor")]
    assert len(images) >= 8 and all("share" not in c["props"].get("buttons", []) for c in images)
    monkeypatch.setenv("SPACE_ID", "someone/laat-lab")
    assert "share" in image_buttons()


def test_user_text_is_escaped_in_messages(client):
    """Issue 9: the help text '<colour> <shape>' was rendered as markup and vanished from the toast."""
    with pytest.raises(Exception) as info:
        client.predict("draw me a <b>cat</b>", 0, api_name="/draw_sample")
    assert "&lt;colour&gt; &lt;shape&gt;" in str(info.value) and "&lt;b&gt;cat" in str(info.value)


@pytest.mark.parametrize("kind", ["rgba", "grey", "huge_ok"])
def test_attack_accepts_rgba_greyscale_and_large_images(client, tmp_path, kind):
    rng = np.random.default_rng(0)
    arrays = {
        "rgba": rng.integers(0, 255, (40, 40, 4), dtype=np.uint8),
        "grey": rng.integers(0, 255, (40, 40), dtype=np.uint8),
        "huge_ok": rng.integers(0, 255, (1200, 1600, 3), dtype=np.uint8),
    }
    outputs = _attack(client, _png(tmp_path, arrays[kind]), true_class="", attack="fgsm")
    assert "FGSM eps=8/255" in outputs[4]


BAD_ATTACK_INPUTS = [
    # (image kind, class list, true class, eps, steps, expected message or alternatives)
    ("tiny", "red star, blue heart", "", 8, 5, "too small"),
    ("huge", "red star, blue heart", "", 8, 5, "too large"),
    ("ok", "red star, blue heart", "", 300, 5, "eps must be between|greater than maximum value 32"),
    ("ok", "red star, blue heart", "", 8, 0, "steps must be between|less than minimum value 1"),
    ("none", "red star, blue heart", "", 8, 5, "no image"),
    ("ok", "red star, blue heart", "green cross", 8, 5, "not in the class list"),
    ("ok", "red star, red star", "", 8, 5, "duplicate"),
    ("text", "red star, blue heart", "", 8, 5, "notes.png is not an image file"),
]


def _bad_image(tmp_path, kind):
    if kind == "none":
        return None
    if kind == "text":
        path = tmp_path / "notes.png"
        path.write_text("this is not an image")
        return handle_file(str(path))
    side = {"tiny": 1, "huge": 4200, "ok": 32}[kind]
    return _png(tmp_path, np.zeros((side, side, 3), dtype=np.uint8), f"{kind}.png")


@pytest.mark.parametrize("kind, classes, true_class, eps, steps, message", BAD_ATTACK_INPUTS)
def test_attack_bad_inputs_get_clear_messages(client, server, tmp_path, kind, classes, true_class, eps, steps, message):
    image = _bad_image(tmp_path, kind)
    expect_error(
        client, message, image, None, classes, true_class, STANDARD, LAAT, "pgd", eps, steps, api_name="/attack"
    )
    assert server.alive()


def test_app_keeps_serving_after_bad_inputs(client, tmp_path):
    ok = _png(tmp_path, np.zeros((32, 32, 3), dtype=np.uint8), "ok.png")
    assert "PGD" in _attack(client, ok, true_class="")[4]


def test_upload_checkpoint_rejects_non_checkpoints(client, tmp_path):
    bogus = tmp_path / "bogus.safetensors"
    bogus.write_bytes(b"not a checkpoint")
    expect_error(client, "not a readable safetensors", handle_file(str(bogus)), api_name="/upload_checkpoint")


def test_upload_shipped_checkpoint(client):
    from app.services import SHIPPED

    *_, message = client.predict(handle_file(str(SHIPPED[LAAT])), api_name="/upload_checkpoint")
    assert "Loaded shapes-laat.safetensors (laat)" in message


def test_models_without_anchors_or_classifier_are_refused_with_the_cli_to_use(client, tmp_path):
    """An AQ model classifies from support images, which the attack lab and Compare do not take: one upload
    used to break the whole Compare recompute. The Train tab does not offer one (the dropdown is checked)."""
    from laat_core.training import TrainConfig, train

    path = tmp_path / "aq.safetensors"
    train(TrainConfig(method="aq", epochs=1, n_per_class=8, val_per_class=3, val_pgd_images=8, attack_steps=1,
                      episode_shots=2, episode_queries=3), out=path, progress=False)  # fmt: skip
    expect_error(client, "laat eval --shots 1", handle_file(str(path)), api_name="/upload_checkpoint")
    expect_error(client, "not in the list of choices", "aq", "mild", 1, True, 10, 60, 0.2, 4.0, api_name="/train")


def test_compare_shipped_and_recompute(client):
    _, message = client.predict(api_name="/shipped_curves")
    assert "Shipped results" in message
    _, message = client.predict("fgsm", 1, api_name="/recompute_curves")
    assert "Recomputed: FGSM-10, 1 fresh images per class" in message
    expect_error(client, "between 1 and 20|greater than maximum value 20", "pgd", 500, api_name="/recompute_curves")


def test_train_live_short_run(client):
    plot, message, checkpoint = client.predict("standard", "clip-like", 1, True, 10, 30, 0.1, 1.0, api_name="/train")
    assert "Done in" in message and checkpoint.endswith(".safetensors")
    expect_error(client, "positive", "laat", "mild", 1, True, 10, 30, 0.0, 1.0, api_name="/train")
    expect_error(
        client, "prompt template|not in the list", "laat", "extreme", 1, True, 10, 30, 0.2, 1.0, api_name="/train"
    )


@pytest.mark.parametrize("split", ["pairs", "fill", "fill-tau0.1"])
def test_why_laat_view(client, split):
    from laat_core.why_laat import SPLIT_LABELS, load_summary

    heatmaps, bars, text, table = client.predict(SPLIT_LABELS[split], api_name="/why_laat")
    summary = load_summary(split)
    if summary is None:
        assert "not been run" in text
    else:
        assert text.startswith("**Metric:**") and "mild" in text and "clip-like" in text
        assert f"{split.split('-')[0]} split" in text
        assert {row[1] for row in table["data"]} >= {"anchor-at", "laat"}
    expect_error(client, "unknown benchmark|not in the list", "<b>tiny</b>", api_name="/why_laat")


def test_clip_zero_shot_is_offered_with_local_weights(tmp_path):
    """LAAT_CLIP=<model>/<local file> turns CLIP on: here a random-weight ViT-S-32-alt saved by the test."""
    import open_clip
    from safetensors.torch import save_file

    path = tmp_path / "vit-s-32-alt.safetensors"
    save_file({k: v.contiguous() for k, v in open_clip.create_model("ViT-S-32-alt").state_dict().items()}, str(path))
    app = AppServer(extra_env={"LAAT_CLIP": f"ViT-S-32-alt/{path}"})
    try:
        client = Client(app.url, verbose=False)
        image, _ = client.predict("red star", 0, api_name="/draw_sample")
        outputs = client.predict(
            handle_file(image),
            None,
            "red star, blue heart",
            "",
            "CLIP zero-shot",
            LAAT,
            "fgsm",
            8,
            1,
            api_name="/attack",
        )
        assert "CLIP zero-shot" in outputs[4] and "FGSM eps=8/255" in outputs[4]
        _, encoder, _ = client.predict("CIFAR-10", api_name="/preset")
        *_, message = client.predict(
            "cat, dog", f"CLIP ViT-S-32-alt/{path}", "a photo of a {}.", False, 0, "expansion", api_name="/anchor_lab"
        )
        assert "2 classes" in message
    finally:
        app.stop()


def test_trained_checkpoints_on_disk_are_bounded(tmp_path, monkeypatch):
    """Issue 9: every trained model stayed in /tmp forever."""
    from app import ui

    monkeypatch.setattr(ui, "TRAINED_ROOT", tmp_path / "trained")
    monkeypatch.setattr(ui, "KEEP_TRAINED", 3)
    made = []
    for i in range(6):
        folder = ui._fresh_training_dir()
        (folder / "m.safetensors").write_bytes(b"x")
        os.utime(folder, (i, i))  # oldest first
        made.append(folder)
    left = sorted((tmp_path / "trained").iterdir())
    assert len(left) == 3 and made[-1] in left and made[0] not in left


def test_classroom_mode_limits_slow_work_on_the_server():
    """Issue 9: a launch flag / Space variable that turns AutoAttack off and keeps trainings short."""
    app = AppServer(extra_env={"LAAT_CLASSROOM": "1"})
    try:
        client = Client(app.url, verbose=False)
        image, _ = client.predict("red star", 0, api_name="/draw_sample")
        # refused by the component's choices or by run_attacks itself, whichever checks first
        expect_error(client, "switched off in classroom mode|not in the list of choices", handle_file(image), None, "red star, blue heart", "",
                     STANDARD, LAAT, "autoattack", 8, 1, api_name="/attack")  # fmt: skip
        expect_error(client, "classroom mode: at most 3 epochs|greater than maximum value", "laat", "mild", 10, True, 10, 30, 0.2, 4.0,
                     api_name="/train")  # fmt: skip
        outputs = _attack(client, handle_file(image), attack="fgsm")
        assert "FGSM eps=8/255" in outputs[4]
    finally:
        app.stop()


def test_classroom_limits_hold_in_the_handlers_too(monkeypatch):
    """Behind the page's choices, the handlers refuse the same things (for API callers)."""
    import gradio as gr

    from app import ui

    monkeypatch.setitem(ui.CLASSROOM, "on", True)
    with pytest.raises(gr.Error, match="switched off in classroom mode"):
        next(ui.run_attacks(None, None, "red star, blue heart", "", STANDARD, LAAT, "autoattack", 8, 1, {}))
    with pytest.raises(gr.Error, match="at most 3 epochs"):
        next(ui.train_live("laat", "mild", 10, True, 10, 30, 0.2, 4.0, {}))


def test_identical_results_served_at_once_are_all_whole(server):
    """Issue 9: 20 concurrent identical draw_sample calls failed 12% of the time (truncated files): Gradio
    caches outputs by content hash and rewrote the shared file while serving it."""
    from concurrent.futures import ThreadPoolExecutor

    def draw(_):
        image, _ = Client(server.url, verbose=False).predict("red star", 0, api_name="/draw_sample")
        return np.asarray(Image.open(image)).shape

    with ThreadPoolExecutor(12) as pool:
        shapes = list(pool.map(draw, range(20)))
    assert shapes == [(128, 128, 3)] * 20


def test_eps_sweep_finds_where_each_model_flips(client):
    image, _ = client.predict("red star", 3, api_name="/draw_sample")
    text = client.predict(handle_file(image), None, "red star, blue heart, green cross", "red star", STANDARD, LAAT,
                          api_name="/eps_sweep")  # fmt: skip
    assert f"**{STANDARD}**: flips at eps = **" in text  # the standard model falls at a small eps
    assert LAAT in text


def test_pgd_trajectory_steps_extend_each_other():
    """Step k of the step-by-step view is the k-step PGD with the same start and step size."""
    from laat_core.attack_lab import pgd_trajectory
    from laat_core.attacks import AttackSpec
    from laat_core.data import shapes
    from laat_core.trained import load_trained

    trained = load_trained("assets/models/shapes-standard.safetensors")
    names = ["red star", "blue heart", "green cross"]
    frames = pgd_trajectory(trained, shapes.render_class("red star", seed=1), names, 0, AttackSpec("pgd", 8 / 255, 5))
    assert [f["step"] for f in frames] == list(range(6))
    assert frames[-1]["loss"] > frames[0]["loss"]  # the attack climbs the loss
    assert all(float((f["image"] - frames[0]["image"]).abs().max()) <= 8 / 255 + 1e-6 for f in frames)


def test_autoattack_runs_in_a_worker_process_that_a_crash_does_not_take_down(monkeypatch):
    """AutoAttack's Python loop held the server's GIL and slowed every PGD (RELIABILITY.md): it runs in a process
    of its own. If that process dies mid-attack the user is told, the slot is freed and the next attack works."""
    import signal

    import gradio as gr

    from app import ui

    classes = "red star, blue heart, green cross, red circle, cyan triangle"
    run = ui.run_attacks(_red_star(), None, classes, "red star", LAAT, LAAT, "autoattack", 1, 1, {})
    deadline = time.monotonic() + 90  # a cold worker imports torch and loads the models first
    while "AutoAttack on" not in next(run)[ui.ATTACK_SUMMARY_INDEX]:  # at 1/255 LAAT holds: it keeps running
        assert time.monotonic() < deadline, "no progress from the AutoAttack worker"
    worker = ui.AUTOATTACK_WORKER._process
    assert worker.is_alive() and worker.pid != os.getpid()
    os.kill(worker.pid, signal.SIGKILL)
    with pytest.raises(gr.Error, match="stopped unexpectedly"):
        for _ in run:
            pass
    assert ui.AUTOATTACK_SLOTS.acquire(blocking=False)  # freed
    ui.AUTOATTACK_SLOTS.release()
    outputs = list(ui.run_attacks(_red_star(), None, classes, "blue heart", STANDARD, STANDARD, "autoattack", 8, 1, {}))
    assert "AutoAttack" in outputs[-1][ui.ATTACK_SUMMARY_INDEX] and ui.AUTOATTACK_WORKER._process.pid != worker.pid


def test_an_autoattack_worker_that_stops_answering_is_ended(monkeypatch):
    """The server waits at most the attack's time limit plus a start-up allowance, then ends the worker."""
    import gradio as gr

    from app import attack_worker, ui

    ui.AUTOATTACK_WORKER.close()  # a cold worker: importing torch alone takes longer than the deadline below
    monkeypatch.setattr(attack_worker, "START_ALLOWANCE_S", 0.0)
    monkeypatch.setattr(ui, "AUTOATTACK_TIME_LIMIT_S", 0.3)
    with pytest.raises(gr.Error, match="stopped answering"):
        list(ui.run_attacks(_red_star(), None, "red star, blue heart", "", LAAT, LAAT, "autoattack", 1, 1, {}))
    assert ui.AUTOATTACK_WORKER._process is None
    assert ui.AUTOATTACK_SLOTS.acquire(blocking=False)  # freed
    ui.AUTOATTACK_SLOTS.release()


def test_quick_attacks_run_outside_the_server_process(monkeypatch):
    """PGD's Python loop held the server's GIL (RELIABILITY.md): the attack runs in a pool worker. Breaking the
    attack function in this process changes nothing, because this process no longer runs it."""
    import laat_core.attack_lab as attack_lab
    from app import ui

    def not_here(*args, **kwargs):
        raise AssertionError("the attack ran in the server process")

    monkeypatch.setattr(attack_lab, "attack_image", not_here)
    outputs = next(
        ui.run_attacks(_red_star(), None, "red star, blue heart", "red star", STANDARD, LAAT, "pgd", 8, 5, {})
    )
    assert "PGD-5 eps=8/255" in outputs[ui.ATTACK_SUMMARY_INDEX]
