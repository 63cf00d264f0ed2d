"""Fuzz: the elementwise unary ops (tf.*, tf.math.*, operators) against tests/reference.py, values and
gradients, over every argument form and dtype the conversion model knows."""
from __future__ import annotations

from typing import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pyfast_tape as tf
import reference as ref
from test_fuzz._common import (OK, TENSORISH, args, arrays, budget, check_grad, check_values, convert_all, expect,
                               invoke, shapes, value_rtol)

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy references on NaN/Inf/0 inputs

FLOAT_ONLY = {"sqrt", "exp", "log", "log1p", "tanh", "sigmoid", "reciprocal", "rsqrt"}
NUMERIC = {"negative", "abs", "square", "sign", "relu"}
ANY_DTYPE = {"identity", "stop_gradient"}
UNARY = sorted(FLOAT_ONLY | NUMERIC | ANY_DTYPE)


def unary_fn(op: str, form: str) -> Callable:
    if op == "relu":
        return tf.nn.relu
    if form == "math" and hasattr(tf.math, op):
        return getattr(tf.math, op)
    if form == "operator" and op == "negative":
        return lambda x: -x
    if form == "operator" and op == "abs":
        return abs
    return getattr(tf, op) if hasattr(tf, op) else getattr(tf.math, op)


def unary_ref(op: str, x: np.ndarray) -> np.ndarray:
    if op in ("identity", "stop_gradient"):
        return np.array(x, copy=True)
    return getattr(ref, op)(x)


@budget(120)
@given(data=st.data())
def test_unary_ops(data):
    op = data.draw(st.sampled_from(UNARY), label="op")
    form = data.draw(st.sampled_from(["tf", "math", "operator"]), label="form")
    shape = data.draw(shapes(), label="shape")
    a = data.draw(args(shape), label="x")
    fn = unary_fn(op, form)
    if form == "operator" and a.kind not in TENSORISH:
        fn = unary_fn(op, "tf")
    errs, dt, vals = convert_all([a])
    if dt is not None and not errs:
        if op in FLOAT_ONLY and dt.kind != "f":
            errs.add(TypeError)
        if op in NUMERIC and dt.kind == "b":
            errs.add(TypeError)
    allowed = frozenset(errs) if errs else frozenset({OK})
    out = invoke(op, fn, a.build())
    if not expect(out, allowed, op, f"{op}({a!r})"):
        return
    x = vals[0]
    check_values(out.value, unary_ref(op, x), dt, rtol=value_rtol(op, dt), what=f"{op}({a!r})")
    # gradients: float tensors under a tape, finite inputs in the op's domain
    if a.kind in TENSORISH and dt.kind == "f" and op in ref.UNARY_GRAD | {"stop_gradient": None, "sign": None}:
        _unary_grad(data, op, fn, dt, shape)


def _unary_grad(data, op, fn, dt, shape):
    regime = "positive" if op in ("sqrt", "log", "log1p", "rsqrt", "reciprocal") else data.draw(
        st.sampled_from(["normal", "ties"]), label="grad regime")
    x = data.draw(arrays(dt, shape, regime), label="grad x")
    dy = data.draw(arrays(dt, shape, "normal"), label="dy")
    t = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(t)
        y = invoke(op, fn, t)
    assert y.error is None, f"{op} under a tape raised {y.error!r}"
    g = invoke("gradient", tape.gradient, y.value, t, output_gradients=tf.constant(dy))
    assert g.error is None, f"gradient of {op} raised {g.error!r}"
    if op == "stop_gradient":
        assert g.value is None, f"stop_gradient let a gradient through: {g.value}"
        return
    grad_ref = ref.sign_grad if op == "sign" else ref.UNARY_GRAD[op]
    want = grad_ref(x.astype(np.float64), dy.astype(np.float64))
    check_grad(g.value, want, dt, f"d{op}/dx x={x.tolist()!r:.200}")


# ---- regressions found by the property above (minimal reproductions; fixed) ------------------------------------
def test_sign_of_nan_is_nan():
    out = tf.sign(tf.constant([np.nan, 1.0, -1.0])).numpy()
    np.testing.assert_array_equal(out, ref.sign(np.array([np.nan, 1.0, -1.0])))
