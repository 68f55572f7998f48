"""Image files from users, decoded as a viewer would show them, with the size checked before decoding.

PIL alone hands back CMYK, palette, 16-bit and animated images in modes that a naive array conversion
misreads (CMYK and 16-bit came out white, palette images grey); a decompression bomb is only noticed
after allocating it. Here the header's size is checked first, then every mode is converted explicitly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_INPUT_PIXELS = 4096 * 4096  # larger uploads are refused before they are decoded
MIN_INPUT_SIDE = 8


class ImageFileError(ValueError):
    """An image file that cannot be used: unreadable, too large or too small."""


def read_image_file(path: str | Path, shown_name: str = "the upload") -> np.ndarray:
    """uint8 (H, W, 3) RGB, or (H, W, 4) RGBA when the image has transparency. First frame of animations."""
    try:
        with Image.open(path) as image:
            width, height = image.size  # from the header: nothing decoded yet
            if width * height > MAX_INPUT_PIXELS:
                raise ImageFileError(
                    f"{shown_name} is too large ({width}x{height}): at most {MAX_INPUT_PIXELS // 1_000_000} megapixels"
                )
            if min(width, height) < MIN_INPUT_SIDE:
                raise ImageFileError(
                    f"{shown_name} is too small ({width}x{height}): at least {MIN_INPUT_SIDE} pixels a side"
                )
            image.seek(0)  # animated GIF/PNG/WebP: the first frame
            image = ImageOps.exif_transpose(image)
            return _to_rgb_or_rgba(image)
    except ImageFileError:
        raise
    except Image.DecompressionBombError:  # PIL's own guard fires at open() for the most extreme headers
        raise ImageFileError(
            f"{shown_name} is too large (its header claims far more than {MAX_INPUT_PIXELS // 1_000_000} megapixels)"
        ) from None
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise ImageFileError(f"{shown_name} is not an image file that can be read ({type(error).__name__})") from None


def _to_rgb_or_rgba(image: Image.Image) -> np.ndarray:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16/32-bit greyscale: scale to 8 bits, not clip
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        grey = np.clip(array / top * 255.0, 0, 255).round().astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if image.mode == "F":
        grey = np.clip(np.asarray(image, dtype=np.float64), 0, 1) * 255
        return np.repeat(grey.round().astype(np.uint8)[..., None], 3, axis=2)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    return np.asarray(image.convert("RGBA" if has_alpha else "RGB"))  # CMYK, palette, 1-bit, L, YCbCr...
