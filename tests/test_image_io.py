"""Uploaded image files are read as a viewer shows them, and oversized ones are refused before decoding."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from laat_core.image_io import ImageFileError, read_image_file

RED = (220, 30, 30)


def _red(mode: str, size=(40, 40)) -> Image.Image:
    image = Image.new("RGB", size, RED)
    return image.convert("P", palette=Image.Palette.ADAPTIVE) if mode == "P" else image.convert(mode)


@pytest.mark.parametrize(
    "mode, suffix",
    [("CMYK", "jpg"), ("P", "png"), ("P", "gif"), ("RGB", "png"), ("L", "png"), ("1", "png")],
)
def test_colour_modes_come_back_as_the_colour_you_see(tmp_path, mode, suffix):
    path = tmp_path / f"image.{suffix}"
    _red(mode).save(path)
    array = read_image_file(path)
    assert array.dtype == np.uint8 and array.shape == (40, 40, 3)
    expected = np.asarray(_red(mode).convert("RGB"), dtype=int)[20, 20]
    assert np.abs(array[20, 20].astype(int) - expected).max() <= 12  # JPEG rounding only, never white/black


def test_sixteen_bit_greyscale_is_scaled_not_clipped(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(np.full((32, 32), 32768, dtype=np.uint16)).save(path)  # mid-grey in 16 bits
    assert abs(int(read_image_file(path)[0, 0, 0]) - 128) <= 1


def test_animated_images_give_their_first_frame_and_transparency_is_kept(tmp_path):
    path = tmp_path / "anim.gif"
    frames = [_red("P"), Image.new("RGB", (40, 40), (0, 0, 255)).convert("P", palette=Image.Palette.ADAPTIVE)]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    assert read_image_file(path)[0, 0, 0] > 150  # red frame, not the blue one
    rgba = tmp_path / "alpha.png"
    Image.new("RGBA", (40, 40), (0, 0, 0, 0)).save(rgba)
    assert read_image_file(rgba).shape == (40, 40, 4)


def _png_claiming(width: int, height: int) -> bytes:
    """A valid tiny PNG whose header claims another size: a decompression bomb's header."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))  # noqa: E731
    pixels = zlib.compress(b"\x00" + b"\x00" * 3)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def test_huge_images_are_refused_from_the_header_and_bad_files_get_a_plain_message(tmp_path):
    header_only = tmp_path / "big.png"
    header_only.write_bytes(_png_claiming(6000, 6000))  # below PIL's own bomb guard: ours refuses it
    with pytest.raises(ImageFileError, match=r"too large \(6000x6000\)"):
        read_image_file(header_only, shown_name="big.png")
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_claiming(50_000, 50_000))
    with pytest.raises(ImageFileError, match="bomb.png is too large"):
        read_image_file(bomb, shown_name="bomb.png")
    truncated = tmp_path / "cut.png"
    _red("RGB").save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:60])
    with pytest.raises(ImageFileError, match="cut.png is not an image file") as info:
        read_image_file(truncated, shown_name="cut.png")
    assert str(tmp_path) not in str(info.value)  # no internal paths in messages
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ImageFileError, match="not an image file"):
        read_image_file(empty)
