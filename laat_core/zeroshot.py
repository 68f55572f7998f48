"""Zero-shot robustness on other data sets: the ImageNet-scale path's evaluation (`laat zeroshot`).

A model trained on one tree (e.g. ImageNet-1K, `laat train --data imagenet:<root>`) is evaluated on other
ImageFolder data sets, each given as a folder of class folders plus, optionally, a class-name file
(laat_core.data.classnames). Every class of a data set is scored at once (C-way): its anchors are encoded from the
class names with the checkpoint's own text encoder and prompt templates and mapped with its stored de-correlation
(TrainedModel.anchors_for). Classes that were also training classes (ImageNet's validation set after training on
ImageNet, say) are counted and named in a warning: for them the result is not zero-shot.

Per data set: clean accuracy and accuracy under PGD (L-infinity, random start; steps and eps from ZeroShotSettings),
each with its Wilson 95% interval over the images, the model in eval mode and the attack computed against the
evaluated head. Images are read a batch at a time (DataLoader workers on a GPU); nothing stacks a data set. The
gradient-masking checks run on the first batch: clean >= FGSM >= PGD, and PGD-20 at 64/255 near 0.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm import tqdm

from laat_core.attacks import AttackSpec, make_attack
from laat_core.data.augment import AUGMENTATIONS, Transformed, imagenet_augmentation
from laat_core.data.classnames import class_folders, read_class_names
from laat_core.data.real import DataError, load_image_folder
from laat_core.data.sources import DataSource
from laat_core.device import loader_workers
from laat_core.evaluation import binomial_ci95, sanity_warnings
from laat_core.protocol import LARGE_EPS


@dataclass(frozen=True)
class ZeroShotSettings:
    """Every default of `laat zeroshot` (its flags derive from these)."""

    eps: float = 1 / 255  # the budget of zero-shot CLIP-robustness benchmarks (TeCoA, Mao et al. 2023)
    steps: int = 100  # PGD steps
    alpha: float | None = None  # PGD step size; None: AttackSpec's default, max(2.5 * eps / steps, eps / 4)
    batch_size: int = 128
    workers: int | None = None  # DataLoader workers; None: 0 on a CPU, up to 8 on a GPU
    max_images: int | None = None  # a quick look: at most this many images per data set (a seeded sample)
    seed: int = 0  # attack random starts and the max_images sample

    def __post_init__(self) -> None:
        if not (math.isfinite(self.eps) and 0 <= self.eps <= 1):
            raise ValueError(f"eps must lie in [0, 1], not {self.eps}")
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("PGD steps and the batch size must be positive")
        if self.alpha is not None and not (math.isfinite(self.alpha) and self.alpha > 0):
            raise ValueError(f"the PGD step size must be a positive number, not {self.alpha}")
        if self.workers is not None and self.workers < 0:
            raise ValueError("DataLoader workers must be 0 or more")
        if self.max_images is not None and self.max_images < 1:
            raise ValueError("--max-images must be positive")

    def attack(self) -> AttackSpec:
        return AttackSpec("pgd", self.eps, self.steps, alpha=self.alpha, seed=self.seed)


@dataclass(frozen=True)
class EvalSet:
    """One data set to evaluate: a name for the table, its ImageFolder root, and its class-name file (or None:
    the folder names are the class names)."""

    name: str
    root: Path
    class_names_file: Path | None = None


def parse_dataset(text: str) -> EvalSet:
    """`NAME=FOLDER` or `NAME=FOLDER:CLASSNAMES` (a folder whose own path holds ':' is taken whole when it exists)."""
    name, sep, rest = text.partition("=")
    name = name.strip()
    if not sep or not name or not rest:
        raise DataError(f"--dataset {text!r}: write NAME=FOLDER or NAME=FOLDER:CLASSNAMES_FILE")
    folder, classes = rest, None
    if ":" in rest and not Path(rest).expanduser().is_dir():
        folder, classes = rest.rsplit(":", 1)
        if not classes:
            raise DataError(f"--dataset {text!r}: the class-name file after ':' is empty")
    return EvalSet(name, Path(folder).expanduser(), Path(classes).expanduser() if classes else None)


@dataclass
class Prepared:
    spec: EvalSet
    names: list[str]
    dataset: Dataset  # (image, label) with labels in `names` order, through the checkpoint's test transform


def prepare(spec: EvalSet, metadata: dict) -> Prepared:
    """Check a data set (folder, class names, images) and open it; every mistake is one DataError naming it."""
    try:
        folders = class_folders(spec.root)
        names = read_class_names(spec.class_names_file, folders) if spec.class_names_file else folders
        if len(names) < 2:
            raise DataError(f"{spec.root} has {len(names)} class folder: zero-shot classification needs at least 2")
        size, transform = input_transform(metadata)
        try:
            dataset = load_image_folder(spec.root, image_size=size)
        except FileNotFoundError as error:  # torchvision: a class folder without images
            raise DataError(str(error).splitlines()[0]) from None
    except DataError as error:
        raise DataError(f"data set {spec.name!r}: {error}") from None
    return Prepared(spec, names, Transformed(dataset, transform) if transform else dataset)


def input_transform(metadata: dict):
    """(resize applied when reading, test-time transform) matching how the checkpoint's model was fed: the imagenet
    recipe reads full-size images, resizes the short side and centre-crops to the trained input size; models
    trained on 32x32 data (shapes, CIFAR) see 32x32 images; an image-folder model (84x84) its recipe's crop."""
    data = metadata.get("data", {}) or {}
    augment = str(data.get("augment", "none"))
    if augment == "imagenet":
        return None, imagenet_augmentation(int(data.get("input_size") or 224)).test
    kind = str(data.get("source", "shapes")).split(":", 1)[0]
    size = DataSource.image_size if kind == "imagefolder" else 32  # CIFAR and the shapes are 32x32
    return size, AUGMENTATIONS.get(augment, AUGMENTATIONS["none"]).test


@dataclass
class Row:
    attack: str  # as AttackSpec.describe(): "clean", "PGD-100 eps=1/255"
    correct: int
    n: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else float("nan")

    @property
    def ci95(self) -> float:
        return binomial_ci95(self.accuracy, self.n)

    def to_dict(self) -> dict:
        return {"attack": self.attack, "accuracy": self.accuracy, "ci95": self.ci95, "n": self.n}


@dataclass
class SetResult:
    name: str
    root: str
    n_classes: int
    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {**{k: v for k, v in asdict(self).items() if k != "rows"}, "rows": [r.to_dict() for r in self.rows]}


def check_model(metadata: dict) -> None:
    """A ValueError before any work when the checkpoint cannot classify by class names."""
    kind = (metadata.get("model") or {}).get("kind")
    if kind == "prototype":
        raise ValueError(
            "this checkpoint is a prototype model: it classifies from support images, not class names; evaluate it "
            "with `laat eval --shots 1`"
        )
    if kind != "anchor":
        raise ValueError("zero-shot evaluation needs a model with an anchor (cosine) head; this one is linear")


def training_overlap(trained, names: list[str]) -> list[str]:
    """The data set's classes that the model was trained on (case and spacing ignored)."""
    seen = {" ".join(name.lower().split()) for name in trained.split.get("base", [])}
    return [name for name in names if " ".join(name.lower().split()) in seen]


def _masking_checks(head, x, y, settings: ZeroShotSettings, n_classes: int) -> list[str]:
    """clean >= FGSM >= PGD and accuracy near 0 at a large eps, on one batch (gradient masking shows there)."""

    def accuracy(images) -> float:
        with torch.no_grad():
            return float((head(images).argmax(1) == y).float().mean())

    results = {"none": accuracy(x)}
    for name, spec in (("fgsm", AttackSpec("fgsm", settings.eps)), ("pgd", settings.attack())):
        torch.manual_seed(settings.seed)
        results[name] = accuracy(make_attack(head, spec, n_classes)(x, y))
    torch.manual_seed(settings.seed)
    large = accuracy(make_attack(head, AttackSpec("pgd", LARGE_EPS, 20, seed=settings.seed), n_classes)(x, y))
    return sanity_warnings(results, large, chance=1 / n_classes)


def evaluate_set(trained, prepared: Prepared, settings: ZeroShotSettings, device, progress: bool = False) -> SetResult:
    """Clean and PGD accuracy over every image of one data set (or a seeded max_images sample), a batch at a time."""
    check_model(trained.metadata)
    head = trained.head_for(prepared.names).to(device).eval()  # anchors from the names, checkpoint's encoder
    spec = settings.attack()
    attack = make_attack(head, spec, len(prepared.names))
    dataset = prepared.dataset
    if settings.max_images is not None and settings.max_images < len(dataset):
        pick = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(settings.seed))
        dataset = Subset(dataset, sorted(pick[: settings.max_images].tolist()))
    workers = loader_workers(settings.workers, device)
    loader = DataLoader(
        dataset, settings.batch_size, shuffle=False, num_workers=workers, pin_memory=device.type == "cuda"
    )
    clean = Row("clean", 0, 0)
    robust = Row(spec.describe(), 0, 0)
    warnings = []
    batches = tqdm(loader, desc=f"{prepared.spec.name} ({spec.describe()})", disable=not progress, leave=False)
    for index, (x, y) in enumerate(batches):
        x, y = x.to(device, torch.float32, non_blocking=True), y.to(device, non_blocking=True)
        if index == 0:
            warnings += _masking_checks(head, x, y, settings, len(prepared.names))
        with torch.no_grad():
            clean.correct += int((head(x).argmax(1) == y).sum())
        torch.manual_seed(settings.seed + index)  # each batch's random start, whatever ran before
        x_adv = attack(x, y)
        with torch.no_grad():
            robust.correct += int((head(x_adv).argmax(1) == y).sum())
        clean.n += len(y)
        robust.n += len(y)
    if head.training:  # torchattacks restores the mode it found; evaluation must never have run in train mode
        raise RuntimeError("the model left eval mode during evaluation")
    notes = ["model in eval mode; attack computed against the evaluated head (every class of the data set)"]
    if len(dataset) < len(prepared.dataset):
        notes.append(f"a seeded sample of {len(dataset)} of the {len(prepared.dataset)} images (--max-images)")
    if robust.accuracy > clean.accuracy:
        warnings.append(
            f"possible gradient masking: {robust.attack} {robust.accuracy:.3f} > clean {clean.accuracy:.3f}"
        )
    overlap = training_overlap(trained, prepared.names)
    if overlap:
        warnings.append(
            f"{len(overlap)} of {len(prepared.names)} classes were training classes ({', '.join(overlap[:5])}"
            f"{', …' if len(overlap) > 5 else ''}): for them this is not zero-shot"
        )
    return SetResult(prepared.spec.name, str(prepared.spec.root), len(prepared.names), [clean, robust], notes, warnings)


def prepare_all(sets: list[EvalSet], metadata: dict) -> list[Prepared]:
    """Check and open every data set before any model is loaded: a mistake in the last one costs no time."""
    names = [spec.name for spec in sets]
    duplicate = sorted({name for name in names if names.count(name) > 1})
    if duplicate:
        raise DataError(f"--dataset names must differ: {', '.join(duplicate)} is given twice")
    return [prepare(spec, metadata) for spec in sets]


def run(trained, prepared: list[Prepared], settings: ZeroShotSettings, device, progress: bool = False, on_result=None):
    """Evaluate each prepared data set; `on_result(SetResult)` sees each as it finishes."""
    results = []
    for item in prepared:
        result = evaluate_set(trained, item, settings, device, progress)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def table(result: SetResult) -> str:
    lines = [
        f"{result.name}: {result.n_classes} classes, {result.rows[0].n} images ({result.root})",
        "| attack | accuracy (%) | 95% interval | images |",
        "|---|---|---|---|",
    ]
    for row in result.rows:
        lines.append(f"| {row.attack} | {100 * row.accuracy:.2f} | ± {100 * row.ci95:.2f} | {row.n} |")
    lines += [f"note: {note}" for note in result.notes]
    lines += [f"WARNING: {warning}" for warning in result.warnings]
    return "\n".join(lines)


def summary(results: list[SetResult]) -> str:
    """One line per data set and the unweighted mean over data sets (as zero-shot benchmarks report it)."""
    attack = results[0].rows[1].attack
    lines = [f"| data set | classes | images | clean (%) | {attack} (%) |", "|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.name} | {r.n_classes} | {r.rows[0].n} | {100 * r.rows[0].accuracy:.2f} | "
                     f"{100 * r.rows[1].accuracy:.2f} |")  # fmt: skip
    clean = sum(r.rows[0].accuracy for r in results) / len(results)
    robust = sum(r.rows[1].accuracy for r in results) / len(results)
    lines.append(f"| mean of {len(results)} | | | {100 * clean:.2f} | {100 * robust:.2f} |")
    return "\n".join(lines)
