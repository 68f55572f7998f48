"""The embedded data set: procedurally drawn coloured shapes, class name "[<fill>] <colour> <shape>".

No download, deterministic by seed. Novel classes are new *combinations* of attributes every base class
set contains (compositional zero-shot). Two named splits (SPLITS):

- ``pairs`` (the default, ``--data shapes``): 64 solid classes "<colour> <shape>"; for colour i the shapes
  i and i+3 (mod 8) are novel, 16 of 64. Within a colour the two novel shapes were never seen in that
  colour, so some colour/shape pairs fail for every robust model (BENCHMARKS.md, "Why four novel classes
  fail").
- ``fill`` (``--data shapes:fill``): a third attribute, solid or outlined, 128 classes
  "<fill> <colour> <shape>". Rule, fixed before any robustness was measured: for fill f and colour i the
  shapes i+f and i+f+3 (mod 8) are novel, 32 of 128. Every pair of attributes of every novel class (colour
  and shape, colour and fill, shape and fill) is seen among the base classes, and within a colour and
  fill the novel task still asks for the shape. The solid novel classes are exactly the pairs split's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.90, 0.12, 0.12),
    "green": (0.15, 0.75, 0.20),
    "blue": (0.15, 0.30, 0.95),
    "yellow": (0.95, 0.90, 0.15),
    "purple": (0.55, 0.20, 0.75),
    "orange": (1.00, 0.55, 0.05),
    "pink": (1.00, 0.55, 0.75),
    "cyan": (0.10, 0.90, 0.90),
}
SHAPES = ("circle", "square", "triangle", "star", "cross", "heart", "hexagon", "crescent")
FILLS = ("solid", "outlined")
SUPERSAMPLE = 2  # draw at 2x and average down: cheap anti-aliasing
OUTLINE_WIDTH = 3  # stroke of an outlined shape, in supersampled pixels (1.5 pixels of the image)


@dataclass(frozen=True)
class ShapesConfig:
    image_size: int = 32
    colour_jitter: float = 0.08  # per-channel uniform jitter of the shape colour
    background_range: tuple[float, float] = (0.0, 0.45)  # grey level of the background
    scale_range: tuple[float, float] = (0.45, 0.8)  # shape radius as a fraction of half the image
    noise_std: float = 0.03  # Gaussian pixel noise


def class_names(split: str = "pairs") -> list[str]:
    """All classes of a split, in a fixed order (pairs: colour-major, index = colour * 8 + shape)."""
    if split == "pairs":
        return [f"{colour} {shape}" for colour in COLOURS for shape in SHAPES]
    _check_split(split)
    return [f"{fill} {colour} {shape}" for fill in FILLS for colour in COLOURS for shape in SHAPES]


def _novel_pairs(colour: int, shift: int) -> tuple[int, int]:
    return (colour + shift) % len(SHAPES), (colour + shift + 3) % len(SHAPES)


def split(name: str = "pairs") -> tuple[list[str], list[str]]:
    """(base, novel) class names of a named split (module docstring for the rules)."""
    _check_split(name)
    if name == "pairs":
        novel_of = lambda c, s, f: s in _novel_pairs(c, 0)  # noqa: E731
    else:
        novel_of = lambda c, s, f: s in _novel_pairs(c, f)  # noqa: E731
    base, novel = [], []
    for class_name in class_names(name):
        colour, shape, fill = parse_class(class_name)
        (novel if novel_of(colour, shape, fill) else base).append(class_name)
    return base, novel


SPLITS = ("pairs", "fill")


def _check_split(name: str) -> None:
    if name not in SPLITS:
        raise ValueError(f"unknown shapes split {name!r}: use one of {', '.join(SPLITS)}")


def default_split() -> tuple[list[str], list[str]]:
    """(48 base, 16 novel) class names of the pairs split; every colour and shape appears among the base."""
    return split("pairs")


def parse_class(name: str) -> tuple[int, int, int]:
    """'[<fill>] <colour> <shape>' -> (colour, shape, fill) indices (fill defaults to solid), with a clear
    error for anything else."""
    parts = name.strip().lower().split()
    if len(parts) == 3 and parts[0] in FILLS:
        fill, parts = FILLS.index(parts[0]), parts[1:]
    else:
        fill = 0
    if len(parts) != 2 or parts[0] not in COLOURS or parts[1] not in SHAPES:
        raise ValueError(
            f"{name!r} is not a shapes class: use '<colour> <shape>' with colour in "
            f"{', '.join(COLOURS)} and shape in {', '.join(SHAPES)}, optionally after a fill "
            f"({' or '.join(FILLS)})"
        )
    return list(COLOURS).index(parts[0]), SHAPES.index(parts[1]), fill


def _shape_mask(shape: str, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Inside-test in the shape's own frame, coordinates in about [-1, 1]."""
    r = torch.sqrt(u * u + v * v)
    if shape == "circle":
        return r <= 0.9
    if shape == "square":
        return torch.maximum(u.abs(), v.abs()) <= 0.72
    if shape == "triangle":
        return _polygon(u, v, 3, 0.5)
    if shape == "hexagon":
        return _polygon(u, v, 6, 0.8)
    if shape == "star":
        phi = torch.atan2(v, u) + math.pi / 2
        wave = torch.abs(torch.remainder(phi * 5 / (2 * math.pi), 1.0) - 0.5) * 2  # 1 at tips, 0 between
        return r <= 0.4 + 0.55 * wave
    if shape == "cross":
        return ((u.abs() <= 0.28) & (v.abs() <= 0.9)) | ((v.abs() <= 0.28) & (u.abs() <= 0.9))
    if shape == "heart":
        x, y = u * 1.25, -v * 1.25 + 0.15
        return (x * x + y * y - 1) ** 3 - x * x * y**3 <= 0
    if shape == "crescent":
        inner = torch.sqrt((u - 0.4) ** 2 + (v + 0.1) ** 2)
        return (r <= 0.9) & (inner > 0.7)
    raise ValueError(f"unknown shape {shape!r}")


def _polygon(u: torch.Tensor, v: torch.Tensor, sides: int, apothem: float) -> torch.Tensor:
    angles = [2 * math.pi * k / sides + math.pi / 2 for k in range(sides)]
    inside = torch.ones_like(u, dtype=torch.bool)
    for angle in angles:
        inside &= u * math.cos(angle) + v * math.sin(angle) <= apothem
    return inside


def render(
    colour_ids: torch.Tensor,
    shape_ids: torch.Tensor,
    seed: int,
    config: ShapesConfig = ShapesConfig(),
    fill_ids: torch.Tensor | None = None,
) -> torch.Tensor:
    """Render one image per (colour, shape[, fill]) triple: float32 (N, 3, H, W) in [0, 1]. Solid images
    are the same with or without fill_ids, so the pairs split draws what it always drew."""
    n, size = len(colour_ids), config.image_size
    gen = torch.Generator().manual_seed(seed)
    uniform = lambda *shape: torch.rand(*shape, generator=gen)  # noqa: E731
    scale = config.scale_range[0] + (config.scale_range[1] - config.scale_range[0]) * uniform(n)
    max_shift = 1.0 - scale
    shift = (uniform(n, 2) * 2 - 1) * max_shift[:, None]
    rotation = uniform(n) * 2 * math.pi
    background = config.background_range[0] + (config.background_range[1] - config.background_range[0]) * uniform(n)
    palette = torch.tensor(list(COLOURS.values()))
    colour = (palette[colour_ids] + (uniform(n, 3) * 2 - 1) * config.colour_jitter).clamp(0, 1)

    fine = size * SUPERSAMPLE
    axis = (torch.arange(fine, dtype=torch.float32) + 0.5) / fine * 2 - 1
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    x = (x[None] - shift[:, 0, None, None]) / scale[:, None, None]
    y = (y[None] - shift[:, 1, None, None]) / scale[:, None, None]
    cos, sin = torch.cos(rotation)[:, None, None], torch.sin(rotation)[:, None, None]
    u, v = cos * x + sin * y, -sin * x + cos * y

    mask = torch.zeros(n, fine, fine)
    for index, shape in enumerate(SHAPES):
        rows = (shape_ids == index).nonzero().flatten()
        if len(rows):
            mask[rows] = _shape_mask(shape, u[rows], v[rows]).float()
    if fill_ids is not None and bool((fill_ids == 1).any()):
        rows = (fill_ids == 1).nonzero().flatten()
        mask[rows] = mask[rows] - _erode(mask[rows], OUTLINE_WIDTH)
    coverage = F.avg_pool2d(mask[:, None], SUPERSAMPLE)  # (N, 1, H, W) fractional coverage
    images = background[:, None, None, None] * (1 - coverage) + colour[:, :, None, None] * coverage
    images = images + config.noise_std * torch.randn(images.shape, generator=gen)
    return images.clamp(0, 1)


def _erode(mask: torch.Tensor, width: int) -> torch.Tensor:
    """Binary erosion by a (2w+1)-square: what stays of the shape after peeling `width` pixels off."""
    return 1 - F.max_pool2d(1 - mask[:, None], 2 * width + 1, stride=1, padding=width)[:, 0]


def make_split(names: list[str], n_per_class: int, seed: int, config: ShapesConfig = ShapesConfig()):
    """A TensorDataset of n_per_class images of each class; labels index into `names`."""
    ids = torch.tensor([parse_class(name) for name in names])
    labels = torch.arange(len(names)).repeat_interleave(n_per_class)
    images = render(ids[labels, 0], ids[labels, 1], seed, config, fill_ids=ids[labels, 2])
    return torch.utils.data.TensorDataset(images, labels)


def render_class(name: str, seed: int = 0, config: ShapesConfig = ShapesConfig()) -> torch.Tensor:
    """One (3, H, W) sample of a class, e.g. for "draw me a red star"."""
    colour, shape, fill = parse_class(name)
    return render(torch.tensor([colour]), torch.tensor([shape]), seed, config, fill_ids=torch.tensor([fill]))[0]
