"""The Gradio app: anchor lab, attack lab, compare, train, about. Thin: it calls laat_core and plots."""

from __future__ import annotations

import contextlib
import html
import json
import os
import queue
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

import gradio as gr
import numpy as np

from app import figures, texts
from app.attack_worker import AttackWorker, WorkerCrashed, WorkerPool
from app.components import ImageInput, image_buttons, output_image
from app.jobs import JOBS, TRAINING_SLOTS, TRAININGS, Busy, session_of
from app.services import (
    CIFARFS_ANCHORS,
    CLIP_LABEL,
    CURVES,
    EXAMPLES,
    clip_spec,
    get_clip,
    get_model,
    shipped_models,
)
from laat_core.anchor_lab import run_anchor_lab, stats_rows
from laat_core.anchors import DEFAULT_TEMPLATE, ENSEMBLE_TEMPLATES, AnchorError, parse_class_names
from laat_core.attack_lab import (
    AttackWatch,
    InputError,
    check_attack_settings,
    pgd_trajectory,
    prepare_image,
    smallest_flipping_eps,
)
from laat_core.checkpoint import CheckpointError
from laat_core.compare import default_eps_grid, robustness_curve
from laat_core.data import shapes
from laat_core.data.real import cifar_fs_split
from laat_core.encoders import EncoderError
from laat_core.methods import METHODS
from laat_core.regimes import DEFAULT_REGIME, REGIMES
from laat_core.training import TrainConfig, train
from laat_core.why_laat import (
    METRIC_LABEL,
    SPLIT_LABELS,
    STUDY_SPLIT,
    explanation,
    load_summary,
    regime_matrices,
    row_results,
)

TRAIN_TAB_STEPS = 3  # PGD steps of the Train tab's (non-fast) attack: live training must stay short
STEPLESS_ATTACKS = ("fgsm", "autoattack")  # attacks that ignore the steps slider
ATTACK_CHOICES = ("fgsm", "pgd", "cw", "apgd", "autoattack")
# Classroom mode (app/main.py --classroom, or LAAT_CLASSROOM=1 on a Space): no AutoAttack, short trainings,
# and "predict, then reveal" on by default. Enforced on the server, not only in the page.
CLASSROOM_LIMITS = {"max_epochs": 3, "max_budget_s": 120, "no_attacks": ("autoattack",)}
CLASSROOM = {"on": False}  # set once by build_app
GUESSES = ("A is fooled", "B is fooled", "both are fooled", "neither is fooled")
AUTOATTACK_TIME_LIMIT_S = 60.0  # per model, checked at every forward pass inside the attack
# A running AutoAttack or training stops when its page stops listening: the page gets an update every
# PROGRESS_EVERY_S, and a worker whose page has not asked for one in CLIENT_GONE_S (tab closed, network gone, Stop
# pressed) gives up at its next forward pass (AutoAttack) or batch (training).
# Gradio closes the generator when a page leaves (the main path); the poll is a fallback, long enough that a
# busy server's thread pool resuming a generator late is not mistaken for a page that left.
PROGRESS_EVERY_S = 0.5
CLIENT_GONE_S = 30.0
APP_MAX_CLASSES = 300  # heatmaps and UMAP of more classes are unreadable and slow in a browser
CIFAR10 = "airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck"
MINILM = "MiniLM (offline)"
CIFARFS_FILE = "official CLIP anchors of CIFAR-FS (file)"
_STOP_FLAGS: dict[str, threading.Event] = {}  # run id -> stop flag of a Train-tab training in progress
USER_ERRORS = (AnchorError, EncoderError, InputError, CheckpointError, ValueError, WorkerCrashed)
# The app's models answer for a class list (anchors or a linear head). Episodic methods (aq) classify from support
# images, which the attack lab and Compare do not take: they are trained and evaluated with the CLI.
APP_METHODS = {name: method for name, method in METHODS.items() if not method.episodic}


def shown(text: object) -> str:
    """User-supplied text made safe to show: Gradio renders toasts and Markdown as HTML."""
    return html.escape(str(text), quote=False)


def user_error(error: object) -> gr.Error:
    return gr.Error(shown(error))


def _presets() -> dict[str, tuple[str, str, int]]:
    """name -> (class list, encoder choice, number of base classes)."""
    base, novel = shapes.default_split()
    split = cifar_fs_split()
    cifarfs = [n.replace("_", " ") for n in split["base"] + split["val"] + split["novel"]]
    return {
        "CIFAR-10": (CIFAR10, MINILM, 10),
        "shapes (48 base + 16 novel)": (", ".join(base + novel), MINILM, 48),
        "CIFAR-FS, official CLIP anchors": (", ".join(cifarfs), CIFARFS_FILE, 64),
    }


def encoder_choices() -> tuple[list[str], str]:
    """Encoder dropdown entries, and a note on CLIP (enabled by LAAT_CLIP=<model>/<pretrained>)."""
    choices = [MINILM, CIFARFS_FILE]
    clip = os.environ.get("LAAT_CLIP")
    if clip:
        choices.append(f"CLIP {clip}")
        return choices, f"CLIP is on: `{clip}`."
    return (
        choices,
        "CLIP is off: no weights here (offline). Set `LAAT_CLIP=ViT-B-32/openai` online, or a local file path.",
    )


def encoder_spec(choice: str) -> str:
    if choice == MINILM:
        return "minilm"
    if choice == CIFARFS_FILE:
        return f"file:{CIFARFS_ANCHORS}"
    if choice.startswith("CLIP "):
        return f"openclip:{choice[len('CLIP ') :]}"
    raise user_error(f"unknown encoder {choice!r}")


# ------------------------------------------------------------------ anchor lab
def anchor_lab(
    class_text: str, encoder: str, template: str, ensemble: bool, n_base: float, method: str, request: gr.Request = None
):
    """The anchor lab (also run once when a page opens), within the page's slow-job slots."""
    with _session_job(request):
        return _anchor_lab(class_text, encoder, template, ensemble, n_base, method)


def _anchor_lab(class_text: str, encoder: str, template: str, ensemble: bool, n_base: float, method: str):
    try:
        names = parse_class_names(class_text, max_classes=APP_MAX_CLASSES)
        templates = ENSEMBLE_TEMPLATES if ensemble else (template or DEFAULT_TEMPLATE,)
        n_base = int(n_base or 0) or None
        if n_base is not None and not 2 <= n_base <= len(names):
            raise ValueError(f"base classes must be between 2 and {len(names)} (0 = all), got {n_base}")
        result = run_anchor_lab(names, encoder_spec(encoder), templates, n_base, method)
    except USER_ERRORS as error:
        raise user_error(error) from None
    message = (
        f"{len(names)} classes · encoder {shown(encoder)} · first {result.n_base} are base · {shown(method)}. "
        f"Mean off-diagonal cosine {result.stats_before.mean_offdiag:.3f} → {result.stats_after.mean_offdiag:.3f}."
    )
    message += "".join(f"\n\n**Warning:** {shown(w)}" for w in result.warnings)
    if encoder_spec(encoder).startswith("file:") and (ensemble or (template or DEFAULT_TEMPLATE) != DEFAULT_TEMPLATE):
        message += "\n\n**Note:** a feature file holds finished anchors: the prompt template and ensemble are not used."
    return (
        figures.cosine_heatmaps(names, result.cos_before, result.cos_after, method),
        figures.cosine_histogram(result.pairs_before, result.pairs_after),
        stats_rows(result),
        figures.anchor_maps(names, result.map_before, result.map_after, result.map_method, result.n_base),
        message,
    )


def load_preset(preset: str):
    classes, encoder, n_base = _presets()[preset]
    return classes, encoder, n_base


# ------------------------------------------------------------------ attack lab
def model_choices(session_models: dict | None, with_clip: bool = True) -> list[str]:
    """Trained models (shipped, then the session's); CLIP zero-shot too when LAAT_CLIP is set."""
    clip = [CLIP_LABEL] if with_clip and clip_spec() else []
    return list(shipped_models()) + list((session_models or {}).keys()) + clip


def _model_ref(label: str, session_models: dict | None) -> str:
    """What a dropdown label stands for: a checkpoint path, or CLIP_LABEL when CLIP is on."""
    if label == CLIP_LABEL and clip_spec():
        return CLIP_LABEL
    paths = {**{k: str(v) for k, v in shipped_models().items()}, **(session_models or {})}
    if label not in paths:
        raise user_error(f"model {label!r} is not available (train one or upload a checkpoint)")
    return paths[label]


def _resolve_model(label: str, session_models: dict | None):
    """The model (anything with head_for(names)) behind a dropdown label."""
    ref = _model_ref(label, session_models)
    if ref == CLIP_LABEL:
        try:
            return get_clip()
        except EncoderError as error:
            raise user_error(error) from None
    return get_model(ref)


def draw_sample(class_name: str, seed: float):
    try:
        image = shapes.render_class(class_name, seed=int(seed or 0))
    except ValueError as error:
        raise user_error(error) from None
    return _png(image), class_name.strip().lower()


def _image_from_inputs(upload, sketch):
    if upload is not None:
        return upload
    if isinstance(sketch, dict) and sketch.get("composite") is not None:
        return sketch["composite"]
    return None


DISPLAY_SCALE = 4  # 32x32 results are shown 4x larger, nearest-neighbour: every pixel kept exactly


OUTPUT_ROOT = Path(tempfile.gettempdir()) / "laat-lab-images"
OUTPUT_MAX_AGE_S = 900  # result images older than this are deleted (Gradio keeps its own copy while serving)


def _png(tensor) -> str:
    """The image as a PNG file of its own. Gradio caches outputs under a hash of their content and writes
    that file in place, so two identical results served at once could read each other's half-written file
    (seen under load). A unique text chunk makes every file's content unique; the pixels are untouched."""
    from PIL import Image, PngImagePlugin

    OUTPUT_ROOT.mkdir(exist_ok=True)
    _delete_old_outputs()
    info = PngImagePlugin.PngInfo()
    info.add_text("laat-lab-result", uuid.uuid4().hex)
    path = OUTPUT_ROOT / f"{uuid.uuid4().hex}.png"
    Image.fromarray(_to_uint8(tensor)).save(path, pnginfo=info)
    return str(path)


CLEANUP_EVERY_S = 60.0  # scanning the folder on every image cost 2/3 of each image's time under load (py-spy)
_cleanup = {"last": 0.0, "lock": threading.Lock()}


def _delete_old_outputs() -> None:
    """Delete result files older than OUTPUT_MAX_AGE_S, at most once a minute (one thread at a time)."""
    now = time.time()
    if now - _cleanup["last"] < CLEANUP_EVERY_S or not _cleanup["lock"].acquire(blocking=False):
        return
    try:
        _cleanup["last"] = now
        for old in OUTPUT_ROOT.iterdir():
            with contextlib.suppress(OSError):
                if now - old.stat().st_mtime > OUTPUT_MAX_AGE_S:
                    shutil.rmtree(old) if old.is_dir() else old.unlink()
    finally:
        _cleanup["lock"].release()


def _to_uint8(tensor) -> np.ndarray:
    array = (tensor.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    return array.repeat(DISPLAY_SCALE, axis=0).repeat(DISPLAY_SCALE, axis=1)


def _attack_one(label, session_models, image, names, spec, true_class, watch=None):
    """One model's attack, in a worker process (AutoAttack in its own, the quick attacks in a small pool): an
    attack's Python loop held this server's GIL, which every other request needs (RELIABILITY.md)."""
    watch = watch or AttackWatch()
    workers = AUTOATTACK_WORKER if spec.name == "autoattack" else QUICK_ATTACK_WORKERS
    outcome = workers.attack(
        _model_ref(label, session_models), label, image, names, spec, true_class or None,
        AUTOATTACK_TIME_LIMIT_S, watch.should_stop, watch.on_progress, watch.every_s,
    )  # fmt: skip
    return outcome, _outcome_view(label, outcome)


def _transfer_note(target_label, session_models, outcome, names) -> str:
    """Feed one model's adversarial image to the other model: does the attack transfer?"""
    import torch

    head = _resolve_model(target_label, session_models).head_for(names)
    with torch.no_grad():
        answer = names[int(head(outcome.adversarial[None]).argmax(1))]
    verdict = "fooled too" if answer != outcome.label else "not fooled"
    return (
        f"\n\nTransfer: {shown(outcome.model_label)}'s adversarial image → {shown(target_label)} answers "
        f"**{shown(answer)}** ({verdict})."
    )


ATTACK_VIEW_SIZE = 7  # outputs per model: clean, adversarial, perturbation, bars, summary, downloads, space
ATTACK_SUMMARY_INDEX = 4
ATTACK_DOWNLOAD_INDEX = 5  # cleared by an attack, filled by the Download button: files cost server time per call


def _outcome_view(label, outcome) -> list:
    summary = (
        f"**{shown(label)}** · {outcome.spec} · label used: *{shown(outcome.label)}*\n\n"
        f"clean → **{shown(outcome.clean_prediction)}** ({outcome.clean_probs.get(outcome.clean_prediction, 0):.2f}); "
        f"adversarial → **{shown(outcome.adversarial_prediction)}** "
        f"({outcome.adversarial_probs.get(outcome.adversarial_prediction, 0):.2f}) · **{shown(outcome.result)}** · "
        f"L∞ = {outcome.linf * 255:.2f}/255 · {outcome.seconds:.2f} s {shown(outcome.note)}"
    )
    bars = figures.probability_bars(outcome.clean_probs, outcome.adversarial_probs, f"{label}: top-5 ({outcome.spec})")
    return [
        _png(outcome.clean),
        _png(outcome.adversarial),
        _png(outcome.perturbation_image()),
        bars,
        summary,
        None,  # a new attack clears the previous downloads; the Download button writes this one's
        figures.anchor_space(outcome.space, label, outcome.label),
    ]


def download_examples(last_attack):
    """The Download button: the last attack's adversarial examples, written only when asked for (writing
    and serving four files with every attack was a measured share of the server's time under load)."""
    if not last_attack:
        raise gr.Error("Attack first: there is no adversarial example to download yet.")
    return [_downloads(label, outcome) for label, outcome in last_attack]


def _downloads(label: str, outcome) -> list[str]:
    """The adversarial example at native resolution: a PNG and a safetensors file (clean and adversarial
    tensors, float32 in [0, 1]) named after class, model, attack and eps, with that metadata inside."""
    import re

    from PIL import Image, PngImagePlugin
    from safetensors.torch import save_file

    OUTPUT_ROOT.mkdir(exist_ok=True)
    meta = {
        "class": outcome.label,
        "model": label,
        "attack": outcome.spec,
        "clean_prediction": outcome.clean_prediction,
        "adversarial_prediction": outcome.adversarial_prediction,
        "linf_255": f"{outcome.linf * 255:.3f}",
    }
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{outcome.label}_{label}_{outcome.spec}").strip("-")[:120]
    folder = Path(tempfile.mkdtemp(dir=OUTPUT_ROOT))
    info = PngImagePlugin.PngInfo()
    for key, value in meta.items():
        info.add_text(f"laat-lab-{key}", value)
    png = folder / f"{stem}.png"
    array = (outcome.adversarial.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(array).save(png, pnginfo=info)  # 8-bit PNG: exact up to the 1/255 rounding
    tensors = folder / f"{stem}.safetensors"
    # Copies: when an attack returns its input unchanged (a time limit, a Stop) both tensors are one memory,
    # which safetensors refuses to write (found by benchmarks/load_test.py).
    save_file({"adversarial": outcome.adversarial.clone(), "clean": outcome.clean.clone()}, str(tensors), meta)
    return [str(png), str(tensors)]


AUTOATTACK_SLOTS = threading.BoundedSemaphore(1)  # one AutoAttack at a time on the server; fast attacks never wait
AUTOATTACK_WORKER = AttackWorker()  # its own process (app/attack_worker.py), started on the first AutoAttack
QUICK_ATTACK_WORKERS = WorkerPool(2)  # FGSM, PGD, CW, APGD: one worker per core (started at launch, app/main.py)


def run_attacks(
    upload,
    sketch,
    class_text,
    true_class,
    model_a,
    model_b,
    attack,
    eps_255,
    steps,
    session_models,
    request: gr.Request = None,
):
    """The attack lab's Attack button. A generator: fast attacks answer at once; AutoAttack runs in a worker
    thread and this shows its progress until it ends, and stops it when the page stops listening."""
    args = (upload, sketch, class_text, true_class, model_a, model_b, attack, eps_255, steps, session_models)
    if CLASSROOM["on"] and attack in CLASSROOM_LIMITS["no_attacks"]:
        raise gr.Error(f"{attack} is switched off in classroom mode: use FGSM, PGD, CW or APGD")
    with _session_job(request):
        yield from _attacks_with_progress(args, attack)


def _attacks_with_progress(args: tuple, attack: str):
    if attack != "autoattack":
        yield _run_attacks(*args)
        return
    if not AUTOATTACK_SLOTS.acquire(blocking=False):
        raise gr.Error(
            f"Another AutoAttack is running on this server (one at a time, at most {AUTOATTACK_TIME_LIMIT_S:g} s "
            "per model). Try again in a minute, or use PGD or APGD, which never wait for it."
        )
    status = {"polled": time.monotonic(), "stop": False, "text": "starting…"}
    box: dict = {}

    def gone() -> bool:
        return status["stop"] or time.monotonic() - status["polled"] > CLIENT_GONE_S

    def work():
        try:
            box["outputs"] = _run_attacks(*args, watch_for=lambda model: _watch(model, status, gone))
        except BaseException as error:  # handed to the generator, which raises it to the user
            box["error"] = error
        finally:
            AUTOATTACK_SLOTS.release()  # held until the work really ends, not until the page leaves

    worker = threading.Thread(target=work, daemon=True)
    try:
        worker.start()
    except BaseException:
        AUTOATTACK_SLOTS.release()  # the worker never ran, so it cannot release its slot
        raise
    try:
        while worker.is_alive():
            worker.join(PROGRESS_EVERY_S)
            status["polled"] = time.monotonic()
            if worker.is_alive():
                yield _progress_outputs(status["text"])
    finally:
        status["stop"] = not ("outputs" in box or "error" in box)  # left early: stop the worker
    if "error" in box:
        raise box["error"]
    yield box["outputs"]


@contextlib.contextmanager
def _session_job(request):
    """One of this page's few slow-job slots (app/jobs.py), or a message saying the page is at its limit."""
    slot = JOBS.job(session_of(request))
    try:
        slot.__enter__()
    except Busy as error:
        raise user_error(error) from None
    try:
        yield
    finally:
        slot.__exit__(None, None, None)


def _stopped_note() -> None:
    gr.Info("Stopped. A stopped attack shows no result: it says nothing about robustness.")


def _watch(model_label: str, status: dict, gone) -> AttackWatch:
    def report(component: str, seconds: float) -> None:
        status["text"] = (
            f"AutoAttack on **{shown(model_label)}**: {component or 'starting'} · {seconds:.0f} s of at most "
            f"{AUTOATTACK_TIME_LIMIT_S:g} s · **Stop** ends it"
        )

    return AttackWatch(should_stop=gone, on_progress=report, every_s=PROGRESS_EVERY_S)


def _progress_outputs(text: str) -> list:
    """Every attack-lab output left as it is, except model A's summary, which shows the progress."""
    outputs = [gr.update() for _ in range(2 * ATTACK_VIEW_SIZE + 1)]  # + the last attack's state
    outputs[ATTACK_SUMMARY_INDEX] = text
    # The previous attack's downloads go: they are not this attack's result.
    outputs[ATTACK_DOWNLOAD_INDEX] = outputs[ATTACK_VIEW_SIZE + ATTACK_DOWNLOAD_INDEX] = outputs[-1] = None
    return outputs


def _run_attacks(
    upload, sketch, class_text, true_class, model_a, model_b, attack, eps_255, steps, session_models, watch_for=None
):
    try:
        image = prepare_image(_image_from_inputs(upload, sketch))
        names = parse_class_names(class_text, max_classes=APP_MAX_CLASSES)
        spec = check_attack_settings(attack, float(eps_255), int(steps))
        true_class = (true_class or "").strip()
        if true_class and true_class not in names:
            raise InputError(f"true class {true_class!r} is not in the class list")
        (outcome_a, view_a), (outcome_b, view_b) = (
            _attack_one(label, session_models, image, names, spec, true_class, watch_for(label) if watch_for else None)
            for label in (model_a, model_b)
        )
        view_a[ATTACK_SUMMARY_INDEX] += _transfer_note(model_b, session_models, outcome_a, names)
        view_b[ATTACK_SUMMARY_INDEX] += _transfer_note(model_a, session_models, outcome_b, names)
        outputs = [*view_a, *view_b, [(model_a, outcome_a), (model_b, outcome_b)]]
    except USER_ERRORS as error:
        raise user_error(error) from None
    return outputs


def _attack_inputs(upload, sketch, class_text, true_class, model_label, session_models):
    """(model, image, names, label index) for the step-by-step and eps-sweep tools."""
    import torch

    image = prepare_image(_image_from_inputs(upload, sketch))
    names = parse_class_names(class_text, max_classes=APP_MAX_CLASSES)
    trained = _resolve_model(model_label, session_models)
    true_class = (true_class or "").strip()
    if true_class and true_class not in names:
        raise InputError(f"true class {true_class!r} is not in the class list")
    if true_class:
        return trained, image, names, names.index(true_class)
    with torch.no_grad():
        return trained, image, names, int(trained.head_for(names)(image[None]).argmax(1))


def eps_sweep(upload, sketch, class_text, true_class, model_a, model_b, session_models, request: gr.Request = None):
    """The smallest eps (PGD-10) that flips each model on this image."""
    lines = []
    try:
        for label in (model_a, model_b):
            trained, image, names, index = _attack_inputs(upload, sketch, class_text, true_class, label, session_models)
            with _session_job(request):
                found = smallest_flipping_eps(trained, image, names, index)
            if found == 0:
                lines.append(f"- **{shown(label)}**: already wrong before any attack")
            elif found is None:
                lines.append(f"- **{shown(label)}**: no flip up to 32/255 (PGD-10)")
            else:
                lines.append(f"- **{shown(label)}**: flips at eps = **{found}/255** (PGD-10)")
    except USER_ERRORS as error:
        raise user_error(error) from None
    return f"Smallest eps that flips the answer for *{shown(names[index])}*:\n\n" + "\n".join(lines)


def pgd_steps(
    upload, sketch, class_text, true_class, model_a, eps_255, steps, session_models, request: gr.Request = None
):
    """Run PGD on model A keeping every step; the slider then walks through them."""
    try:
        trained, image, names, index = _attack_inputs(upload, sketch, class_text, true_class, model_a, session_models)
        spec = check_attack_settings("pgd", float(eps_255), int(steps))
        with _session_job(request):
            frames = pgd_trajectory(trained, image, names, index, spec)
    except USER_ERRORS as error:
        raise user_error(error) from None
    frames[0]["label"], frames[0]["model"] = names[index], model_a
    return frames, gr.update(maximum=len(frames) - 1, value=len(frames) - 1), *show_step(frames, len(frames) - 1)


def show_step(frames, step):
    if not frames:
        return None, None, None, "Run the step-by-step attack first."
    frame = frames[int(min(max(step, 0), len(frames) - 1))]
    clean = frames[0]
    delta = frame["image"] - clean["image"]
    scale = float(delta.abs().max())
    perturbation = (0.5 + 0.5 * delta / scale).clamp(0, 1) if scale > 0 else delta + 0.5
    bars = figures.probability_bars(clean["probs"], frame["probs"], f"step {frame['step']} vs clean")
    text = (
        f"{shown(clean['model'])} · step **{frame['step']}** of {len(frames) - 1} · loss on *{shown(clean['label'])}* "
        f"{clean['loss']:.3f} → **{frame['loss']:.3f}** · prediction **{shown(frame['prediction'])}** · "
        f"L∞ = {scale * 255:.2f}/255"
    )
    return _png(frame["image"]), _png(perturbation), bars, text


def upload_checkpoint(file, session_models: dict | None):
    session_models = dict(session_models or {})
    if file is None:
        raise gr.Error("no file uploaded")
    path = Path(file if isinstance(file, str) else file.name)
    try:
        trained = get_model(path)
        if trained.few_shot_only:  # its classes come from support images: the app's views have none
            raise CheckpointError(
                f"{path.name} is a prototype model ({trained.metadata.get('training', {}).get('method', '?')}): it "
                "classifies from support images, which the app does not take; evaluate it with `laat eval --shots 1`"
            )
    except CheckpointError as error:
        raise user_error(error) from None
    label = f"uploaded: {path.name}"
    session_models[label] = str(path)
    choices = model_choices(session_models)
    method = trained.metadata.get("training", {}).get("method", "?")
    return session_models, gr.update(choices=choices), gr.update(choices=choices), f"Loaded {path.name} ({method})."


# ------------------------------------------------------------------ compare
def shipped_curves():
    if not CURVES.is_file():
        return None, "No shipped curves yet: run `python benchmarks/bench_robustness.py --curves`."
    points = json.loads(CURVES.read_text())["points"]
    return figures.robustness_curves(points), f"Shipped results ({len(points)} points, from {CURVES.name})."


def recompute_curves(
    attack: str, n_per_class: float, session_models: dict | None, progress=gr.Progress(), request: gr.Request = None
):
    with _session_job(request):
        yield from _recompute_curves(attack, n_per_class, session_models, progress)


def _recompute_curves(attack: str, n_per_class: float, session_models: dict | None, progress):
    labels = model_choices(session_models, with_clip=False)  # curves need a base/novel split
    if not labels:
        raise gr.Error("no models available")
    if attack not in ("fgsm", "pgd"):
        raise gr.Error("recompute supports fgsm or pgd")
    n_per_class = int(n_per_class)
    if not 1 <= n_per_class <= 20:
        raise gr.Error("images per class must be between 1 and 20")
    grid = default_eps_grid()
    points = []
    jobs = [(label, split) for label in labels for split in ("base", "novel")]
    # A generator: each finished curve is shown at once, and Stop (or a closed tab) ends the work between
    # curves instead of letting it run on for minutes.
    for j, (label, split) in enumerate(jobs):
        progress(j / len(jobs), desc=f"{label} · {split}")
        trained = _resolve_model(label, session_models)
        points += [p.to_dict() for p in robustness_curve(trained, label, split, grid, attack, 10, n_per_class)]
        if j + 1 < len(jobs):
            yield figures.robustness_curves(points), f"Recomputing: {j + 1} of {len(jobs)} curves done…"
    yield figures.robustness_curves(points), f"Recomputed: {attack.upper()}-10, {n_per_class} fresh images per class."


# ------------------------------------------------------------------ train
def train_live(
    method, regime, epochs, fast, n_per_class, budget_s, tau, beta, session_models, request: gr.Request = None
):
    """The Train tab: a generator showing each epoch; Stop (or a closed tab) ends the training at the next batch
    and keeps what was trained."""
    if CLASSROOM["on"] and (
        int(epochs) > CLASSROOM_LIMITS["max_epochs"] or float(budget_s) > CLASSROOM_LIMITS["max_budget_s"]
    ):
        raise gr.Error(
            f"classroom mode: at most {CLASSROOM_LIMITS['max_epochs']} epochs and "
            f"{CLASSROOM_LIMITS['max_budget_s']} s per training"
        )
    try:
        config = TrainConfig(
            method=method,
            templates=REGIMES[regime].templates if regime in REGIMES else (),
            epochs=int(epochs),
            fast=bool(fast),
            n_per_class=int(n_per_class),
            time_budget_s=float(budget_s),
            tau=float(tau),
            beta=float(beta),
            attack_steps=TRAIN_TAB_STEPS,
            workers=0,  # never fork DataLoader workers from the multi-threaded server
            val_per_class=10,
            val_pgd_images=96,
        )
    except ValueError as error:
        raise user_error(error) from None
    with _session_job(request):
        if not TRAININGS.acquire(blocking=False):
            raise gr.Error(
                f"The server already runs {TRAINING_SLOTS} trainings (each takes a core): try again in a few "
                "minutes. The attack lab and the anchor lab keep working meanwhile."
            )
        yield from _train_live(config, method, session_models)


def _train_live(config: TrainConfig, method: str, session_models):
    """train_live's work, holding a training slot until the training thread ends. The page is sent an update at
    least every PROGRESS_EVERY_S; a training whose page stopped asking for them (closed tab) stops at its next
    batch, as it does after Stop."""
    updates: queue.Queue = queue.Queue()
    stop = threading.Event()
    run_id = uuid.uuid4().hex
    _STOP_FLAGS[run_id] = stop
    box: dict = {}
    polled = {"at": time.monotonic()}
    left = threading.Event()  # Gradio closed this generator before the training ended (tab closed, cancelled)

    def page_left() -> bool:
        return time.monotonic() - polled["at"] > CLIENT_GONE_S

    def work():
        try:
            box["out"] = out = _fresh_training_dir() / f"shapes-{method}-live.safetensors"
            box["model"] = train(
                config,
                out=out,
                on_epoch=lambda e: updates.put(e.__dict__),
                should_stop=lambda: stop.is_set() or page_left(),
                progress=False,
            )
            if left.is_set() or page_left():  # an operator sees in the log that a closed tab freed its core
                print(f"training {run_id[:8]} stopped: its page left after {len(box['model'].metadata['log'])} "
                      "epoch(s)", flush=True)  # fmt: skip
        except Exception as error:  # reported to the user below
            box["error"] = error
        finally:
            TRAININGS.release()  # when the work ends, not when the page leaves
            updates.put(None)

    try:
        threading.Thread(target=work, daemon=True).start()
    except BaseException:
        TRAININGS.release()  # the worker never ran, so it cannot release its slot
        _STOP_FLAGS.pop(run_id, None)
        raise
    log: list[dict] = []
    started = time.perf_counter()
    try:
        yield figures.training_curves(log), "training started…", None, session_models, run_id
        while True:
            polled["at"] = time.monotonic()
            try:
                item = updates.get(timeout=PROGRESS_EVERY_S)
            except queue.Empty:
                running = f"epoch {len(log) + 1}/{config.epochs} running · {time.perf_counter() - started:.0f} s"
                yield gr.update(), running, None, session_models, run_id
                continue
            if item is None:
                break
            log.append(item)
            yield (
                figures.training_curves(log),
                f"epoch {item['epoch']}/{config.epochs} · "
                f"{time.perf_counter() - started:.0f} s · {item['images_per_s']:.0f} images/s",
                None,
                session_models,
                run_id,
            )
    except GeneratorExit:
        left.set()
        raise
    finally:
        stop.set()  # also when Gradio closes the generator: training stops at the next batch
        _STOP_FLAGS.pop(run_id, None)
    if "error" in box:
        raise user_error(f"training failed: {box['error']}")
    out = box["out"]
    label = _unique_label(f"your {method} model", session_models)
    session_models = {**(session_models or {}), label: str(out)}
    stopped = len(log) < config.epochs
    how = f"Stopped after {len(log)} epoch(s) (the last may be partial)" if stopped else "Done"
    yield (
        figures.training_curves(log),
        f"{how} in {time.perf_counter() - started:.0f} s; the checkpoint keeps what was trained. It is now in "
        f"the attack lab and compare tab as '{shown(label)}'.",
        str(out),
        session_models,
        "",
    )


TRAINED_ROOT = Path(tempfile.gettempdir()) / "laat-lab-trained"
KEEP_TRAINED = 20  # Train-tab checkpoints kept on disk (a few MB each); older ones are deleted


def _fresh_training_dir() -> Path:
    """A new folder for one training's checkpoint; the oldest beyond KEEP_TRAINED are removed first."""
    TRAINED_ROOT.mkdir(exist_ok=True)
    runs = sorted(TRAINED_ROOT.iterdir(), key=lambda p: p.stat().st_mtime)
    for old in runs[: max(0, len(runs) - KEEP_TRAINED + 1)]:
        shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(dir=TRAINED_ROOT))


def stop_training(run_id: str) -> None:
    """Ask the session's training to stop after its current batch; it then saves and offers the model."""
    flag = _STOP_FLAGS.get(run_id or "")
    if flag is not None:
        flag.set()


def _unique_label(label: str, session_models: dict | None) -> str:
    """A second training of the same method gets its own entry instead of replacing the first."""
    taken, k, candidate = set(session_models or {}), 2, label
    while candidate in taken:
        candidate, k = f"{label} ({k})", k + 1
    return candidate


def check_guess(reveal: bool, guess: str | None):
    """Predict, then reveal: with the toggle on, the attack waits for the student's prediction and its
    results stay hidden until Reveal (offered once the attack has finished)."""
    if reveal and not guess:
        raise gr.Error("Predict first: which model will the attack fool?")
    return gr.update(visible=not reveal), gr.update(visible=False), ""


def reveal_results(guess: str | None, summary_a: str, summary_b: str):
    fooled = ["prediction flipped" in (summary or "") for summary in (summary_a, summary_b)]
    actual = {(True, False): GUESSES[0], (False, True): GUESSES[1], (True, True): GUESSES[2]}.get(
        tuple(fooled), GUESSES[3]
    )
    verdict = "right" if guess == actual else "not quite"
    return (
        gr.update(visible=True),
        gr.update(visible=False),
        f"You predicted: *{guess}*. Result: **{actual}** ({verdict}).",
    )


# ------------------------------------------------------------------ shareable state
# A view's settings as query parameters, so a teacher can hand out a link that opens the same experiment.
URL_KEYS = (
    "classes",
    "template",
    "base",
    "method",
    "attack_classes",
    "sample",
    "attack",
    "eps",
    "steps",
    "model_a",
    "model_b",
)


def experiment_link(*values) -> str:
    from urllib.parse import urlencode

    return "?" + urlencode({"tab": "attack", **dict(zip(URL_KEYS, (str(v) for v in values), strict=True))})


def apply_url_state(request: gr.Request):
    """Component updates from the page's query parameters; anything unknown or out of range is ignored."""
    query = dict(request.query_params) if request is not None else {}

    def number(key, low, high):
        try:
            value = float(query[key])
        except (KeyError, ValueError):
            return gr.update()
        return gr.update(value=value) if low <= value <= high else gr.update()

    def choice(key, options):
        return gr.update(value=query[key]) if query.get(key) in options else gr.update()

    def text(key, limit=20_000):
        return gr.update(value=query[key][:limit]) if key in query else gr.update()

    models = model_choices(None)
    tab = query.get("tab")
    return (
        gr.update(selected=tab) if tab in ("anchors", "why", "attack", "compare", "train") else gr.update(),
        text("classes"),
        text("template", 500),
        number("base", 0, 1000),
        choice("method", ("expansion", "center", "none")),
        text("attack_classes"),
        text("sample", 200),
        choice("attack", [a for a in ATTACK_CHOICES if not (CLASSROOM["on"] and a in CLASSROOM_LIMITS["no_attacks"])]),
        number("eps", 0, 32),
        number("steps", 1, 100),
        choice("model_a", models),
        choice("model_b", models),
    )


# ------------------------------------------------------------------ why LAAT
def why_laat_view(split_label: str = SPLIT_LABELS[next(iter(SPLIT_LABELS))]):
    """Both regimes' anchor matrices, the ablation's accuracy per method, and what those numbers say, for
    one split of the shapes data (the benchmark radio)."""
    split = next((k for k, v in SPLIT_LABELS.items() if v == split_label), None)
    if split is None:
        raise user_error(f"unknown benchmark {split_label!r}")
    summary = load_summary(split)
    matrices = {regime: regime_matrices(regime, STUDY_SPLIT[split]) for regime in REGIMES}
    results = row_results(summary) if summary else []
    table = [[r.regime, r.row, f"{r.mean:.3f}", f"± {r.ci95:.3f}", r.n_seeds] for r in results]
    return (
        figures.regime_heatmaps(matrices),
        figures.method_bars(results, METRIC_LABEL),
        explanation(summary),
        table,
    )


# ------------------------------------------------------------------ layout
def build_app(classroom: bool = False) -> gr.Blocks:
    CLASSROOM["on"] = classroom
    base, novel = shapes.default_split()
    enc_choices, clip_note = encoder_choices()
    models = model_choices(None)
    # Gradio's cache of uploads and outputs is emptied of files older than an hour, every ten minutes.
    with gr.Blocks(title="LAAT Lab", delete_cache=(600, 3600)) as demo:
        session_models = gr.State({})
        gr.Markdown(texts.intro_text(list(shipped_models())))
        with gr.Tabs() as tabs:
            with gr.Tab("Anchor lab", id="anchors"):
                gr.Markdown(texts.ANCHOR_LAB)
                with gr.Row():
                    with gr.Column(scale=2):
                        classes = gr.Textbox(
                            label="class names (comma, or Shift+Enter for a new line; Enter shows the anchors)",
                            value=CIFAR10,
                            lines=1,  # one line grows to max_lines; Enter submits, Shift+Enter breaks the line
                            max_lines=8,
                            elem_id="anchor-classes",
                        )
                        preset = gr.Dropdown(list(_presets()), label="preset", value=None)
                    with gr.Column(scale=1):
                        encoder = gr.Dropdown(enc_choices, value=MINILM, label="text encoder")
                        gr.Markdown(clip_note)
                        template = gr.Textbox(DEFAULT_TEMPLATE, label="prompt template ({} = class name)")
                        ensemble = gr.Checkbox(False, label=f"ensemble of {len(ENSEMBLE_TEMPLATES)} CLIP-style prompts")
                        n_base = gr.Number(0, label="first N classes are base (0 = all)", precision=0)
                        method = gr.Radio(["expansion", "center", "none"], value="expansion", label="de-correlation")
                go = gr.Button("Show anchors", variant="primary", elem_id="anchor-go")
                anchor_message = gr.Markdown(elem_id="anchor-message")
                heatmaps = gr.Plot(label="cosine similarity, before and after", elem_id="anchor-heatmaps")
                with gr.Row():
                    histogram = gr.Plot(label="pairwise cosines")
                    stats = gr.Dataframe(headers=["statistic", "before", "after"], label="statistics")
                anchor_map = gr.Plot(label="2-D map of the anchors")
                inputs = [classes, encoder, template, ensemble, n_base, method]
                outputs = [heatmaps, histogram, stats, anchor_map, anchor_message]
                go.click(anchor_lab, inputs, outputs, api_name="anchor_lab")
                classes.submit(anchor_lab, inputs, outputs, api_name=False)
                preset.change(load_preset, preset, [classes, encoder, n_base], api_name="preset")

            with gr.Tab("Why LAAT", id="why"):
                gr.Markdown(texts.WHY_LAAT)
                why_split = gr.Radio(
                    list(SPLIT_LABELS.values()),
                    value=next(iter(SPLIT_LABELS.values())),
                    label="benchmark",
                    elem_id="why-split",
                )
                why_text = gr.Markdown(elem_id="why-text")
                with gr.Row():
                    why_heatmaps = gr.Plot(label="anchor cosine matrices per regime", elem_id="why-heatmaps")
                    why_bars = gr.Plot(label="novel-class robust accuracy per method", elem_id="why-bars")
                why_table = gr.Dataframe(
                    headers=["regime", "method", "accuracy", "95% over seeds", "seeds"], label=METRIC_LABEL
                )
                why_outputs = [why_heatmaps, why_bars, why_text, why_table]
                demo.load(why_laat_view, why_split, why_outputs, api_name="why_laat")
                why_split.change(why_laat_view, why_split, why_outputs, api_name=False)

            with gr.Tab("Attack lab", id="attack"):
                gr.Markdown(texts.ATTACK_LAB)
                with gr.Row():
                    with gr.Column():
                        upload = ImageInput(
                            label="image (upload, or pick an example)",
                            type="numpy",
                            image_mode=None,
                            sources=["upload", "clipboard"],
                            format="png",
                            elem_id="attack-image",
                            buttons=image_buttons(),
                        )
                        examples = [[str(p), p.stem.replace("_", " ")] for p in sorted(EXAMPLES.glob("*.png"))]
                        with gr.Accordion("…or draw one", open=False):
                            sketch = gr.Sketchpad(
                                label="sketchpad", type="numpy", image_mode="RGB", buttons=image_buttons()
                            )
                        with gr.Row():
                            sample_name = gr.Textbox("red star", label="draw me a sample of <class name>")
                            sample_seed = gr.Number(0, label="seed", precision=0)
                        sample_btn = gr.Button("Draw sample")
                    with gr.Column():
                        attack_classes = gr.Textbox(
                            ", ".join(novel), label="class list (the head's classes)", lines=3, elem_id="attack-classes"
                        )
                        with gr.Row():
                            use_novel = gr.Button("novel shapes")
                            use_base = gr.Button("base shapes")
                            use_anchor = gr.Button("anchor lab's list")
                        true_class = gr.Textbox(
                            "", label="true class (optional; else the clean prediction)", elem_id="true-class"
                        )
                        model_a = gr.Dropdown(models, value=models[0] if models else None, label="model A")
                        model_b = gr.Dropdown(models, value=models[1] if len(models) > 1 else None, label="model B")
                        attack_choices = [
                            a for a in ATTACK_CHOICES if not (classroom and a in CLASSROOM_LIMITS["no_attacks"])
                        ]
                        attack = gr.Radio(attack_choices, value="pgd", label="attack")
                        eps = gr.Slider(0, 32, value=8, step=1, label="eps (/255)")
                        steps = gr.Slider(1, 100, value=10, step=1, label="steps")
                        with gr.Accordion("use your own checkpoint (.safetensors from laat train)", open=False):
                            ckpt = gr.File(label="checkpoint", file_types=[".safetensors"])
                            ckpt_message = gr.Markdown()
                # Every new image sets its true class (examples, drawn samples) or clears the old one (uploads,
                # sketches), so the first attack never runs against the previous image's label.
                gr.Examples(examples, inputs=[upload, true_class], label="examples (image, true class)")
                upload.upload(lambda: "", None, true_class, api_name=False)
                attack.change(  # FGSM takes one step and AutoAttack has its own budgets: the slider would lie
                    lambda name: gr.update(interactive=name not in STEPLESS_ATTACKS), attack, steps, api_name=False
                )
                sketch.change(lambda: (None, ""), None, [upload, true_class], api_name=False)
                with gr.Row():
                    reveal_mode = gr.Checkbox(classroom, label="predict, then reveal", elem_id="reveal-mode")
                    guess = gr.Radio(
                        list(GUESSES), label="your prediction: which model will the attack fool?", elem_id="guess"
                    )
                with gr.Row():
                    attack_btn = gr.Button("Attack both models", variant="primary", elem_id="attack-go", scale=4)
                    attack_stop = gr.Button("Stop", elem_id="attack-stop", scale=1)
                reveal_btn = gr.Button("Reveal", visible=False, elem_id="reveal")
                reveal_message = gr.Markdown(elem_id="reveal-message")
                with gr.Row():
                    link_btn = gr.Button("Link to this experiment", size="sm")
                    link_box = gr.Textbox(
                        label="share this link: it opens the same settings", elem_id="experiment-link"
                    )
                last_attack = gr.State(None)  # [(model label, outcome)] of the last attack, for its downloads
                views = {}
                # One hidden block in "predict, then reveal": the downloads hold the predictions too.
                with gr.Column() as results_row:
                    with gr.Row():
                        for side in ("A", "B"):
                            with gr.Column():
                                with gr.Row():
                                    clean = output_image(label=f"{side}: clean", format="png", elem_id=f"clean-{side}")
                                    adv = output_image(
                                        label=f"{side}: adversarial", format="png", elem_id=f"adv-{side}"
                                    )
                                    pert = output_image(label=f"{side}: perturbation (amplified)", format="png")
                                bars = gr.Plot(label=f"{side}: probabilities", elem_id=f"bars-{side}")
                                summary = gr.Markdown(elem_id=f"summary-{side}")
                                space = gr.Plot(
                                    label=f"{side}: where the features land among the anchors", elem_id=f"space-{side}"
                                )
                                views[side] = [clean, adv, pert, bars, summary, None, space]
                    with gr.Row():
                        download_btn = gr.Button("Download the adversarial examples", elem_id="download-go", scale=1)
                        for side in ("A", "B"):
                            views[side][ATTACK_DOWNLOAD_INDEX] = gr.File(
                                label=f"{side}: the adversarial example (PNG + safetensors)",
                                file_count="multiple",
                                elem_id=f"files-{side}",
                                scale=2,
                            )
                result_columns = views["A"] + views["B"]
                download_btn.click(
                    download_examples,
                    last_attack,
                    [result_columns[ATTACK_DOWNLOAD_INDEX], result_columns[ATTACK_VIEW_SIZE + ATTACK_DOWNLOAD_INDEX]],
                    api_name="download_adversarial",
                )
                sample_btn.click(draw_sample, [sample_name, sample_seed], [upload, true_class], api_name="draw_sample")
                use_novel.click(lambda: ", ".join(novel), None, attack_classes, api_name=False)
                use_base.click(lambda: ", ".join(base), None, attack_classes, api_name=False)
                use_anchor.click(lambda text: text, classes, attack_classes, api_name=False)
                attack_event = attack_btn.click(
                    check_guess, [reveal_mode, guess], [results_row, reveal_btn, reveal_message], api_name=False
                ).success(
                    run_attacks,
                    [upload, sketch, attack_classes, true_class, model_a, model_b, attack, eps, steps, session_models],
                    [*result_columns, last_attack],
                    api_name="attack",
                    # Attacks take a fraction of a second on one torch thread: no per-event limit, so a quick PGD
                    # never queues behind a slow job; AutoAttack is limited inside (AUTOATTACK_SLOTS).
                    concurrency_limit=None,
                )
                attack_event.success(
                    lambda reveal: gr.update(visible=bool(reveal)), reveal_mode, reveal_btn, api_name=False
                )
                # Stop ends the page's wait; the AutoAttack worker, no longer polled, stops at its next forward pass.
                attack_stop.click(_stopped_note, None, None, cancels=[attack_event], api_name=False)
                reveal_btn.click(
                    reveal_results,
                    [
                        guess,
                        result_columns[ATTACK_SUMMARY_INDEX],
                        result_columns[ATTACK_VIEW_SIZE + ATTACK_SUMMARY_INDEX],
                    ],
                    [results_row, reveal_btn, reveal_message],
                    api_name=False,
                )
                with gr.Accordion("step by step, and the smallest eps that flips each model", open=False):
                    with gr.Row():
                        steps_btn = gr.Button("PGD step by step (model A)")
                        sweep_btn = gr.Button("Smallest eps that flips each model")
                    step_slider = gr.Slider(0, 10, value=0, step=1, label="PGD step", elem_id="pgd-step")
                    with gr.Row():
                        step_image = output_image(label="image at this step", format="png")
                        step_pert = output_image(label="perturbation so far (amplified)", format="png")
                        step_bars = gr.Plot(label="probabilities: clean vs this step")
                    step_text = gr.Markdown(elem_id="step-text")
                    sweep_text = gr.Markdown(elem_id="sweep-text")
                    frames = gr.State([])
                steps_btn.click(
                    pgd_steps,
                    [upload, sketch, attack_classes, true_class, model_a, eps, steps, session_models],
                    [frames, step_slider, step_image, step_pert, step_bars, step_text],
                    api_name=False,
                    concurrency_limit=None,  # limited inside (app/jobs.py)
                )
                step_slider.change(
                    show_step, [frames, step_slider], [step_image, step_pert, step_bars, step_text], api_name=False
                )
                sweep_btn.click(
                    eps_sweep,
                    [upload, sketch, attack_classes, true_class, model_a, model_b, session_models],
                    sweep_text,
                    api_name="eps_sweep",
                    concurrency_limit=None,  # limited inside (app/jobs.py)
                )
                ckpt.upload(
                    upload_checkpoint,
                    [ckpt, session_models],
                    [session_models, model_a, model_b, ckpt_message],
                    api_name="upload_checkpoint",
                )

            with gr.Tab("Compare", id="compare"):
                gr.Markdown(texts.COMPARE)
                curve_plot = gr.Plot(label="robust accuracy vs eps", elem_id="compare-plot")
                curve_message = gr.Markdown()
                with gr.Row():
                    curve_attack = gr.Radio(["pgd", "fgsm"], value="pgd", label="attack")
                    curve_n = gr.Slider(1, 20, value=1, step=1, label="fresh images per class (1 takes about a minute)")
                    recompute = gr.Button("Recompute")
                    recompute_stop = gr.Button("Stop")
                demo.load(shipped_curves, None, [curve_plot, curve_message], api_name="shipped_curves")
                recompute_event = recompute.click(
                    recompute_curves,
                    [curve_attack, curve_n, session_models],
                    [curve_plot, curve_message],
                    api_name="recompute_curves",
                    concurrency_limit=None,  # limited inside (app/jobs.py)
                )
                recompute_stop.click(None, None, None, cancels=[recompute_event], api_name=False)

            with gr.Tab("Train", id="train"):
                gr.Markdown(texts.train_text(TRAIN_TAB_STEPS, APP_METHODS))
                with gr.Row():
                    t_method = gr.Dropdown(list(APP_METHODS), value=TrainConfig.method, label="method")
                    t_regime = gr.Radio(list(REGIMES), value=DEFAULT_REGIME, label="anchor regime")
                    t_epochs = gr.Slider(
                        1, CLASSROOM_LIMITS["max_epochs"] if classroom else 30, value=3, step=1, label="epochs"
                    )
                    t_fast = gr.Checkbox(True, label="fast AT (FGSM with random start)")
                with gr.Row():
                    t_n = gr.Slider(10, 300, value=60, step=10, label="training images per base class")
                    t_budget = gr.Slider(
                        10,
                        CLASSROOM_LIMITS["max_budget_s"] if classroom else 1800,
                        value=min(180, CLASSROOM_LIMITS["max_budget_s"]) if classroom else 180,
                        step=10,
                        label="time budget (s)",
                    )
                    t_tau = gr.Number(TrainConfig.tau, label="tau")
                    t_beta = gr.Number(TrainConfig.beta, label="beta")
                with gr.Row():
                    t_start = gr.Button("Train", variant="primary")
                    t_stop = gr.Button("Stop")
                t_plot = gr.Plot(label="training curves")
                t_message = gr.Markdown()
                t_file = gr.File(label="download checkpoint")
                t_run = gr.State("")  # id of this session's training in progress, for Stop
                train_event = t_start.click(
                    train_live,
                    [t_method, t_regime, t_epochs, t_fast, t_n, t_budget, t_tau, t_beta, session_models],
                    [t_plot, t_message, t_file, session_models, t_run],
                    api_name="train",
                    concurrency_limit=None,  # limited inside (app/jobs.py): refused at once, never queued
                )
                train_event.then(
                    lambda s: (gr.update(choices=model_choices(s)), gr.update(choices=model_choices(s))),
                    session_models,
                    [model_a, model_b],
                    api_name=False,
                )
                # Stop is a flag, not a cancel: the training ends at the next batch, saves, and is offered.
                t_stop.click(stop_training, t_run, None, queue=False, api_name=False)
        url_fields = [
            tabs,
            classes,
            template,
            n_base,
            method,
            attack_classes,
            sample_name,
            attack,
            eps,
            steps,
            model_a,
            model_b,
        ]
        # The URL's query parameters set the view first; then the anchor lab fills the first page.
        demo.load(apply_url_state, None, url_fields, api_name=False).then(anchor_lab, inputs, outputs, api_name=False)
        link_btn.click(experiment_link, url_fields[1:], link_box, api_name=False).then(
            None, link_box, link_box, js="(query) => window.location.origin + window.location.pathname + query"
        )
    return demo
