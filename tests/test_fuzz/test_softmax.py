"""Fuzz: softmax and log_softmax (tf.nn and tf.math, every axis) against tests/reference.py, values and
gradients."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pyfast_tape as tf
import reference as ref
from test_fuzz._common import (IAE, OK, TENSORISH, args, arrays, budget, check_grad, check_values, convert_all,
                               expect, invoke, shapes, value_rtol)

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy references on NaN/Inf/0 inputs

@budget(80)
@given(data=st.data())
def test_softmax_family(data):
    op = data.draw(st.sampled_from(["softmax", "log_softmax"]), label="op")
    shape = data.draw(shapes(0, 3), label="shape")
    a = data.draw(args(shape, kinds=["tensor", "tensor", "variable", "ndarray", "view", "list"]), label="logits")
    shape = a.src.shape
    r = len(shape)
    axis = data.draw(st.one_of(st.none(), st.integers(-r - 1, r)), label="axis")
    form = data.draw(st.sampled_from(["nn", "math"]), label="form")
    fn = getattr(tf.nn if form == "nn" else tf.math, op)
    errs, dt, vals = convert_all([a])
    if dt is not None and dt.kind != "f":
        errs.add(TypeError)
    ax = -1 if axis is None else axis
    if not -r <= ax < r:
        errs.add(IAE)
    out = invoke(op, fn, a.build(), axis=axis)
    what = f"{op}({a!r}, axis={axis})"
    if not expect(out, frozenset(errs) if errs else frozenset({OK}), op, what):
        return
    x = vals[0]
    with np.errstate(all="ignore"):
        want = getattr(ref, op)(x, axis=ax) if x.size else x.astype(np.float64)
    atol = None
    if op == "log_softmax":  # x - max - log(sum): absolute error ~ eps * (|x - max| + 1), not relative
        atol = 4 * float(np.finfo(dt).eps) * (1 + np.abs(np.where(np.isfinite(want), want, 0)))
    check_values(out.value, want, dt, rtol=value_rtol(op, dt), atol=atol, what=what)
    if a.kind in TENSORISH and x.size:
        xv = data.draw(arrays(dt, shape, "normal"), label="grad x")
        dy = data.draw(arrays(dt, shape, "normal"), label="dy")
        t = tf.constant(xv)
        with tf.GradientTape() as tape:
            tape.watch(t)
            z = fn(t, axis=axis)
        g = invoke("gradient", tape.gradient, z, t, output_gradients=tf.constant(dy))
        assert g.error is None, repr(g.error)
        gfn = getattr(ref, op + "_grad")
        check_grad(g.value, gfn(xv.astype(np.float64), dy.astype(np.float64), axis=ax), dt, f"d{op} {what}")
