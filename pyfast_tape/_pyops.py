"""What the ops written in Python (array_ops, reductions, nn_ops, linalg, control_flow, image) share: their
inputs as tensors, NumPy views of them, and NumPy results back as tensors on the input's device
(docs/ARCHITECTURE.md, "Where a new op goes")."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import _core


def as_tensor(x: Any, dtype: Any = None) -> Any:
    """A tensor: a Variable is read (so the active tapes watch it, as any op reading it does; a custom entry
    recorded on the Variable object itself would not be seen), anything else converted."""
    if isinstance(x, _core.Tensor):
        return x
    if isinstance(x, _core.VariableBase):
        return x.read_value()
    return _core.convert(x, dtype)


def to_numpy(x: Any) -> np.ndarray:
    return np.asarray(x.numpy())


def on_device_of(t: Any, like: Any) -> Any:
    """`t` (made from a NumPy array) on the device of `like`."""
    dev = like.device
    if t.device == dev:
        return t
    from .config import _parse_device
    kind, index = _parse_device(dev)
    return t.gpu(index) if kind == 1 else t.cpu()


def from_numpy(a: Any, like: Any = None) -> Any:
    """A NumPy result as a tensor (C-contiguous; a 0-d result stays 0-d), on `like`'s device if given."""
    a = np.asarray(a)
    if not a.flags.c_contiguous:  # (np.ascontiguousarray would make a 0-d result 1-d)
        a = a.copy(order="C")
    t = _core.convert(a)
    return t if like is None else on_device_of(t, like)
