"""``tensor[key]``: integers, slices (any step), Ellipsis and None (new axes), like TF's basic indexing.
One native strided-slice op (differentiable, zero-filled scatter backward) and a reshape.

``tensor[mask]`` with a boolean tensor or NumPy array (or a Python bool) as the whole key is
``tf.boolean_mask(tensor, mask)``, as in TF; the gather and its scatter gradient run in NumPy and are
recorded as a pair of custom-gradient entries (each the other's gradient), so gradients of any order flow."""
from __future__ import annotations

import operator
from typing import Any, List, Optional, Tuple

import numpy as np

from . import _core
from ._pyops import on_device_of as _on_device_of


class IndexOutOfRangeError(_core.InvalidArgumentError, IndexError):
    """An index outside a dimension (an IndexError too, so iteration over a tensor stops)."""


_MASK_IN_TUPLE = ("a boolean mask is supported only as the whole index, `tensor[mask]` (that is "
                  "`tf.boolean_mask(tensor, mask)`); for a mask along another axis use "
                  "`tf.boolean_mask(tensor, mask, axis=...)`")


def _is_bool_mask(k: Any) -> bool:
    """A key TF's __getitem__ hands to boolean_mask: a Python bool, a bool tensor or a bool ndarray."""
    if isinstance(k, (_core.Tensor, _core.VariableBase)):
        return bool(k.dtype.is_bool)
    return k is True or k is False or (isinstance(k, np.ndarray) and k.dtype == np.bool_)


def _as_index(k: Any) -> Any:
    if isinstance(k, (_core.Tensor, _core.VariableBase)):
        if k.dtype.is_bool:
            raise TypeError(f"tensor index: got a bool tensor of shape {tuple(k.shape)} inside a tuple index; "
                            + _MASK_IN_TUPLE)
        if len(k.shape) != 0 or not k.dtype.is_integer:
            raise TypeError("tensor indices must be integers, slices, Ellipsis or None; tensor (gather) indices "
                            f"are not supported (got a {k.dtype.name} tensor of shape {tuple(k.shape)})")
        return int(k)
    if isinstance(k, np.ndarray) and k.dtype == np.bool_:
        raise TypeError(f"tensor index: got a bool array of shape {k.shape} inside a tuple index; " + _MASK_IN_TUPLE)
    return k


def getitem(x: Any, key: Any) -> Any:
    if _is_bool_mask(key):  # TF: tensor[bool_mask] is tf.boolean_mask(tensor, bool_mask)
        return boolean_mask(x, key)
    shape = list(x.shape)
    keys = list(key) if isinstance(key, tuple) else [key]
    keys = [_as_index(k) for k in keys]
    # identity tests throughout: `==` on an ndarray key is elementwise (and its truth value ambiguous)
    n_ellipsis = sum(1 for k in keys if k is Ellipsis)
    n_real = sum(1 for k in keys if k is not None and k is not Ellipsis)
    if n_ellipsis > 1:
        raise _core.InvalidArgumentError("tensor index: an index can only have a single ellipsis ('...')")
    if n_real > len(shape):
        raise IndexOutOfRangeError(f"tensor index: too many indices ({n_real}) for a tensor of rank {len(shape)}")
    if n_ellipsis:
        i = next(j for j, k in enumerate(keys) if k is Ellipsis)
        keys = keys[:i] + [slice(None)] * (len(shape) - n_real) + keys[i + 1:]
    else:
        keys = keys + [slice(None)] * (len(shape) - n_real)
    begin: List[int] = []
    size: List[int] = []
    step: List[int] = []
    out_shape: List[int] = []
    dim = 0
    for k in keys:
        if k is None:
            out_shape.append(1)
            continue
        n = shape[dim]
        if isinstance(k, slice):
            start, stop, st = k.indices(n)
            length = len(range(start, stop, st))
            begin.append(start if length > 0 else 0)
            size.append(length)
            step.append(st)
            out_shape.append(length)
        else:
            try:
                i = operator.index(k)
            except TypeError:
                raise TypeError("tensor indices must be integers, slices, Ellipsis or None; got "
                                f"{type(k).__name__} (gathers by index arrays are not supported; a boolean mask works "
                                "as the whole index, `tensor[mask]`, or through `tf.boolean_mask`)") from None
            if not -n <= i < n:
                raise IndexOutOfRangeError(f"tensor index {i} is out of range for dimension {dim} of size {n} "
                                           f"(shape {tuple(shape)})")
            begin.append(i + n if i < 0 else i)
            size.append(1)
            step.append(1)
        dim += 1
    y = _core.strided_slice(x, begin, size, step)
    if list(y.shape) != out_shape:
        y = _core.reshape(y, out_shape)
    return y


# ---- tf.boolean_mask -------------------------------------------------------------------------------------
def _take(x: Any, idx: np.ndarray, axis: int) -> Any:
    """``x`` gathered at the (sorted, distinct) positions `idx` along `axis`; its gradient is `_put`."""
    n = int(x.shape[axis])
    y = _on_device_of(_core.convert(np.ascontiguousarray(np.take(np.asarray(x.numpy()), idx, axis=axis))), x)

    def backward(dys: List[Any]) -> List[Any]:
        return [_put(dys[0], idx, axis, n)]

    _core.record_custom([x], [y], backward)  # recorded only on tapes that watch x
    return y


def _put(dy: Any, idx: np.ndarray, axis: int, n: int) -> Any:
    """``dy`` scattered into zeros of length `n` along `axis` at `idx`: `_take`'s gradient (and its transpose)."""
    d = np.asarray(dy.numpy())
    out = np.zeros(d.shape[:axis] + (n,) + d.shape[axis + 1:], dtype=d.dtype)
    out[(slice(None),) * axis + (idx,)] = d
    y = _on_device_of(_core.convert(out), dy)

    def backward(dys: List[Any]) -> List[Any]:
        return [_take(dys[0], idx, axis)]

    _core.record_custom([dy], [y], backward)
    return y


def _shape_str(shape: Tuple[int, ...]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def boolean_mask(tensor: Any, mask: Any, axis: Optional[int] = None, name: Optional[str] = None) -> Any:
    """TF's ``tf.boolean_mask``: the entries of `tensor` where the K-D `mask` is true, `mask` covering
    dimensions ``axis .. axis+K-1`` (row-major order); the result has those K dimensions replaced by one
    of length ``count_nonzero(mask)``. Differentiable (to any order) with respect to `tensor`."""
    # A Variable is read (as any op reading it), so the active tapes watch it before the custom entry.
    x = tensor if isinstance(tensor, _core.Tensor) else (
        tensor.read_value() if isinstance(tensor, _core.VariableBase) else _core.convert(tensor))
    m = np.asarray(mask.numpy() if isinstance(mask, (_core.Tensor, _core.VariableBase)) else mask)
    if m.ndim == 0:
        raise ValueError("mask cannot be scalar.")
    shape = tuple(int(d) for d in x.shape)
    a = 0 if axis is None else operator.index(axis)
    if a < 0:
        a += len(shape)
    if not 0 <= a <= len(shape):
        raise ValueError(f"boolean_mask: axis {axis} is out of range for a tensor of rank {len(shape)}")
    covered = shape[a:a + m.ndim]
    if covered != tuple(m.shape):
        raise ValueError(f"Shapes {_shape_str(covered)} and {_shape_str(tuple(m.shape))} are incompatible")
    lead = 1
    for d in covered:
        lead *= d
    flat = x if m.ndim == 1 else _core.reshape(x, list(shape[:a]) + [lead] + list(shape[a + m.ndim:]))
    idx = np.flatnonzero(m.reshape(-1))
    return _take(flat, idx, a)


_core._register_getitem(getitem)
