"""Gradio components with friendlier failure messages.

Gradio writes a type stub (components.pyi) next to any module that subclasses a component; the stub is
committed so nothing is written at run time.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

import gradio as gr

from laat_core.image_io import ImageFileError, read_image_file


def image_buttons() -> list[str]:
    """Gradio's "share" button posts to a Hugging Face Spaces discussion, so it only works on a Space (which sets
    SPACE_ID); elsewhere it failed, so it is offered only there."""
    return ["download", "fullscreen", *(["share"] if os.environ.get("SPACE_ID") else [])]


def output_image(**kwargs) -> gr.Image:
    return gr.Image(buttons=image_buttons(), **kwargs)


class ImageInput(gr.Image):
    """gr.Image whose uploads are decoded safely (laat_core.image_io) with plain messages for bad files."""

    def get_block_name(self) -> str:
        return "image"  # render with gr.Image's front end: only the server-side preprocessing differs

    def preprocess(self, payload):
        """Decode with laat_core.image_io: size checked before decoding, every colour mode converted
        explicitly (CMYK, palette, 16-bit, animated), a plain message for anything else."""
        if payload is None:
            return None
        name = getattr(payload, "orig_name", None) or "the upload"
        try:
            return read_image_file(payload.path, shown_name=Path(name).name)
        except ImageFileError as error:
            raise gr.Error(html.escape(str(error), quote=False)) from None
