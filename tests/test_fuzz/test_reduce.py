"""Fuzz: the reductions (reduce_sum/mean/max/min over every axis form, keepdims) against tests/reference.py,
values and gradients; argmax/argmin regressions (the property covering them is in test_shape.py)."""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pyfast_tape as tf
import reference as ref
from test_fuzz._common import (FLOAT_REGIMES, IAE, OK, TENSORISH, args, arrays, budget, check_grad, check_values,
                               convert_all, expect, invoke, shapes)

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy references on NaN/Inf/0 inputs

REDUCE = ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min"]


@st.composite
def axis_arg(draw, rank: int):
    kind = draw(st.sampled_from(["none", "int", "int", "list", "tuple", "npint", "tensor", "empty", "bad"]))
    ax = st.integers(-rank - 1, rank)
    if kind == "none":
        return None
    if kind == "int":
        return draw(ax)
    if kind == "npint":
        return np.int64(draw(ax))
    if kind == "tensor":
        return tf.constant(draw(ax))
    if kind == "empty":
        return []
    if kind == "bad":
        return draw(st.sampled_from([1.0, "0", True, [0.5]]))
    lst = draw(st.lists(ax, min_size=1, max_size=3))
    return lst if kind == "list" else tuple(lst)


def norm_axis(axis, rank: int) -> Tuple[Any, Optional[tuple]]:
    """(OK, sorted axes) or (error type, None) for a reduction axis argument."""
    if axis is None:
        return OK, tuple(range(rank))
    if isinstance(axis, tf.Tensor):
        axis = int(axis.numpy())
    if isinstance(axis, bool) or isinstance(axis, (float, str)):
        return TypeError, None
    if isinstance(axis, (list, tuple)):
        if any(isinstance(a, (bool, float, str)) for a in axis):
            return TypeError, None
        items = [int(a) for a in axis]
    else:
        items = [int(axis)]
    out = []
    for a in items:
        if not -rank <= a < rank:
            return IAE, None
        out.append(a % rank)
    if len(set(out)) != len(out):
        return IAE, None
    return OK, tuple(sorted(out))


def _sum_tol(x: np.ndarray, axes: tuple, keepdims: bool, dtype, mean: bool) -> np.ndarray:
    """Error bound of a float sum: n * eps * sum(|x|) (any summation order)."""
    ax = np.abs(np.where(np.isfinite(x), x, 0).astype(np.float64))
    s = np.sum(ax, axis=axes, keepdims=keepdims)
    n = int(np.prod([x.shape[a] for a in axes])) if axes else 1
    eps = float(np.finfo(dtype).eps)
    tol = 2 * max(n, 1) * eps * s
    return tol / max(n, 1) if mean else tol


@budget(120)
@given(data=st.data())
def test_reductions(data):
    op = data.draw(st.sampled_from(REDUCE), label="op")
    shape = data.draw(shapes(), label="shape")
    regime = "moderate" if op in ("reduce_sum", "reduce_mean") else data.draw(st.sampled_from(FLOAT_REGIMES))
    if op in ("reduce_sum", "reduce_mean") and data.draw(st.booleans(), label="specials"):
        regime = "special"
    a = data.draw(args(shape, regime=regime, kinds=["tensor", "tensor", "variable", "ndarray", "view", "list",
                                                    "pyscalar"]), label="x")
    rank = a.src.ndim
    axis = data.draw(axis_arg(rank), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")
    form = data.draw(st.sampled_from(["tf", "math"]), label="form")
    fn = getattr(tf if form == "tf" else tf.math, op)
    errs, dt, vals = convert_all([a])
    if dt is not None and dt.kind == "b":
        errs.add(TypeError)
    ax_status, axes = norm_axis(axis, rank)
    if ax_status is not OK:
        errs.add(ax_status)
    allowed = frozenset(errs) if errs else frozenset({OK})
    out = invoke(op, fn, a.build(), axis=axis, keepdims=keepdims)
    what = f"{op}({a!r}, axis={axis!r}, keepdims={keepdims})"
    if not expect(out, allowed, op, what):
        return
    x = vals[0]
    want = getattr(ref, op)(x, axis=axes, keepdims=keepdims)
    atol = None
    if dt.kind == "f" and op in ("reduce_sum", "reduce_mean"):
        atol = _sum_tol(x, axes, keepdims, dt, op == "reduce_mean")
    check_values(out.value, want, dt, atol=atol, rtol=1e-6 if dt == np.float32 else 1e-12, what=what)
    n = int(np.prod([x.shape[i] for i in axes]))
    if a.kind in TENSORISH and dt.kind == "f" and x.size and n > 0:
        xv = data.draw(arrays(dt, shape, data.draw(st.sampled_from(["normal", "ties"]))), label="grad x")
        dy = data.draw(arrays(dt, np.shape(want), "normal"), label="dy")
        t = tf.constant(xv)
        with tf.GradientTape() as tape:
            tape.watch(t)
            z = fn(t, axis=axis, keepdims=keepdims)
        g = invoke("gradient", tape.gradient, z, t, output_gradients=tf.constant(dy))
        assert g.error is None, repr(g.error)
        gfn = getattr(ref, op + "_grad")
        check_grad(g.value, gfn(xv.astype(np.float64), dy.astype(np.float64), axes), dt, f"d{op}/dx {what}")


# ---- regressions found by the properties (minimal reproductions; fixed) ---------------------------------------
def test_argmax_nan_is_position_independent():
    a = int(tf.argmax(tf.constant([np.nan, 1.0, 3.0])))   # 0: the NaN wins
    b = int(tf.argmax(tf.constant([1.0, np.nan, 3.0])))   # was 2: the NaN was ignored
    assert (a, b) == (0, 1), f"argmax([nan,1,3])={a}, argmax([1,nan,3])={b}; NumPy gives 0 and 1"


@pytest.mark.parametrize("axis", [[0], 1.0, "a"], ids=["list", "float", "str"])
def test_argmax_bad_axis_type_raises(axis):
    with pytest.raises((TypeError, IAE), match="argmax"):
        tf.argmax(tf.ones([2, 3]), axis=axis)
