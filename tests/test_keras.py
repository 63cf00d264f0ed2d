"""tf.keras: losses (Keras 3 docstring values and the NumPy references of tests/reference.py,
reductions, sample weights, label smoothing, the softmax-output -> fused logits path), Dense and
Sequential, the optimizers' trajectories against NumPy transcriptions of Keras's update formulas,
to_categorical, the seed Keras program, and a 20-step MLP training run against a float64 NumPy model."""
from __future__ import annotations

import io
import os
import pathlib
import re
import subprocess
import sys
import warnings
from contextlib import redirect_stdout

import numpy as np
import pytest

import pyfast_tape as tf
import reference as ref
from conftest import assert_close

keras = tf.keras
C = tf._core
REPO = pathlib.Path(__file__).resolve().parent.parent


def _np(t):
    return np.asarray(t.numpy() if hasattr(t, "numpy") else t)


def close(actual, expected, rtol=1e-5, atol=1e-6, dtype=None):
    """Explicit tolerances (conftest.TOL's float32 "value" row, for float64 results too: Keras's float32
    constants enter every loss)."""
    assert_close(actual, np.asarray(expected, np.float64), dtype, rtol=rtol, atol=atol)


# ================================================================================================================
# 1. losses: Keras 3 docstring values
# ================================================================================================================
HUBER_T, HUBER_P = [[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]
MSE_T, MSE_P = [[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 0.0]]
CCE_T, CCE_P = [[0, 1, 0], [0, 0, 1]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]
BCE_LOGIT_T, BCE_LOGIT_P = [[0, 1], [0, 0]], [[-18.6, 0.51], [2.94, -12.8]]


def test_docstring_values_match_the_numpy_reference():
    """The documented numbers are reproduced by the independent reference (so the reference is Keras's)."""
    assert abs(ref.keras_loss("huber", HUBER_T, HUBER_P) - 0.155) < 1e-6
    assert abs(ref.keras_loss("mse", MSE_T, MSE_P) - 0.5) < 1e-12
    assert abs(ref.keras_loss("cce", CCE_T, CCE_P) - 1.177) < 1e-3
    assert abs(ref.keras_loss("scce", [1, 2], CCE_P) - 1.177) < 1e-3
    assert abs(ref.keras_loss("bce", [0, 1, 0, 0], [-18.6, 0.51, 2.94, -12.8], from_logits=True) - 0.865) < 1e-3
    assert abs(ref.keras_loss("bce", HUBER_T, HUBER_P) - 0.815) < 1e-3


@pytest.mark.parametrize("kwargs,sample_weight,expected", [
    ({}, None, 0.155),
    ({}, [1, 0], 0.09),
    ({"reduction": "sum"}, None, 0.31),
    ({"reduction": None}, None, [0.18, 0.13]),
    ({"reduction": "none"}, None, [0.18, 0.13]),
], ids=["default", "sample_weight", "sum", "None", "none"])
def test_huber_docstring(kwargs, sample_weight, expected):
    out = keras.losses.Huber(**kwargs)(HUBER_T, HUBER_P, sample_weight=sample_weight)
    close(out, expected, rtol=0, atol=5e-7, dtype=np.float32)


@pytest.mark.parametrize("kwargs,sample_weight,expected", [
    ({}, None, 0.5),
    ({}, [0.7, 0.3], 0.25),
    ({"reduction": "sum"}, None, 1.0),
    ({"reduction": None}, None, [0.5, 0.5]),
], ids=["default", "sample_weight", "sum", "None"])
def test_mse_docstring(kwargs, sample_weight, expected):
    out = keras.losses.MeanSquaredError(**kwargs)(MSE_T, MSE_P, sample_weight=sample_weight)
    close(out, expected, rtol=0, atol=1e-7, dtype=np.float32)


@pytest.mark.parametrize("kwargs,sample_weight,expected", [
    ({}, None, 1.177),
    ({}, [0.3, 0.7], 0.814),
    ({"reduction": "sum"}, None, 2.354),
    ({"reduction": None}, None, [0.0513, 2.303]),
], ids=["default", "sample_weight", "sum", "None"])
def test_categorical_crossentropy_docstring(kwargs, sample_weight, expected):
    out = keras.losses.CategoricalCrossentropy(**kwargs)(CCE_T, CCE_P, sample_weight=sample_weight)
    close(out, expected, rtol=0, atol=1e-3, dtype=np.float32)
    # and to float32 rounding against the reference
    close(out, ref.keras_loss("cce", CCE_T, CCE_P, sample_weight, kwargs.get("reduction", "sum_over_batch_size")),
          rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("kwargs,sample_weight,expected", [
    ({}, None, 1.177),
    ({}, [0.3, 0.7], 0.814),
    ({"reduction": "sum"}, None, 2.354),
    ({"reduction": None}, None, [0.0513, 2.303]),
], ids=["default", "sample_weight", "sum", "None"])
def test_sparse_categorical_crossentropy_docstring(kwargs, sample_weight, expected):
    out = keras.losses.SparseCategoricalCrossentropy(**kwargs)([1, 2], CCE_P, sample_weight=sample_weight)
    close(out, expected, rtol=0, atol=1e-3, dtype=np.float32)
    close(out, ref.keras_loss("scce", [1, 2], CCE_P, sample_weight, kwargs.get("reduction", "sum_over_batch_size")),
          rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("kwargs,sample_weight,expected", [
    ({}, None, 0.108), ({}, [0.8, 0.2], 0.087), ({"reduction": "sum"}, None, 0.217),
    ({"reduction": None}, None, [0.217, 0.0]),
])
def test_log_cosh_docstring(kwargs, sample_weight, expected):
    y_true, y_pred = [[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [0.0, 0.0]]
    close(keras.losses.LogCosh(**kwargs)(y_true, y_pred, sample_weight=sample_weight), expected, rtol=0, atol=1e-3)
    assert abs(ref.keras_loss("log_cosh", y_true, y_pred) - 0.108) < 1e-3
    assert keras.losses.get("log_cosh") is keras.losses.log_cosh and keras.losses.LogCosh().name == "log_cosh"


def test_binary_crossentropy_docstring():
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    close(bce([0, 1, 0, 0], [-18.6, 0.51, 2.94, -12.8]), 0.865, rtol=0, atol=1e-3, dtype=np.float32)
    close(bce(BCE_LOGIT_T, BCE_LOGIT_P), 0.865, rtol=0, atol=1e-3)
    close(bce(BCE_LOGIT_T, BCE_LOGIT_P, sample_weight=[0.8, 0.2]), 0.243, rtol=0, atol=1e-3)
    close(keras.losses.BinaryCrossentropy(from_logits=True, reduction="sum")(BCE_LOGIT_T, BCE_LOGIT_P), 1.730,
          rtol=0, atol=1e-3)
    close(keras.losses.BinaryCrossentropy(from_logits=True, reduction=None)(BCE_LOGIT_T, BCE_LOGIT_P),
          [0.235, 1.496], rtol=0, atol=1e-3)
    close(keras.losses.BinaryCrossentropy()(HUBER_T, HUBER_P), 0.815, rtol=0, atol=1e-3, dtype=np.float32)
    close(keras.losses.BinaryCrossentropy()(HUBER_T, HUBER_P), ref.keras_loss("bce", HUBER_T, HUBER_P), rtol=2e-6)
    close(keras.losses.BinaryCrossentropy()(HUBER_T, HUBER_P, sample_weight=[1, 0]), 0.458, rtol=0, atol=1e-3)
    close(keras.losses.BinaryCrossentropy(reduction="sum")(HUBER_T, HUBER_P), 1.630, rtol=0, atol=1e-3)
    close(keras.losses.BinaryCrossentropy(reduction=None)(HUBER_T, HUBER_P), [0.916, 0.714], rtol=0, atol=1e-3)


# ================================================================================================================
# 2. losses against the reference: random data, reductions, sample weights, smoothing, functional forms
# ================================================================================================================
def _loss_data(kind, rng, shape=(6, 4)):
    if kind in ("mse", "huber", "log_cosh"):
        return rng.standard_normal(shape), 2 * rng.standard_normal(shape)
    if kind == "bce":
        return rng.uniform(0, 1, shape), rng.uniform(0.02, 0.98, shape)
    if kind == "bce_logits":
        return rng.integers(0, 2, shape).astype(float), 3 * rng.standard_normal(shape)
    if kind == "cce":
        p = rng.uniform(0.01, 1, shape)
        return np.eye(shape[-1])[rng.integers(0, shape[-1], shape[:-1])], p / p.sum(-1, keepdims=True)
    if kind == "cce_logits":
        return np.eye(shape[-1])[rng.integers(0, shape[-1], shape[:-1])], 3 * rng.standard_normal(shape)
    if kind == "scce":
        p = rng.uniform(0.01, 1, shape)
        return rng.integers(0, shape[-1], shape[:-1]), p / p.sum(-1, keepdims=True)
    if kind == "scce_logits":
        return rng.integers(0, shape[-1], shape[:-1]), 3 * rng.standard_normal(shape)
    raise ValueError(kind)


LOSS_CASES = {
    "mse": (lambda **k: keras.losses.MeanSquaredError(**k), "mse", {}),
    "huber": (lambda **k: keras.losses.Huber(**k), "huber", {}),
    "huber_d0.4": (lambda **k: keras.losses.Huber(delta=0.4, **k), "huber", {"delta": 0.4}),
    "log_cosh": (lambda **k: keras.losses.LogCosh(**k), "log_cosh", {}),
    "bce": (lambda **k: keras.losses.BinaryCrossentropy(**k), "bce", {}),
    "bce_logits": (lambda **k: keras.losses.BinaryCrossentropy(from_logits=True, **k), "bce", {"from_logits": True}),
    "bce_smooth": (lambda **k: keras.losses.BinaryCrossentropy(label_smoothing=0.2, **k), "bce", {"label_smoothing": 0.2}),
    "cce": (lambda **k: keras.losses.CategoricalCrossentropy(**k), "cce", {}),
    "cce_logits": (lambda **k: keras.losses.CategoricalCrossentropy(from_logits=True, **k), "cce", {"from_logits": True}),
    "cce_smooth": (lambda **k: keras.losses.CategoricalCrossentropy(label_smoothing=0.1, **k), "cce",
                   {"label_smoothing": 0.1}),
    "cce_logits_smooth": (lambda **k: keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.3, **k),
                          "cce", {"from_logits": True, "label_smoothing": 0.3}),
    "scce": (lambda **k: keras.losses.SparseCategoricalCrossentropy(**k), "scce", {}),
    "scce_logits": (lambda **k: keras.losses.SparseCategoricalCrossentropy(from_logits=True, **k), "scce",
                    {"from_logits": True}),
}
_DATA_KIND = {"mse": "mse", "huber": "huber", "log_cosh": "log_cosh", "huber_d0.4": "huber", "bce": "bce", "bce_logits": "bce_logits",
              "bce_smooth": "bce", "cce": "cce", "cce_logits": "cce_logits", "cce_smooth": "cce",
              "cce_logits_smooth": "cce_logits", "scce": "scce", "scce_logits": "scce_logits"}


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", None])
@pytest.mark.parametrize("weights", ["none", "vector", "column"])
@pytest.mark.parametrize("case", list(LOSS_CASES))
def test_loss_classes_against_reference(case, reduction, weights, rng):
    make, ref_kind, ref_kw = LOSS_CASES[case]
    y_true, y_pred = _loss_data(_DATA_KIND[case], rng)
    y_true32, y_pred32 = y_true.astype(np.float32), y_pred.astype(np.float32)
    sw = None
    if weights == "vector":
        sw = rng.uniform(0, 2, 6)
    elif weights == "column":
        sw = rng.uniform(0, 2, (6, 1))
    out = make(reduction=reduction)(y_true32, y_pred32, sample_weight=sw)
    expected = ref.keras_loss(ref_kind, y_true32, y_pred32, sw, reduction, **ref_kw)
    close(out, expected, rtol=1e-5, atol=1e-6, dtype=np.float32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_functional_forms_are_per_sample(dtype, rng):
    L = keras.losses
    t, p = _loss_data("mse", rng, (3, 2, 5))
    t, p = t.astype(dtype), p.astype(dtype)
    close(L.mean_squared_error(t, p), ref.mse_per_sample(t, p), rtol=1e-5 if dtype == np.float32 else 1e-12, dtype=dtype)
    close(L.huber(t, p, delta=0.7), ref.huber_per_sample(t, p, 0.7), rtol=1e-5 if dtype == np.float32 else 1e-12,
          dtype=dtype)
    close(L.log_cosh(t, p), ref.log_cosh_per_sample(t, p), rtol=1e-5 if dtype == np.float32 else 1e-12, dtype=dtype)
    close(L.logcosh(t, p), ref.log_cosh_per_sample(t, p), rtol=1e-5 if dtype == np.float32 else 1e-12, dtype=dtype)
    yt, yp = _loss_data("cce_logits", rng, (3, 5))
    close(L.categorical_crossentropy(yt.astype(dtype), yp.astype(dtype), from_logits=True),
          ref.cce_per_sample(yt, yp.astype(dtype), from_logits=True), dtype=dtype)
    yt, yp = _loss_data("cce", rng, (3, 5))
    close(L.categorical_crossentropy(yt.astype(dtype), yp.astype(dtype)), ref.cce_per_sample(yt, yp.astype(dtype),
          clip_dtype=dtype), dtype=dtype)
    lt, lp = _loss_data("scce_logits", rng, (4, 5))
    close(L.sparse_categorical_crossentropy(lt, lp.astype(dtype), from_logits=True),
          ref.sparse_cce_per_sample(lt, lp.astype(dtype), from_logits=True), dtype=dtype)
    bt, bp = _loss_data("bce", rng, (4, 3))
    close(L.binary_crossentropy(bt.astype(dtype), bp.astype(dtype)), ref.bce_per_sample(bt, bp.astype(dtype),
          clip_dtype=dtype), dtype=dtype)
    close(L.binary_crossentropy(bt.astype(dtype), bp.astype(dtype), from_logits=True, label_smoothing=0.1),
          ref.bce_per_sample(bt, bp.astype(dtype), from_logits=True, label_smoothing=0.1), dtype=dtype)


def test_loss_class_computes_in_float32_like_keras(rng):
    """Keras 3 losses convert y_true/y_pred to the loss dtype (float32 by default)."""
    t, p = _loss_data("mse", rng)
    out = keras.losses.MeanSquaredError()(t, p)  # float64 NumPy inputs
    close(out, ref.keras_loss("mse", t.astype(np.float32), p.astype(np.float32)), dtype=np.float32)


def test_losses_squeeze_trailing_one(rng):
    """(N,) labels against (N, 1) predictions: Keras squeezes/expands to the same rank."""
    t = rng.standard_normal(5).astype(np.float32)
    p = rng.standard_normal((5, 1)).astype(np.float32)
    close(keras.losses.MeanSquaredError()(t, p), np.mean((p[:, 0].astype(np.float64) - t) ** 2))
    lab = np.array([[1], [0], [2]])
    logits = rng.standard_normal((3, 3)).astype(np.float32)
    close(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(lab, logits),
          np.mean(ref.sparse_xent_fwd(lab[:, 0], logits)))


def test_categorical_crossentropy_renormalises_probabilities():
    p = np.array([[0.2, 0.6, 0.2], [1.0, 2.0, 1.0]], np.float32)  # the second row sums to 4
    t = np.array([[0, 1, 0], [0, 1, 0]], np.float32)
    close(keras.losses.categorical_crossentropy(t, p), [-np.log(0.6), -np.log(0.5)])


def test_losses_gradient_through_the_tape(rng):
    """d/dy_pred of the reduced Keras losses (the fused backward) against the reference gradient."""
    t, p = _loss_data("huber", rng, (4, 3))
    t, p = t.astype(np.float32), p.astype(np.float32)
    sw = rng.uniform(0, 2, 4)
    pv = tf.Variable(p)
    with tf.GradientTape() as tape:
        loss = keras.losses.Huber(delta=0.5)(t, pv, sample_weight=sw)
    g = tape.gradient(loss, pv)
    expected = ref.pointwise_bwd(ref.HUBER, t, p, 0.5, sw / 4.0)
    close(g, expected, rtol=1e-5, atol=1e-7, dtype=np.float32)
    yt, z = _loss_data("cce_logits", rng, (4, 5))
    zv = tf.Variable(z.astype(np.float32))
    with tf.GradientTape() as tape:
        loss = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1, reduction="sum")(yt, zv)
    close(tape.gradient(loss, zv), ref.softmax_xent_bwd(yt, z.astype(np.float32), 0.1, np.ones(4)), rtol=1e-5, atol=1e-6)


# (bad loss inputs: tests/test_bad_input.py, KERAS)


# ================================================================================================================
# 3. softmax / sigmoid outputs carry their logits: the fused, stable path (as Keras does)
# ================================================================================================================
def _dense_with(units_kernel, activation):
    d = keras.layers.Dense(units_kernel.shape[1], activation=activation)
    d(np.zeros((1, units_kernel.shape[0]), np.float32))
    d.set_weights([units_kernel.astype(np.float32), np.zeros(units_kernel.shape[1], np.float32)])
    return d


def test_keras_softmax_output_carries_logits():
    x = tf.constant(np.array([[1.0, -2.0, 0.5]], np.float32))
    y = keras.activations.softmax(x)
    logits = C.get_logits(y)
    assert logits is not None
    close(logits, _np(x))
    close(y, ref.softmax(_np(x)))
    assert C.get_logits(tf.nn.softmax(x)) is None  # a plain tf op: no Keras logits
    assert C.get_logits(keras.activations.sigmoid(x)) is not None


def test_softmax_dense_then_cce_uses_the_logits_for_extreme_values():
    """logits [50, 0, -50], label 2: the true cross-entropy is 100; Keras's probability path would clip it to
    -log(1e-7) = 16.1. A Keras softmax output goes through the logits (fused kernel), as in Keras."""
    d = _dense_with(np.array([[50.0, 0.0, -50.0]]), "softmax")
    x = np.ones((1, 1), np.float32)
    y_true = np.array([[0.0, 0.0, 1.0]], np.float32)
    with tf.GradientTape() as tape:
        y = d(x)
        loss = keras.losses.CategoricalCrossentropy()(y_true, y)
    logits = C.get_logits(y)
    assert logits is not None
    close(logits, [[50.0, 0.0, -50.0]])
    close(loss, 100.0, rtol=1e-6)
    close(loss, _np(C.softmax_cross_entropy(y_true, logits))[0], rtol=1e-7)
    gk, gb = tape.gradient(loss, [d.kernel, d.bias])
    dz = ref.softmax_xent_bwd(y_true, [[50.0, 0.0, -50.0]], 0.0, np.ones(1))
    close(gb, dz[0], atol=1e-6)
    close(gk, dz, atol=1e-6)
    # sparse and the functional form take the same path
    close(keras.losses.SparseCategoricalCrossentropy()([2], d(x)), 100.0, rtol=1e-6)
    close(keras.losses.categorical_crossentropy(y_true, d(x)), [100.0], rtol=1e-6)
    # a plain tf.nn.softmax output has no logits: Keras's clipped probability path, -log(1e-7)
    p = tf.nn.softmax(tf.constant([[50.0, 0.0, -50.0]]))
    close(keras.losses.CategoricalCrossentropy()(y_true, p), -np.log(np.float32(1e-7)), rtol=1e-5)


def test_softmax_output_to_cce_matches_fused_op_random(rng):
    z = (20 * rng.standard_normal((8, 6))).astype(np.float32)
    y_true = np.eye(6)[rng.integers(0, 6, 8)].astype(np.float32)
    y = keras.activations.softmax(tf.constant(z))
    out = keras.losses.CategoricalCrossentropy(reduction=None)(y_true, y)
    close(out, ref.softmax_xent_fwd(y_true, z), rtol=2e-6, atol=1e-5)
    close(out, C.softmax_cross_entropy(y_true, z), rtol=1e-7, atol=0)


def test_softmax_output_with_from_logits_true_warns_and_uses_logits():
    z = np.array([[2.0, -1.0, 0.0]], np.float32)
    y = keras.activations.softmax(tf.constant(z))
    with pytest.warns(UserWarning, match="from_logits"):
        out = keras.losses.CategoricalCrossentropy(from_logits=True)([[1.0, 0.0, 0.0]], y)
    close(out, ref.softmax_xent_fwd([[1.0, 0.0, 0.0]], z)[0])


def test_sigmoid_dense_then_bce_uses_the_logits():
    d = _dense_with(np.array([[40.0, -40.0]]), "sigmoid")
    y = d(np.ones((1, 1), np.float32))
    out = keras.losses.BinaryCrossentropy()([[0.0, 1.0]], y)
    close(out, np.mean([40.0, 40.0]), rtol=1e-6)  # the clipped path would give ~15.9


def test_cce_label_smoothing_with_softmax_output(rng):
    z = rng.standard_normal((4, 5)).astype(np.float32)
    yt = np.eye(5)[rng.integers(0, 5, 4)].astype(np.float32)
    out = keras.losses.CategoricalCrossentropy(label_smoothing=0.2)(yt, keras.activations.softmax(tf.constant(z)))
    close(out, np.mean(ref.softmax_xent_fwd(yt, z, 0.2)), rtol=2e-6)


# ================================================================================================================
# 4. Dense and Sequential
# ================================================================================================================
def test_dense_lazy_build_and_shapes(rng):
    d = keras.layers.Dense(3)
    assert not d.built and d.kernel is None
    x = rng.standard_normal((4, 5)).astype(np.float32)
    y = d(x)
    assert d.built
    assert tuple(d.kernel.shape) == (5, 3) and tuple(d.bias.shape) == (3,)
    assert tuple(y.shape) == (4, 3) and y.dtype == tf.float32
    close(d.bias, np.zeros(3))
    limit = np.sqrt(6.0 / (5 + 3))
    assert np.all(np.abs(_np(d.kernel)) <= limit)
    y3 = keras.layers.Dense(2)(rng.standard_normal((2, 3, 4)).astype(np.float32))
    assert tuple(y3.shape) == (2, 3, 2)


def test_dense_glorot_uniform_statistics():
    d = keras.layers.Dense(300, kernel_initializer="glorot_uniform")
    d(np.zeros((1, 200), np.float32))
    k = _np(d.kernel)
    limit = np.sqrt(6.0 / 500)
    assert np.abs(k).max() <= limit
    np.testing.assert_allclose(k.var(), limit ** 2 / 3, rtol=0.03)
    assert abs(k.mean()) < 0.01 * limit
    z = keras.layers.Dense(4, kernel_initializer="zeros", bias_initializer="ones")
    z(np.zeros((1, 3), np.float32))
    close(z.kernel, np.zeros((3, 4)))
    close(z.bias, np.ones(4))


def test_dense_use_bias_false(rng):
    d = keras.layers.Dense(4, use_bias=False)
    x = rng.standard_normal((2, 3)).astype(np.float32)
    y = d(x)
    assert d.bias is None and len(d.trainable_variables) == 1 and len(d.get_weights()) == 1
    close(y, x.astype(np.float64) @ _np(d.kernel))


ACTIVATIONS = {
    None: lambda z: z, "linear": lambda z: z, "relu": ref.relu, "sigmoid": ref.sigmoid, "tanh": ref.tanh,
    "softmax": ref.softmax,
}


@pytest.mark.parametrize("activation", list(ACTIVATIONS), ids=str)
@pytest.mark.parametrize("xshape", [(4, 3), (1, 3), (2, 5, 3)], ids=str)
def test_dense_output_equals_numpy(activation, xshape, rng):
    d = keras.layers.Dense(6, activation=activation)
    x = rng.standard_normal(xshape).astype(np.float32)
    d(x)
    W = rng.standard_normal((3, 6)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    d.set_weights([W, b])
    y = d(x)
    close(y, ACTIVATIONS[activation](x.astype(np.float64) @ W + b), rtol=1e-5, atol=1e-6, dtype=np.float32)
    # gradient w.r.t. the kernel and bias (sum of outputs) against the reference
    dy = rng.standard_normal(y.shape).astype(np.float32)
    with tf.GradientTape() as tape:
        out = d(x)
    gk, gb = tape.gradient(out, [d.kernel, d.bias], output_gradients=tf.constant(dy))
    _, dW, db = ref.dense_bwd(x, W, b, activation or "linear", dy)
    close(gk, dW, rtol=1e-5, atol=1e-5)
    close(gb, db, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("activation", [tf.nn.relu, keras.activations.tanh, lambda z: 2.0 * z + 1.0],
                         ids=["tf.nn.relu", "keras.activations.tanh", "lambda"])
def test_dense_callable_activation(activation, rng):
    d = keras.layers.Dense(3, activation=activation)
    x = rng.standard_normal((4, 2)).astype(np.float32)
    y = d(x)
    z = x.astype(np.float64) @ _np(d.kernel) + _np(d.bias)
    expected = {0: np.maximum(z, 0), 1: np.tanh(z), 2: 2 * z + 1}
    idx = [tf.nn.relu, keras.activations.tanh].index(activation) if activation in (tf.nn.relu, keras.activations.tanh) else 2
    close(y, expected[idx], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", ["dense_numpy_f64", "dense_tensor_f64", "sequential_tensor_f64", "dense_f64_layer"])
def test_layers_autocast_float_inputs(case, rng):
    x64 = rng.standard_normal((2, 3))
    if case == "dense_f64_layer":
        layer, x, want = keras.layers.Dense(2, dtype="float64"), x64.astype(np.float32), np.float64
    elif case == "sequential_tensor_f64":
        layer, x, want = keras.Sequential([keras.layers.Dense(2)]), tf.constant(x64), np.float32
    else:
        layer, x, want = keras.layers.Dense(2), (x64 if case == "dense_numpy_f64" else tf.constant(x64)), np.float32
    y = layer(x)
    assert _np(y).dtype == np.dtype(want)
    W, b = layer.get_weights()
    close(y, np.asarray(x64, want).astype(np.float64) @ W + b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("activation", ["relu", "linear", "tanh", "sigmoid", "softmax"])
def test_dense_propagates_nan_like_tf(activation):
    """A NaN pre-activation gives NaN through every activation, relu included (TF's Relu: max(x, 0) -> NaN)."""
    d = keras.layers.Dense(2, activation=activation, kernel_initializer="ones", bias_initializer="zeros")
    y = d(np.array([[np.nan, 1.0], [1.0, 2.0]], np.float32)).numpy()
    assert np.all(np.isnan(y[0])), f"Dense({activation}) row with a NaN input gave {y[0]}"
    assert np.all(np.isfinite(y[1]))


def test_dense_set_get_weights_round_trip(rng):
    d = keras.layers.Dense(3)
    d(np.zeros((1, 2), np.float32))
    W = rng.standard_normal((2, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    d.set_weights([W, b])
    got = d.get_weights()
    assert len(got) == 2 and isinstance(got[0], np.ndarray)
    np.testing.assert_array_equal(got[0], W)
    np.testing.assert_array_equal(got[1], b)
    np.testing.assert_array_equal(_np(d.kernel), W)
    with pytest.raises(ValueError):
        d.set_weights([W.T, b])
    with pytest.raises(ValueError):
        d.set_weights([W])


def test_dense_in_tape_records_one_entry_for_fused_activations(rng):
    x = tf.constant(rng.standard_normal((4, 3)).astype(np.float32))
    for act in ("relu", "tanh", None):
        d = keras.layers.Dense(2, activation=act)
        d(x)
        with tf.GradientTape() as tape:
            d(x)
            assert tape._num_entries == 1, f"Dense({act}) recorded {tape._num_entries} entries"


def test_sequential_input_shape_builds_at_construction():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = keras.Sequential([keras.layers.Dense(4, activation="relu", input_shape=(3,)), keras.layers.Dense(2)])
    assert m.built
    assert [tuple(v.shape) for v in m.trainable_variables] == [(3, 4), (4,), (4, 2), (2,)]
    m2 = keras.Sequential([keras.Input(shape=(5,)), keras.layers.Dense(2)])
    assert [tuple(v.shape) for v in m2.trainable_variables] == [(5, 2), (2,)]
    assert len(m2.layers) == 1


def test_sequential_lazy_and_add(rng):
    m = keras.Sequential()
    m.add(keras.layers.Dense(4, activation="tanh"))
    m.add(keras.layers.Dense(3, use_bias=False))
    assert m.trainable_variables == []
    x = rng.standard_normal((2, 6)).astype(np.float32)
    y = m(x)
    assert tuple(y.shape) == (2, 3)
    l1, l2 = m.layers
    assert [id(v) for v in m.trainable_variables] == [id(l1.kernel), id(l1.bias), id(l2.kernel)]
    assert [id(v) for v in m.variables] == [id(v) for v in m.trainable_variables]
    expected = np.tanh(x.astype(np.float64) @ _np(l1.kernel) + _np(l1.bias)) @ _np(l2.kernel)
    close(y, expected, rtol=1e-5, atol=1e-6)
    with pytest.raises((TypeError, ValueError)):
        m.add("not a layer")


def test_sequential_trainable_variables_order_and_weights_round_trip(rng):
    layers = [keras.layers.Dense(5, activation="relu"), keras.layers.Dense(4), keras.layers.Dense(2, activation="softmax")]
    m = keras.Sequential(layers)
    m(np.zeros((1, 3), np.float32))
    tv = m.trainable_variables
    want = []
    for layer in layers:
        want += [layer.kernel, layer.bias]
    assert [id(v) for v in tv] == [id(v) for v in want]
    ws = [rng.standard_normal(tuple(v.shape)).astype(np.float32) for v in tv]
    m.set_weights(ws)
    for a, b in zip(m.get_weights(), ws):
        np.testing.assert_array_equal(a, b)
    x = rng.standard_normal((7, 3)).astype(np.float32)
    h = np.maximum(x.astype(np.float64) @ ws[0] + ws[1], 0)
    h = h @ ws[2] + ws[3]
    close(m(x), ref.softmax(h @ ws[4] + ws[5]), rtol=1e-5, atol=1e-6)


def test_sequential_summary_prints():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = keras.Sequential([keras.layers.Dense(10, activation="relu", input_shape=(20,)),
                              keras.layers.Dense(5, activation="softmax")])
    buf = io.StringIO()
    with redirect_stdout(buf):
        m.summary()
    text = buf.getvalue()
    assert "Dense" in text
    assert re.search(r"Total params:\s*265\b", text), text
    assert re.search(r"Trainable params:\s*265\b", text), text
    assert "210" in text and "55" in text
    lines = []
    m.summary(print_fn=lines.append)
    assert any("Total params" in ln for ln in lines)


# ================================================================================================================
# 5. optimizers: trajectories against NumPy transcriptions of Keras 3's formulas
# ================================================================================================================
def _grad_sequence(rng, shapes, steps, dtype):
    seq = []
    for k in range(steps):
        gs = []
        for s in shapes:
            g = np.asarray(rng.standard_normal(s) * (0.5 ** (k % 4)))  # varying scale: exercises amsgrad's max
            if k == 3 and g.ndim:
                g[..., :1] = 0.0  # zero gradients: m and v decay
            gs.append(g.astype(dtype))
        seq.append(gs)
    return seq


ADAM_CONFIGS = [
    dict(learning_rate=0.001),
    dict(learning_rate=0.01, beta_1=0.8, beta_2=0.99),
    dict(learning_rate=0.003, amsgrad=True),
    dict(learning_rate=0.05, beta_1=0.5, beta_2=0.9, epsilon=1e-4, amsgrad=True),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("config", ADAM_CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_adam_trajectory(config, dtype, rng):
    shapes = [(3, 4), (5,), ()]
    init = [rng.standard_normal(s).astype(dtype) for s in shapes]
    variables = [tf.Variable(a) for a in init]
    opt = keras.optimizers.Adam(**config)
    np_opt = ref.NumpyAdam(**config)
    params = [a.copy() for a in init]
    rtol = 1e-6 if dtype == np.float32 else 1e-13
    for k, grads in enumerate(_grad_sequence(rng, shapes, 12, dtype)):
        opt.apply_gradients(zip([tf.constant(g) for g in grads], variables))
        np_opt.step(params, grads)
        assert int(_np(opt.iterations)) == k + 1
        for v, p in zip(variables, params):
            assert _np(v).dtype == np.dtype(dtype)
            np.testing.assert_allclose(_np(v), p, rtol=rtol, atol=rtol * 1e-2, err_msg=f"step {k + 1}")
    # the slots too
    np.testing.assert_allclose(_np(opt._momentums[0]), np_opt.m[0], rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(_np(opt._velocities[0]), np_opt.v[0], rtol=rtol, atol=1e-12)


def test_adam_amsgrad_differs_from_adam(rng):
    """The reference itself: with shrinking gradients amsgrad's trajectory is different (the test can fail)."""
    g = [[np.full(3, 1.0)], [np.full(3, 0.01)], [np.full(3, 0.01)]]
    a, b = [np.zeros(3)], [np.zeros(3)]
    ra, rb = ref.NumpyAdam(0.1), ref.NumpyAdam(0.1, amsgrad=True)
    for gs in g:
        ra.step(a, gs)
        rb.step(b, gs)
    assert not np.allclose(a[0], b[0])
    va, vb = tf.Variable(np.zeros(3)), tf.Variable(np.zeros(3))
    oa, ob = keras.optimizers.Adam(0.1), keras.optimizers.Adam(0.1, amsgrad=True)
    for gs in g:
        oa.apply_gradients([(tf.constant(gs[0]), va)])
        ob.apply_gradients([(tf.constant(gs[0]), vb)])
    np.testing.assert_allclose(_np(va), a[0], rtol=1e-13)
    np.testing.assert_allclose(_np(vb), b[0], rtol=1e-13)


def test_adam_first_step_hand_value():
    """Step 1: m = 0.1 g, v = 0.001 g^2, alpha = lr sqrt(0.001)/0.1 -> var -= lr * g/(|g| + eps/sqrt(0.001))."""
    v = tf.Variable(np.array([1.0, -2.0]))
    keras.optimizers.Adam(learning_rate=0.5).apply_gradients([(tf.constant([3.0, -0.5], dtype=tf.float64), v)])
    lr = float(np.float32(0.5))
    g = np.array([3.0, -0.5])
    m, vv = 0.1 * g, 0.001 * g * g
    alpha = lr * np.sqrt(1 - 0.999) / (1 - 0.9)
    np.testing.assert_allclose(_np(v), np.array([1.0, -2.0]) - m * alpha / (np.sqrt(vv) + 1e-7), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("config", [dict(learning_rate=0.1), dict(learning_rate=0.05, momentum=0.9),
                                    dict(learning_rate=0.05, momentum=0.9, nesterov=True)],
                         ids=["plain", "momentum", "nesterov"])
def test_sgd_trajectory(config, dtype, rng):
    shapes = [(2, 3), (4,)]
    init = [rng.standard_normal(s).astype(dtype) for s in shapes]
    variables = [tf.Variable(a) for a in init]
    opt = keras.optimizers.SGD(**config)
    np_opt = ref.NumpySGD(**config)
    params = [a.copy() for a in init]
    rtol = 1e-6 if dtype == np.float32 else 1e-13
    for k, grads in enumerate(_grad_sequence(rng, shapes, 8, dtype)):
        opt.apply_gradients(zip([tf.constant(g) for g in grads], variables))
        np_opt.step(params, grads)
        for v, p in zip(variables, params):
            np.testing.assert_allclose(_np(v), p, rtol=rtol, atol=rtol * 1e-2, err_msg=f"step {k + 1}")
    assert int(_np(opt.iterations)) == 8


def test_optimizer_build_and_iterations(rng):
    vs = [tf.Variable(rng.standard_normal((3, 2)).astype(np.float32)), tf.Variable(np.zeros(2, np.float32))]
    opt = keras.optimizers.Adam(learning_rate=0.01)
    assert int(_np(opt.iterations)) == 0 and not opt.built
    opt.build(vs)
    assert opt.built and int(_np(opt.iterations)) == 0
    assert len(opt._momentums) == 2 and len(opt._velocities) == 2
    for m, v in zip(opt._momentums, vs):
        assert tuple(m.shape) == tuple(v.shape)
        np.testing.assert_array_equal(_np(m), 0)
    opt.apply_gradients([(tf.ones_like(vs[0]), vs[0]), (tf.ones_like(vs[1]), vs[1])])
    opt.apply_gradients([(tf.ones_like(vs[0]), vs[0]), (tf.ones_like(vs[1]), vs[1])])
    assert int(_np(opt.iterations)) == 2
    assert _np(opt.iterations).dtype == np.int64
    sgd = keras.optimizers.SGD(momentum=0.5)
    sgd.build(vs)
    assert len(sgd.momentums) == 2
    assert abs(keras.optimizers.Adam(learning_rate=0.1).learning_rate - float(np.float32(0.1))) == 0


def test_adam_with_tape_on_a_quadratic(rng):
    """apply_gradients(zip(tape.gradient(...), vars)) on loss = sum((w - c)^2) against the reference."""
    c = rng.standard_normal(4).astype(np.float32)
    w = tf.Variable(np.zeros(4, np.float32))
    opt = keras.optimizers.Adam(learning_rate=0.1)
    np_opt = ref.NumpyAdam(0.1)
    p = [np.zeros(4, np.float32)]
    for _ in range(10):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(w - c))
        opt.apply_gradients(zip(tape.gradient(loss, [w]), [w]))
        np_opt.step(p, [2 * (p[0] - c)])
        np.testing.assert_allclose(_np(w), p[0], rtol=2e-6, atol=1e-7)


# ================================================================================================================
# 6. utils.to_categorical
# ================================================================================================================
def test_to_categorical():
    out = keras.utils.to_categorical([0, 2, 1, 2])
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    np.testing.assert_array_equal(out, np.eye(3)[[0, 2, 1, 2]])
    np.testing.assert_array_equal(keras.utils.to_categorical([1, 0], num_classes=4), np.eye(4)[[1, 0]])
    assert keras.utils.to_categorical(np.array([[1], [0], [2]])).shape == (3, 3)  # trailing 1 squeezed
    assert keras.utils.to_categorical(np.array([[1, 0], [2, 2]]), 3).shape == (2, 2, 3)


# ================================================================================================================
# 7. the seed Keras program, and the same MLP against a float64 NumPy model
# ================================================================================================================
SEED_DIRS = [REPO / "examples" / "seed", pathlib.Path("/work/shared/seed")]


def test_seed_keras_mlp_loss_falls(tmp_path):
    seed = next((d / "keras_mlp_cce.py" for d in SEED_DIRS if (d / "keras_mlp_cce.py").exists()), None)
    if seed is None:
        pytest.skip("seed program not found")
    src = seed.read_text()
    assert "import tensorflow as tf" in src
    script = tmp_path / "keras_mlp_cce.py"
    script.write_text(src.replace("import tensorflow as tf", "import pyfast_tape as tf"))
    env = dict(os.environ)
    # the installed package, never the source tree (which has no _core in a non-editable install)
    proc = subprocess.run([sys.executable, str(script)], cwd=str(tmp_path), capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    losses = {int(m.group(1)): float(m.group(2))
              for m in re.finditer(r"Epoch (\d+): Loss = ([-+0-9.eE]+)", proc.stdout)}
    assert sorted(losses) == [0, 20, 40, 60, 80], proc.stdout
    assert all(np.isfinite(list(losses.values())))
    assert losses[80] < losses[0], proc.stdout
    assert 1.0 < losses[0] < 3.0, proc.stdout  # ~log(5) for a fresh 5-class softmax


def test_mlp_training_matches_float64_numpy():
    rng = np.random.default_rng(1234)
    X = rng.uniform(0, 1, (100, 20)).astype(np.float32)
    Y = np.eye(5)[rng.integers(0, 5, 100)].astype(np.float32)
    lim1, lim2 = np.sqrt(6 / 30), np.sqrt(6 / 15)
    init = [rng.uniform(-lim1, lim1, (20, 10)).astype(np.float32), (0.1 * rng.standard_normal(10)).astype(np.float32),
            rng.uniform(-lim2, lim2, (10, 5)).astype(np.float32), (0.1 * rng.standard_normal(5)).astype(np.float32)]

    model = keras.Sequential([keras.layers.Dense(10, activation="relu"), keras.layers.Dense(5, activation="softmax")])
    model(X[:1])
    model.set_weights(init)
    loss_fn = keras.losses.CategoricalCrossentropy()
    opt = keras.optimizers.Adam(learning_rate=0.01)
    Xt, Yt = tf.constant(X), tf.constant(Y)

    params = [a.astype(np.float64) for a in init]
    ref_opt = ref.NumpyAdam(0.01)
    ours, theirs = [], []
    for _ in range(20):
        with tf.GradientTape() as tape:
            loss = loss_fn(Yt, model(Xt))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        ours.append(float(loss.numpy()))
        ref_loss, ref_grads = ref.mlp_loss_and_grads(params, X, Y)
        if len(theirs) == 0:
            for g, e in zip(grads, ref_grads):
                np.testing.assert_allclose(_np(g), e, rtol=1e-4, atol=1e-6)
        ref_opt.step(params, ref_grads)
        theirs.append(ref_loss)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4)
    assert theirs[-1] < theirs[0]
    for w, p in zip(model.get_weights(), params):
        np.testing.assert_allclose(w, p, rtol=1e-3, atol=1e-4)
