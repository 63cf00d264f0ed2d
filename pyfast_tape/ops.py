"""Tensor creation and conversion (``tf.constant``, ``tf.zeros``, ``tf.range``, ...). Hot ops are
re-exported from ``_core`` directly (no Python frame on the hot path); these are the ones that need
argument handling in Python."""
from __future__ import annotations

from typing import Any, Optional

from . import _core
from .dtypes import DType, as_dtype, float32, int32

Tensor = _core.Tensor


def constant(value: Any, dtype: Any = None, shape: Any = None, name: Optional[str] = None) -> Tensor:
    """A tensor from a Python value or NumPy array (zero-copy when dtype and layout allow).
    Python floats default to float32, ints to int32; NumPy arrays keep their dtype."""
    t = _core.convert(value, None if dtype is None else as_dtype(dtype))
    if shape is not None:
        shape = [int(d) for d in shape]
        n = 1
        for d in shape:
            n *= d
        size = 1
        for d in t.shape:
            size *= d
        if size == n:
            t = _core.reshape(t, shape)
        elif size == 1:
            t = _core.broadcast_to(_core.reshape(t, []), shape)
        else:
            raise TypeError(f"constant: expected a value with {n} elements for shape {shape}, got {size} elements")
    return t


def convert_to_tensor(value: Any, dtype: Any = None, dtype_hint: Any = None, name: Optional[str] = None) -> Tensor:
    """Converts a value to a Tensor; a Tensor is returned as it is. `dtype_hint` is used only where the
    value has no dtype of its own (Python numbers and lists)."""
    if dtype is None and dtype_hint is not None and not isinstance(value, (_core.Tensor, _core.VariableBase)):
        try:
            return _core.convert(value, as_dtype(dtype_hint))
        except (TypeError, ValueError):
            pass
    return _core.convert(value, None if dtype is None else as_dtype(dtype))


def zeros(shape: Any, dtype: Any = float32, name: Optional[str] = None) -> Tensor:
    return _core.fill_(shape, 0.0, float32 if dtype is None else as_dtype(dtype))


def ones(shape: Any, dtype: Any = float32, name: Optional[str] = None) -> Tensor:
    return _core.fill_(shape, 1.0, float32 if dtype is None else as_dtype(dtype))


def zeros_like(input: Any, dtype: Any = None, name: Optional[str] = None) -> Tensor:
    return _core.fill_like(input, 0.0, None if dtype is None else as_dtype(dtype))


def ones_like(input: Any, dtype: Any = None, name: Optional[str] = None) -> Tensor:
    return _core.fill_like(input, 1.0, None if dtype is None else as_dtype(dtype))


def fill(dims: Any, value: Any, name: Optional[str] = None) -> Tensor:
    v = _core.convert(value)
    if len(v.shape) != 0:
        raise ValueError(f"fill: value must be a scalar, got shape {v.shape}")
    return _core.broadcast_to(v, dims) if list(dims) else _core.identity(v)


def range(start: Any, limit: Any = None, delta: Any = 1, dtype: Any = None, name: str = "range") -> Tensor:  # noqa: A001
    """Like Python's range: ``range(limit)`` or ``range(start, limit, delta)``."""
    if limit is None:
        start, limit = 0, start
    vals = [float(_core.convert(x)) if isinstance(x, (_core.Tensor, _core.VariableBase)) else x
            for x in (start, limit, delta)]
    if dtype is None:
        kinds = []
        for x in (start, limit, delta):
            if isinstance(x, (_core.Tensor, _core.VariableBase)):
                kinds.append(x.dtype)
            else:
                kinds.append(float32 if isinstance(x, float) else int32)
        order = [int32, as_dtype("int64"), float32, as_dtype("float64")]
        dtype = max(kinds, key=order.index)
    return _core.range_(float(vals[0]), float(vals[1]), float(vals[2]), as_dtype(dtype))





def expand_dims(input: Any, axis: int, name: Optional[str] = None) -> Tensor:
    t = _core.convert(input)
    shape = list(t.shape)
    r = len(shape)
    a = axis + r + 1 if axis < 0 else axis
    if not 0 <= a <= r:
        raise _core.InvalidArgumentError(f"expand_dims: axis {axis} is out of range for a tensor of rank {r}")
    return _core.reshape(t, shape[:a] + [1] + shape[a:])


def squeeze(input: Any, axis: Any = None, name: Optional[str] = None) -> Tensor:
    t = _core.convert(input)
    shape = list(t.shape)
    r = len(shape)
    axes = [] if axis is None else ([axis] if isinstance(axis, int) else list(axis))
    if not axes:  # None or an empty list: every size-1 dimension (TF)
        return _core.reshape(t, [d for d in shape if d != 1])
    norm = set()
    for a in axes:
        if not -r <= a < r:
            raise _core.InvalidArgumentError(f"squeeze: axis {a} is out of range for a tensor of rank {r}")
        a = a + r if a < 0 else a
        if shape[a] != 1:
            raise _core.InvalidArgumentError(f"squeeze: cannot squeeze axis {a} of shape {shape}: its size is not 1")
        norm.add(a)
    return _core.reshape(t, [d for i, d in enumerate(shape) if i not in norm])


def clip_by_value(t: Any, clip_value_min: Any, clip_value_max: Any, name: Optional[str] = None) -> Tensor:
    return _core.minimum(_core.maximum(t, clip_value_min), clip_value_max)
