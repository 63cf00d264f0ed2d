"""Fuzz: matmul (tf.matmul with transposes, the @ operator, batch broadcasting, vector and scalar operands)
against tests/reference.py, values and gradients."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pyfast_tape as tf
import reference as ref
from test_fuzz._common import (DIM_SKEW, IAE, OK, TENSORISH, args, arrays, broadcast_shapes, broadcastable, budget,
                               build_all, check_grad, check_values, convert_all, expect, invoke, shapes)

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy references on NaN/Inf/0 inputs

@st.composite
def matmul_case(draw):
    m, k, n = draw(DIM_SKEW), draw(DIM_SKEW), draw(DIM_SKEW)
    batch = draw(broadcast_shapes(2)) if draw(st.booleans()) else [(), ()]
    ta, tb = draw(st.booleans()), draw(st.booleans())
    k2 = k if draw(st.integers(0, 5)) else draw(DIM_SKEW)
    sa = tuple(batch[0]) + ((k, m) if ta else (m, k))
    sb = tuple(batch[1]) + ((n, k2) if tb else (k2, n))
    if draw(st.integers(0, 9)) == 0:  # a vector or a scalar operand
        which = draw(st.integers(0, 1))
        short = draw(shapes(0, 1))
        sa, sb = (short, sb) if which == 0 else (sa, short)
    return sa, sb, ta, tb


@budget(100)
@given(data=st.data())
def test_matmul(data):
    sa, sb, ta, tb = data.draw(matmul_case(), label="case")
    regime = data.draw(st.sampled_from(["normal", "moderate", "special", "ties"]), label="regime")
    kinds = ["tensor", "tensor", "tensor", "variable", "ndarray", "view", "list"]
    a = data.draw(args(sa, regime=regime, kinds=kinds), label="a")
    b = data.draw(args(sb, regime=regime, kinds=kinds), label="b")
    form = data.draw(st.sampled_from(["tf", "operator"]) if not (ta or tb) else st.just("tf"), label="form")
    if form == "operator" and not (a.kind in TENSORISH or b.kind in TENSORISH):
        form = "tf"
    errs, dt, vals = convert_all([a, b])
    if dt is not None and dt.kind == "b":
        errs.add(TypeError)
    ra, rb = a.src.ndim, b.src.ndim
    shape_ok = ra >= 2 and rb >= 2
    if shape_ok:
        ka = a.src.shape[-2] if ta else a.src.shape[-1]
        kb = b.src.shape[-1] if tb else b.src.shape[-2]
        shape_ok = ka == kb and broadcastable(a.src.shape[:-2], b.src.shape[:-2])
    if not shape_ok:
        errs.add(IAE)
    allowed = frozenset(errs) if errs else frozenset({OK})
    objs = build_all([a, b])
    if form == "operator":
        out = invoke("matmul", lambda p, q: p @ q, *objs)
    else:
        out = invoke("matmul", tf.matmul, *objs, transpose_a=ta, transpose_b=tb)
    what = f"matmul({a!r}, {b!r}, transpose_a={ta}, transpose_b={tb})"
    if not expect(out, allowed, "matmul", what):
        return
    want = ref.matmul(vals[0], vals[1], transpose_a=ta, transpose_b=tb)
    atol = None
    if dt.kind == "f":
        absa = np.abs(np.where(np.isfinite(vals[0]), vals[0], 0)).astype(np.float64)
        absb = np.abs(np.where(np.isfinite(vals[1]), vals[1], 0)).astype(np.float64)
        kk = (vals[0].shape[-2] if ta else vals[0].shape[-1])
        atol = 2 * max(kk, 1) * float(np.finfo(dt).eps) * ref.matmul(absa, absb, transpose_a=ta, transpose_b=tb)
    check_values(out.value, want, dt, atol=atol, what=what)
    if a.kind in TENSORISH and b.kind in TENSORISH and dt.kind == "f":
        av = data.draw(arrays(dt, sa, "normal"), label="grad a")
        bv = data.draw(arrays(dt, sb, "normal"), label="grad b")
        dy = data.draw(arrays(dt, np.shape(want), "normal"), label="dy")
        at, bt = tf.constant(av), tf.constant(bv)
        with tf.GradientTape() as tape:
            tape.watch([at, bt])
            z = tf.matmul(at, bt, transpose_a=ta, transpose_b=tb)
        g = invoke("gradient", tape.gradient, z, [at, bt], output_gradients=tf.constant(dy))
        assert g.error is None, repr(g.error)
        want_g = ref.matmul_grad(av, bv, dy.astype(np.float64), ta, tb)
        for k in range(2):
            ex = want_g[k]
            check_grad(g.value[k], ex, dt, f"dmatmul/d{'ab'[k]} {what}", rtol=1e-4 if dt == np.float32 else 1e-9)
