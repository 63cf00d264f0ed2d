"""Fuzz: the elementwise binary ops and comparisons (tf.*, tf.math.*, operators, broadcasting) and where,
against tests/reference.py, values and gradients."""
from __future__ import annotations

from typing import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pyfast_tape as tf
import reference as ref
from test_fuzz._common import (FLOAT_REGIMES, IAE, OK, TENSORISH, args, arrays, broadcast_shapes, broadcastable,
                               budget, build_all, check_grad, check_values, convert_all, expect, invoke, natural,
                               value_rtol)

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy references on NaN/Inf/0 inputs

ARITH = ["add", "subtract", "multiply", "divide", "pow", "maximum", "minimum"]
COMPARE = ["less", "less_equal", "greater", "greater_equal", "equal", "not_equal"]
MIRROR = {"less": "greater", "greater": "less", "less_equal": "greater_equal", "greater_equal": "less_equal"}
OPERATORS = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/", "pow": "**", "less": "<",
             "less_equal": "<=", "greater": ">", "greater_equal": ">="}


def binary_fn(op: str, form: str) -> Callable:
    if form == "operator" and op in OPERATORS:
        sym = OPERATORS[op]
        return eval(f"lambda x, y: x {sym} y")  # noqa: S307  (a fixed table of operator symbols)
    if form == "math":
        return getattr(tf.math, "truediv" if op == "divide" else op)
    return getattr(tf, op)


def binary_expected(op: str, dt: np.dtype, shapes_, vals) -> set:
    errs = set()
    if dt.kind == "b" and op not in ("equal", "not_equal"):
        errs.add(TypeError)
    if not broadcastable(*shapes_):
        errs.add(IAE)
    if op == "pow" and dt.kind == "i" and vals[1] is not None and (np.asarray(vals[1]) < 0).any():
        errs.add(IAE)
    return errs


@budget(160)
@given(data=st.data())
def test_binary_ops_broadcasting(data):
    op = data.draw(st.sampled_from(ARITH + COMPARE), label="op")
    form = data.draw(st.sampled_from(["tf", "math", "operator"]), label="form")
    shp = data.draw(broadcast_shapes(2), label="shapes")
    regime = data.draw(st.sampled_from(FLOAT_REGIMES), label="regime")
    if op == "pow" and regime in ("huge", "any"):
        regime = "special"
    x = data.draw(args(shp[0], regime=regime), label="x")
    y = data.draw(args(shp[1], regime=regime), label="y")
    if form == "operator" and not (x.kind in TENSORISH or y.kind in TENSORISH):
        form = "tf"
    if form == "operator" and x.kind == "npscalar":
        form = "tf"
    fn = binary_fn(op, form)
    # With a non-Tensor on the left of `<`, Python runs the Tensor's reflected `>`: the message names that.
    names = op
    if form == "operator" and x.kind not in TENSORISH and op in MIRROR:
        names = f"{op}|{MIRROR[op]}"
    real_shapes = [a.src.shape for a in (x, y)]
    errs, dt, vals = convert_all([x, y])
    if not errs:
        errs = binary_expected(op, dt, real_shapes, vals)
    elif dt is not None and dt.kind == "b" and op not in ("equal", "not_equal"):
        errs.add(TypeError)
    if errs and not broadcastable(*real_shapes):
        errs.add(IAE)
    allowed = frozenset(errs) if errs else frozenset({OK})
    if op == "pow" and dt is not None and dt.kind == "i" and errs == {IAE} and broadcastable(*real_shapes) \
            and 0 in np.broadcast_shapes(*real_shapes):
        allowed = allowed | {OK}  # negative exponents, but an empty result: either answer is fine
    out = invoke(op, fn, *build_all([x, y]))
    what = f"{op}[{form}]({x!r}, {y!r})"
    if not expect(out, allowed, names, what):
        return
    want = getattr(ref, op)(vals[0], vals[1])
    rdt = np.dtype(np.bool_) if op in COMPARE else (np.dtype(np.float64) if op == "divide" and dt.kind == "i" else dt)
    check_values(out.value, want, rdt, rtol=value_rtol(op, rdt), what=what)
    # gradients: both float tensors, finite values
    if op in ref.BINARY_GRAD and x.kind in TENSORISH and y.kind in TENSORISH and dt.kind == "f":
        _binary_grad(data, op, fn, dt, real_shapes)


def _binary_grad(data, op, fn, dt, shp):
    rx = "positive" if op == "pow" else data.draw(st.sampled_from(["normal", "ties"]), label="grad regime")
    ry = "positive" if op == "divide" else ("normal" if op == "pow" else rx)
    xv = data.draw(arrays(dt, shp[0], rx), label="grad x")
    yv = data.draw(arrays(dt, shp[1], ry), label="grad y")
    if op == "pow":
        yv = np.clip(yv, -3, 3).astype(dt)
    out_shape = np.broadcast_shapes(*shp)
    dy = data.draw(arrays(dt, out_shape, "normal"), label="dy")
    xt, yt = tf.constant(xv), tf.constant(yv)
    with tf.GradientTape() as tape:
        tape.watch([xt, yt])
        z = invoke(op, fn, xt, yt)
    assert z.error is None, f"{op} under a tape raised {z.error!r}"
    g = invoke("gradient", tape.gradient, z.value, [xt, yt], output_gradients=tf.constant(dy))
    assert g.error is None, f"gradient of {op} raised {g.error!r}"
    want = ref.BINARY_GRAD[op](xv.astype(np.float64), yv.astype(np.float64), dy.astype(np.float64))
    rtol = 1e-4 if (op == "pow" and dt == np.float32) else None
    for k in range(2):
        check_grad(g.value[k], want[k], dt, f"d{op}/d{'xy'[k]} x={xv.tolist()!r:.120} y={yv.tolist()!r:.120}",
                   rtol=rtol)


# ---- where ------------------------------------------------------------------------------------------------
@budget(80)
@given(data=st.data())
def test_where(data):
    shp = data.draw(broadcast_shapes(3), label="shapes")
    cond_dtype = data.draw(st.sampled_from([np.bool_, np.bool_, np.bool_, np.float32, np.int32]), label="cond dtype")
    c = data.draw(args(shp[0], dtypes=[cond_dtype], other_dtypes=False), label="cond")
    x = data.draw(args(shp[1]), label="x")
    y = data.draw(args(shp[2]), label="y")
    real = [a.src.shape for a in (c, x, y)]
    errs, dt, vals = convert_all([x, y])
    cn = natural(c)
    cond_ok = cn is not None and cn.kind == "b"
    if not cond_ok:
        errs.add(TypeError)
    if not broadcastable(*real):
        errs.add(IAE)
    allowed = frozenset(errs) if errs else frozenset({OK})
    out = invoke("where", tf.where, *build_all([c, x, y]))
    what = f"where({c!r}, {x!r}, {y!r})"
    if not expect(out, allowed, "where", what):
        return
    check_values(out.value, ref.where(c.src, vals[0], vals[1]), dt, what=what)
    if x.kind in TENSORISH and y.kind in TENSORISH and dt.kind == "f":
        xv = data.draw(arrays(dt, real[1], "normal"), label="grad x")
        yv = data.draw(arrays(dt, real[2], "normal"), label="grad y")
        dy = data.draw(arrays(dt, np.broadcast_shapes(*real), "normal"), label="dy")
        xt, yt = tf.constant(xv), tf.constant(yv)
        with tf.GradientTape() as tape:
            tape.watch([xt, yt])
            z = tf.where(c.build(), xt, yt)
        g = invoke("gradient", tape.gradient, z, [xt, yt], output_gradients=tf.constant(dy))
        assert g.error is None, repr(g.error)
        want = ref.where_grad(c.src, xv, yv, dy.astype(np.float64))
        for k in range(2):
            check_grad(g.value[k], want[k], dt, f"dwhere/d{'xy'[k]}")


# ---- regressions found by the properties above (minimal reproductions; fixed) ---------------------------------
@pytest.mark.parametrize("value", [np.int64(2**40), np.array([2**40, 1]), [2**40, 1], np.array([2**31], np.uint32)],
                         ids=["np-scalar", "ndarray", "list", "uint32"])
def test_int_narrowing_out_of_range_raises(value):
    # (found by the fuzz: these wrapped silently before 1b89c15)
    with pytest.raises(IAE, match=r"add: value \d+ .* out of range for int32"):
        tf.add(tf.constant([1, 2]), value)
