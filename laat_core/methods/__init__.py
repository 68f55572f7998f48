"""The registry of training methods: `__all__` names them; METHODS maps name -> Method.

Adding a method is one new module here plus its name in `__all__`; the CLI choices, the app's
dropdowns, the ablation benchmark and the registry test all read METHODS.
"""

from __future__ import annotations

from laat_core.methods.anchor_at import anchor_at
from laat_core.methods.anchor_at_center import anchor_at_center
from laat_core.methods.anchor_at_expansion import anchor_at_expansion
from laat_core.methods.aq import aq
from laat_core.methods.laat import laat
from laat_core.methods.method import Method
from laat_core.methods.standard import standard
from laat_core.methods.trades import trades

__all__ = ["standard", "anchor_at", "anchor_at_center", "anchor_at_expansion", "laat", "trades", "aq"]

METHODS: dict[str, Method] = {m.name: m for m in (globals()[key] for key in __all__)}


def get_method(name: str) -> Method:
    """The registered method called `name`, or a ValueError that lists the choices."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}: choose one of {', '.join(METHODS)}") from None
