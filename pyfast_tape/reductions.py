"""Reductions, scans and orderings of ``tf.math`` beyond the native sum/mean/max/min: reduce_prod, reduce_any,
reduce_all, reduce_logsumexp, reduce_variance, reduce_std, reduce_euclidean_norm, count_nonzero, add_n,
cumsum, cumprod, sort, argsort, top_k.

Compositions of native ops where TF's own definition is one (logsumexp, variance, std, euclidean norm,
count_nonzero, add_n), so their gradients come from the tape; the others compute in NumPy and record TF's
gradient rule (cumsum: a reversed cumsum; cumprod: TF's cumsum(prod * dy, reverse) / x; sort and top_k: the
upstream gradient scattered back to the selected positions; reduce_prod: the product of the other
elements, computed without dividing, so zeros are handled).
"""
from __future__ import annotations

import collections
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from . import _core
from ._pyops import as_tensor as _t, to_numpy as _np, from_numpy as _out


def _axes(axis: Any, rank: int, op: str) -> Tuple[int, ...]:
    if axis is None:
        return tuple(range(rank))
    if isinstance(axis, (_core.Tensor, _core.VariableBase)):
        axis = _np(axis).tolist()
    axs = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
    out = []
    for a in axs:
        a = int(a)
        if not -rank <= a < max(rank, 1) or (rank == 0 and a not in (0, -1)):
            raise _core.InvalidArgumentError(f"{op}: axis {a} is out of range for a tensor of rank {rank}")
        out.append(a % rank if rank else 0)
    return tuple(sorted(set(out)))


def _keep(y: Any, x_shape: Sequence[int], axes: Tuple[int, ...], keepdims: bool) -> Any:
    if keepdims:
        return y
    return _core.reshape(y, [d for i, d in enumerate(x_shape) if i not in axes])


def _float_only(op: str, x: Any) -> None:
    if not x.dtype.is_floating:
        raise TypeError(f"{op}: expected a float32 or float64 tensor, got {x.dtype.name} (use tf.cast first)")


# ---- reductions ------------------------------------------------------------------------------------------------
def reduce_prod(input_tensor: Any, axis: Any = None, keepdims: bool = False, name: Optional[str] = None) -> Any:
    """Product over `axis`. Gradient (TF's rule): dy times the product of the other elements of each
    reduced group, computed by exclusive products from both ends (no division, exact with zeros)."""
    x = _t(input_tensor)
    if x.dtype.is_bool:
        raise TypeError("reduce_prod: unsupported dtype bool; cast to a numeric dtype first")
    shape = tuple(int(d) for d in x.shape)
    axes = _axes(axis, len(shape), "reduce_prod")
    xv = _np(x)
    with np.errstate(over="ignore", invalid="ignore"):
        yk = np.prod(xv, axis=axes, keepdims=True, dtype=xv.dtype)
    y = _out(yk if keepdims else yk.reshape([d for i, d in enumerate(shape) if i not in axes]), x)
    if not x.dtype.is_floating:
        return y

    def backward(dys: List[Any]) -> List[Any]:
        # Move the reduced axes last and flatten them: others[j] = prod_{k != j} x[k] per group.
        keep_axes = [i for i in range(len(shape)) if i not in axes]
        perm = keep_axes + list(axes)
        xp = np.transpose(xv, perm).reshape([shape[i] for i in keep_axes] + [-1])
        with np.errstate(over="ignore", invalid="ignore"):
            left = np.cumprod(np.concatenate([np.ones_like(xp[..., :1]), xp[..., :-1]], -1), -1)
            right = np.flip(np.cumprod(np.concatenate([np.ones_like(xp[..., :1]), np.flip(xp, -1)[..., :-1]], -1), -1), -1)
            others = (left * right).reshape([shape[i] for i in perm])
        inv = np.argsort(perm)
        others_t = _out(np.transpose(others, inv), x)
        dy = _core.reshape(dys[0], [1 if i in axes else d for i, d in enumerate(shape)])
        return [_core.multiply(_core.broadcast_to(dy, list(shape)), others_t)]

    _core.record_custom([x], [y], backward)
    return y


def _bool_reduce(op: str, native: Any, input_tensor: Any, axis: Any, keepdims: bool) -> Any:
    x = _t(input_tensor)
    if not x.dtype.is_bool:
        raise TypeError(f"{op}: expected a bool tensor, got {x.dtype.name}")
    return _core.cast(native(_core.cast(x, "int32"), axis=axis, keepdims=keepdims), "bool")


def reduce_any(input_tensor: Any, axis: Any = None, keepdims: bool = False, name: Optional[str] = None) -> Any:
    """Logical or over `axis` (bool in, bool out); False over no elements."""
    return _bool_reduce("reduce_any", _core.reduce_max, input_tensor, axis, keepdims) if _t(input_tensor).shape.num_elements() \
        else _empty_bool(input_tensor, axis, keepdims, False)


def reduce_all(input_tensor: Any, axis: Any = None, keepdims: bool = False, name: Optional[str] = None) -> Any:
    """Logical and over `axis` (bool in, bool out); True over no elements."""
    return _bool_reduce("reduce_all", _core.reduce_min, input_tensor, axis, keepdims) if _t(input_tensor).shape.num_elements() \
        else _empty_bool(input_tensor, axis, keepdims, True)


def _empty_bool(input_tensor: Any, axis: Any, keepdims: bool, value: bool) -> Any:
    x = _t(input_tensor)
    if not x.dtype.is_bool:
        raise TypeError(f"reduce_{'all' if value else 'any'}: expected a bool tensor, got {x.dtype.name}")
    shape = [int(d) for d in x.shape]
    axes = _axes(axis, len(shape), "reduce_all" if value else "reduce_any")
    out = [1 if i in axes else d for i, d in enumerate(shape)] if keepdims else \
        [d for i, d in enumerate(shape) if i not in axes]
    return _core.convert(np.full(out, value, dtype=bool))


def reduce_logsumexp(input_tensor: Any, axis: Any = None, keepdims: bool = False, name: Optional[str] = None) -> Any:
    """log(sum(exp(x))) as TF computes it: the max (made 0 where not finite, gradient stopped) is
    subtracted before the exp and added back."""
    x = _t(input_tensor)
    _float_only("reduce_logsumexp", x)
    shape = [int(d) for d in x.shape]
    axes = _axes(axis, len(shape), "reduce_logsumexp")
    if x.shape.num_elements() == 0:
        raw = np.full([1 if i in axes else d for i, d in enumerate(shape)], -np.inf, np.dtype(x.dtype.name))
    else:
        raw = _np(_core.reduce_max(x, axis=list(axes), keepdims=True))
    my_max = _out(np.where(np.isfinite(raw), raw, 0).astype(np.dtype(x.dtype.name)), x)
    s = _core.reduce_sum(_core.exp(_core.subtract(x, my_max)), axis=list(axes), keepdims=True)
    y = _core.add(_core.log(s), my_max)
    return _keep(y, shape, axes, keepdims)


def reduce_variance(input_tensor: Any, axis: Any = None, keepdims: bool = False, name: Optional[str] = None) -> Any:
    """TF's: reduce_mean(square(x - reduce_mean(x, axis, keepdims=True)), axis)."""
    x = _t(input_tensor)
    _float_only("reduce_variance", x)
    mean = _core.reduce_mean(x, axis=axis, keepdims=True)
    return _core.reduce_mean(_core.square(_core.subtract(x, mean)), axis=axis, keepdims=keepdims)


def reduce_std(input_tensor: Any, axis: Any = None, keepdims: bool = False, name: Optional[str] = None) -> Any:
    """sqrt(reduce_variance(x))."""
    return _core.sqrt(reduce_variance(input_tensor, axis=axis, keepdims=keepdims))


def reduce_euclidean_norm(input_tensor: Any, axis: Any = None, keepdims: bool = False, name: Optional[str] = None) -> Any:
    """sqrt(sum(x**2)) over `axis`."""
    x = _t(input_tensor)
    return _core.sqrt(_core.reduce_sum(_core.square(x), axis=axis, keepdims=keepdims))


def count_nonzero(input: Any, axis: Any = None, keepdims: Optional[bool] = None, dtype: Any = "int64",
                  name: Optional[str] = None) -> Any:
    """The number of non-zero (true) elements over `axis`, as `dtype` (int64 by default, as TF)."""
    x = _t(input)
    nz = _core.not_equal(x, False if x.dtype.is_bool else _core.convert(0, x.dtype))
    return _core.cast(_core.reduce_sum(_core.cast(nz, "int64"), axis=axis, keepdims=bool(keepdims)), dtype)


def add_n(inputs: Sequence[Any], name: Optional[str] = None) -> Any:
    """The elementwise sum of a list of tensors of one shape and dtype."""
    ts = [_t(x) for x in inputs]
    if not ts:
        raise ValueError("add_n: inputs must be a non-empty list of tensors")
    for t in ts[1:]:
        if t.dtype != ts[0].dtype or tuple(t.shape) != tuple(ts[0].shape):
            raise _core.InvalidArgumentError(
                f"add_n: all inputs must have the same shape and dtype, got {[(tuple(u.shape), u.dtype.name) for u in ts]}")
    y = ts[0]
    for t in ts[1:]:
        y = _core.add(y, t)
    return y if len(ts) > 1 else _core.identity(y)


# ---- scans -----------------------------------------------------------------------------------------------------
def _scan_np(a: np.ndarray, axis: int, exclusive: bool, reverse: bool, prod: bool) -> np.ndarray:
    f = np.cumprod if prod else np.cumsum
    if reverse:
        a = np.flip(a, axis)
    with np.errstate(over="ignore", invalid="ignore"):
        r = f(a, axis=axis, dtype=a.dtype)
    if exclusive:
        ident = np.ones_like if prod else np.zeros_like
        r = np.concatenate([ident(np.take(r, [0], axis=axis)), np.delete(r, -1, axis=axis)], axis=axis)
    return np.flip(r, axis) if reverse else r


def _scan_axis(x: Any, axis: Any, op: str) -> int:
    r = len(x.shape)
    a = int(_np(axis)) if isinstance(axis, (_core.Tensor, _core.VariableBase)) else int(axis)
    if not -r <= a < r:
        raise _core.InvalidArgumentError(f"{op}: axis {a} is out of range for a tensor of rank {r}")
    return a % r


def cumsum(x: Any, axis: Any = 0, exclusive: bool = False, reverse: bool = False, name: Optional[str] = None) -> Any:
    """Cumulative sum along `axis`. Gradient: the cumsum of dy in the other direction."""
    t = _t(x)
    if t.dtype.is_bool:
        raise TypeError("cumsum: unsupported dtype bool")
    a = _scan_axis(t, axis, "cumsum")
    y = _out(_scan_np(_np(t), a, exclusive, reverse, False), t)
    if t.dtype.is_floating:
        _core.record_custom([t], [y], lambda dys: [cumsum(dys[0], a, exclusive, not reverse)])
    return y


def cumprod(x: Any, axis: Any = 0, exclusive: bool = False, reverse: bool = False, name: Optional[str] = None) -> Any:
    """Cumulative product along `axis`. Gradient (TF's): cumsum(cumprod(x) * dy, reverse=not reverse) / x."""
    t = _t(x)
    if t.dtype.is_bool:
        raise TypeError("cumprod: unsupported dtype bool")
    a = _scan_axis(t, axis, "cumprod")
    y = _out(_scan_np(_np(t), a, exclusive, reverse, True), t)
    if t.dtype.is_floating:
        def backward(dys: List[Any]) -> List[Any]:
            return [_core.divide(cumsum(_core.multiply(y, dys[0]), a, exclusive, not reverse), t)]
        _core.record_custom([t], [y], backward)
    return y


# ---- orderings -------------------------------------------------------------------------------------------------
def _gather_last(x: Any, idx: np.ndarray) -> Any:
    """x gathered along its last axis at `idx` (same leading shape); differentiable (scatter back)."""
    xv = _np(x)
    y = _out(np.take_along_axis(xv, idx, axis=-1), x)
    if x.dtype.is_floating:
        n = xv.shape[-1]

        def backward(dys: List[Any]) -> List[Any]:
            return [_scatter_last(dys[0], idx, n)]
        _core.record_custom([x], [y], backward)
    return y


def _scatter_last(dy: Any, idx: np.ndarray, n: int) -> Any:
    d = _np(dy)
    out = np.zeros(d.shape[:-1] + (n,), d.dtype)
    np.put_along_axis(out, idx, d, axis=-1)
    y = _out(out, dy)
    _core.record_custom([dy], [y], lambda dys: [_gather_last(dys[0], idx)])
    return y


def _along_last(x: Any, axis: int) -> Tuple[Any, List[int]]:
    r = len(x.shape)
    perm = list(range(r))
    perm[axis], perm[-1] = perm[-1], perm[axis]
    return (_core.transpose(x, perm) if axis != r - 1 else x), perm


def _order(v: np.ndarray, descending: bool, stable: bool) -> np.ndarray:
    if not descending:
        return np.argsort(v, axis=-1, kind="stable" if stable else "quicksort")
    # descending, ties in their original order (TF's top_k keeps the lower index first)
    return np.argsort(-v if v.dtype.kind == "f" else ~v if v.dtype.kind in "iu" else -v.astype(np.int8),
                      axis=-1, kind="stable")


def sort(values: Any, axis: int = -1, direction: str = "ASCENDING", name: Optional[str] = None) -> Any:
    """Sorted along `axis` (ASCENDING or DESCENDING); differentiable (the gradient goes back to each value's
    position). NaNs sort as NumPy places them (last, ascending)."""
    x = _t(values)
    if direction not in ("ASCENDING", "DESCENDING"):
        raise ValueError(f"sort: direction must be 'ASCENDING' or 'DESCENDING', got {direction!r}")
    a = _scan_axis(x, axis, "sort")
    xt, perm = _along_last(x, a)
    idx = _order(_np(xt), direction == "DESCENDING", True)
    y = _gather_last(xt, idx)
    return _core.transpose(y, perm) if perm[-1] != len(perm) - 1 else y


def argsort(values: Any, axis: int = -1, direction: str = "ASCENDING", stable: bool = False,
            name: Optional[str] = None) -> Any:
    """The int32 indices that sort `values` along `axis`."""
    x = _t(values)
    if direction not in ("ASCENDING", "DESCENDING"):
        raise ValueError(f"argsort: direction must be 'ASCENDING' or 'DESCENDING', got {direction!r}")
    a = _scan_axis(x, axis, "argsort")
    xv = np.moveaxis(_np(x), a, -1)
    idx = _order(xv, direction == "DESCENDING", True)
    return _core.convert(np.ascontiguousarray(np.moveaxis(idx, -1, a)).astype(np.int32))


TopKV2 = collections.namedtuple("TopKV2", ["values", "indices"])


def top_k(input: Any, k: int = 1, sorted: bool = True, index_type: Any = "int32", name: Optional[str] = None) -> Any:
    """The k largest entries of the last axis and their indices (ties: the lower index first), as TF's
    TopKV2 (values, indices); values are differentiable."""
    x = _t(input)
    k = int(_np(k)) if isinstance(k, (_core.Tensor, _core.VariableBase)) else int(k)
    if len(x.shape) < 1:
        raise _core.InvalidArgumentError("top_k: input must have rank >= 1, got a scalar")
    n = int(x.shape[-1])
    if not 0 <= k <= n:
        raise _core.InvalidArgumentError(f"top_k: input must have at least k={k} columns, got {n}")
    idx = _order(_np(x), True, True)[..., :k]
    vals = _gather_last(x, idx)
    return TopKV2(vals, _core.convert(np.ascontiguousarray(idx).astype(np.dtype(str(getattr(index_type, "name", index_type))))))


__all__ = ["reduce_prod", "reduce_any", "reduce_all", "reduce_logsumexp", "reduce_variance", "reduce_std",
           "reduce_euclidean_norm", "count_nonzero", "add_n", "cumsum", "cumprod", "sort", "argsort", "top_k"]
