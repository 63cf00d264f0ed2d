"""Keras 3 SGD against tests/reference.py's NumpySGD, a NumPy transcription of keras/src/optimizers/sgd.py:

    lr = cast(learning_rate, var.dtype)          # Keras keeps learning_rate in a float32 variable
    g  = cast(gradient, var.dtype)
    momentum != 0:  m = m * momentum - g * lr;  var += (m * momentum - g * lr) if nesterov else m
    momentum == 0:  var -= g * lr

Every product and sum is rounded in the variable's dtype (NumPy scalars of that dtype do the same), so
with fixed gradient sequences the trajectories must agree bit for bit."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import pyfast_tape as tf
import reference as ref


class KerasSGD:
    """reference.NumpySGD (the transcription above) for one variable: the trajectory in ``var``."""

    def __init__(self, value, learning_rate, momentum=0.0, nesterov=False):
        self.var = np.array(value)
        self._sgd = ref.NumpySGD(learning_rate, momentum, nesterov)

    def step(self, grad):
        self._sgd.step([self.var], [np.asarray(grad)])
        return self.var.copy()


CONFIGS = [  # (learning_rate, momentum, nesterov)
    (0.01, 0.0, False), (0.1, 0.0, False), (0.05, 0.9, False), (0.05, 0.9, True), (0.3, 0.5, True),
    (0.001, 0.99, False), (0.01, 0.0, True),
]


def _ids(c):
    return f"lr{c[0]}-mom{c[1]}-{'nesterov' if c[2] else 'plain'}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("config", CONFIGS, ids=_ids)
def test_sgd_fixed_gradient_sequence_bitwise(config, dtype):
    lr, mom, nesterov = config
    rng = np.random.default_rng(0)
    init = rng.standard_normal((3, 4)).astype(dtype)
    grads = [rng.standard_normal((3, 4)).astype(dtype) for _ in range(30)]
    np_sgd = KerasSGD(init, lr, mom, nesterov)
    v = tf.Variable(init)
    opt = tf.keras.optimizers.SGD(learning_rate=lr, momentum=mom, nesterov=nesterov)
    for k, g in enumerate(grads):
        opt.apply_gradients([(tf.constant(g), v)])
        expected = np_sgd.step(g)
        assert v.dtype == tf.as_dtype(dtype)
        np.testing.assert_array_equal(v.numpy(), expected, err_msg=f"step {k}")
    assert int(opt.iterations.numpy()) == len(grads)


def test_float64_variable_sees_float32_rounded_learning_rate():
    # Keras stores learning_rate=0.1 as float32 (0.10000000149...), then casts it to float64
    v = tf.Variable(np.array([1.0]))
    tf.keras.optimizers.SGD(learning_rate=0.1).apply_gradients([(tf.constant(np.array([1.0])), v)])
    assert v.numpy()[0] == 1.0 - float(np.float32(0.1))
    assert v.numpy()[0] != 1.0 - 0.1


@pytest.mark.parametrize("config", CONFIGS, ids=_ids)
def test_sgd_several_variables_in_one_apply(config):
    lr, mom, nesterov = config
    rng = np.random.default_rng(1)
    inits = [rng.standard_normal((2, 3)).astype(np.float32), rng.standard_normal((5,)).astype(np.float32),
             np.float32(rng.standard_normal()), rng.standard_normal((4, 1)).astype(np.float64)]
    refs = [KerasSGD(np.array(i), lr, mom, nesterov) for i in inits]
    variables = [tf.Variable(i) for i in inits]
    opt = tf.keras.optimizers.SGD(learning_rate=lr, momentum=mom, nesterov=nesterov)
    for step in range(10):
        grads = [rng.standard_normal(np.shape(i)).astype(np.asarray(i).dtype) for i in inits]
        opt.apply_gradients(zip([tf.constant(g) for g in grads], variables))  # a zip, as the seed does
        for k, (r, g, v) in enumerate(zip(refs, grads, variables)):
            np.testing.assert_array_equal(v.numpy(), r.step(g), err_msg=f"step {step} variable {k}")
    assert int(opt.iterations.numpy()) == 10


def test_sgd_momentum_slots_follow_their_variable_across_subsets():
    rng = np.random.default_rng(2)
    a0, b0 = rng.standard_normal(3).astype(np.float32), rng.standard_normal(2).astype(np.float32)
    ra, rb = KerasSGD(a0, 0.1, 0.9), KerasSGD(b0, 0.1, 0.9)
    a, b = tf.Variable(a0), tf.Variable(b0)
    opt = tf.keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)
    plan = [("a", "b"), ("b",), ("b", "a"), ("a",), ("a", "b")]
    for names in plan:
        pairs = []
        for n in names:
            g = rng.standard_normal(3 if n == "a" else 2).astype(np.float32)
            (ra if n == "a" else rb).step(g)
            pairs.append((tf.constant(g), a if n == "a" else b))
        opt.apply_gradients(pairs)
        np.testing.assert_array_equal(a.numpy(), ra.var)
        np.testing.assert_array_equal(b.numpy(), rb.var)
    assert int(opt.iterations.numpy()) == len(plan)


def test_sgd_accepts_generators_and_tuples():
    v = tf.Variable([1.0, 2.0])
    opt = tf.keras.optimizers.SGD(learning_rate=0.5)
    opt.apply_gradients(((tf.constant([1.0, 1.0]), v),))
    opt.apply_gradients((g, w) for g, w in [(tf.constant([2.0, 0.0]), v)])
    np.testing.assert_array_equal(v.numpy(), np.float32([1.0, 2.0]) - np.float32(0.5) - np.float32([1.0, 0.0]))
    assert int(opt.iterations.numpy()) == 2


@pytest.mark.parametrize("opt_name", ["sgd", "sgd_momentum", "adam", "adam_amsgrad"])
@pytest.mark.parametrize("form", ["list of tuples", "list of lists", "zip", "generator", "tuple of tuples",
                                  "numpy gradient", "repeated variable", "one None"])
def test_apply_gradients_native_split_and_python_loop_agree(opt_name, form):
    """apply_gradients splits a plain list of (gradient, known variable) pairs natively and leaves every other
    form to the Python loop: both must update the same way."""
    make = {"sgd": lambda: tf.keras.optimizers.SGD(0.1), "sgd_momentum": lambda: tf.keras.optimizers.SGD(0.1, 0.9),
            "adam": lambda: tf.keras.optimizers.Adam(0.01),
            "adam_amsgrad": lambda: tf.keras.optimizers.Adam(0.01, amsgrad=True)}[opt_name]
    rng = np.random.default_rng(5)
    a0, b0 = rng.standard_normal(3).astype(np.float32), rng.standard_normal((2, 2)).astype(np.float32)
    results = []
    for native in (True, False):
        a, b = tf.Variable(a0), tf.Variable(b0)
        opt = make()
        opt.build([a, b])
        if not native:  # disable the native split: every form takes the Python loop
            split, tf._core.split_pairs = tf._core.split_pairs, lambda pairs, index: None
        try:
            for step in range(3):
                ga, gb = (rng.standard_normal(3).astype(np.float32) if native else None,
                          rng.standard_normal((2, 2)).astype(np.float32) if native else None)
                if native:
                    results.append((ga, gb))
                else:
                    ga, gb = results[step]
                pairs = [(tf.constant(ga), a), (tf.constant(gb), b)]
                if form == "list of lists":
                    pairs = [list(p) for p in pairs]
                elif form == "zip":
                    pairs = zip([p[0] for p in pairs], [a, b])
                elif form == "generator":
                    pairs = (p for p in pairs)
                elif form == "tuple of tuples":
                    pairs = tuple(pairs)
                elif form == "numpy gradient":
                    pairs = [(ga, a), (gb, b)]
                elif form == "repeated variable":
                    pairs = [(tf.constant(ga), a), (tf.constant(gb), b), (tf.constant(ga), a)]
                elif form == "one None":
                    pairs = [(None, a), (tf.constant(gb), b)]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    opt.apply_gradients(pairs)
        finally:
            if not native:
                tf._core.split_pairs = split
        results.append((a.numpy(), b.numpy(), int(opt.iterations.numpy())))
    native_out, python_out = results[3], results[-1]
    np.testing.assert_array_equal(native_out[0], python_out[0])
    np.testing.assert_array_equal(native_out[1], python_out[1])
    assert native_out[2] == python_out[2] == 3


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("config", [(0.05, 0.0, False), (0.02, 0.9, False), (0.02, 0.9, True)], ids=_ids)
def test_sgd_training_trajectory_with_tape(config, dtype):
    """Least squares trained with tape gradients vs the same loop in NumPy (gradients in NumPy too)."""
    lr, mom, nesterov = config
    rng = np.random.default_rng(3)
    X = rng.standard_normal((16, 3)).astype(dtype)
    Y = rng.standard_normal((16, 2)).astype(dtype)
    W0 = (0.1 * rng.standard_normal((3, 2))).astype(dtype)
    b0 = np.zeros(2, dtype)
    rW, rb = KerasSGD(W0, lr, mom, nesterov), KerasSGD(b0, lr, mom, nesterov)
    W, b = tf.Variable(W0), tf.Variable(b0)
    x, y = tf.constant(X), tf.constant(Y)
    opt = tf.keras.optimizers.SGD(learning_rate=lr, momentum=mom, nesterov=nesterov)
    losses, ref_losses = [], []
    for _ in range(60):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(tf.matmul(x, W) + b - y))
        gW, gb = tape.gradient(loss, [W, b])
        opt.apply_gradients(zip([gW, gb], [W, b]))
        losses.append(float(loss.numpy()))
        Xd, Wd, bd = X.astype(np.float64), rW.var.astype(np.float64), rb.var.astype(np.float64)
        e = Xd @ Wd + bd - Y
        ref_losses.append(float(np.mean(e * e)))
        rW.step(2 * Xd.T @ e / e.size)
        rb.step(2 * e.sum(axis=0) / e.size)
    tol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(W.numpy(), rW.var, rtol=tol, atol=tol)
    np.testing.assert_allclose(b.numpy(), rb.var, rtol=tol, atol=tol)
    np.testing.assert_allclose(losses, ref_losses, rtol=tol * 10)
    assert losses[-1] < losses[0]


def test_sgd_none_gradient_is_skipped_with_warning():
    a = tf.Variable([1.0, 2.0], name="alpha")
    b = tf.Variable(3.0, name="beta")
    opt = tf.keras.optimizers.SGD(learning_rate=0.1, momentum=0.5)
    with pytest.warns(UserWarning, match="Gradients do not exist for variables") as rec:
        opt.apply_gradients([(tf.constant([1.0, 1.0]), a), (None, b)])
    assert any("beta" in str(w.message) for w in rec)
    np_sgd = KerasSGD(np.float32([1.0, 2.0]), 0.1, 0.5)
    np.testing.assert_array_equal(a.numpy(), np_sgd.step(np.float32([1.0, 1.0])))
    assert b.numpy() == np.float32(3.0)
    assert int(opt.iterations.numpy()) == 1
    # the skipped variable's momentum is untouched: its first real step is a first step
    opt.apply_gradients([(tf.constant(2.0), b)])
    assert b.numpy() == KerasSGD(np.float32(3.0), 0.1, 0.5).step(np.float32(2.0))


def test_sgd_all_none_gradients_raise():
    a = tf.Variable(1.0)
    b = tf.Variable(2.0)
    opt = tf.keras.optimizers.SGD(learning_rate=0.1)
    with pytest.raises(ValueError) as e:
        opt.apply_gradients([(None, a), (None, b)])
    assert str(e.value).startswith("No gradients provided for any variable")
    assert int(opt.iterations.numpy()) == 0
    assert a.numpy() == 1.0 and b.numpy() == 2.0


def test_sgd_none_from_unconnected_tape_gradient():
    a = tf.Variable(1.0, name="used")
    b = tf.Variable(2.0, name="unused")
    opt = tf.keras.optimizers.SGD(learning_rate=0.25)
    with tf.GradientTape() as tape:
        loss = a * a
    grads = tape.gradient(loss, [a, b])
    assert grads[1] is None
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        opt.apply_gradients(zip(grads, [a, b]))
    assert any(issubclass(w.category, UserWarning) and "Gradients do not exist" in str(w.message) for w in rec)
    assert a.numpy() == np.float32(1.0) - np.float32(2.0) * np.float32(0.25)


def test_sgd_iterations_counter():
    v = tf.Variable(0.0)
    opt = tf.keras.optimizers.SGD()
    assert int(opt.iterations.numpy()) == 0
    assert opt.iterations.dtype == tf.int64
    for i in range(7):
        opt.apply_gradients([(tf.constant(1.0), v)])
    assert int(opt.iterations.numpy()) == 7
    np.testing.assert_allclose(v.numpy(), KerasSGD(np.float32(0.0), 0.01).var - 0.07, rtol=1e-5)


def test_sgd_default_learning_rate_is_0_01():
    v = tf.Variable(1.0)
    tf.keras.optimizers.SGD().apply_gradients([(tf.constant(1.0), v)])
    assert v.numpy() == np.float32(1.0) - np.float32(0.01)


@pytest.mark.parametrize("momentum", [-0.1, 1.5])
def test_sgd_rejects_bad_momentum(momentum):
    with pytest.raises(ValueError):
        tf.keras.optimizers.SGD(momentum=momentum)


def test_sgd_learning_rate_property_is_float32_rounded():
    opt = tf.keras.optimizers.SGD(learning_rate=0.1)
    assert float(np.asarray(opt.learning_rate)) == float(np.float32(0.1))


def test_sgd_numpy_gradient_is_accepted():
    v = tf.Variable([1.0, 2.0])
    tf.keras.optimizers.SGD(learning_rate=0.5).apply_gradients([(np.array([1.0, 2.0], np.float32), v)])
    np.testing.assert_array_equal(v.numpy(), np.float32([0.5, 1.0]))


def test_sgd_casts_gradient_to_variable_dtype():
    # Keras: gradient = ops.cast(gradient, variable.dtype)
    v = tf.Variable(np.float32([1.0, 2.0]))
    tf.keras.optimizers.SGD(learning_rate=0.5).apply_gradients([(tf.constant(np.array([1.0, 2.0])), v)])
    assert v.dtype == tf.float32
    np.testing.assert_array_equal(v.numpy(), np.float32([0.5, 1.0]))
