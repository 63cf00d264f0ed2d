"""``tensor[key]``: integers, slices (any step), Ellipsis and None (new axes), like TF's basic indexing.
One native strided-slice op (differentiable, zero-filled scatter backward) and a reshape."""
from __future__ import annotations

import operator
from typing import Any, List, Tuple

from . import _core


class IndexOutOfRangeError(_core.InvalidArgumentError, IndexError):
    """An index outside a dimension (an IndexError too, so iteration over a tensor stops)."""


def _as_index(k: Any) -> Any:
    if isinstance(k, (_core.Tensor, _core.VariableBase)):
        if len(k.shape) != 0 or not k.dtype.is_integer:
            raise TypeError("tensor indices must be integers, slices, Ellipsis or None; tensor (gather) indices "
                            f"are not supported (got a {k.dtype.name} tensor of shape {tuple(k.shape)})")
        return int(k)
    return k


def getitem(x: Any, key: Any) -> Any:
    shape = list(x.shape)
    keys = list(key) if isinstance(key, tuple) else [key]
    keys = [_as_index(k) for k in keys]
    n_real = sum(1 for k in keys if k is not None and k is not Ellipsis)
    if sum(1 for k in keys if k is Ellipsis) > 1:
        raise _core.InvalidArgumentError("tensor index: an index can only have a single ellipsis ('...')")
    if n_real > len(shape):
        raise IndexOutOfRangeError(f"tensor index: too many indices ({n_real}) for a tensor of rank {len(shape)}")
    if Ellipsis in keys:
        i = keys.index(Ellipsis)
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
                                f"{type(k).__name__} (boolean masks and gathers are not supported)") from None
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


_core._register_getitem(getitem)
