"""Gradio components with friendlier failure messages.

Gradio writes a type stub (components.pyi) next to any module that subclasses a component; the stub is
committed so nothing is written at run time.
"""

from __future__ import annotations

import gradio as gr


class ImageInput(gr.Image):
    """gr.Image whose undecodable uploads get a plain message instead of a preprocessing trace."""

    def get_block_name(self) -> str:
        return "image"  # render with gr.Image's front end: only the server-side preprocessing differs

    def preprocess(self, payload):
        try:
            return super().preprocess(payload)
        except (OSError, ValueError) as error:  # PIL.UnidentifiedImageError is an OSError
            name = getattr(payload, "orig_name", None) or "the upload"
            raise gr.Error(f"{name} is not an image file PIL can read ({type(error).__name__})") from None
