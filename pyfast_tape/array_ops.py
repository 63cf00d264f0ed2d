"""TensorFlow's array ops: joining and splitting (concat, stack, unstack, split), slicing (slice,
strided_slice, reverse, roll), tiling and padding (tile, repeat, pad), index ops (gather, gather_nd,
scatter_nd, tensor_scatter_nd_*, where with one argument), creation (linspace, meshgrid,
sequence_mask) and shape queries (shape, size, rank, unique), with TF 2.21's names, arguments,
output dtypes and gradients.

Where native ops compose an op it is composed, so its gradients of any order come from the tape (tile
is reshape + broadcast_to; slice, strided_slice and reverse are the native strided slice; stack is
concat of reshapes; meshgrid and linspace are broadcasts and arithmetic; roll, repeat and the mirror
pads are gathers). The rest rest on four NumPy-forward primitives, each recorded on the tape with a
backward written in differentiable ops, so gradients of any order flow through them too:

* ``_gather_rows(x, rows)`` -> ``x[rows]`` along the first axis; its gradient is ``_scatter_rows``
  (a scatter-add: TF's IndexedSlices gradient of gather, densified), whose gradient is ``_gather_rows``.
  gather (any axis, batch_dims), gather_nd, scatter_nd and tensor_scatter_nd_* reshape their operand
  to 2-D and compute the flat rows in NumPy.
* ``_concat_raw`` (backward: native strided slices of dy), ``_split_raw`` (backward: ``_concat_raw``)
  and ``_pad_raw`` (constant padding; backward: a strided slice of dy).

Integer-array indexing ``t[[0, 2]]`` is not here: TF 2.21 rejects it in ``Tensor.__getitem__`` (only
integers, slices, ellipsis, tf.newaxis and scalar int tensors are valid indices); use tf.gather.
"""
from __future__ import annotations

import collections
import math as _math
import operator
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from . import _core
from ._pyops import as_tensor as _t, to_numpy as _np, from_numpy as _out
from .dtypes import DType, as_dtype, float64, int32, int64

_py_slice = slice  # `slice` below is tf.slice
_IAE = _core.InvalidArgumentError
_TENSORS = (_core.Tensor, _core.VariableBase)

newaxis = None


# ---- helpers -----------------------------------------------------------------------------------------------
def _prod(dims: Sequence[int]) -> int:
    n = 1
    for d in dims:
        n *= int(d)
    return n


def _shape(x: Any) -> List[int]:
    return [int(d) for d in x._shape]


def _int_array(v: Any, op: str, what: str) -> np.ndarray:
    """An index-like argument (list, NumPy array, int tensor) as an int64 array; TypeError for other dtypes."""
    if isinstance(v, _TENSORS):
        if not v.dtype.is_integer:
            raise TypeError(f"{op}: {what} must be int32 or int64, got a {v.dtype.name} tensor")
        return _np(v).astype(np.int64)
    a = np.asarray(v)
    if a.dtype.kind in "iu":
        return a.astype(np.int64)
    if a.size == 0 and a.dtype.kind == "f":  # [] converts to float64 in NumPy
        return a.astype(np.int64)
    raise TypeError(f"{op}: {what} must be int32 or int64, got {a.dtype.name} ({v!r})")


def _int_scalar(v: Any, op: str, what: str) -> int:
    a = _int_array(v, op, what)
    if a.ndim != 0:
        raise _IAE(f"{op}: {what} must be a scalar, got shape {list(a.shape)}")
    return int(a)


def _axis(axis: Any, r: int, op: str, what: str = "axis") -> int:
    a = _int_scalar(axis, op, what)
    if not -r <= a < r:
        raise _IAE(f"{op}: Expected {what} in the range [{-r}, {r}), but got {a}")
    return a + r if a < 0 else a


def _like_dtype(v: Any, dtype: DType, op: str, what: str) -> Any:
    """`v` as a tensor of `dtype` (a Python value converted to it; a tensor must have it already)."""
    if isinstance(v, _TENSORS):
        if v.dtype != dtype:
            raise _IAE(f"{op}: {what} must have dtype {dtype.name} (the tensor's), got {v.dtype.name}")
        return _t(v)
    return _core.convert(v, dtype)


def _convert_list(values: Sequence[Any], op: str) -> List[Any]:
    """TF's rule for an op's list input: Python values take the dtype of the first tensor among them (or of
    the first converted value); all must end up with one dtype."""
    dtype = next((v.dtype for v in values if isinstance(v, _TENSORS)), None)
    out: List[Any] = []
    for v in values:
        t = _t(v) if isinstance(v, _TENSORS) else _core.convert(v, dtype)
        if dtype is None:
            dtype = t.dtype
        out.append(t)
    for i, t in enumerate(out):
        if t.dtype != out[0].dtype:
            raise _IAE(f"{op}: all inputs must have one dtype: values[0] is {out[0].dtype.name}, values[{i}] is "
                       f"{t.dtype.name}")
    return out


def _pos(p: Any) -> str:
    return "[" + ",".join(str(int(i)) for i in p) + "]"


def _slice_axis(x: Any, axis: int, begin: int, size: int) -> Any:
    dims = _shape(x)
    b = [0] * len(dims)
    b[axis] = begin if size > 0 else 0
    s = list(dims)
    s[axis] = size
    return _core.strided_slice(x, b, s, [1] * len(dims))


# ---- the recorded primitives ---------------------------------------------------------------------------------
def _gather_rows(x: Any, rows: np.ndarray) -> Any:
    """``x[rows]`` along the first axis (`rows` a 1-D int array, repeats allowed); gradient: `_scatter_rows`."""
    n = int(x._shape[0])
    y = _out(_np(x)[rows], x)

    def backward(dys: List[Any]) -> List[Any]:
        return [_scatter_rows(dys[0], rows, n)]

    _core.record_custom([x], [y], backward)  # recorded only on tapes that watch x
    return y


def _scatter_rows(u: Any, rows: np.ndarray, n: int) -> Any:
    """Zeros of first dimension `n` with ``u[i]`` added at row ``rows[i]`` (duplicates summed); the
    transpose of `_gather_rows` (and its gradient)."""
    a = _np(u)
    out = np.zeros((n,) + a.shape[1:], dtype=a.dtype)
    np.add.at(out, rows, a)
    y = _out(out, u)

    def backward(dys: List[Any]) -> List[Any]:
        return [_gather_rows(dys[0], rows)]

    _core.record_custom([u], [y], backward)
    return y


def _concat_raw(ts: List[Any], axis: int) -> Any:
    """np.concatenate of checked tensors; gradient: strided slices of dy."""
    arrays = [_np(t) for t in ts]
    y = _out(np.concatenate(arrays, axis=axis), ts[0])
    sizes = [int(a.shape[axis]) for a in arrays]

    def backward(dys: List[Any]) -> List[Any]:
        out, off = [], 0
        for s in sizes:
            out.append(_slice_axis(dys[0], axis, off, s))
            off += s
        return out

    _core.record_custom(list(ts), [y], backward)
    return y


def _split_raw(x: Any, sizes: List[int], axis: int) -> List[Any]:
    """np.split of `x` into pieces of `sizes` along `axis`; gradient: `_concat_raw` of the dys."""
    cuts = np.cumsum(sizes)[:-1]
    ys = [_out(p, x) for p in np.split(_np(x), cuts, axis=axis)]

    def backward(dys: List[Any]) -> List[Any]:
        return [_concat_raw(list(dys), axis) if len(dys) > 1 else _core.identity(dys[0])]

    if ys:
        _core.record_custom([x], ys, backward)
    return ys


def _pad_raw(x: Any, pads: np.ndarray, value: Any) -> Any:
    """Constant padding (np.pad); gradient: the interior of dy (a strided slice)."""
    dims = _shape(x)
    y = _out(np.pad(_np(x), [(int(a), int(b)) for a, b in pads], mode="constant", constant_values=value), x)

    def backward(dys: List[Any]) -> List[Any]:
        begin = [int(p[0]) if d > 0 else 0 for p, d in zip(pads, dims)]
        return [_core.strided_slice(dys[0], begin, dims, [1] * len(dims))]

    _core.record_custom([x], [y], backward)
    return y


# ---- joining and splitting -------------------------------------------------------------------------------------
def concat(values: Any, axis: Any, name: str = "concat") -> Any:
    """tf.concat: `values` joined along `axis` (in [-rank, rank)); all other dimensions must match."""
    if not isinstance(values, (list, tuple)):
        values = [values]
    if len(values) == 0:
        raise ValueError("concat: List argument 'values' to 'ConcatV2' Op with length 0 shorter than minimum "
                         "length 1")
    ts = _convert_list(values, "concat")
    a0 = _int_scalar(axis, "concat", "axis")
    if len(ts) == 1:  # TF: the degenerate case is an identity (axis is only checked to be a scalar)
        return _core.identity(ts[0])
    s0 = _shape(ts[0])
    r = len(s0)
    if r == 0:
        raise _IAE("concat: ConcatOp : Can't concatenate scalars (use tf.stack instead)")
    if not -r <= a0 < r:
        raise _IAE(f"concat: ConcatOp : Expected concatenating dimensions in the range [{-r}, {r}), but got {a0}")
    a = a0 + r if a0 < 0 else a0
    for i, t in enumerate(ts[1:], 1):
        s = _shape(t)
        if len(s) != r:
            raise _IAE(f"concat: ConcatOp : Ranks of all input tensors should match: shape[0] = {s0} vs. "
                       f"shape[{i}] = {s}")
        for d in range(r):
            if d != a and s[d] != s0[d]:
                raise _IAE(f"concat: ConcatOp : Dimension {d} in both shapes must be equal: shape[0] = {s0} vs. "
                           f"shape[{i}] = {s}")
    return _concat_raw(ts, a)


def stack(values: Any, axis: int = 0, name: str = "stack") -> Any:
    """tf.stack: rank-R tensors of one shape stacked into a rank-(R+1) tensor along `axis`."""
    values = list(values) if isinstance(values, (list, tuple)) else [values]
    if axis == 0 and not any(isinstance(v, _TENSORS) for v in values):
        try:  # TF: a list of constants converts as a whole (dtype inferred over all of it)
            return _core.convert(values)
        except (TypeError, ValueError):
            pass
    ts = _convert_list(values, "stack")
    s0 = _shape(ts[0])
    n = len(s0) + 1
    a = operator.index(axis)
    if not -n <= a < n:
        raise ValueError(f"Argument `axis` = {axis} not in range [{-n}, {n})")
    if a < 0:
        a += n
    for i, t in enumerate(ts[1:], 1):
        if _shape(t) != s0:
            raise _IAE(f"stack: Shapes of all inputs must match: values[0].shape = {s0} != values[{i}].shape = "
                       f"{_shape(t)}")
    expanded = s0[:a] + [1] + s0[a:]
    parts = [_core.reshape(t, expanded) for t in ts]
    return parts[0] if len(parts) == 1 else _concat_raw(parts, a)


def unstack(value: Any, num: Optional[int] = None, axis: int = 0, name: str = "unstack") -> List[Any]:
    """tf.unstack: the slices of `value` along `axis`, that dimension removed (a list of rank R-1 tensors)."""
    x = _t(value)
    dims = _shape(x)
    r = len(dims)
    a = operator.index(axis)
    if not -r <= a < r:
        raise ValueError(f"Argument `axis` = {axis} not in range [{-r}, {r})")
    if a < 0:
        a += r
    n = dims[a]
    if num is not None and int(num) != n:
        raise _IAE(f"unstack: Input shape axis {a} must equal {int(num)}, got shape {dims}")
    pieces = _split_raw(x, [1] * n, a) if n > 0 else []
    rest = dims[:a] + dims[a + 1:]
    return [_core.reshape(p, rest) for p in pieces]


def split(value: Any, num_or_size_splits: Any, axis: Any = 0, num: Optional[int] = None,
          name: str = "split") -> List[Any]:
    """tf.split: `value` cut along `axis` into `num_or_size_splits` equal pieces (an int) or pieces of the
    given sizes (a 1-D list or tensor; one size may be -1, the rest)."""
    x = _t(value)
    dims = _shape(x)
    r = len(dims)
    if r == 0:
        raise _IAE("split: cannot split a scalar (the input must have rank >= 1)")
    a = _axis(axis, r, "split")
    n = dims[a]
    if isinstance(num_or_size_splits, (int, np.integer)) and not isinstance(num_or_size_splits, bool):
        k = int(num_or_size_splits)
        if k <= 0:
            raise _IAE(f"split: Number of ways to split should be > 0, but got {k}")
        if n % k:
            raise _IAE(f"split: Number of ways to split should evenly divide the split dimension, but got "
                       f"split_dim {a} (size = {n}) and num_split {k}")
        sizes = [n // k] * k
    else:
        s = _int_array(num_or_size_splits, "split", "num_or_size_splits")
        if s.ndim == 0:
            raise ValueError("Rank-0 tensors are not supported as the num_or_size_splits argument to split. "
                             f"Argument provided: {num_or_size_splits}")
        if s.ndim != 1:
            raise _IAE(f"split: num_or_size_splits must be 1-D, got shape {list(s.shape)}")
        if num is not None and int(num) != s.shape[0]:
            raise _IAE(f"split: num = {num} does not match the {s.shape[0]} sizes in num_or_size_splits")
        sizes = [int(v) for v in s]
        unknown = [i for i, v in enumerate(sizes) if v == -1]
        if len(unknown) > 1:
            raise _IAE(f"split: Only one dimensions can have a value of -1. Second one found at dimension "
                       f"{unknown[1]}")
        if any(v < -1 for v in sizes):
            raise _IAE(f"split: sizes must be >= 0 (or one -1), got {sizes}")
        known = sum(v for v in sizes if v != -1)
        if (not unknown and known != n) or (unknown and known > n):
            raise _IAE("split: Determined shape must either match input shape along split_dim exactly if fully "
                       "specified, or be less than the size of the input along split_dim if not fully "
                       f"specified.  Got: {known} (the split dimension {a} has size {n})")
        if unknown:
            sizes[unknown[0]] = n - known
    return _split_raw(x, sizes, a)


# ---- slicing ---------------------------------------------------------------------------------------------------
def slice(input_: Any, begin: Any, size: Any, name: Optional[str] = None) -> Any:  # noqa: A001
    """tf.slice: the block of `size` (``-1``: to the end) starting at `begin`; ``0 <= begin[i] <= begin[i] +
    size[i] <= shape[i]``."""
    x = _t(input_)
    dims = _shape(x)
    r = len(dims)
    b = _int_array(begin, "slice", "begin")
    s = _int_array(size, "slice", "size")
    if b.ndim != 1 or s.ndim != 1 or b.shape[0] != r or s.shape[0] != r:
        raise _IAE(f"slice: Expected begin and size arguments to be 1-D tensors of size {r}, but got shapes "
                   f"{list(b.shape)} and {list(s.shape)} instead.")
    begins, sizes = [], []
    for i, n in enumerate(dims):
        bi, si = int(b[i]), int(s[i])
        if not 0 <= bi <= n:
            raise _IAE(f"slice: Expected begin[{i}] in [0, {n}], but got {bi}")
        if si == -1:
            si = n - bi
        if not 0 <= si <= n - bi:
            raise _IAE(f"slice: Expected size[{i}] in [0, {n - bi}], but got {si}")
        begins.append(bi if si > 0 else 0)
        sizes.append(si)
    return _core.strided_slice(x, begins, sizes, [1] * r)


def strided_slice(input_: Any, begin: Any, end: Any, strides: Any = None, begin_mask: int = 0, end_mask: int = 0,
                  ellipsis_mask: int = 0, new_axis_mask: int = 0, shrink_axis_mask: int = 0, var: Any = None,
                  name: Optional[str] = None) -> Any:
    """tf.strided_slice: Python slicing spelt as begin/end/strides vectors and bit masks (bit i for spec i):
    begin_mask/end_mask ignore begin[i]/end[i], ellipsis_mask marks the one ellipsis, new_axis_mask inserts a
    length-1 dimension, shrink_axis_mask takes index begin[i] and drops the dimension."""
    x = _t(input_)
    dims = _shape(x)
    r = len(dims)
    b = _int_array(begin, "strided_slice", "begin")
    e = _int_array(end, "strided_slice", "end")
    s = np.ones_like(b) if strides is None else _int_array(strides, "strided_slice", "strides")
    if not (b.ndim == e.ndim == s.ndim == 1 and b.shape == e.shape == s.shape):
        raise _IAE("strided_slice: Expected begin, end, and strides to be 1D equal size tensors, but got shapes "
                   f"{list(b.shape)}, {list(e.shape)}, and {list(s.shape)} instead.")
    n_spec = int(b.shape[0])
    ell = int(ellipsis_mask) & ((1 << n_spec) - 1)
    if bin(ell).count("1") > 1:
        raise _IAE("strided_slice: Multiple ellipses in slice spec not allowed")
    # the sparse spec, an implicit ellipsis at the end when it has none
    spec: List[Tuple[Any, ...]] = []
    for i in range(n_spec):
        bit = 1 << i
        if ell & bit:
            spec.append(("ellipsis",))
        elif int(new_axis_mask) & bit:
            spec.append(("new",))
        else:
            spec.append(("dim", i, int(b[i]), int(e[i]), int(s[i]), bool(int(begin_mask) & bit),
                         bool(int(end_mask) & bit), bool(int(shrink_axis_mask) & bit)))
    if not ell:
        spec.append(("ellipsis",))
    n_real = sum(1 for t in spec if t[0] == "dim")
    if n_real > r:
        raise _IAE(f"strided_slice: Index out of range using input dim {r}; input has only {r} dims")
    dense: List[Tuple[Any, ...]] = []
    for t in spec:
        if t[0] == "ellipsis":
            dense.extend([("dim", -1, 0, 0, 1, True, True, False)] * (r - n_real))
        else:
            dense.append(t)
    begins: List[int] = []
    sizes: List[int] = []
    steps: List[int] = []
    final: List[int] = []
    d = 0
    for t in dense:
        if t[0] == "new":
            final.append(1)
            continue
        _, i, bi, ei, si, bm, em, shrink = t
        n = dims[d]
        if si == 0:
            raise _IAE(f"strided_slice: strides[{i}] must be non-zero")
        if shrink:
            if si <= 0:
                raise _IAE("strided_slice: only stride 1 allowed on non-range indexing.")
            xi = bi + n if bi < 0 else bi
            if not 0 <= xi < n:
                raise _IAE(f"strided_slice: slice index {bi} of dimension {d} out of bounds.")
            begins.append(xi)
            sizes.append(1)
            steps.append(1)
        else:
            start, stop, st = _py_slice(None if bm else bi, None if em else ei, si).indices(n)
            length = len(range(start, stop, st))
            begins.append(start if length > 0 else 0)
            sizes.append(length)
            steps.append(st)
            final.append(length)
        d += 1
    y = _core.strided_slice(x, begins, sizes, steps)
    return y if _shape(y) == final else _core.reshape(y, final)


def reverse(tensor: Any, axis: Any, name: Optional[str] = None) -> Any:
    """tf.reverse: `tensor` with the dimensions in `axis` (a 1-D list) reversed."""
    x = _t(tensor)
    dims = _shape(x)
    r = len(dims)
    ax = _int_array(axis, "reverse", "axis")
    if ax.ndim != 1:
        raise _IAE(f"reverse: 'axis' must be 1-D, got shape {list(ax.shape)}")
    rev = [False] * r
    for a in ax:
        a = int(a)
        if not -r <= a < r:
            raise _IAE(f"reverse: 'axis'[{a}] = {a} is out of valid range [{-r}, {r})")
        a = a + r if a < 0 else a
        if rev[a]:
            raise _IAE(f"reverse: axis {a} specified more than once")
        rev[a] = True
    begins = [n - 1 if (f and n > 0) else 0 for f, n in zip(rev, dims)]
    return _core.strided_slice(x, begins, dims, [-1 if f else 1 for f in rev])


def roll(input: Any, shift: Any, axis: Any, name: Optional[str] = None) -> Any:  # noqa: A002
    """tf.roll: elements shifted by `shift` along `axis` (scalars or equal-length 1-D lists; the shifts of
    a repeated axis add up), wrapping around."""
    x = _t(input)
    dims = _shape(x)
    r = len(dims)
    sh = _int_array(shift, "roll", "shift")
    ax = _int_array(axis, "roll", "axis")
    if sh.ndim > 1 or ax.ndim > 1:
        raise _IAE("roll: shift and axis must be scalars or 1-D vectors")
    if sh.shape != ax.shape:
        raise _IAE(f"roll: shift and axis must have the same size, got shapes {list(sh.shape)} and "
                   f"{list(ax.shape)}")
    total = [0] * r
    for s, a in zip(sh.reshape(-1), ax.reshape(-1)):
        a = int(a)
        if not -r <= a < r:
            raise _IAE(f"roll: axis {a} is out of range for a tensor of rank {r}")
        total[a + r if a < 0 else a] += int(s)
    y = x
    for a, s in enumerate(total):
        n = dims[a]
        k = s % n if n else 0
        if k:
            y = _concat_raw([_slice_axis(y, a, n - k, k), _slice_axis(y, a, 0, n - k)], a)
    return _core.identity(y) if y is x else y


# ---- tiling and padding ---------------------------------------------------------------------------------------
def tile(input: Any, multiples: Any, name: Optional[str] = None) -> Any:  # noqa: A002
    """tf.tile: `input` repeated `multiples[i]` times along dimension i (a reshape and a broadcast, so its
    gradient is the sum over the copies)."""
    x = _t(input)
    dims = _shape(x)
    m = _int_array(multiples, "tile", "multiples")
    if m.ndim != 1 or m.shape[0] != len(dims):
        raise _IAE(f"tile: Expected multiples argument to be a vector of length {len(dims)} but got length "
                   f"{m.shape[0] if m.ndim == 1 else m.ndim}")
    for i, v in enumerate(m):
        if v < 0:
            raise _IAE(f"tile: Expected multiples[{i}] >= 0, but got {int(v)}")
    if not dims:
        return _core.identity(x)
    inter = [k for d in dims for k in (1, d)]
    big = [k for mi, d in zip(m, dims) for k in (int(mi), d)]
    return _core.reshape(_core.broadcast_to(_core.reshape(x, inter), big), [int(mi) * d for mi, d in zip(m, dims)])


def repeat(input: Any, repeats: Any, axis: Optional[int] = None, name: Optional[str] = None) -> Any:  # noqa: A002
    """tf.repeat: each element (axis=None: of the flattened input) or slice along `axis` repeated
    `repeats` times (a scalar, or one count per element)."""
    x = _t(input)
    if axis is None:
        x = _core.reshape(x, [-1])
        a = 0
    else:
        a = _axis(axis, len(x._shape), "repeat")
    n = int(x._shape[a])
    reps = _int_array(repeats, "repeat", "repeats")
    if reps.ndim > 1:
        raise _IAE(f"repeat: repeats must be a scalar or a 1-D vector, got shape {list(reps.shape)}")
    if reps.ndim == 0 or reps.shape[0] == 1:
        reps = np.full(n, int(reps.reshape(-1)[0]), dtype=np.int64)
    elif reps.shape[0] != n:
        raise _IAE(f"repeat: repeats must have one count per element of axis {a} ({n}) or a single count, "
                   f"got {reps.shape[0]}")
    if (reps < 0).any():
        raise _IAE(f"repeat: repeats must be non-negative, got {reps.tolist()}")
    return gather(x, np.repeat(np.arange(n, dtype=np.int64), reps), axis=a)


def pad(tensor: Any, paddings: Any, mode: str = "CONSTANT", constant_values: Any = 0,
        name: Optional[str] = None) -> Any:
    """tf.pad: `paddings[i] = [before, after]` entries added to dimension i: `constant_values`
    (mode "CONSTANT") or a mirror image without ("REFLECT") or with ("SYMMETRIC") the edge."""
    x = _t(tensor)
    dims = _shape(x)
    r = len(dims)
    p = _int_array(paddings, "pad", "paddings")
    if p.shape != (r, 2):
        raise _IAE(f"pad: paddings must have shape [rank, 2] = [{r}, 2] (one [before, after] per dimension of the "
                   f"input of shape {dims}), got shape {list(p.shape)}")
    for lo, hi in p:
        if lo < 0 or hi < 0:
            raise _IAE(f"pad: Paddings must be non-negative: {int(lo)} {int(hi)}")
    m = mode.upper() if isinstance(mode, str) else mode
    if m == "CONSTANT":
        if not isinstance(constant_values, _TENSORS) and np.ndim(constant_values) == 0 and constant_values == 0:
            value = np.zeros((), dtype=x.dtype.as_numpy_dtype)  # TF: the Pad op (zeros of any dtype, bool too)
        else:
            cv = _like_dtype(constant_values, x.dtype, "pad", "constant_values")
            if len(cv._shape) != 0:
                raise _IAE(f"pad: constant_values must be a scalar. Shape of constant_values: {_shape(cv)}")
            value = _np(cv)
        if r == 0:
            return _core.identity(x)
        return _pad_raw(x, p, value)
    if m in ("REFLECT", "SYMMETRIC"):
        offset = 1 if m == "REFLECT" else 0
        y = x
        for a, (lo, hi) in enumerate(p):
            n = dims[a]
            if lo > n - offset or hi > n - offset:
                if offset:
                    raise _IAE(f"pad: paddings must be less than the dimension size: {int(lo)}, {int(hi)} not less "
                               f"than {n}")
                raise _IAE(f"pad: paddings must be no greater than the dimension size: {int(lo)}, {int(hi)} greater "
                           f"than {n}")
            if lo or hi:
                ar = np.arange(n, dtype=np.int64)
                pw = (int(lo), int(hi))
                idx = np.pad(ar, pw, mode="reflect") if offset else np.pad(ar, pw, mode="symmetric")
                y = gather(y, idx, axis=a)
        return _core.identity(y) if y is x else y
    raise ValueError('Value of argument `mode` expected to be one of "CONSTANT", "REFLECT", or "SYMMETRIC". '
                     f"Received `mode` = {mode}")


# ---- gather and scatter ---------------------------------------------------------------------------------------
def _check_range(idx: np.ndarray, n: int, op: str) -> None:
    bad = (idx < 0) | (idx >= n)
    if bad.any():
        p = np.argwhere(bad)[0]
        raise _IAE(f"{op}: indices{_pos(p)} = {int(idx[tuple(p)])} is not in [0, {n})")


def gather(params: Any, indices: Any, validate_indices: Any = None, axis: Any = None, batch_dims: int = 0,
           name: Optional[str] = None) -> Any:
    """tf.gather: slices of `params` along `axis` (default batch_dims) at `indices`; the output has shape
    ``params.shape[:axis] + indices.shape[batch_dims:] + params.shape[axis + 1:]``. Its gradient is TF's
    (IndexedSlices) scatter-add, densified."""
    x = _t(params)
    idx = _int_array(indices, "gather", "indices")
    dims = _shape(x)
    r, ir = len(dims), idx.ndim
    b = operator.index(batch_dims) if not isinstance(batch_dims, _TENSORS) else int(batch_dims)
    if b < 0:
        b += ir
    if not 0 <= b <= ir:
        raise _IAE(f"gather: Expected batch_dims in the range [{-ir}, {ir}], but got {batch_dims}")
    a = b if axis is None else _axis(axis, r, "gather")
    if r == 0:
        raise _IAE("gather: params must be at least 1 dimensional")
    if b > a:
        raise _IAE(f"gather: batch_dims ({batch_dims}) must be less than or equal to axis ({axis})")
    for i in range(b):
        if dims[i] != idx.shape[i]:
            raise _IAE(f"gather: params.shape[{i}]: {dims[i]} should be equal to indices.shape[{i}]: {idx.shape[i]}")
    n = dims[a]
    _check_range(idx, n, "gather")
    nb, no, ni = _prod(dims[:b]), _prod(dims[b:a]), _prod(dims[a + 1:])
    nm = _prod(idx.shape[b:])
    idx2 = idx.reshape(nb, nm)
    rows = ((np.arange(nb, dtype=np.int64)[:, None, None] * no + np.arange(no, dtype=np.int64)[None, :, None]) * n
            + idx2[:, None, :]).reshape(-1)
    y = _gather_rows(_core.reshape(x, [nb * no * n, ni]), rows)
    return _core.reshape(y, dims[:a] + list(idx.shape[b:]) + dims[a + 1:])


def _nd_rows(op: str, idx: np.ndarray, dims: List[int], b: int, what: str) -> Tuple[np.ndarray, int, int]:
    """The flat rows of `dims[:b + K]` (viewed as one axis) that `idx[..., K]` points at, with the number of
    such rows and the size of the rest; range-checked."""
    k = int(idx.shape[-1])
    sub = dims[b:b + k]
    nb = _prod(dims[:b])
    npos = _prod(sub)
    lead = idx.shape[:-1]
    flat = idx.reshape(nb, _prod(lead[b:]), k)
    bad = ((flat < 0) | (flat >= np.asarray(sub, dtype=np.int64))).any(axis=-1)
    if bad.any():
        p = np.unravel_index(int(np.argmax(bad.reshape(-1))), lead)
        raise _IAE(f"{op}: indices{_pos(p)} = {idx[p].tolist()} does not index into {what} {dims}")
    strides = np.ones(k, dtype=np.int64)
    for j in range(k - 2, -1, -1):
        strides[j] = strides[j + 1] * sub[j + 1]
    lin = (flat * strides).sum(axis=-1) if k else np.zeros(flat.shape[:2], dtype=np.int64)
    rows = (np.arange(nb, dtype=np.int64)[:, None] * npos + lin).reshape(-1)
    return rows, nb * npos, _prod(dims[b + k:])


def gather_nd(params: Any, indices: Any, batch_dims: int = 0, name: Optional[str] = None) -> Any:
    """tf.gather_nd: ``params[indices[..., :]]``: each innermost vector of `indices` (length K) indexes the
    first K dimensions after the batch_dims; the output has shape
    ``indices.shape[:-1] + params.shape[batch_dims + K:]``."""
    x = _t(params)
    idx = _int_array(indices, "gather_nd", "indices")
    dims = _shape(x)
    r = len(dims)
    if idx.ndim < 1:
        raise _IAE(f"gather_nd: indices must be at least a vector, got shape {list(idx.shape)}")
    b = int(batch_dims)
    if not 0 <= b < idx.ndim:
        raise _IAE(f"gather_nd: batch_dims must be in [0, rank(indices) - 1] = [0, {idx.ndim - 1}], got {b}")
    k = int(idx.shape[-1])
    if b + k > r:
        raise _IAE(f"gather_nd: index innermost dimension length must be <= params rank; saw: {b + k} vs. {r}")
    for i in range(b):
        if dims[i] != idx.shape[i]:
            raise _IAE(f"gather_nd: params.shape[{i}]: {dims[i]} should be equal to indices.shape[{i}]: "
                       f"{idx.shape[i]} (batch dimensions)")
    rows, nrows, rest = _nd_rows("gather_nd", idx, dims, b, "param shape")
    y = _gather_rows(_core.reshape(x, [nrows, rest]), rows)
    return _core.reshape(y, list(idx.shape[:-1]) + dims[b + k:])


def _scatter_setup(op: str, idx: np.ndarray, ushape: List[int], dims: List[int]) -> Tuple[np.ndarray, int, int, int]:
    if idx.ndim < 1:
        raise _IAE(f"{op}: indices must be at least a vector, got shape {list(idx.shape)}")
    k = int(idx.shape[-1])
    if k > len(dims):
        raise _IAE(f"{op}: indices.shape[-1] must be <= the rank of the output; got {k} for shape {dims}")
    want = list(idx.shape[:-1]) + dims[k:]
    if ushape != want:
        raise _IAE(f"{op}: updates must have shape indices.shape[:-1] + shape[indices.shape[-1]:] = {want}, got "
                   f"{ushape} (indices shape {list(idx.shape)}, shape {dims})")
    rows, nrows, rest = _nd_rows(op, idx, dims, 0, "shape")
    return rows, nrows, _prod(idx.shape[:-1]), rest


def scatter_nd(indices: Any, updates: Any, shape: Any, name: Optional[str] = None) -> Any:
    """tf.scatter_nd: zeros of `shape` with `updates` added at `indices` (duplicates summed); differentiable
    with respect to `updates` (the gradient is gather_nd of dy)."""
    idx = _int_array(indices, "scatter_nd", "indices")
    u = _t(updates)
    dims_a = _int_array(shape, "scatter_nd", "shape")
    if dims_a.ndim != 1:
        raise _IAE(f"scatter_nd: shape must be a vector, got shape {list(dims_a.shape)}")
    dims = [int(d) for d in dims_a]
    if any(d < 0 for d in dims):
        raise _IAE(f"scatter_nd: shape must be non-negative, got {dims}")
    rows, nrows, m, rest = _scatter_setup("scatter_nd", idx, _shape(u), dims)
    return _core.reshape(_scatter_rows(_core.reshape(u, [m, rest]), rows, nrows), dims)


def _tensor_scatter_args(op: str, tensor: Any, indices: Any, updates: Any) -> Tuple[Any, Any, np.ndarray, int, int,
                                                                                        int]:
    x = _t(tensor)
    idx = _int_array(indices, op, "indices")
    u = _like_dtype(updates, x.dtype, op, "updates")
    rows, nrows, m, rest = _scatter_setup(op, idx, _shape(u), _shape(x))
    return x, u, rows, nrows, m, rest


def tensor_scatter_nd_add(tensor: Any, indices: Any, updates: Any, name: Optional[str] = None) -> Any:
    """tf.tensor_scatter_nd_add: `tensor` with `updates` added at `indices` (duplicates summed)."""
    x, u, rows, nrows, m, rest = _tensor_scatter_args("tensor_scatter_nd_add", tensor, indices, updates)
    s = _core.reshape(_scatter_rows(_core.reshape(u, [m, rest]), rows, nrows), _shape(x))
    return _core.add(x, s)


def tensor_scatter_nd_sub(tensor: Any, indices: Any, updates: Any, name: Optional[str] = None) -> Any:
    """tf.tensor_scatter_nd_sub: `tensor` with `updates` subtracted at `indices` (duplicates summed)."""
    x, u, rows, nrows, m, rest = _tensor_scatter_args("tensor_scatter_nd_sub", tensor, indices, updates)
    s = _core.reshape(_scatter_rows(_core.reshape(u, [m, rest]), rows, nrows), _shape(x))
    return _core.subtract(x, s)


def tensor_scatter_nd_update(tensor: Any, indices: Any, updates: Any, name: Optional[str] = None) -> Any:
    """tf.tensor_scatter_nd_update: `tensor` with the entries at `indices` replaced by `updates` (of
    duplicate indices the last update wins). Gradient: dy where the tensor was kept, and for each update
    dy at its index (0 for an update overwritten by a later duplicate)."""
    x, u, rows, nrows, m, rest = _tensor_scatter_args("tensor_scatter_nd_update", tensor, indices, updates)
    dims = _shape(x)
    _, last_rev = np.unique(rows[::-1], return_index=True)
    win = (len(rows) - 1 - last_rev).astype(np.int64)  # the last occurrence of each distinct row
    sel = _gather_rows(_core.reshape(u, [m, rest]), win)
    s = _core.reshape(_scatter_rows(sel, rows[win], nrows), dims)
    mask = np.zeros((nrows, rest), dtype=bool)
    mask[rows] = True
    return _core.where(_out(mask.reshape(dims), x), s, x)


def _tensor_scatter_extremum(op: str, fn: Any, tensor: Any, indices: Any, updates: Any) -> Any:
    x, u, rows, nrows, m, rest = _tensor_scatter_args(op, tensor, indices, updates)
    dims, udims = _shape(x), _shape(u)
    xa = _np(x).reshape(nrows, rest)
    ua = _np(u).reshape(m, rest)
    out = xa.copy()
    fn.at(out, rows, ua)
    y = _out(out.reshape(dims), x)
    if x.dtype.is_floating:
        # TF's gradient: dy shared evenly among the entries (the tensor's and the updates') equal to the result
        x_ind = (xa == out).astype(xa.dtype)
        u_ind = (ua == out[rows]).astype(xa.dtype)
        count = x_ind.copy()
        np.add.at(count, rows, u_ind)
        count = np.maximum(count, 1)
        wx = _out((x_ind / count).reshape(dims), x)
        wu = _out((u_ind / count[rows]).reshape(udims), x)

        def backward(dys: List[Any]) -> List[Any]:
            dy = dys[0]
            du = _core.reshape(_gather_rows(_core.reshape(dy, [nrows, rest]), rows), udims)
            return [_core.multiply(dy, wx), _core.multiply(du, wu)]

        _core.record_custom([x, u], [y], backward)
    return y


def tensor_scatter_nd_max(tensor: Any, indices: Any, updates: Any, name: Optional[str] = None) -> Any:
    """tf.tensor_scatter_nd_max: the elementwise maximum of `tensor` and `updates` at `indices`."""
    return _tensor_scatter_extremum("tensor_scatter_nd_max", np.maximum, tensor, indices, updates)


def tensor_scatter_nd_min(tensor: Any, indices: Any, updates: Any, name: Optional[str] = None) -> Any:
    """tf.tensor_scatter_nd_min: the elementwise minimum of `tensor` and `updates` at `indices`."""
    return _tensor_scatter_extremum("tensor_scatter_nd_min", np.minimum, tensor, indices, updates)


# tf.where: the native op (with x and y, the elementwise select; with neither, the int64 coordinates of the
# true elements: csrc/ops/elementwise.cpp where_indices). No Python frame per call.
where = _core.where


# ---- creation ------------------------------------------------------------------------------------------------
def linspace(start: Any, stop: Any, num: Any, name: Optional[str] = None, axis: int = 0) -> Any:
    """tf.linspace: `num` evenly spaced values from `start` to `stop` (both included; tensors of
    broadcastable shapes, the values laid along `axis`). Integer inputs give float64 (TF divides them).
    Differentiable with respect to start and stop."""
    s0 = _t(start)
    s1 = _like_dtype(stop, s0.dtype, "linspace", "stop")
    if s0.dtype.is_bool:
        raise TypeError("linspace: start and stop must be numbers, got bool")
    n = _int_scalar(num, "linspace", "num")
    if n < 0:
        raise _IAE(f"linspace: num must be >= 0, got {n}")
    if s0.dtype.is_integer:  # TF: (stop - start) / n_steps is a true division: float64 for int32/int64
        s0, s1 = _core.cast(s0, float64), _core.cast(s1, float64)
    bshape = list(np.broadcast_shapes(tuple(s0._shape), tuple(s1._shape)))
    s0, s1 = _core.broadcast_to(s0, bshape), _core.broadcast_to(s1, bshape)
    r = len(bshape) + 1
    a = operator.index(axis)
    if not -r <= a < r:
        raise _IAE(f"linspace: axis {axis} is out of range for a result of rank {r}")
    a = a + r if a < 0 else a
    e_shape = bshape[:a] + [1] + bshape[a:]
    e0, e1 = _core.reshape(s0, e_shape), _core.reshape(s1, e_shape)
    steps = max(n - 1, 1)
    delta = _core.divide(_core.subtract(e1, e0), _core.convert(np.asarray(steps, dtype=s0.dtype.as_numpy_dtype)))
    fill = max(n - 2, 0)
    k_shape = [1] * r
    k_shape[a] = fill
    k = _out(np.arange(1, fill + 1, dtype=s0.dtype.as_numpy_dtype).reshape(k_shape), s0)
    mid = _core.add(e0, _core.multiply(delta, k))
    full = _concat_raw([e0, mid, e1], a)
    return _slice_axis(full, a, 0, n) if n != fill + 2 else full


def meshgrid(*args: Any, **kwargs: Any) -> List[Any]:
    """tf.meshgrid: N coordinate arrays broadcast to an N-D grid; indexing="xy" (default, Cartesian: the
    first two output dimensions swapped) or "ij" (matrix)."""
    indexing = kwargs.pop("indexing", "xy")
    kwargs.pop("name", None)
    if kwargs:
        key = next(iter(kwargs))
        raise TypeError(f"'{key}' is an invalid keyword argument for this function")
    if indexing not in ("xy", "ij"):
        raise ValueError(f"Argument `indexing` parameter must be either 'xy' or 'ij', got '{indexing}'")
    ts = [_core.reshape(_t(v), [-1]) for v in args]
    n = len(ts)
    if n == 0:
        return []
    for i, t in enumerate(ts):
        if t.dtype != ts[0].dtype:
            raise _IAE(f"meshgrid: all inputs must have one dtype: args[0] is {ts[0].dtype.name}, args[{i}] is "
                       f"{t.dtype.name}")
    sizes = [int(t._shape[0]) for t in ts]
    swap = indexing == "xy" and n > 1
    pos = list(range(n))
    if swap:
        pos[0], pos[1] = 1, 0
    full = [0] * n
    for i, p in enumerate(pos):
        full[p] = sizes[i]
    outs = []
    for i, t in enumerate(ts):
        s = [1] * n
        s[pos[i]] = sizes[i]
        outs.append(_core.broadcast_to(_core.reshape(t, s), full))
    return outs


def sequence_mask(lengths: Any, maxlen: Any = None, dtype: Any = None, name: Optional[str] = None) -> Any:
    """tf.sequence_mask: ``mask[..., j] = j < lengths[...]`` for j < maxlen (default max(lengths)), as
    `dtype` (bool by default)."""
    ln = _np(_t(lengths))
    if maxlen is None:
        m = max(0, ln.max()) if ln.size else 0
    else:
        mt = _np(_t(maxlen))
        if mt.ndim != 0:
            raise ValueError(f"Argument `maxlen` must be scalar for sequence_mask, received `maxlen` = {maxlen} with "
                             f"shape '{list(mt.shape)}' instead")
        m = mt.item()
    ncols = max(0, int(_math.ceil(m)))
    mask = np.arange(ncols) < ln[..., None]
    out = _core.convert(mask)
    dt = None if dtype is None else as_dtype(dtype)
    return out if dt is None or dt.is_bool else _core.cast(out, dt)


# ---- shape queries ------------------------------------------------------------------------------------------
def _dims_of(input: Any) -> Tuple[int, ...]:  # noqa: A002
    if isinstance(input, _TENSORS):
        return tuple(int(d) for d in input._shape)
    return tuple(int(d) for d in _core.convert(input)._shape)


def shape(input: Any, out_type: Any = int32, name: Optional[str] = None) -> Any:  # noqa: A002
    """tf.shape: the shape of `input` as a 1-D int32 (or `out_type` int64) tensor."""
    dt = int32 if out_type is None else as_dtype(out_type)
    if dt not in (int32, int64):
        raise _IAE(f"shape: Value for attr 'out_type' of {dt.name} is not in the list of allowed values: int32, int64")
    return _core.convert(np.asarray(_dims_of(input), dtype=dt.as_numpy_dtype))


def size(input: Any, out_type: Any = int32, name: Optional[str] = None) -> Any:  # noqa: A002
    """tf.size: the number of elements of `input`, a scalar int32 (or `out_type`) tensor."""
    dt = int32 if out_type is None else as_dtype(out_type)
    if dt.is_bool:
        raise _IAE("size: out_type must be a numeric dtype, got bool")
    return _core.convert(np.asarray(_prod(_dims_of(input)), dtype=dt.as_numpy_dtype))


def rank(input: Any, name: Optional[str] = None) -> Any:  # noqa: A002
    """tf.rank: the number of dimensions of `input`, a scalar int32 tensor."""
    return _core.convert(np.asarray(len(_dims_of(input)), dtype=np.int32))


Unique = collections.namedtuple("Unique", ["y", "idx"])


def unique(x: Any, out_idx: Any = int32, name: Optional[str] = None) -> Any:
    """tf.unique: ``(y, idx)``: the distinct elements of the 1-D `x` in order of first occurrence, and for
    each element of x the position of its value in y (``y[idx[i]] == x[i]``). Not differentiable (as TF)."""
    t = _t(x)
    a = _np(t)
    if a.ndim != 1:
        raise _IAE(f"unique: unique expects a 1D vector, got shape {list(a.shape)}")
    dt = as_dtype(out_idx)
    if dt not in (int32, int64):
        raise _IAE(f"unique: out_idx must be int32 or int64, got {dt.name}")
    vals, first, inv = np.unique(a, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank_of = np.empty_like(order)
    rank_of[order] = np.arange(len(order))
    return Unique(_out(vals[order], t), _out(rank_of[inv.reshape(-1)].astype(dt.as_numpy_dtype), t))


__all__ = ["concat", "stack", "unstack", "split", "slice", "strided_slice", "reverse", "roll", "tile", "repeat", "pad",
           "gather", "gather_nd", "scatter_nd", "tensor_scatter_nd_add", "tensor_scatter_nd_sub",
           "tensor_scatter_nd_update", "tensor_scatter_nd_max", "tensor_scatter_nd_min", "where", "linspace",
           "meshgrid", "sequence_mask", "shape", "size", "rank", "unique", "newaxis"]
