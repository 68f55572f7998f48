"""Class names for ImageFolder trees whose folders are not names (ImageNet's are WordNet ids like n01440364).

A class-name file is read in one of two forms, told apart by its first line:

    mapping     one line per class folder: the folder, whitespace, the class name ("n01440364 tench");
                lines in any order, every folder named once. Chosen when the first word of any line is one of
                the tree's folders (a line holding only a folder name keeps that name).
    plain list  one class name per line, in the sorted order of the folders (torchvision's ImageFolder order).

Blank lines and lines starting with '#' are skipped. Names must be unique: two classes with one name would get
one anchor. Every mistake is a DataError naming the line or the folders concerned.
"""

from __future__ import annotations

from pathlib import Path

from laat_core.data.real import DataError


def class_folders(root: str | Path) -> list[str]:
    """The class folders of an ImageFolder tree, exactly as torchvision's ImageFolder finds and orders them (its
    labels are indices into this list)."""
    from torchvision.datasets.folder import find_classes

    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"image folder not found: {root}")
    try:
        return find_classes(str(root))[0]
    except FileNotFoundError:
        raise DataError(f"{root} holds no class folders: it needs one folder of images per class") from None


def read_class_names(path: str | Path, folders: list[str]) -> list[str]:
    """The class name of each folder in `folders` (sorted order), from a mapping file or a plain list."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"class-name file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"cannot read the class-name file {path}: {error}") from None
    lines = [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1)]
    lines = [(number, line) for number, line in lines if line and not line.startswith("#")]
    if not lines:
        raise DataError(f"{path} holds no class names")
    known = set(folders)
    if any(line.split(maxsplit=1)[0] in known for _, line in lines):
        names = _mapping(path, lines, folders, known)
    else:
        if len(lines) != len(folders):
            raise DataError(
                f"{path} lists {len(lines)} class names for {len(folders)} class folders (a plain list needs one "
                f"name per folder, in sorted folder order; or write 'folder name' lines)"
            )
        names = [line for _, line in lines]
    seen: dict[str, str] = {}
    for folder, name in zip(folders, names, strict=True):
        if name in seen:
            raise DataError(
                f"{path}: the class name {name!r} is given to both {seen[name]} and {folder}; names must differ"
            )
        seen[name] = folder
    return names


def _mapping(path: Path, lines: list[tuple[int, str]], folders: list[str], known: set[str]) -> list[str]:
    by_folder: dict[str, str] = {}
    for number, line in lines:
        parts = line.split(maxsplit=1)
        folder = parts[0]
        if folder not in known:
            raise DataError(f"{path} line {number}: {folder!r} is not a class folder of this data set")
        if folder in by_folder:
            raise DataError(f"{path} line {number}: the folder {folder!r} is named twice")
        by_folder[folder] = parts[1].strip() if len(parts) > 1 else folder
    missing = [folder for folder in folders if folder not in by_folder]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise DataError(f"{path} names no class for the folder(s) {shown}")
    return [by_folder[folder] for folder in folders]
