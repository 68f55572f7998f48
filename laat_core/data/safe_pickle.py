"""Read CIFAR's python batches without running code: pickle limited to numpy arrays and plain containers.

CIFAR's "python version" files are pickles by format, and plain pickle.load runs whatever a file says. The
data needs only numpy's array reconstruction and built-in containers, so nothing else is allowed.
"""

from __future__ import annotations

import pickle
from typing import BinaryIO

ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("builtins", "list"),
    ("builtins", "dict"),
    ("builtins", "tuple"),
    ("builtins", "bytes"),
    ("builtins", "str"),
    ("builtins", "int"),
    ("_codecs", "encode"),  # how Python 2 pickles of bytes are rebuilt
}


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle that asks for something other than arrays and containers."""


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED:
            raise UnsafePickleError(f"refusing to load {module}.{name} from a data file (only arrays are allowed)")
        return super().find_class(module, name)


def restricted_load(file: BinaryIO, encoding: str = "latin1"):
    return RestrictedUnpickler(file, encoding=encoding).load()
