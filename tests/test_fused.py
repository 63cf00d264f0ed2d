"""The fused native ops of ``tf._core``: dense (GEMM + bias + activation), softmax cross-entropy (dense
labels with label smoothing, sparse labels) and the pointwise losses (MSE, Huber, BCE on probabilities
and on logits).

Each op, forward and backward, in float32 and float64, is compared against
  * the NumPy float64 references of tests/reference.py (its fused-ops section), and
  * the same math written as a composition of pyfast_tape's primitive ops (tf.matmul, tf.nn.relu,
    tf.nn.log_softmax, ...) differentiated by the tape;
plus: one tape entry per fused op; second-order gradients through nested tapes (against the
composition's second order and a finite-difference Hessian-vector product of the reference gradient);
stability for logits of +-1e4; and the memory of a fused MSE over 2**24 elements (the errors naming the op:
tests/test_bad_input.py, FUSED).
"""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import pyfast_tape as tf
import reference as ref
from conftest import FLOAT_DTYPES, assert_close

C = tf._core
ACTS = list(C.ACTIVATIONS)  # Keras names: "linear", "relu", ...
REPO = pathlib.Path(__file__).resolve().parent.parent


def _np(t):
    return np.asarray(t.numpy())


def close(actual, expected, dtype, rtol=None, atol=None, scale=1.0, what=""):
    """`actual` (tensor or array) has dtype `dtype`, expected's shape and values within conftest.TOL's "fused"
    row (atol x scale)."""
    assert_close(actual, np.asarray(expected, dtype=np.float64), dtype, rtol=rtol, atol=atol, tol="fused",
                 scale=scale, what=what)


def run_with_tape(fn, inputs, diff, dy):
    """fn(*tensors) under a tape watching inputs[diff]; returns (out, grads of sum(dy*out), tape entries)."""
    ts = [None if a is None else tf.constant(a) for a in inputs]
    with tf.GradientTape() as tape:
        for i in diff:
            tape.watch(ts[i])
        out = fn(*ts)
        entries = tape._num_entries
    grads = tape.gradient(out, [ts[i] for i in diff], output_gradients=tf.constant(np.asarray(dy, out.dtype.as_numpy_dtype)))
    return out, grads, entries


# ---- the same math as compositions of primitive ops ----------------------------------------------------------
def _act_composed(z, act):
    return {"linear": lambda v: v, "relu": tf.nn.relu, "sigmoid": tf.sigmoid, "tanh": tf.tanh, "softmax": tf.nn.softmax}[act](z)


def dense_composed(x, W, b, act):
    D, K = W.shape
    z = tf.matmul(tf.reshape(x, [-1, D]), W)
    if b is not None:
        z = z + b
    return tf.reshape(_act_composed(z, act), list(x.shape[:-1]) + [K])


def xent_composed(y, z, s):
    if s:
        y = y * (1.0 - s) + s / z.shape[-1]
    return -tf.reduce_sum(y * tf.nn.log_softmax(z), axis=-1)


def sparse_xent_composed(labels, z):
    return -tf.reduce_sum(tf.one_hot(labels, z.shape[-1], dtype=z.dtype) * tf.nn.log_softmax(z), axis=-1)


def pointwise_composed(kind, t, p, param):
    if kind == ref.MSE:
        elem = tf.square(p - t)
    elif kind == ref.HUBER:
        e = p - t
        a = tf.abs(e)
        elem = tf.where(a <= param, 0.5 * tf.square(e), param * a - 0.5 * param * param)
    elif kind == ref.BCE_PROB:
        pc = tf.minimum(tf.maximum(p, param), 1.0 - param)
        elem = -(t * tf.math.log(pc) + (1.0 - t) * tf.math.log(1.0 - pc))
    elif kind == ref.LOG_COSH:  # Keras's formula: x + softplus(-2x) - log 2
        x = p - t
        elem = x + tf.math.log(1.0 + tf.exp(-2.0 * x)) - float(np.log(2.0))
    else:
        elem = tf.nn.relu(p) - p * t + tf.math.log(1.0 + tf.exp(-tf.abs(p)))
    return tf.reduce_mean(elem, axis=-1)


# ---- data -----------------------------------------------------------------------------------------------------
def _probs(rng, shape):
    p = rng.uniform(0.05, 1.0, size=shape)
    return p / p.sum(-1, keepdims=True)


def _away_from(rng, shape, lo=0.05):
    """Standard normal values with |v| >= lo (no relu kink inside a finite-difference step)."""
    v = rng.standard_normal(size=shape)
    return np.where(np.abs(v) < lo, np.sign(v + 1e-12) * lo + v, v)


# ================================================================================================================
# 0. The references themselves, once, by finite differences
# ================================================================================================================
def test_references_match_finite_differences():
    rng = np.random.default_rng(0)
    x, W, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 3)), rng.standard_normal(3)
    dy = rng.standard_normal((2, 3, 3))
    fd = ref.central_difference  # the numerical gradient of sum(f(v) * dy)
    for act in ACTS:
        dx, dW, db = ref.dense_bwd(x, W, b, act, dy)
        np.testing.assert_allclose(dx, fd(lambda v: ref.dense_fwd(v, W, b, act), [x], dy)[0], atol=1e-7)
        np.testing.assert_allclose(dW, fd(lambda v: ref.dense_fwd(x, v, b, act), [W], dy)[0], atol=1e-7)
        np.testing.assert_allclose(db, fd(lambda v: ref.dense_fwd(x, W, v, act), [b], dy)[0], atol=1e-7)
    y, z, dl = _probs(rng, (3, 5)) * 1.3, rng.standard_normal((3, 5)), rng.standard_normal(3)
    for s in (0.0, 0.2):
        np.testing.assert_allclose(ref.softmax_xent_bwd(y, z, s, dl),
                                   fd(lambda v: ref.softmax_xent_fwd(y, v, s), [z], dl)[0], atol=1e-7)
        np.testing.assert_allclose(ref.softmax_xent_bwd_labels(y, z, s, dl),
                                   fd(lambda v: ref.softmax_xent_fwd(v, z, s), [y], dl)[0], atol=1e-7)
    lab = np.array([0, 4, 2])
    np.testing.assert_allclose(ref.sparse_xent_bwd(lab, z, dl),
                               fd(lambda v: ref.sparse_xent_fwd(lab, v), [z], dl)[0], atol=1e-7)
    t, p = rng.uniform(0, 1, (3, 4)), rng.uniform(0.1, 0.9, (3, 4))
    for kind, param in ((ref.MSE, 0.0), (ref.HUBER, 0.3), (ref.HUBER, 1.0), (ref.BCE_PROB, 1e-7), (ref.BCE_LOGIT, 0.0),
                        (ref.LOG_COSH, 0.0)):
        np.testing.assert_allclose(ref.pointwise_bwd(kind, t, p, param, dl),
                                   fd(lambda v: ref.pointwise_fwd(kind, t, v, param), [p], dl)[0], atol=1e-7)
        np.testing.assert_allclose(ref.pointwise_bwd_target(kind, t, p, param, dl),
                                   fd(lambda v: ref.pointwise_fwd(kind, v, p, param), [t], dl)[0], atol=1e-7)
    # and hand values: softmax-CE of uniform logits is log(C); BCE on logits at 0 is log 2
    np.testing.assert_allclose(ref.softmax_xent_fwd(np.eye(4)[:1], np.zeros((1, 4))), [np.log(4)])
    np.testing.assert_allclose(ref.pointwise_fwd(ref.BCE_LOGIT, np.ones((1, 2)), np.zeros((1, 2))), [np.log(2)])
    np.testing.assert_allclose(ref.pointwise_fwd(ref.LOG_COSH, np.zeros((1, 2)), np.full((1, 2), 0.5)), [np.log(np.cosh(0.5))])


# ================================================================================================================
# 1. dense
# ================================================================================================================
DENSE_SHAPES = [((4, 3), 5), ((1, 3), 5), ((2, 3, 4), 5), ((4, 3), 1), ((6,), 3), ((2, 1, 3, 2), 4)]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("xshape,K", DENSE_SHAPES, ids=lambda v: str(v).replace(" ", ""))
@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "nobias"])
def test_dense_forward_backward(xshape, K, act, dtype, use_bias, rng):
    D = xshape[-1]
    x = rng.standard_normal(xshape).astype(dtype)
    W = (rng.standard_normal((D, K)) / np.sqrt(D)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype) if use_bias else None
    oshape = tuple(xshape[:-1]) + (K,)
    dy = rng.standard_normal(oshape).astype(dtype)
    diff = [0, 1, 2] if use_bias else [0, 1]

    out, grads, n = run_with_tape(lambda x_, W_, b_: C.dense(x_, W_, b_, C.ACTIVATIONS[act]), [x, W, b], diff, dy)
    assert n == 1, f"dense recorded {n} tape entries, expected 1"
    close(out, ref.dense_fwd(x, W, b, act), dtype, what="forward vs reference")
    ref_grads = ref.dense_bwd(x, W, b, act, dy)
    for name, g, e in zip(["dx", "dW", "db"], grads, ref_grads):
        close(g, e, dtype, scale=max(1.0, float(np.abs(e).max(initial=0))), what=f"{name} vs reference")

    cout, cgrads, _ = run_with_tape(lambda x_, W_, b_: dense_composed(x_, W_, b_, act), [x, W, b], diff, dy)
    close(out, _np(cout), dtype, what="forward vs composition")
    for name, g, e in zip(["dx", "dW", "db"], grads, cgrads):
        close(g, _np(e), dtype, scale=max(1.0, float(np.abs(_np(e)).max(initial=0))), what=f"{name} vs composition")


def test_dense_default_arguments_and_variables(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    W = tf.Variable(rng.standard_normal((4, 2)).astype(np.float32))
    b = tf.Variable(rng.standard_normal(2).astype(np.float32))
    close(C.dense(x, W), ref.dense_fwd(x, W.numpy(), None, "linear"), np.float32)  # bias None, linear by default
    with tf.GradientTape() as tape:  # Variables are watched on read
        y = C.dense(tf.constant(x), W, b, activation=C.ACTIVATIONS["relu"])
    gW, gb = tape.gradient(y, [W, b])
    dx, dW, db = ref.dense_bwd(x, W.numpy(), b.numpy(), "relu", np.ones((3, 2)))
    close(gW, dW, np.float32)
    close(gb, db, np.float32)


def test_dense_large_softmax_preactivations_are_stable():
    x = np.array([[1.0, -1.0]], np.float32)
    W = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], np.float32)
    for act in ("sigmoid", "tanh", "softmax"):
        y = C.dense(x, W, None, C.ACTIVATIONS[act])
        assert np.all(np.isfinite(_np(y)))
        close(y, ref.dense_fwd(x, W, None, act), np.float32)


# ================================================================================================================
# 2. softmax cross-entropy (dense labels, label smoothing) and sparse labels
# ================================================================================================================
XENT_SHAPES = [(4, 5), (1, 5), (4, 1), (2, 3, 4), (7,), (3, 17)]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", XENT_SHAPES, ids=lambda s: str(s).replace(" ", ""))
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("wrt_labels", [False, True], ids=["logits", "labels+logits"])
def test_softmax_cross_entropy(shape, smoothing, dtype, wrt_labels, rng):
    y = _probs(rng, shape).astype(dtype)
    z = (3 * rng.standard_normal(shape)).astype(dtype)
    dl = rng.standard_normal(shape[:-1]).astype(dtype)
    diff = [0, 1] if wrt_labels else [1]
    out, grads, n = run_with_tape(lambda y_, z_: C.softmax_cross_entropy(y_, z_, smoothing), [y, z], diff, dl)
    assert n == 1
    close(out, ref.softmax_xent_fwd(y, z, smoothing), dtype, what="loss vs reference")
    expected = [ref.softmax_xent_bwd(y, z, smoothing, dl)]
    if wrt_labels:
        expected.insert(0, ref.softmax_xent_bwd_labels(y, z, smoothing, dl))
    for g, e in zip(grads, expected):
        close(g, e, dtype, scale=max(1.0, float(np.abs(e).max())), what="gradient vs reference")

    cout, cgrads, _ = run_with_tape(lambda y_, z_: xent_composed(y_, z_, smoothing), [y, z], diff, dl)
    close(out, _np(cout), dtype, what="loss vs composition")
    for g, e in zip(grads, cgrads):
        close(g, _np(e), dtype, scale=max(1.0, float(np.abs(_np(e)).max())), what="gradient vs composition")


def test_softmax_cross_entropy_unnormalised_labels_exact_gradient(rng):
    """Labels that do not sum to 1: the gradient is softmax*sum(y) - y (the derivative of the loss computed).
    (TensorFlow's kernel returns softmax - y here; pyfast_tape follows the math, as the composition does.)"""
    y = rng.uniform(0, 2, (3, 4))
    z = rng.standard_normal((3, 4))
    out, (g,), _ = run_with_tape(lambda y_, z_: C.softmax_cross_entropy(y_, z_), [y, z], [1], np.ones(3))
    close(out, ref.softmax_xent_fwd(y, z), np.float64)
    close(g, ref.softmax_xent_bwd(y, z, 0.0, np.ones(3)), np.float64)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", XENT_SHAPES, ids=lambda s: str(s).replace(" ", ""))
@pytest.mark.parametrize("label_dtype", [np.int32, np.int64], ids=["int32", "int64"])
def test_sparse_softmax_cross_entropy(shape, dtype, label_dtype, rng):
    labels = rng.integers(0, shape[-1], size=shape[:-1]).astype(label_dtype)
    z = (3 * rng.standard_normal(shape)).astype(dtype)
    dl = rng.standard_normal(shape[:-1]).astype(dtype)
    out, (g,), n = run_with_tape(lambda l_, z_: C.sparse_softmax_cross_entropy(l_, z_), [labels, z], [1], dl)
    assert n == 1
    close(out, ref.sparse_xent_fwd(labels, z), dtype, what="loss vs reference")
    e = ref.sparse_xent_bwd(labels, z, dl)
    close(g, e, dtype, scale=max(1.0, float(np.abs(e).max())), what="gradient vs reference")
    cout, (cg,), _ = run_with_tape(sparse_xent_composed, [labels, z], [1], dl)
    close(out, _np(cout), dtype, what="loss vs composition")
    close(g, _np(cg), dtype, scale=max(1.0, float(np.abs(e).max())), what="gradient vs composition")
    # tf.nn's public sparse cross-entropy agrees too
    close(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.constant(labels), logits=tf.constant(z)),
          ref.sparse_xent_fwd(labels, z), dtype)


def test_sparse_labels_get_no_gradient(rng):
    labels = tf.constant(np.array([1, 0], np.int64))
    z = tf.constant(rng.standard_normal((2, 3)))
    with tf.GradientTape() as tape:
        tape.watch(z)
        loss = C.sparse_softmax_cross_entropy(labels, z)
    gl, gz = tape.gradient(loss, [labels, z])
    assert gl is None
    close(gz, ref.sparse_xent_bwd([1, 0], _np(z), np.ones(2)), np.float64)


# ---- large-logit stability ---------------------------------------------------------------------------------------
def _large_logits(rng, dtype):
    z = (rng.choice([-1e4, 1e4], size=(6, 5)) + rng.standard_normal((6, 5))).astype(dtype)
    z[0] = [1e4, 1e4, -1e4, 0, 3]
    z[1] = [-1e4] * 5
    return z


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_softmax_cross_entropy_large_logits_finite(dtype, smoothing, rng):
    z = _large_logits(rng, dtype)
    y = np.eye(5)[rng.integers(0, 5, 6)].astype(dtype)
    out, (g,), _ = run_with_tape(lambda y_, z_: C.softmax_cross_entropy(y_, z_, smoothing), [y, z], [1], np.ones(6))
    assert np.all(np.isfinite(_np(out))) and np.all(np.isfinite(_np(g)))
    # loose: finiteness and the right values to 1e-3 (the precise check is below)
    close(out, ref.softmax_xent_fwd(y, z, smoothing), dtype, rtol=1e-3, atol=1e-3)
    close(g, ref.softmax_xent_bwd(y, z, smoothing, np.ones(6)), dtype, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("dtype", [
    pytest.param(np.float32, marks=()), np.float64],
    ids=["float32", "float64"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_softmax_cross_entropy_large_logits_precise(dtype, smoothing, rng):
    z = _large_logits(rng, dtype)
    y = np.eye(5)[rng.integers(0, 5, 6)].astype(dtype)
    out, (g,), _ = run_with_tape(lambda y_, z_: C.softmax_cross_entropy(y_, z_, smoothing), [y, z], [1], np.ones(6))
    close(out, ref.softmax_xent_fwd(y, z, smoothing), dtype, what="loss")
    close(g, ref.softmax_xent_bwd(y, z, smoothing, np.ones(6)), dtype, what="gradient")


def test_softmax_cross_entropy_large_logits_minimal_repro():
    """Two equal logits of 1e4 -> loss log 2, gradient 1/2, exact to float32 rounding (the row max and the
    log-sum are kept apart, so ulp(1e4) ~ 1e-3 never enters)."""
    z = np.array([[1e4, 1e4]], np.float32)
    y = np.array([[1.0, 0.0]], np.float32)
    out, (g,), _ = run_with_tape(lambda y_, z_: C.softmax_cross_entropy(y_, z_), [y, z], [1], np.ones(1))
    assert np.isfinite(_np(out)).all()
    close(out, [np.log(2)], np.float32, rtol=1e-6)
    close(g, [[-0.5, 0.5]], np.float32, rtol=1e-6)


@pytest.mark.parametrize("dtype", [
    pytest.param(np.float32, marks=()), np.float64],
    ids=["float32", "float64"])
def test_sparse_softmax_cross_entropy_large_logits(dtype, rng):
    z = _large_logits(rng, dtype)
    labels = rng.integers(0, 5, 6).astype(np.int32)
    out, (g,), _ = run_with_tape(C.sparse_softmax_cross_entropy, [labels, z], [1], np.ones(6))
    assert np.all(np.isfinite(_np(out))) and np.all(np.isfinite(_np(g)))
    close(out, ref.sparse_xent_fwd(labels, z), dtype, what="loss")
    close(g, ref.sparse_xent_bwd(labels, z, np.ones(6)), dtype, what="gradient")


def test_sparse_softmax_cross_entropy_large_logits_finite(rng):
    z = _large_logits(rng, np.float32)
    labels = rng.integers(0, 5, 6).astype(np.int32)
    out, (g,), _ = run_with_tape(C.sparse_softmax_cross_entropy, [labels, z], [1], np.ones(6))
    assert np.all(np.isfinite(_np(out))) and np.all(np.isfinite(_np(g)))
    close(out, ref.sparse_xent_fwd(labels, z), np.float32, rtol=1e-3, atol=1e-3)
    close(g, ref.sparse_xent_bwd(labels, z, np.ones(6)), np.float32, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_bce_logits_large_logits(dtype, rng):
    p = rng.choice([-1e4, 1e4, -50.0, 50.0], size=(4, 6)).astype(dtype)
    t = rng.uniform(0, 1, (4, 6)).astype(dtype)
    out, (g,), _ = run_with_tape(lambda t_, p_: C.binary_crossentropy_from_logits(t_, p_, 0.0), [t, p], [1], np.ones(4))
    assert np.all(np.isfinite(_np(out))) and np.all(np.isfinite(_np(g)))
    close(out, ref.pointwise_fwd(ref.BCE_LOGIT, t, p), dtype, scale=1e4)
    close(g, ref.pointwise_bwd(ref.BCE_LOGIT, t, p, 0.0, np.ones(4)), dtype)


# ================================================================================================================
# 3. pointwise losses: MSE, Huber, BCE on probabilities, BCE on logits
# ================================================================================================================
POINTWISE = [(ref.MSE, 0.0, "mse"), (ref.HUBER, 1.0, "huber1"), (ref.HUBER, 0.3, "huber0.3"), (ref.BCE_PROB, 1e-7, "bce_prob"),
             (ref.BCE_LOGIT, 0.0, "bce_logit"), (ref.LOG_COSH, 0.0, "log_cosh")]
POINT_SHAPES = [(4, 5), (1, 5), (4, 1), (2, 3, 4), (7,), (3, 33)]


def _pointwise_data(kind, param, shape, dtype, rng):
    if kind in (ref.BCE_PROB, ref.BCE_LOGIT):
        t = rng.uniform(0, 1, shape)
        p = rng.uniform(0.05, 0.95, shape) if kind == ref.BCE_PROB else 3 * rng.standard_normal(shape)
    else:
        t = rng.standard_normal(shape)
        p = t + 1.5 * rng.standard_normal(shape)
        if kind == ref.HUBER:  # keep |e| away from delta (the kink) and from 0
            e = p - t
            e = np.where(np.abs(np.abs(e) - param) < 0.02, e + 0.05 * np.sign(e), e)
            p = t + e
    return t.astype(dtype), p.astype(dtype)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", POINT_SHAPES, ids=lambda s: str(s).replace(" ", ""))
@pytest.mark.parametrize("kind,param,name", POINTWISE, ids=[p[2] for p in POINTWISE])
def test_pointwise_loss(kind, param, name, shape, dtype, rng):
    t, p = _pointwise_data(kind, param, shape, dtype, rng)
    dl = rng.standard_normal(shape[:-1]).astype(dtype)
    out, grads, n = run_with_tape(lambda t_, p_: getattr(C, kind)(t_, p_, param), [t, p], [0, 1], dl)
    assert n == 1
    close(out, ref.pointwise_fwd(kind, t, p, param), dtype, what="loss vs reference")
    exp_t = ref.pointwise_bwd_target(kind, t, p, param, dl)
    exp_p = ref.pointwise_bwd(kind, t, p, param, dl)
    close(grads[0], exp_t, dtype, what="d y_true vs reference")
    close(grads[1], exp_p, dtype, what="d y_pred vs reference")
    cout, cgrads, _ = run_with_tape(lambda t_, p_: pointwise_composed(kind, t_, p_, param), [t, p], [0, 1], dl)
    close(out, _np(cout), dtype, what="loss vs composition")
    close(grads[0], _np(cgrads[0]), dtype, what="d y_true vs composition")
    close(grads[1], _np(cgrads[1]), dtype, what="d y_pred vs composition")


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_pointwise_gradient_wrt_pred_only(dtype, rng):
    """The native backward (labels not watched) against the reference, every kind."""
    for kind, param, _ in POINTWISE:
        t, p = _pointwise_data(kind, param, (5, 8), dtype, rng)
        out, (g,), _n = run_with_tape(lambda t_, p_: getattr(C, kind)(t_, p_, param), [t, p], [1], np.ones(5))
        close(g, ref.pointwise_bwd(kind, t, p, param, np.ones(5)), dtype, what=f"kind {kind}")


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_bce_probabilities_clipping(dtype):
    """p outside [eps, 1-eps] is clipped: finite loss, zero gradient there (tf.clip_by_value's gradient)."""
    t = np.array([[0.0, 1.0, 0.0, 1.0, 0.3, 0.7]], dtype)
    p = np.array([[1.0, 0.0, 1e-9, 1.0 - 1e-12, 0.0, 1.0]], dtype)
    p[0, 3] = 1.0 - 1e-12 if dtype == np.float64 else 1.0
    out, (g,), _ = run_with_tape(lambda t_, p_: C.binary_crossentropy(t_, p_, 1e-7), [t, p], [1], np.ones(1))
    assert np.all(np.isfinite(_np(out)))
    close(out, ref.pointwise_fwd(ref.BCE_PROB, t, p, 1e-7, clip_dtype=dtype), dtype, rtol=1e-6)
    close(g, np.zeros_like(p), dtype)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_huber_at_and_beyond_delta(dtype):
    t = np.zeros((1, 6), dtype)
    p = np.array([[-3.0, -1.0, -0.5, 0.0, 1.0, 2.5]], dtype)
    out, (g,), _ = run_with_tape(lambda t_, p_: C.huber(t_, p_, 1.0), [t, p], [1], np.ones(1))
    close(out, [np.mean([2.5, 0.5, 0.125, 0.0, 0.5, 2.0])], dtype)
    close(g, np.array([[-1.0, -1.0, -0.5, 0.0, 1.0, 1.0]]) / 6, dtype)


def test_fused_chain_persistent_tape_and_variable_snapshot(rng):
    """dense -> softmax-CE on a persistent tape: two gradient() calls agree, and assigning the Variables after
    the forward pass does not change what backward sees (the read is a snapshot)."""
    xn, Wn, bn = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)
    lab = np.eye(2)[[0, 1, 1, 0]]
    x, W, b = tf.constant(xn), tf.Variable(Wn), tf.Variable(bn)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        loss = C.softmax_cross_entropy(lab, C.dense(x, W, b, C.ACTIVATIONS["sigmoid"]))
        assert tape._num_entries == 2
    W.assign_sub(np.full((3, 2), 5.0))
    b.assign_add(np.full(2, 3.0))
    dz = ref.softmax_xent_bwd(lab, ref.dense_fwd(xn, Wn, bn, "sigmoid"), 0.0, np.ones(4))
    expected = ref.dense_bwd(xn, Wn, bn, "sigmoid", dz)
    for _ in range(2):
        for g, e in zip(tape.gradient(loss, [x, W, b]), expected):
            close(g, e, np.float64)


# ================================================================================================================
# 4. second order through nested tapes
# ================================================================================================================
def _second_order(fn, inputs, diff, c, v):
    """Outer gradient of sum_i <d/d in_i sum(c * fn(inputs)), v_i>: a Hessian-vector product."""
    ts = [None if a is None else tf.constant(a) for a in inputs]
    srcs = [ts[i] for i in diff]
    with tf.GradientTape() as outer:
        outer.watch(srcs)
        with tf.GradientTape() as inner:
            inner.watch(srcs)
            out = fn(*ts)
            entries = inner._num_entries
        g = inner.gradient(out, srcs, output_gradients=tf.constant(c))
        s = tf.add_n([tf.reduce_sum(gi * tf.constant(vi)) for gi, vi in zip(g, v)]) if hasattr(tf, "add_n") else None
        if s is None:
            s = tf.reduce_sum(g[0] * tf.constant(v[0]))
            for gi, vi in zip(g[1:], v[1:]):
                s = s + tf.reduce_sum(gi * tf.constant(vi))
    hv = outer.gradient(s, srcs)
    return [_np(gi) for gi in g], [None if h is None else _np(h) for h in hv], entries


def _check_hvp(fused, composed, ref_grad, inputs, diff, c, v, what):
    g, hv, entries = _second_order(fused, inputs, diff, c, v)
    assert entries == 1, f"{what}: the inner tape recorded {entries} entries for one fused op"
    cg, chv, _ = _second_order(composed, inputs, diff, c, v)
    params = [inputs[i] for i in diff]

    def grad_of(ps):
        full = list(inputs)
        for i, p in zip(diff, ps):
            full[i] = p
        return ref_grad(full)

    fd = ref.central_difference(lambda *ps: grad_of(list(ps)), params, eps=1e-5, direction=v)
    for k, (a, b) in enumerate(zip(g, cg)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=f"{what}: first order, input {k}")
    for k, (h, ch, f) in enumerate(zip(hv, chv, fd)):
        ch = np.zeros_like(params[k]) if ch is None else ch
        h = np.zeros_like(params[k]) if h is None else h
        np.testing.assert_allclose(h, ch, rtol=1e-9, atol=1e-11, err_msg=f"{what}: second order vs composition, input {k}")
        np.testing.assert_allclose(h, f, rtol=1e-5, atol=1e-7, err_msg=f"{what}: second order vs finite differences, input {k}")


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("xshape", [(3, 4), (2, 2, 4)], ids=["rank2", "rank3"])
def test_dense_second_order(act, xshape, rng):
    K = 3
    x = _away_from(rng, xshape)
    W = rng.standard_normal((4, K)) / 2
    b = rng.standard_normal(K)
    # keep relu pre-activations away from 0 (finite differences straddling the kink)
    z = ref.dense_pre(x, W, b)
    b = b + np.where(np.abs(z).min(axis=tuple(range(z.ndim - 1))) < 0.1, 0.3, 0.0)
    c = rng.standard_normal(xshape[:-1] + (K,))
    v = [rng.standard_normal(a.shape) for a in (x, W, b)]
    _check_hvp(lambda x_, W_, b_: C.dense(x_, W_, b_, C.ACTIVATIONS[act]), lambda x_, W_, b_: dense_composed(x_, W_, b_, act),
               lambda p: list(ref.dense_bwd(p[0], p[1], p[2], act, c)), [x, W, b], [0, 1, 2], c, v, f"dense {act}")


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_softmax_cross_entropy_second_order(smoothing, rng):
    y, z = _probs(rng, (3, 5)), rng.standard_normal((3, 5))
    c = rng.standard_normal(3)
    v = [rng.standard_normal((3, 5)), rng.standard_normal((3, 5))]
    _check_hvp(lambda y_, z_: C.softmax_cross_entropy(y_, z_, smoothing), lambda y_, z_: xent_composed(y_, z_, smoothing),
               lambda p: [ref.softmax_xent_bwd_labels(p[0], p[1], smoothing, c), ref.softmax_xent_bwd(p[0], p[1], smoothing, c)],
               [y, z], [0, 1], c, v, "softmax_cross_entropy")
    # logits only (the path the native backward serves at first order)
    _check_hvp(lambda y_, z_: C.softmax_cross_entropy(y_, z_, smoothing), lambda y_, z_: xent_composed(y_, z_, smoothing),
               lambda p: [ref.softmax_xent_bwd(p[0], p[1], smoothing, c)], [y, z], [1], c, v[1:], "softmax_cross_entropy z")


def test_sparse_softmax_cross_entropy_second_order(rng):
    labels = np.array([[0, 4], [2, 2]], np.int64)
    z = rng.standard_normal((2, 2, 5))
    c = rng.standard_normal((2, 2))
    v = [rng.standard_normal((2, 2, 5))]
    _check_hvp(C.sparse_softmax_cross_entropy, sparse_xent_composed, lambda p: [ref.sparse_xent_bwd(p[0], p[1], c)],
               [labels, z], [1], c, v, "sparse_softmax_cross_entropy")


@pytest.mark.parametrize("kind,param,name", POINTWISE, ids=[p[2] for p in POINTWISE])
def test_pointwise_second_order(kind, param, name, rng):
    t, p = _pointwise_data(kind, param, (3, 4), np.float64, rng)
    c = rng.standard_normal(3)
    v = [rng.standard_normal((3, 4)), rng.standard_normal((3, 4))]
    _check_hvp(lambda t_, p_: getattr(C, kind)(t_, p_, param), lambda t_, p_: pointwise_composed(kind, t_, p_, param),
               lambda q: [ref.pointwise_bwd_target(kind, q[0], q[1], param, c), ref.pointwise_bwd(kind, q[0], q[1], param, c)],
               [t, p], [0, 1], c, v, name)
    _check_hvp(lambda t_, p_: getattr(C, kind)(t_, p_, param), lambda t_, p_: pointwise_composed(kind, t_, p_, param),
               lambda q: [ref.pointwise_bwd(kind, q[0], q[1], param, c)], [t, p], [1], c, v[1:], name + " pred only")


def test_second_order_float32_dense_sigmoid(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    W = rng.standard_normal((4, 2)).astype(np.float32)
    c = rng.standard_normal((3, 2)).astype(np.float32)
    v = [rng.standard_normal((4, 2)).astype(np.float32)]
    _, hv, _ = _second_order(lambda x_, W_: C.dense(x_, W_, None, C.ACTIVATIONS["sigmoid"]), [x, W], [1], c, v)
    _, chv, _ = _second_order(lambda x_, W_: dense_composed(x_, W_, None, "sigmoid"), [x, W], [1], c, v)
    assert hv[0].dtype == np.float32
    np.testing.assert_allclose(hv[0], chv[0], rtol=1e-4, atol=1e-5)


# ================================================================================================================
# 5. errors: the bad-input table of the fused ops is in tests/test_bad_input.py (FUSED)
# ================================================================================================================


# ================================================================================================================
# 6. memory: a fused MSE over 2**24 float32 elements (loss + gradient) needs about one gradient buffer
# ================================================================================================================
_MEM_SCRIPT = textwrap.dedent(r"""
    import gc, json, numpy as np
    import pyfast_tape as tf

    def status(key):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    def reset_peak():
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            return True
        except OSError:
            return False

    n = 2 ** 24
    out = {}
    for name, shape in (("flat", [n]), ("rows", [4096, 4096])):
        t = tf.random.uniform(shape, dtype=tf.float32, seed=1)
        p = tf.random.uniform(shape, dtype=tf.float32, seed=2)
        with tf.GradientTape() as tape:  # warm-up on a small problem: code paths, thread pools
            s = tf.constant(np.ones((4, 4), np.float32)); tape.watch(s)
            l = tf.reduce_sum(tf._core.mean_squared_error(s * 0.5, s, 0.0))
        tape.gradient(l, s)
        gc.collect()
        ok = reset_peak()
        base = status("VmRSS")
        with tf.GradientTape() as tape:
            tape.watch(p)
            loss = tf.reduce_sum(tf._core.mean_squared_error(t, p, 0.0))
        g = tape.gradient(loss, p)
        peak = status("VmHWM")
        pn, tn, gn = p.numpy().reshape(-1), t.numpy().reshape(-1), g.numpy().reshape(-1)
        idx = np.arange(0, n, 99991)
        D = shape[-1]
        want = 2.0 * (pn[idx].astype(np.float64) - tn[idx]) / D
        err = float(np.max(np.abs(gn[idx] - want) / (np.abs(want) + 1e-12 / D)))
        loss_ref = float(np.sum(np.mean((pn.astype(np.float64) - tn).reshape(shape) ** 2, axis=-1)))
        out[name] = dict(increase=peak - base, reset=ok, grad_rel_err=err,
                         loss=float(loss.numpy()), loss_ref=loss_ref)
        del g, loss, tape, pn, tn, gn, t, p
        gc.collect()
    print("RESULT " + json.dumps(out))
""")


@pytest.fixture(scope="module")
def mem_result(tmp_path_factory):
    script = tmp_path_factory.mktemp("mem") / "mem.py"
    script.write_text(_MEM_SCRIPT)
    env = dict(os.environ)
    # the installed package, never the source tree (which has no _core in a non-editable install)
    proc = subprocess.run([sys.executable, str(script)], cwd=str(script.parent), capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


def test_fused_mse_peak_memory_is_one_gradient_buffer(mem_result):
    buf = 4 * 2 ** 24  # one float32 gradient buffer: 64 MiB
    for name, r in mem_result.items():
        assert r["increase"] <= 1.25 * buf + 16 * 2 ** 20, (
            f"{name}: loss + gradient over 2**24 float32 raised peak RSS by {r['increase'] / 2**20:.1f} MiB, "
            f"more than one gradient buffer ({buf / 2**20:.0f} MiB) + slack (peak reset: {r['reset']})")


def test_fused_mse_2_24_gradient_and_row_losses(mem_result):
    for name, r in mem_result.items():
        assert r["grad_rel_err"] < 1e-5, f"{name}: gradient wrong ({r})"
    np.testing.assert_allclose(mem_result["rows"]["loss"], mem_result["rows"]["loss_ref"], rtol=1e-5)


@pytest.mark.parametrize("kind,param", [(ref.MSE, 0.0), (ref.HUBER, 1.0), (ref.LOG_COSH, 0.0)], ids=["mse", "huber", "log_cosh"])
def test_fused_loss_long_float32_row_is_accurate(kind, param):
    n = 2 ** 24
    rng = np.random.default_rng(5)
    t = rng.uniform(0, 1, n).astype(np.float32)
    p = rng.uniform(0, 1, n).astype(np.float32)
    want = ref.pointwise_fwd(kind, t, p, param)
    tt, pp = tf.constant(t), tf.constant(p)
    old = C.num_threads()
    try:
        for threads in (1, 2):
            C.set_num_threads(threads)
            got = float(getattr(C, kind)(tt, pp, param).numpy())
            np.testing.assert_allclose(got, want, rtol=1e-5, err_msg=f"{threads} threads")
    finally:
        C.set_num_threads(old)


# ================================================================================================================
# Sparse softmax cross-entropy with the batch mean fused in (Keras's SparseCategoricalCrossentropy, default
# reduction): the gradient is written by the forward pass when a tape watches the logits
# ================================================================================================================
def sparse_xent_mean_composed(labels, z):
    rows = sparse_xent_composed(labels, z)
    return tf.reduce_sum(rows) / float(np.prod(rows.shape))


MEAN_SHAPES = [(4, 5), (1, 5), (2, 3, 4), (7,), (3, 17), (33, 256), (5, 1), (300, 9)]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", MEAN_SHAPES, ids=lambda s: str(s).replace(" ", ""))
@pytest.mark.parametrize("label_dtype", [np.int32, np.int64], ids=["int32", "int64"])
@pytest.mark.parametrize("dy", [1.0, 0.5, -3.0])
def test_sparse_softmax_cross_entropy_mean(shape, dtype, label_dtype, dy, rng):
    labels = rng.integers(0, shape[-1], size=shape[:-1]).astype(label_dtype)
    z = (3 * rng.standard_normal(shape)).astype(dtype)
    n_rows = int(np.prod(shape[:-1]))
    out, (g,), n = run_with_tape(C.sparse_softmax_cross_entropy_mean, [labels, z], [1], dy)
    assert n == 1 and out.shape == () and out.dtype == dtype
    close(out, ref.sparse_xent_fwd(labels, z).mean(), dtype, what="loss vs reference")
    e = ref.sparse_xent_bwd(labels, z, np.full(shape[:-1], dy / n_rows))
    close(g, e, dtype, scale=max(1.0, float(np.abs(e).max())), what="gradient vs reference")
    cout, (cg,), _ = run_with_tape(sparse_xent_mean_composed, [labels, z], [1], dy)
    close(out, _np(cout), dtype, what="loss vs composition")
    close(g, _np(cg), dtype, scale=max(1.0, float(np.abs(e).max())), what="gradient vs composition")
    # without a tape: the same loss, and no gradient buffer written
    close(C.sparse_softmax_cross_entropy_mean(tf.constant(labels), tf.constant(z)), _np(out), dtype, what="no tape")


@pytest.mark.parametrize("special", ["nan", "inf", "-inf", "all -inf", "large"])
def test_sparse_softmax_cross_entropy_mean_special_values_match_the_per_row_op(special, rng):
    """Rows with NaN or infinite logits take the exact scalar path: the fused mean gives what the per-row op
    and the mean give (NaN where they give NaN), and -1e4-scale logits stay finite."""
    z = rng.standard_normal((6, 19)).astype(np.float32)
    labels = np.array([0, 3, 18, 5, 5, 7], np.int32)
    if special == "nan":
        z[1, 4] = np.nan
    elif special == "inf":
        z[2, 0] = np.inf
    elif special == "-inf":
        z[3, 2] = -np.inf
    elif special == "all -inf":
        z[4, :] = -np.inf
    else:
        z *= 1e4
    out, (g,), _ = run_with_tape(C.sparse_softmax_cross_entropy_mean, [labels, z], [1], 1.0)
    per_row_mean = lambda l_, z_: tf.reduce_sum(C.sparse_softmax_cross_entropy(l_, z_)) / 6.0  # noqa: E731
    cout, (cg,), _ = run_with_tape(per_row_mean, [labels, z], [1], 1.0)
    ref_out, ref_g = _np(cout), _np(cg)
    np.testing.assert_array_equal(np.isnan(_np(out)), np.isnan(ref_out))
    np.testing.assert_array_equal(np.isnan(_np(g)), np.isnan(ref_g))
    ok = ~np.isnan(ref_g)
    np.testing.assert_allclose(_np(g)[ok], ref_g[ok], rtol=1e-5, atol=1e-6)
    if not np.isnan(ref_out):
        np.testing.assert_allclose(_np(out), ref_out, rtol=1e-5)


def test_sparse_softmax_cross_entropy_mean_gradient_of_a_persistent_tape_twice_and_second_order(rng):
    labels = np.array([[0, 4], [2, 2]], np.int64)
    z = rng.standard_normal((2, 2, 5))
    zt = tf.constant(z)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(zt)
        loss = C.sparse_softmax_cross_entropy_mean(tf.constant(labels), zt)
        scaled = loss * 2.0
    want = ref.sparse_xent_bwd(labels, z, np.full((2, 2), 0.25))
    g1, g2, g3 = tape.gradient(loss, zt), tape.gradient(loss, zt), tape.gradient(scaled, zt)
    close(g1, want, np.float64)
    close(g2, want, np.float64)
    close(g3, 2 * want, np.float64)
    c = np.float64(1.7)
    v = [rng.standard_normal((2, 2, 5))]
    _check_hvp(C.sparse_softmax_cross_entropy_mean, sparse_xent_mean_composed,
               lambda p: [ref.sparse_xent_bwd(p[0], p[1], np.full((2, 2), c / 4))], [labels, z], [1], c, v,
               "sparse_softmax_cross_entropy_mean")


def test_sparse_softmax_cross_entropy_mean_empty_batch_is_zero_with_an_empty_gradient():
    z = tf.zeros([0, 4])
    with tf.GradientTape() as tape:
        tape.watch(z)
        loss = C.sparse_softmax_cross_entropy_mean(tf.constant(np.zeros(0, np.int32)), z)
    assert float(loss) == 0.0
    g = tape.gradient(loss, z)
    assert g is not None and tuple(g.shape) == (0, 4)


@pytest.mark.parametrize("case", [
    "fused", "labels (N,1)", "float labels", "sample_weight", "reduction sum", "reduction none", "probabilities",
    "one class", "rank 1", "float64 logits",
])
def test_keras_sparse_categorical_crossentropy_fused_mean_matches_keras_reduction(case, rng):
    """SparseCategoricalCrossentropy() routes the default mean to the fused op; every other form keeps the
    per-row losses and Keras's reduction. Both must give Keras's value and gradient (float rounding apart)."""
    N, K = 8, 6
    logits = rng.standard_normal((N, K)).astype(np.float32)
    labels = rng.integers(0, K, N).astype(np.int32)
    kw, call_kw = {"from_logits": True}, {}
    y_true = labels
    if case == "labels (N,1)":
        y_true = labels[:, None]
    elif case == "float labels":
        y_true = labels.astype(np.float32)
    elif case == "sample_weight":
        call_kw = {"sample_weight": rng.uniform(0, 2, N).astype(np.float32)}
    elif case == "reduction sum":
        kw["reduction"] = "sum"
    elif case == "reduction none":
        kw["reduction"] = None
    elif case == "probabilities":
        kw = {"from_logits": False}
        logits = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    elif case == "one class":
        logits, labels = logits[:, :1], np.zeros(N, np.int32)
        y_true = labels
    elif case == "rank 1":
        logits, labels = logits[0], labels[:1].reshape(())
        y_true = labels
    elif case == "float64 logits":
        logits = logits.astype(np.float64)
    loss_obj = tf.keras.losses.SparseCategoricalCrossentropy(**kw)
    z = tf.constant(logits)
    with tf.GradientTape() as tape:
        tape.watch(z)
        loss = loss_obj(tf.constant(y_true), z, **call_kw)
    g = tape.gradient(loss, z)
    # the reference: Keras's formula in NumPy float64
    p = np.asarray(logits, np.float64)
    if kw.get("from_logits") is False:
        lp = np.log(np.clip(p / p.sum(-1, keepdims=True), 1e-7, 1 - 1e-7))
        z64 = lp
    else:
        z64 = p
    lab = np.asarray(labels).reshape(z64.shape[:-1])
    rows = ref.sparse_xent_fwd(lab, z64)
    w = call_kw.get("sample_weight", np.ones_like(rows))
    red = kw.get("reduction", "sum_over_batch_size")
    want = rows * w if red is None else (np.sum(rows * w) if red == "sum" else np.sum(rows * w) / rows.size)
    np.testing.assert_allclose(_np(loss), want, rtol=2e-5, atol=1e-6)
    if kw.get("from_logits") is not False:
        dl = np.broadcast_to(w if red is not None else w, rows.shape) * (1.0 / rows.size if red == "sum_over_batch_size" else 1.0)
        np.testing.assert_allclose(_np(g), ref.sparse_xent_bwd(lab, z64, dl), rtol=2e-5, atol=1e-6)
