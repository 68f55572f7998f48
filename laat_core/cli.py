"""The `laat` command: anchors, train, eval, info.

User mistakes (bad class lists, missing files, unknown names) print one clear line and exit 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from fractions import Fraction
from pathlib import Path

EXIT_USER_ERROR = 2


class UserError(Exception):
    """Raised for anything the user can fix; printed without a traceback."""


def parse_eps(text: str) -> float:
    """'8/255' or '0.03' -> float in [0, 1]."""
    try:
        value = float(Fraction(text.strip())) if "/" in text else float(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"eps must be a number or a fraction like 8/255, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"eps must lie in [0, 1] (pixels are in [0, 1]), got {value}")
    return value


def bounded_int(low: int, high: int):
    """An argparse type: an integer in [low, high], so a typo like 1e9 steps is refused before any work."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {value}")
        return value

    return parse


STEPS = bounded_int(1, 10_000)
EPOCHS = bounded_int(1, 100_000)
IMAGES_PER_CLASS = bounded_int(1, 100_000)
EPISODES = bounded_int(1, 100_000)


def checkpoint_out(text: str) -> Path:
    """Where a checkpoint goes: a .safetensors file (what eval reads) in a folder that exists or can be made."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a directory; give a file name ending in .safetensors")
    if path.suffix != ".safetensors":
        raise argparse.ArgumentTypeError(f"checkpoints are .safetensors files, got {text!r}")
    existing = next((p for p in path.absolute().parents if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise argparse.ArgumentTypeError(f"cannot create {text!r}: {existing} is a file, not a folder")
    if existing is not None and not os.access(existing, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write {text!r}: {existing} is not writable")
    return path


def _read_classes(args) -> list[str]:
    from laat_core.anchors import parse_class_names

    if args.classes and args.classes_file:
        raise UserError("give either --classes or --classes-file, not both")
    if args.classes_file:
        path = Path(args.classes_file)
        if not path.is_file():
            raise UserError(f"classes file not found: {path}")
        return parse_class_names(path.read_text())
    if args.classes:
        return parse_class_names(args.classes)
    raise UserError("no classes given: use --classes 'cat, dog, ship' or --classes-file FILE")


# ---------------------------------------------------------------- anchors
def cmd_anchors(args) -> int:
    from laat_core.anchors import ENSEMBLE_TEMPLATES, anchor_stats, encode_anchors
    from laat_core.decorrelation import decorrelate
    from laat_core.export import export_anchors

    names = _read_classes(args)
    templates = ENSEMBLE_TEMPLATES if args.prompt == "ensemble" else (args.prompt,)
    raw = encode_anchors(args.encoder, names, templates)
    result = decorrelate(raw, args.method, args.base)
    before, after = anchor_stats(raw, names), anchor_stats(result.anchors, names)
    if args.out:
        export_anchors(
            args.out, result.anchors, names, {"encoder": args.encoder, "templates": list(templates), **result.to_dict()}
        )
    if args.json:
        print(
            json.dumps(
                {
                    "before": before.to_dict(),
                    "after": after.to_dict(),
                    "method": args.method,
                    "n_base": result.n_base,
                    "out": args.out,
                }
            )
        )
        return 0
    print(
        f"{len(names)} classes, encoder {args.encoder}, dim {raw.shape[1]}, method {args.method}, base {result.n_base}"
    )
    print(f"{'off-diagonal cosine':<22}{'before':>10}{'after':>10}")
    for label, key in (("mean", "mean_offdiag"), ("min", "min_offdiag"), ("max", "max_offdiag")):
        print(f"{label:<22}{getattr(before, key):>10.3f}{getattr(after, key):>10.3f}")
    print("most similar pairs before: " + "; ".join(f"{a} / {b} {c:.3f}" for a, b, c in before.top_pairs[:3]))
    if args.out:
        print(f"wrote {args.out}")
    return 0


# ---------------------------------------------------------------- train
def _recipe_settings(args) -> dict:
    """A recipe's settings, less those whose flag the user gave; printed, so the run says what it used."""
    from laat_core.data.sources import DataSource
    from laat_core.recipes import describe, get_recipe

    recipe = get_recipe(args.recipe)
    if DataSource(args.data).kind != recipe.data_kind:
        raise UserError(f"the {recipe.name} recipe is for --data {recipe.data_kind}:<folder>, not {args.data!r}")
    given = getattr(args, "given_flags", set())
    kept = {k: v for k, v in recipe.settings.items() if FLAG_OF.get(k, k) not in given}
    print(f"recipe {recipe.name}: {recipe.description}; it sets")
    print(describe(kept))
    overridden = sorted(set(recipe.settings) - set(kept))
    if overridden:
        print(f"  (your flags kept: {', '.join(overridden)})")
    return kept


def _train_templates(args) -> tuple[str, ...]:
    """--prompt (a template or 'ensemble') or --regime (a named anchor regime), never both."""
    from laat_core.anchors import ENSEMBLE_TEMPLATES, check_templates
    from laat_core.regimes import get_regime

    if args.prompt and args.regime:
        raise UserError("give either --prompt or --regime, not both")
    if args.regime:
        return get_regime(args.regime).templates
    if args.prompt == "ensemble":
        return ENSEMBLE_TEMPLATES
    if args.prompt:
        return check_templates((args.prompt,))
    from laat_core.training import TrainConfig

    return TrainConfig().templates


# TrainConfig field -> the `laat train` flag's argparse name, where they differ
FLAG_OF = {"attack_steps": "steps", "attack_alpha": "alpha", "time_budget_s": "time_budget"}
IMAGENET_FIELDS = ("class_names", "input_size", "backbone_weights")  # the ImageNet-scale path's flags
TRAIN_FIELDS = (
    "method", "backbone", "encoder", "tau", "beta", "epochs", "batch_size", "lr", "eps", "attack_steps",
    "attack_alpha", "fast", "bn_mode", "n_per_class", "seed", "data_seed", "time_budget_s", "anchors", "head",
    "data", "download", "device", "augment", "workers", "lr_schedule", "select_on", "select_episodes",
    "episode_ways", "episode_shots", "episode_queries", "precision", "channels_last", "compile", "val_per_class",
)  # fmt: skip


def cmd_train(args) -> int:
    from laat_core.training import TrainConfig, train, validation_protocol

    settings = {name: getattr(args, FLAG_OF.get(name, name)) for name in TRAIN_FIELDS + IMAGENET_FIELDS}
    if args.recipe:
        settings.update(_recipe_settings(args))
    config = TrainConfig(templates=_train_templates(args), **settings)
    if config.lr_schedule == "official" and config.epochs <= 60:
        print(f"note: the official schedule lowers the lr at epoch 60; with {config.epochs} epochs it stays constant")
    from laat_core.data.sources import DataSource

    # Default name after the data kind: a CIFAR-FS recipe run is not called "shapes-…".
    out = Path(args.out or f"runs/{DataSource(config.data).kind}-{config.method}.safetensors")
    trained = train(config, out=out, resume=args.resume)
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun, rank 0 alone writes the checkpoint and reports
        return 0
    last = trained.metadata["log"][-1]
    print(
        f"trained {config.method} for {last['epoch']} epochs; base-val clean {last['val_clean_acc']:.3f} "
        f"({validation_protocol(config)}); wrote {out}"
    )
    if "selection" in trained.metadata:
        chosen = trained.metadata["selection"]
        print(f"selected: epoch {chosen['epoch']} ({chosen['label']}; score {chosen['score']:.3f}) -> "
              f"{out.with_name(chosen['best_checkpoint'])}")  # fmt: skip
    return 0


# ---------------------------------------------------------------- eval
def cmd_eval(args) -> int:
    from laat_core.attacks import AttackSpec
    from laat_core.device import resolve_device
    from laat_core.evaluation import evaluate_episodes, evaluate_full
    from laat_core.trained import load_trained

    device = resolve_device(args.device)  # a missing GPU is a one-line error before any work
    trained = load_trained(args.checkpoint)
    trained.model.to(device)  # images follow a batch at a time (evaluation.predict_adversarial)
    if args.protocol == "official":
        return _official_protocol(trained, args, device)
    names = trained.names_for(args.split)
    if args.shots and args.full:
        raise UserError("--full scores whole classes, --shots builds episodes from support images: choose one")
    if args.shots:  # each episode builds its head from support images
        model, anchors = trained.for_episodes(names, args.shots)
    else:  # the classes' head: a model without anchors (AQ) says here, in one line, that it needs --shots
        model = trained.head_for(names)
        anchors = trained.anchors_for(names) if trained.zero_shot else None
    n_per_class = args.n_per_class or (50 if args.full else 40)
    images, labels = _eval_images(trained, args, n_per_class)
    spec = AttackSpec(args.attack, args.eps, args.steps, seed=args.seed)
    if not args.shots and (args.full or not trained.zero_shot):
        result = evaluate_full(model, images, labels, spec, args.split, progress=not args.json)
    else:
        episodes = args.episodes or (100 if args.attack == "autoattack" else 2000)
        result = evaluate_episodes(
            model,
            images,
            labels,
            anchors,
            spec,
            args.split,
            episodes,
            shots=args.shots,
            seed=args.seed,
            progress=not args.json,
        )
    output = {**result.to_dict(), "device": str(device)}
    if "selection" in trained.metadata:  # how this checkpoint's epoch was chosen travels with every result
        output["selection"] = trained.metadata["selection"]["label"]
    if not args.no_sanity and args.shots:
        from laat_core.evaluation import episode_sanity

        output["sanity"] = episode_sanity(model, images, labels, spec, args.shots)
    elif not args.no_sanity:
        output["sanity"] = _sanity(model, images, labels, spec, result)
    if args.json:
        print(json.dumps(output))
        return 0
    print(f"{args.checkpoint}: {args.split} ({result.protocol}), {result.attack_spec}, on {device}")
    print(f"accuracy {result.accuracy:.4f} ± {result.ci95:.4f} (95% CI, n={result.n})")
    for note in result.notes:
        print(f"note: {note}")
    if "selection" in output:
        print(("WARNING: " if trained.metadata["selection"]["on"] == "test" else "") + f"model: {output['selection']}")
    for warning in output.get("sanity", {}).get("warnings", []):
        print(f"WARNING: {warning}")
    return 0


def _official_protocol(trained, args, device) -> int:
    from laat_core.data.sources import DataSource
    from laat_core.protocol import run_official, table

    if not trained.zero_shot and not args.shots:
        kind = "no text anchors" if trained.few_shot_only else "a linear head"
        raise UserError(f"the official protocol is zero-shot unless --shots is given, and this checkpoint has {kind}: "
                        "use --shots 1 (or 5)")  # fmt: skip
    args.split = "novel"
    generated = DataSource(args.data or str(trained.metadata.get("data", {}).get("source", "shapes"))).kind == "shapes"
    # Real data: every test image, as the official code samples episodes from all of them; generated: 40 per class.
    images, labels = _eval_images(trained, args, args.n_per_class or (40 if generated else None))
    results, warnings = run_official(
        trained, images, labels, "novel", args.eps, args.episodes, args.seed, progress=not args.json, shots=args.shots
    )
    selection = trained.metadata.get("selection", {}).get("label")
    if args.json:
        print(json.dumps({"rows": [r.to_dict() for r in results], "warnings": warnings, "device": str(device),
                          "selection": selection}))  # fmt: skip
        return 0
    mode = f"{args.shots}-shot (clean support images)" if args.shots else "zero-shot"
    print(f"{args.checkpoint}: novel classes, {mode} 5-way, 20 queries per class, eps {args.eps * 255:g}/255, "
          f"on {device}" + (f"; model: {selection}" if selection else ""))  # fmt: skip
    print(table(results))
    for warning in warnings:
        print(f"WARNING: {warning}")
    return 0


def _eval_images(trained, args, n_per_class: int):
    """Evaluation images of the checkpoint's data source (or --data), labels in names_for(split) order: generated
    data as tensors, real data as a dataset read per batch (never stacked whole), through the checkpoint's
    test-time transform."""
    import torch

    from laat_core.data.augment import AUGMENTATIONS, Transformed
    from laat_core.data.sources import DataSource, labels_of

    trained_on = str(trained.metadata.get("data", {}).get("source", "shapes"))
    if not args.data and DataSource(trained_on).kind != "shapes":
        # A checkpoint never chooses a folder to read: CIFAR files are pickles, so the user names the data.
        raise UserError(f"this checkpoint was trained on {trained_on!r}: pass --data to say which data to evaluate on")
    source = DataSource(args.data or trained_on, download=args.download)
    parts = ["base", "novel"] if args.split == "all" else [args.split]
    augment = AUGMENTATIONS.get(str(trained.metadata.get("data", {}).get("augment", "none")), AUGMENTATIONS["none"])
    datasets, labels, offset = [], [], 0
    for part in parts:
        if source.class_names()[part] != trained.split[part]:
            raise UserError(f"the {part} classes of {source.spec} differ from the checkpoint's")
        dataset = source.images(part, n_per_class, seed=args.seed)
        datasets.append(Transformed(dataset, augment.test) if augment.test else dataset)
        labels.append(labels_of(dataset) + offset)
        offset += len(trained.split[part])
    if all(hasattr(d, "tensors") for d in datasets):  # generated images: already in memory
        return torch.cat([d.tensors[0] for d in datasets]), torch.cat(labels)
    # Images are read from the parts on demand; their labels (offset per part) travel separately.
    return torch.utils.data.ConcatDataset(datasets), torch.cat(labels)


def _sanity(model, images, labels, spec, result, limit: int = 200) -> dict:
    """Clean, FGSM, PGD-10 at the same eps and PGD-10 at a large eps on up to `limit` images."""
    import torch

    from laat_core.attacks import AttackSpec
    from laat_core.data.sources import take
    from laat_core.evaluation import n_classes_of, predict_adversarial, sanity_warnings

    pick = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))[:limit]
    x, y = take(images, pick), labels[pick]
    n_classes = n_classes_of(model)
    accuracy = {}
    for name in ("none", "fgsm", "pgd"):
        probe = AttackSpec(name, spec.eps, 10, seed=spec.seed)
        accuracy[name] = float((predict_adversarial(model, x, y, probe, n_classes) == y).float().mean())
    if spec.name == "autoattack" and result.protocol.startswith("full"):
        accuracy["autoattack"] = result.accuracy
    large = float((predict_adversarial(model, x, y, AttackSpec("pgd", 0.5, 10), n_classes) == y).float().mean())
    return {
        "n": len(y),
        "accuracy": accuracy,
        "pgd_eps_0.5": large,
        "warnings": sanity_warnings(accuracy, large, chance=1 / n_classes),
    }


# ---------------------------------------------------------------- zeroshot
def cmd_zeroshot(args) -> int:
    from laat_core.checkpoint import read_metadata
    from laat_core.device import resolve_device
    from laat_core.trained import load_trained
    from laat_core.zeroshot import ZeroShotSettings, check_model, parse_dataset, prepare_all, run, summary, table

    settings = ZeroShotSettings(
        eps=args.eps, steps=args.steps, alpha=args.alpha, batch_size=args.batch_size, workers=args.workers,
        max_images=args.max_images, seed=args.seed,
    )  # fmt: skip
    device = resolve_device(args.device)
    metadata = read_metadata(args.checkpoint)
    check_model(metadata)  # a prototype or linear model cannot classify by class names
    # Every data set is checked (folder, class names, images) before the model is loaded or anything evaluated.
    prepared = prepare_all([parse_dataset(text) for text in args.dataset], metadata)
    trained = load_trained(args.checkpoint)
    trained.model.to(device)
    if not args.json:
        print(f"{args.checkpoint}: zero-shot on {len(prepared)} data set(s), every class of each, on {device}")
    results = run(
        trained, prepared, settings, device, progress=not args.json,
        on_result=None if args.json else lambda result: print(table(result) + "\n", flush=True),
    )  # fmt: skip
    if args.json:
        sets = [r.to_dict() for r in results]
        print(json.dumps({"checkpoint": str(args.checkpoint), "device": str(device), "sets": sets}))
    elif len(results) > 1:
        print(summary(results))
    return 0


# ---------------------------------------------------------------- info
def cmd_info(args) -> int:
    from laat_core.checkpoint import read_metadata

    metadata = read_metadata(args.checkpoint)
    if not args.all:  # the mean direction is hundreds of numbers
        metadata.get("decorrelation", {}).pop("mean_direction", None)
    print(json.dumps(metadata, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from laat_core.anchors import DEFAULT_TEMPLATE

    # No abbreviated options: a recipe must see every flag the user typed (_given_flags matches whole names).
    parser = argparse.ArgumentParser(
        prog="laat", description="LAAT Lab: anchors, training and honest robustness.", allow_abbrev=False
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("anchors", help="encode class names, de-correlate, print statistics, export")
    p.add_argument("--classes", help="comma- or newline-separated class names")
    p.add_argument("--classes-file", help="a file with one class name per line")
    p.add_argument("--encoder", default="minilm", help="minilm | openclip:<model>/<pretrained> | file:<path>")
    p.add_argument("--prompt", default=DEFAULT_TEMPLATE, help="template with {} or 'ensemble'")
    p.add_argument("--base", type=int, help="the first N classes are base (default: all)")
    p.add_argument("--method", default="expansion", choices=("expansion", "center", "none"))
    p.add_argument("--out", help="write anchors: .npy (row order) or .safetensors (with names and settings)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_anchors)

    from laat_core.decorrelation import METHODS as DECORRELATIONS
    from laat_core.losses import BN_MODES
    from laat_core.methods import METHODS
    from laat_core.models.backbones import BACKBONES
    from laat_core.precision import PRECISIONS
    from laat_core.recipes import RECIPES
    from laat_core.regimes import REGIMES
    from laat_core.selection import SELECT_CHOICES
    from laat_core.training import LR_SCHEDULES, TrainConfig

    d = TrainConfig()  # every default is written once, in TrainConfig
    p = sub.add_parser("train", allow_abbrev=False, help="train on the embedded shapes data (base classes only)")
    p.add_argument(
        "--method",
        default=d.method,
        choices=list(METHODS),
        help="; ".join(f"{name}: {method.summary}" for name, method in METHODS.items()),
    )
    p.add_argument("--backbone", default=d.backbone, choices=list(BACKBONES))
    p.add_argument("--encoder", default=d.encoder)
    p.add_argument("--prompt", help=f"template with {{}} or 'ensemble' (default {d.templates[0]!r})")
    p.add_argument(
        "--regime",
        choices=list(REGIMES),
        help="named anchor regime (sets the prompt): "
        + "; ".join(f"{r.name}: {r.description}" for r in REGIMES.values()),
    )
    p.add_argument(
        "--data",
        default=d.data,
        help="shapes | shapes:fill | cifar-fs:<cifar-100 folder> | imagefolder:<root> | imagenet:<root> (one tree, "
        "every class trained; e.g. ImageNet-1K train/)",
    )
    p.add_argument("--download", action="store_true", help="download CIFAR-100 with torchvision (online)")
    p.add_argument(
        "--head",
        default=TrainConfig.head,  # the declared default, "auto" (d.head is already resolved for d's method)
        choices=("auto", "cosine", "linear", "prototype"),
        help="auto: the method's own; linear: non-zero-shot baseline; prototype: episodic methods (aq)",
    )
    p.add_argument("--anchors", default=d.anchors, choices=("auto", *DECORRELATIONS))
    p.add_argument("--tau", type=float, default=d.tau, help="cosine temperature (chosen on base-class validation data)")
    p.add_argument("--beta", type=float, default=d.beta, help="smoothness weight (laat) or KL weight (trades)")
    p.add_argument("--epochs", type=EPOCHS, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--eps", type=parse_eps, default=d.eps)
    p.add_argument("--steps", type=STEPS, default=d.attack_steps, help="PGD steps of the training attack")
    p.add_argument("--alpha", type=parse_eps, help="PGD step size (default 2.5 * eps / steps)")
    p.add_argument("--fast", action="store_true", help="FGSM with random start instead of PGD (fast AT)")
    p.add_argument(
        "--bn-mode",
        default=d.bn_mode,
        choices=BN_MODES,
        help="joint: clean and adversarial batches in one forward; separate: two forwards (official code)",
    )
    p.add_argument("--n-per-class", type=IMAGES_PER_CLASS, default=d.n_per_class)
    p.add_argument("--val-per-class", type=IMAGES_PER_CLASS, default=d.val_per_class,
                   help="base-class images per class held out for validation")  # fmt: skip
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--data-seed", type=int, default=d.data_seed)
    p.add_argument("--time-budget", type=float, help="seconds; stop after the epoch that crosses it")
    p.add_argument("--device", default=d.device, help="auto (CUDA when present) | cpu | cuda | cuda:N")
    p.add_argument("--recipe", choices=list(RECIPES), help="the paper's settings for a data set (printed; flags win)")
    p.add_argument("--lr-schedule", default=d.lr_schedule, choices=list(LR_SCHEDULES))
    p.add_argument(
        "--select-on",
        default=d.select_on,
        choices=SELECT_CHOICES,
        help="keep the epoch with the best PGD-20 on: val classes (clean protocol), test classes (official "
        "code; labelled optimistic), or last",
    )
    p.add_argument("--select-episodes", type=EPISODES, default=d.select_episodes, help="episodes scored per epoch")
    for name, what in (("ways", "classes"), ("shots", "support images per class"), ("queries", "queries per class")):
        p.add_argument(f"--episode-{name}", type=STEPS, default=getattr(d, f"episode_{name}"),
                       help=f"episodic methods (aq): {what} of each training episode")  # fmt: skip
    p.add_argument(
        "--augment",
        default=d.augment,
        help="auto (the data set's official recipe; none for shapes) | none | cifar-fs | miniimagenet | imagenet",
    )
    p.add_argument(
        "--workers", type=int, default=d.workers, help="DataLoader workers (default: 0 on CPU, up to 8 on GPU)"
    )
    p.add_argument(
        "--class-names",
        help="imagenet data: a class-name file, 'folder name' lines (n01440364 tench) or one name per line in "
        "sorted folder order (default: the folder names)",
    )
    p.add_argument(
        "--input-size", type=bounded_int(8, 4096), help="imagenet data: crop size (default: the backbone's, 224)"
    )
    p.add_argument("--backbone-weights", help="a local .safetensors file of pretrained backbone weights")
    p.add_argument("--precision", default=d.precision, choices=PRECISIONS,
                   help="the loss's forward pass: bf16 autocast or fp32; attacks always run in fp32")  # fmt: skip
    p.add_argument("--channels-last", action="store_true", help="channels_last memory format for training")
    p.add_argument("--compile", action="store_true", help="torch.compile the training forward (slow first step)")
    p.add_argument("--resume", help="checkpoint to continue from")
    p.add_argument("--out", type=checkpoint_out, help="checkpoint path (default runs/<data kind>-<method>.safetensors)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="clean and robust accuracy with 95%% intervals")
    p.add_argument("checkpoint")
    p.add_argument("--split", default="novel", choices=("base", "novel", "all"))
    p.add_argument("--attack", default="pgd", choices=("none", "fgsm", "pgd", "cw", "apgd", "autoattack"))
    p.add_argument("--eps", type=parse_eps, default=8 / 255)
    p.add_argument("--steps", type=STEPS, default=20)
    group = p.add_mutually_exclusive_group()
    group.add_argument("--episodes", type=EPISODES, help="5-way episodes (official: 2000, 100 for AutoAttack)")
    group.add_argument("--full", action="store_true", help="plain accuracy over all images of the split")
    p.add_argument(
        "--shots",
        type=int,
        default=0,
        choices=(0, 1, 5),
        help="0: zero-shot against the class anchors (not for aq); 1 or 5: prototypes from that many clean support "
        "images per class, queries attacked through the prototype head",
    )
    p.add_argument("--n-per-class", type=IMAGES_PER_CLASS, help="evaluation images per class (generated)")
    p.add_argument("--seed", type=int, default=12345, help="seed of the evaluation images and attacks")
    p.add_argument("--data", help="data source (default: the checkpoint's); see laat train --help")
    p.add_argument("--download", action="store_true", help="download CIFAR-100 with torchvision (online)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present) | cpu | cuda | cuda:N")
    p.add_argument(
        "--protocol",
        choices=("official",),
        help="official: the paper's table (clean/FGSM/PGD-20/CW-30/AutoAttack, 5-way episodes, 2000 and 100 for "
        "AutoAttack; --episodes caps them) on the novel classes",
    )
    p.add_argument("--no-sanity", action="store_true", help="skip the gradient-masking checks")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval)

    from laat_core.zeroshot import ZeroShotSettings

    z = ZeroShotSettings()  # every default is written once, in ZeroShotSettings
    p = sub.add_parser(
        "zeroshot",
        allow_abbrev=False,
        help="zero-shot clean and PGD accuracy on other image folders, one table per data set",
    )
    p.add_argument("checkpoint")
    p.add_argument(
        "--dataset",
        action="append",
        required=True,
        metavar="NAME=FOLDER[:CLASSNAMES]",
        help="an ImageFolder tree (FOLDER/<class>/*) and optionally its class-name file (as laat train "
        "--class-names); repeat for each data set",
    )
    p.add_argument("--eps", type=parse_eps, default=z.eps, help=f"L-inf budget (default {z.eps * 255:g}/255)")
    p.add_argument("--steps", type=STEPS, default=z.steps, help=f"PGD steps (default {z.steps})")
    p.add_argument(
        "--alpha", type=parse_eps, default=z.alpha, help="PGD step size (default: AttackSpec.step_size's rule)"
    )
    p.add_argument("--batch-size", type=bounded_int(1, 65_536), default=z.batch_size)
    p.add_argument("--workers", type=bounded_int(0, 256), default=z.workers, help="DataLoader workers (0 on CPU)")
    p.add_argument("--max-images", type=IMAGES_PER_CLASS, default=z.max_images, help="a seeded sample per data set")
    p.add_argument("--seed", type=int, default=z.seed)
    p.add_argument("--device", default="auto", help="auto (CUDA when present) | cpu | cuda | cuda:N")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_zeroshot)

    p = sub.add_parser("info", help="print a checkpoint's metadata")
    p.add_argument("checkpoint")
    p.add_argument("--all", action="store_true")
    p.set_defaults(func=cmd_info)
    return parser


def _given_flags(parser: argparse.ArgumentParser, argv: list[str]) -> set[str]:
    """argparse names of the options written on the command line (a recipe never overrides those)."""
    written = {token.split("=", 1)[0] for token in argv if token.startswith("--")}
    found = set()
    for action in parser._actions:  # the sub-commands' parsers hold the options
        for sub in getattr(action, "choices", None).values() if isinstance(action, argparse._SubParsersAction) else []:
            found |= {a.dest for a in sub._actions if written & set(a.option_strings)}
    return found


def main(argv: list[str] | None = None) -> int:
    command = "laat"
    try:  # Ctrl-C at any moment, imports included, ends with one line
        parser = build_parser()
        argv = sys.argv[1:] if argv is None else list(argv)
        args = parser.parse_args(argv)
        args.given_flags = _given_flags(parser, argv)
        command = f"laat {args.command}"
        return args.func(args)
    except (UserError, ValueError, OSError) as error:
        print(f"{command}: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
