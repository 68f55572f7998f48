"""One training loop for every registered method (laat_core.methods: standard, anchor-at, laat, ...).

A method brings its loss, its training attack and its anchors' de-correlation; the loop is shared.

Runs unchanged under torchrun (DistributedDataParallel: gloo on CPU, nccl on GPU).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
import torchattacks
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from laat_core.anchors import DEFAULT_TEMPLATE, encode_anchors
from laat_core.attacks import AttackSpec
from laat_core.checkpoint import read_metadata
from laat_core.data.augment import AUGMENTATIONS, Transformed, resolve_augmentation
from laat_core.data.episodes import EpisodeSampler, episode_labels
from laat_core.data.sources import DataSource, hold_out, labels_of, stack
from laat_core.decorrelation import METHODS as DECORRELATIONS
from laat_core.decorrelation import decorrelate
from laat_core.device import loader_workers, resolve_device
from laat_core.evaluation import evaluate_episodes
from laat_core.losses import BN_MODES
from laat_core.methods import METHODS, Method, get_method
from laat_core.models.backbones import backbone_spec, load_backbone_weights
from laat_core.models.prototype import few_shot_head
from laat_core.precision import check_precision, prepare_for_training, to_memory_format, training_autocast
from laat_core.selection import SELECT_CHOICES, make_selector
from laat_core.trained import TrainedModel, build_model, load_trained, save_trained

__all__ = ["METHODS", "EpochLog", "TrainConfig", "train"]


@dataclass
class TrainConfig:
    method: str = "laat"
    backbone: str = "conv4-wide"  # chosen on base-class validation data with tau (select_hyperparameters.py)
    head: str = "auto"  # auto: the method's first; cosine: fixed anchors (zero-shot); linear: learned classifier
    # (baseline); prototype: classes from support images (episodic methods, e.g. aq)
    encoder: str = "minilm"
    templates: tuple[str, ...] = (DEFAULT_TEMPLATE,)
    anchors: str = "auto"  # auto: the method's own (e.g. raw for anchor-at); or expansion|center|none
    tau: float = 0.2  # chosen on base-class validation data (benchmarks/select_hyperparameters.py)
    beta: float = 4.0  # smoothness weight (laat; chosen like tau) or KL weight (trades)
    epochs: int = 10
    batch_size: int = 128
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    eps: float = 8 / 255
    attack_steps: int = 7
    attack_alpha: float | None = None  # PGD step of the training attack; None: 2.5 * eps / attack_steps
    fast: bool = False  # FGSM with random start ("fast AT", Wong et al. 2020) instead of PGD
    bn_mode: str = "joint"  # joint: clean+adversarial in one forward; separate: two forwards (official code)
    data: str = "shapes"  # shapes[:pairs|fill] | cifar-fs:<root> | imagefolder:<root> (laat_core.data.sources)
    download: bool = False  # let torchvision download CIFAR-100 (online only)
    class_names: str | None = None  # imagenet data: a class-name file (folder -> name; laat_core.data.classnames)
    input_size: int | None = None  # imagenet augmentation's crop; None: the backbone's (224 for resnet50, open_clip)
    backbone_weights: str | None = None  # a local .safetensors file of pretrained backbone weights (never downloaded)
    n_per_class: int = 200  # training images per base class (shapes data; real data uses all)
    val_per_class: int = 20  # base-class validation images per class
    val_pgd_images: int = 256  # validation images attacked (PGD-10) after each epoch
    data_seed: int = 0
    seed: int = 0
    time_budget_s: float | None = None  # stop after the epoch that crosses it
    num_threads: int | None = None
    device: str = "auto"  # auto | cpu | cuda | cuda:N (laat_core.device)
    augment: str = "auto"  # auto (the data set's official recipe; none for shapes) | laat_core.data.augment names
    workers: int | None = None  # DataLoader workers; None: 0 on CPU, up to 8 per GPU process
    # The loss's forward only (laat_core/precision.py); attacks stay float32. Off by default: faster on this CPU
    # (BENCHMARKS.md "Precision and compilation"), but every recorded result was trained without them.
    precision: str = "fp32"  # fp32 | bf16 (autocast)
    channels_last: bool = False
    compile: bool = False  # torch.compile the module the loss calls
    lr_schedule: str = "cosine"  # cosine (per step) | official (x0.1 from epoch 60, as the official code)
    select_on: str = "last"  # last | val | test (laat_core.selection): which epoch's model is kept as -best
    select_episodes: int = 20  # fixed 5-way episodes scored (PGD-20) after each epoch when selecting
    # Episodic methods (aq): each step is one task. 5-way as the test episodes; 15 shots and 6 queries per class
    # are the AQ code's defaults (MetaOptNet's), which evaluates the same model 1-shot.
    episode_ways: int = 5
    episode_shots: int = 15
    episode_queries: int = 6

    def __post_init__(self) -> None:
        method = get_method(self.method)  # ValueError listing the registered methods
        if self.epochs < 1 or self.batch_size < 1 or self.n_per_class < 1:
            raise ValueError("epochs, batch size and images per class must be positive")
        if self.head == "auto":
            self.head = method.heads[0]
        if self.head not in ("cosine", "linear", "prototype"):
            raise ValueError(f"unknown head {self.head!r}: use auto, cosine, linear or prototype")
        if self.head not in method.heads:
            raise ValueError(f"{self.method} needs the {' or '.join(method.heads)} head, not {self.head}")
        if not all(
            math.isfinite(v) for v in (self.tau, self.lr, self.beta, self.eps, self.momentum, self.weight_decay)
        ):
            raise ValueError("tau, lr, beta, eps, momentum and weight decay must be finite numbers")
        if not (self.tau > 0 and self.lr > 0 and self.beta >= 0 and self.eps >= 0):
            raise ValueError("tau and lr must be positive; beta and eps non-negative")
        if self.bn_mode not in BN_MODES:
            raise ValueError(f"unknown BatchNorm mode {self.bn_mode!r}: choose one of {', '.join(BN_MODES)}")
        if self.anchors != "auto" and self.anchors not in DECORRELATIONS:
            raise ValueError(f"unknown anchors {self.anchors!r}: use auto or one of {', '.join(DECORRELATIONS)}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"unknown lr schedule {self.lr_schedule!r}: use one of {', '.join(LR_SCHEDULES)}")
        if self.select_on not in SELECT_CHOICES:
            raise ValueError(f"unknown selection {self.select_on!r}: use one of {', '.join(SELECT_CHOICES)}")
        if self.workers is not None and self.workers < 0:
            raise ValueError("DataLoader workers must be 0 or more")
        if self.attack_steps < 1:
            raise ValueError("the training attack needs at least one step")
        if min(self.episode_ways, self.episode_shots, self.episode_queries) < 1 or self.episode_ways < 2:
            raise ValueError("episodes need at least 2 ways, 1 shot and 1 query")
        if self.attack_alpha is None:  # the one place this default is written
            self.attack_alpha = 2.5 * self.eps / self.attack_steps
        elif not (math.isfinite(self.attack_alpha) and self.attack_alpha > 0):
            raise ValueError(f"the attack step size must be a positive finite number, not {self.attack_alpha}")
        check_precision(self.precision, resolve_device(self.device))  # DeviceError / ValueError before any work
        if self.augment != "auto" and self.augment not in AUGMENTATIONS:
            raise ValueError(f"unknown augmentation {self.augment!r}: use auto or one of {', '.join(AUGMENTATIONS)}")
        backbone_spec(self.backbone)  # ValueError listing the registered backbones
        _check_imagenet_settings(self)
        self.templates = tuple(self.templates)
        if not self.templates:
            raise ValueError("give at least one prompt template")

    @property
    def method_spec(self) -> Method:
        return get_method(self.method)

    @property
    def adversarial(self) -> bool:
        return self.method_spec.adversarial

    @property
    def decorrelation(self) -> str:
        return self.method_spec.anchors if self.anchors == "auto" else self.anchors


@dataclass
class EpochLog:
    epoch: int
    loss: float
    train_clean_acc: float
    train_adv_acc: float | None
    val_clean_acc: float
    val_pgd_acc: float | None
    seconds: float
    images_per_s: float
    parts: dict = field(default_factory=dict)


def _rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def _setup_distributed() -> bool:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.is_initialized()


def _check_imagenet_settings(config: TrainConfig) -> None:
    kind = DataSource(config.data).kind
    if config.class_names and kind != "imagenet":
        raise ValueError("--class-names names the classes of --data imagenet:<root>; other data name their own")
    if config.input_size is not None and kind != "imagenet":
        raise ValueError("--input-size is the crop of --data imagenet:<root>; other data have a fixed size")
    if config.input_size is not None and config.input_size < 8:
        raise ValueError(f"the input size must be at least 8 pixels, not {config.input_size}")
    if kind == "imagenet" and config.augment not in ("auto", "imagenet"):
        raise ValueError("imagenet data keep each image's own size: they need the imagenet augmentation (its crop)")


def data_source(config: TrainConfig) -> DataSource:
    return DataSource(config.data, download=config.download, class_names_file=config.class_names)


def crop_size(config: TrainConfig) -> int:
    """What the imagenet augmentation crops to: --input-size, else the backbone's input size, else 224."""
    return config.input_size or backbone_spec(config.backbone).input_size or 224


def augmentation_of(config: TrainConfig):
    return resolve_augmentation(config.augment, DataSource(config.data).kind, crop_size(config))


def make_data(config: TrainConfig):
    """Base-class training and validation images; novel classes are never loaded for training."""
    source = data_source(config)
    names = source.class_names()
    augmentation = augmentation_of(config)
    if source.kind == "shapes":
        train_set = source.images("base", config.n_per_class, seed=config.data_seed)
        val_set = source.images("base", config.val_per_class, seed=config.data_seed + 1_000_003)
    else:  # imagenet-scale trees keep val_per_class images of each class, not 10% of 1.28M
        per_class = config.val_per_class if source.kind == "imagenet" else None
        train_set, val_set = hold_out(source.images("base", None, config.data_seed), 0.1, config.data_seed, per_class)
    if augmentation.train is not None:
        _check_augmentation(augmentation, train_set)
        train_set = Transformed(train_set, augmentation.train)
    if augmentation.test is not None:
        val_set = Transformed(val_set, augmentation.test)
    return names["base"], names["novel"], train_set, val_set


def _cosine(epochs: int, steps_per_epoch: int, done: int):
    total = epochs * steps_per_epoch
    return lambda step: 0.5 * (1 + math.cos(math.pi * min((step + done) / total, 1.0)))


def _official(epochs: int, steps_per_epoch: int, done: int):
    # The official code's MultiStepLR at epoch 60 (its second, 0.01x milestone never fires in 100 epochs).
    return lambda step: 0.1 if (step + done) // steps_per_epoch >= 60 else 1.0


LR_SCHEDULES = {"cosine": _cosine, "official": _official}  # name -> (epochs, steps/epoch, steps done) -> lambda


def _loader_workers(config: TrainConfig, device: torch.device) -> int:
    """DataLoader workers (laat_core.device.loader_workers); generated images are already tensors in memory."""
    return loader_workers(config.workers, device, in_memory=DataSource(config.data).kind == "shapes")


def _episode_sampler(train_set, config: TrainConfig) -> EpisodeSampler:
    """Episodes of the training images: an epoch is about one pass over them, so epochs mean the same budget in
    images as for batch methods. Under DDP each rank draws its own episodes from all the images (a seed per rank),
    a 1/world share of the epoch's count: episodes are not a partition, so there is no shard to read."""
    ways, shots, queries = config.episode_ways, config.episode_shots, config.episode_queries
    world = dist.get_world_size() if dist.is_initialized() else 1
    per_epoch = len(train_set) // (ways * (shots + queries) * world)
    return EpisodeSampler(labels_of(train_set), ways, shots, queries, per_epoch, seed=config.seed * 1009 + _rank())


def unused_settings(config: TrainConfig) -> list[str]:
    """TrainConfig fields this run's method ignores: a prototype model reads no text and its episodes set the
    batch; a method without a beta term ignores beta."""
    unused = ["encoder", "templates", "anchors", "tau", "batch_size"] if config.head == "prototype" else []
    if not config.method_spec.uses_beta:
        unused.append("beta")
    return unused


EPISODE_VALIDATION_WAYS = 5  # episodic methods are validated on 1-shot tasks of this many base classes


def validation_protocol(config: TrainConfig) -> str:
    """What the logged base-class validation accuracy means for this run's method."""
    if config.method_spec.episodic:
        return f"{EPISODE_VALIDATION_WAYS}-way 1-shot episodes"
    return "all base classes"


def _episode_validation(model, dataset, config: TrainConfig) -> tuple[float, float | None]:
    """Base-class validation of an episodic method, which has no classifier to score all classes at once: 5-way
    1-shot episodes over the validation images, clean, then PGD-10 (step 2/255, as _pgd_accuracy) on about
    val_pgd_images queries. Fixed episodes; the training run's random state is left as it was."""
    labels = labels_of(dataset)
    images = dataset.tensors[0] if hasattr(dataset, "tensors") else dataset
    ways = min(EPISODE_VALIDATION_WAYS, len(labels.unique()))
    queries = min(15, int(torch.bincount(labels).min()) - 1)
    if queries < 1:
        raise ValueError("episodic validation needs at least 2 validation images per class (--val-per-class)")
    per_episode = ways * queries
    device = next(model.parameters()).device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        clean = evaluate_episodes(
            model, images, labels, None, AttackSpec("none"), "base-val", max(1, len(labels) // per_episode),
            ways, queries, shots=1, seed=config.data_seed,
        ).accuracy  # fmt: skip
        if not config.adversarial:
            return clean, None
        pgd = evaluate_episodes(
            model, images, labels, None, AttackSpec("pgd", config.eps, 10, alpha=2 / 255), "base-val",
            max(1, config.val_pgd_images // per_episode), ways, queries, shots=1, seed=config.data_seed,
        ).accuracy  # fmt: skip
    return clean, pgd


def _check_augmentation(augmentation, dataset) -> None:
    """One image through the transform before any work: a crop larger than the images fails here, not mid-epoch."""
    try:
        augmentation.train(dataset[0][0])
    except (ValueError, RuntimeError) as error:
        raise ValueError(f"augmentation {augmentation.name!r} does not fit these images: {error}") from None


def make_anchor_set(config: TrainConfig, base: list[str], novel: list[str]):
    raw = encode_anchors(config.encoder, base + novel, config.templates)
    return decorrelate(raw, config.decorrelation, n_base=len(base))


def _train_attack(model, config: TrainConfig):
    kind = config.method_spec.attack
    if kind == "none":
        return None
    if kind == "trades-kl":  # fast: one KL step of FGSM-RS's size, the same attack budget as FFGSM
        steps, alpha = (1, 1.25 * config.eps) if config.fast else (config.attack_steps, config.attack_alpha)
        return torchattacks.TPGD(model, eps=config.eps, alpha=alpha, steps=steps)
    if config.fast:
        return torchattacks.FFGSM(model, eps=config.eps, alpha=1.25 * config.eps)
    return torchattacks.PGD(
        model, eps=config.eps, alpha=config.attack_alpha, steps=config.attack_steps, random_start=True
    )


@torch.no_grad()
def _accuracy(model, loader, device) -> float:
    model.eval()
    correct = total = 0
    for x, y in loader:
        correct += int((model(x.to(device)).argmax(1) == y.to(device)).sum())
        total += len(y)
    return correct / max(total, 1)


def _pgd_accuracy(model, dataset, device, config: TrainConfig) -> float:
    # Every class in the sample: the validation set is class-major, so take a strided subset.
    stride = max(1, len(dataset) // config.val_pgd_images)
    x, y = stack(torch.utils.data.Subset(dataset, range(0, len(dataset), stride)))
    x, y = x.to(device), y.to(device)
    attack = torchattacks.PGD(model, eps=config.eps, alpha=2 / 255, steps=10, random_start=True)
    adv = attack(x, y)
    with torch.no_grad():
        return float((model.eval()(adv).argmax(1) == y).float().mean())


def _metadata(config: TrainConfig, anchor_set, base, novel, spec, logs, resumed_from=None) -> dict:
    import laat_core

    # A prototype model (no anchor_set) used no text: it names no encoder, prompt or de-correlation.
    anchors = (
        {}
        if anchor_set is None
        else {
            "encoder": config.encoder,
            "templates": list(config.templates),
            "decorrelation": anchor_set.to_dict(),
        }
    )
    return {
        "model": spec,
        **anchors,
        "class_names": base + novel,
        "split": {"base": base, "novel": novel},
        "data": {
            "source": config.data,
            "seed": config.data_seed,
            "n_per_class": config.n_per_class,
            "augment": augmentation_of(config).name,
            "input_size": crop_size(config) if augmentation_of(config).name == "imagenet" else None,
        },
        "training": dataclasses.asdict(config),
        "unused_settings": unused_settings(config),  # recorded as given, but this method did not read them
        "validation": validation_protocol(config),
        "epochs_done": len(logs),
        "log": [dataclasses.asdict(entry) for entry in logs],
        "resumed_from": resumed_from,
        "versions": {
            "laat_lab": laat_core.__version__,
            "torch": torch.__version__,
            "torchattacks": torchattacks.__version__,
            "python": platform.python_version(),
        },
    }


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    state = optimizer.state_dict()["state"]
    return {f"optimizer.{i}.momentum_buffer": s["momentum_buffer"] for i, s in state.items() if "momentum_buffer" in s}


def _restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for i, param in enumerate(params):
        buffer = tensors.get(f"optimizer.{i}.momentum_buffer")
        if buffer is not None:
            optimizer.state[param]["momentum_buffer"] = buffer.to(param.device).clone()


def train(
    config: TrainConfig,
    out: str | Path | None = None,
    resume: str | Path | None = None,
    on_epoch: Callable[[EpochLog], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    progress: bool = True,
) -> TrainedModel:
    """Train, checkpoint after every epoch (atomically) when `out` is given, and return the model."""
    distributed = _setup_distributed()
    device = resolve_device(config.device)
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    torch.manual_seed(config.seed)

    base, novel, train_set, val_set = make_data(config)
    episodic = config.method_spec.episodic
    # A prototype head has no text anchors: none are encoded (no text encoder is loaded).
    anchor_set = None if config.head == "prototype" else make_anchor_set(config, base, novel)
    spec = (
        {"kind": "prototype", "backbone": config.backbone, "metric": "euclidean"}
        if anchor_set is None
        else {
            "kind": "anchor" if config.head == "cosine" else "linear",
            "backbone": config.backbone,
            "tau": config.tau,
            "anchor_dim": int(anchor_set.anchors.shape[1]),
            "n_classes": len(base),
        }
    )
    spec.update(mean=list(backbone_spec(config.backbone).mean), std=list(backbone_spec(config.backbone).std))
    model = build_model(spec, anchor_set.anchors[: len(base)] if anchor_set else None).to(device)
    class_anchors = anchor_set.anchors if config.head == "cosine" else None
    if config.backbone_weights and not resume:  # a resumed run's weights come from its checkpoint
        load_backbone_weights(model.backbone, config.backbone_weights)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    logs: list[EpochLog] = []
    resumed_from = None
    if resume:
        logs, resumed_from = _resume(resume, config, model, optimizer), str(resume)

    if config.channels_last:  # in place: the optimiser's parameters are the same tensors
        model.to(memory_format=torch.channels_last)
    net = DistributedDataParallel(model) if distributed else model
    net = prepare_for_training(net, channels_last=False, compile_model=config.compile)  # the loss's module
    episodes = _episode_sampler(train_set, config) if episodic else None  # each batch one task
    sampler = DistributedSampler(train_set, seed=config.seed) if distributed and not episodic else None
    generator = torch.Generator().manual_seed(config.seed)
    workers = _loader_workers(config, device)
    batching = (
        {"batch_sampler": episodes}
        if episodic
        else {
            "batch_size": config.batch_size,
            "shuffle": sampler is None,
            "sampler": sampler,
            "generator": generator,
            "drop_last": True,
        }
    )
    loader = DataLoader(
        train_set,
        **batching,
        num_workers=workers,
        pin_memory=device.type == "cuda",  # page-locked batches copy to the GPU asynchronously
        persistent_workers=workers > 0,
    )
    if len(loader) == 0:
        raise ValueError(
            f"{len(train_set)} training images make no full batch of {config.batch_size}: "
            "use more images per class or a smaller batch size"
        )
    val_loader = DataLoader(val_set, 256, num_workers=workers)
    # The attack runs on the bare module: torchattacks puts it in eval mode, and no DDP sync is needed.
    # Episodic methods attack each episode's own prototype head (made in _train_epoch).
    attack = None if episodic else _train_attack(model, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(  # continued on resume
        optimizer, LR_SCHEDULES[config.lr_schedule](config.epochs, len(loader), len(logs) * len(loader))
    )
    source = data_source(config)
    augmentation = augmentation_of(config)
    selector = (
        make_selector(
            config.select_on,
            source,
            config.eps,
            None,
            config.data_seed + 7,
            augmentation.test,
            config.select_episodes,
            shots=0 if config.head == "cosine" else 1,  # models without anchors are selected 1-shot
        )
        if _rank() == 0
        else None
    )
    best_path = Path(out).with_name(Path(out).stem + "-best" + Path(out).suffix) if out and selector else None
    if selector is not None and resume:  # the best epoch before the cut still counts
        before = read_metadata(resume).get("selection") or {}
        selector.best_score, selector.best_epoch = float(before.get("score", -1.0)), int(before.get("epoch", 0))

    started = time.perf_counter()
    for epoch in range(len(logs), config.epochs):
        for epoch_sampler in (sampler, episodes):
            if epoch_sampler is not None:
                epoch_sampler.set_epoch(epoch)
        entry = _train_epoch(
            config, net, model, attack, loader, optimizer, scheduler, device, epoch, progress, should_stop
        )
        if _rank() == 0:  # validation is rank 0's alone (it logs); the others wait at their next all-reduce
            if episodic:
                entry.val_clean_acc, entry.val_pgd_acc = _episode_validation(model, val_set, config)
            else:
                entry.val_clean_acc = _accuracy(model, val_loader, device)
                entry.val_pgd_acc = _pgd_accuracy(model, val_set, device, config) if config.adversarial else None
        logs.append(entry)
        if _rank() == 0:
            if progress:
                print(json.dumps(dataclasses.asdict(entry)), flush=True)
            if on_epoch:
                on_epoch(entry)
            trained = TrainedModel(
                model, _metadata(config, anchor_set, base, novel, spec, logs, resumed_from), class_anchors
            )
            if selector is not None and selector.update(trained, epoch + 1) and best_path:
                trained.metadata["selection"] = selector.record()
                save_trained(best_path, trained)  # weights and metadata only: the -best file is for evaluation
            if out:
                if selector is not None:
                    trained.metadata["selection"] = {**selector.record(), "best_checkpoint": best_path.name}
                save_trained(out, trained, _optimizer_tensors(optimizer))
        over_budget = config.time_budget_s is not None and time.perf_counter() - started > config.time_budget_s
        if over_budget or (should_stop is not None and should_stop()):
            break
    if distributed:
        for buffer in model.buffers():  # BN running statistics: make every rank hold rank 0's
            dist.broadcast(buffer, 0)
    model.eval()
    result = TrainedModel(model, _metadata(config, anchor_set, base, novel, spec, logs, resumed_from), class_anchors)
    if selector is not None:
        result.metadata["selection"] = {**selector.record(), "best_checkpoint": best_path.name if best_path else None}
    return result


def _train_epoch(
    config, net, model, attack, loader, optimizer, scheduler, device, epoch, progress, should_stop
) -> EpochLog:
    start = time.perf_counter()
    totals = {"loss": 0.0, "clean": 0, "adv": 0, "n": 0, "scored": 0}
    parts: dict[str, float] = {}
    episodic = config.method_spec.episodic
    if episodic:
        support_labels, query_labels = (
            labels.to(device)
            for labels in episode_labels(config.episode_ways, config.episode_shots, config.episode_queries)
        )
    batches = tqdm(loader, desc=f"epoch {epoch + 1}/{config.epochs}", disable=not progress or _rank() != 0, leave=False)
    for x, y in batches:
        if should_stop is not None and should_stop():
            break  # cancelled: the epoch is logged as far as it got
        x, y = to_memory_format(x.to(device, non_blocking=True), config.channels_last), y.to(device, non_blocking=True)
        if episodic:
            # The queries are attacked against the prototypes of the clean supports (eval mode, fixed tensors);
            # the supports are never perturbed. The loss gets supports, attacked queries, episode labels.
            x, query, y = x[: len(support_labels)], x[len(support_labels) :], torch.cat([support_labels, query_labels])
            episode_attack = _train_attack(few_shot_head(model, x, support_labels, config.episode_ways), config)
            x_adv = episode_attack(query, query_labels) if episode_attack is not None else None
            loss_inputs = (x, query if x_adv is None else x_adv, y)
        else:
            x_adv = attack(x, y) if attack is not None else None
            loss_inputs = (x, x_adv, y)
        net.train()
        with training_autocast(config.precision, device):  # the attacks above ran in float32
            result = config.method_spec.loss(net, *loss_inputs, config.beta, config.bn_mode)
        optimizer.zero_grad(set_to_none=True)
        result["loss"].backward()
        optimizer.step()
        scheduler.step()
        with torch.no_grad():
            model.eval()
            if episodic:  # accuracy on the queries, against prototypes of the updated model
                scorer = few_shot_head(model, x, support_labels, config.episode_ways)
                clean, scored = query, query_labels
            else:
                scorer, clean, scored = model, x, y
            totals["clean"] += int((scorer(clean).argmax(1) == scored).sum())
            if x_adv is not None:
                totals["adv"] += int((scorer(x_adv).argmax(1) == scored).sum())
            totals["scored"] += len(scored)
        totals["loss"] += float(result["loss"].detach()) * len(y)
        totals["n"] += len(y)
        for key, value in result.items():
            if key != "loss":
                parts[key] = parts.get(key, 0.0) + float(value) * len(y)
        batches.set_postfix(loss=f"{totals['loss'] / totals['n']:.3f}")
    seconds = time.perf_counter() - start
    n, scored = max(totals["n"], 1), max(totals["scored"], 1)
    return EpochLog(
        epoch=epoch + 1,
        loss=totals["loss"] / n,
        train_clean_acc=totals["clean"] / scored,
        train_adv_acc=totals["adv"] / scored if config.adversarial else None,
        val_clean_acc=float("nan"),
        val_pgd_acc=None,
        seconds=seconds,
        images_per_s=totals["n"] / seconds,
        parts={k: v / n for k, v in parts.items()},
    )


# Settings a resumed run must share with the checkpoint (the epochs may grow; threads and budgets may change).
RESUME_MUST_MATCH = (
    "method", "backbone", "head", "encoder", "templates", "anchors", "tau", "beta", "batch_size", "lr",
    "momentum", "weight_decay", "eps", "attack_steps", "attack_alpha", "fast", "bn_mode", "data",
    "n_per_class", "data_seed", "seed", "augment", "lr_schedule", "select_on", "select_episodes",
    "class_names", "input_size",
    "episode_ways", "episode_shots", "episode_queries",
)  # fmt: skip


def _comparable(value):
    return tuple(value) if isinstance(value, list) else value


def _resume(path, config: TrainConfig, model, optimizer) -> list[EpochLog]:
    from laat_core.checkpoint import load_checkpoint

    previous = load_trained(path)
    before, now = previous.metadata["training"], dataclasses.asdict(config)
    differ = [key for key in RESUME_MUST_MATCH if key in before and _comparable(before[key]) != _comparable(now[key])]
    if previous.metadata["model"]["backbone"] != config.backbone:
        differ.insert(0, "backbone")
    if differ:
        raise ValueError(f"{path} was trained with another {', '.join(sorted(set(differ)))}; cannot resume")
    model.load_state_dict(previous.model.state_dict())
    tensors, _ = load_checkpoint(path)
    _restore_optimizer(optimizer, tensors)
    return [EpochLog(**entry) for entry in previous.metadata["log"]]
