"""tf.math reductions/scans/orderings (pyfast_tape/reductions.py), tf.nn compositions (nn_ops.py), control flow,
tf.print and tf.debugging (control_flow.py): values against NumPy float64, gradients against central
differences, TF's documented edge cases."""
from __future__ import annotations

import io
import math

import numpy as np
import pytest

import pyfast_tape as tf
from conftest import assert_close
from reference import central_difference


def _grad_check(f, x0, rtol=1e-6, atol=1e-8):
    """tape gradient of sum(f(x) * w) against central differences, float64."""
    w = np.random.default_rng(3).standard_normal(np.shape(f(tf.constant(x0)).numpy()))
    x = tf.Variable(x0)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(f(x) * w)
    g = tape.gradient(loss, x)
    fd = central_difference(lambda v: float(np.sum(f(tf.constant(v)).numpy() * w)), [x0])[0]
    np.testing.assert_allclose(g.numpy(), fd, rtol=rtol, atol=atol)


# ---- reductions ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [None, 0, 1, [0, 1], -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_forward(rng, axis, keepdims):
    x = rng.standard_normal((3, 4))
    npax = tuple(axis) if isinstance(axis, list) else axis
    t = tf.constant(x)
    assert_close(tf.reduce_prod(t, axis, keepdims), np.prod(x, axis=npax, keepdims=keepdims), dtype=np.float64)
    assert_close(tf.reduce_logsumexp(t, axis, keepdims),
                 np.log(np.sum(np.exp(x), axis=npax, keepdims=keepdims)), dtype=np.float64)
    assert_close(tf.math.reduce_variance(t, axis, keepdims), np.var(x, axis=npax, keepdims=keepdims), dtype=np.float64)
    assert_close(tf.math.reduce_std(t, axis, keepdims), np.std(x, axis=npax, keepdims=keepdims), dtype=np.float64)
    assert_close(tf.math.reduce_euclidean_norm(t, axis, keepdims),
                 np.sqrt(np.sum(x * x, axis=npax, keepdims=keepdims)), dtype=np.float64)
    b = x > 0
    assert_close(tf.reduce_any(tf.constant(b), axis, keepdims), np.any(b, axis=npax, keepdims=keepdims), dtype=bool)
    assert_close(tf.reduce_all(tf.constant(b), axis, keepdims), np.all(b, axis=npax, keepdims=keepdims), dtype=bool)
    assert_close(tf.math.count_nonzero(tf.constant(np.round(x)), axis, keepdims),
                 np.count_nonzero(np.round(x), axis=npax, keepdims=keepdims), dtype=np.int64)


def test_reduction_edge_cases():
    assert_close(tf.reduce_logsumexp(tf.constant([-np.inf, -np.inf])), -np.inf, dtype=np.float32)
    assert_close(tf.reduce_logsumexp(tf.constant([1000.0, 1000.0])), 1000.0 + math.log(2.0), dtype=np.float32)
    assert_close(tf.reduce_any(tf.zeros([0], tf.bool)), False, dtype=bool)
    assert_close(tf.reduce_all(tf.zeros([0], tf.bool)), True, dtype=bool)
    assert_close(tf.reduce_prod(tf.constant([2, 3, 4])), 24, dtype=np.int32)
    assert_close(tf.add_n([tf.constant([1.0, 2.0]), tf.constant([3.0, 4.0]), tf.constant([5.0, 6.0])]), [9.0, 12.0],
                 dtype=np.float32)
    with pytest.raises(TypeError, match="reduce_any: expected a bool tensor"):
        tf.reduce_any(tf.constant([1.0]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="add_n: all inputs must have the same shape"):
        tf.add_n([tf.ones([2]), tf.ones([3])])
    with pytest.raises(tf.errors.InvalidArgumentError, match="reduce_prod: axis 2 is out of range"):
        tf.reduce_prod(tf.ones([2, 2]), axis=2)


@pytest.mark.parametrize("name,f,shape", [
    ("prod_all", lambda t: tf.reduce_prod(t), (3, 2)),
    ("prod_axis", lambda t: tf.reduce_prod(t, axis=1), (3, 4)),
    ("prod_axes_keep", lambda t: tf.reduce_prod(t, axis=[0, 2], keepdims=True), (2, 3, 2)),
    ("logsumexp", lambda t: tf.reduce_logsumexp(t, axis=1), (3, 4)),
    ("variance", lambda t: tf.math.reduce_variance(t, axis=0), (3, 4)),
    ("std", lambda t: tf.math.reduce_std(t), (3, 4)),
    ("euclidean", lambda t: tf.math.reduce_euclidean_norm(t, axis=1), (3, 4)),
    ("cumsum", lambda t: tf.cumsum(t, axis=1), (3, 4)),
    ("cumsum_excl_rev", lambda t: tf.cumsum(t, axis=0, exclusive=True, reverse=True), (3, 4)),
    ("cumprod", lambda t: tf.math.cumprod(t, axis=1), (3, 4)),
    ("cumprod_excl", lambda t: tf.math.cumprod(t, axis=1, exclusive=True), (3, 4)),
    ("sort", lambda t: tf.sort(t, axis=1), (3, 4)),
    ("sort_desc_axis0", lambda t: tf.sort(t, axis=0, direction="DESCENDING"), (3, 4)),
    ("top_k", lambda t: tf.math.top_k(t, k=2).values, (3, 4)),
])
def test_gradients(name, f, shape):
    x0 = np.random.default_rng(abs(hash(name)) % 2**32).uniform(0.5, 1.5, shape) * \
        np.where(np.arange(np.prod(shape)).reshape(shape) % 3 == 0, -1, 1)
    _grad_check(f, x0)


def test_reduce_prod_gradient_with_zeros():
    # d/dx prod = product of the others: exact with zeros (no division).
    x = tf.Variable([2.0, 0.0, 3.0, 0.5])
    with tf.GradientTape() as tape:
        y = tf.reduce_prod(x)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [0.0, 3.0, 0.0, 0.0])
    x = tf.Variable([2.0, 4.0, 3.0])
    with tf.GradientTape() as tape:
        y = tf.reduce_prod(x)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [12.0, 6.0, 8.0])


def test_scans_and_orderings(rng):
    x = rng.standard_normal((3, 5))
    for ax in (0, 1, -1):
        for excl in (False, True):
            for rev in (False, True):
                a = np.flip(x, ax) if rev else x
                c = np.cumsum(a, axis=ax)
                p = np.cumprod(a, axis=ax)
                if excl:
                    c = np.concatenate([np.zeros_like(np.take(c, [0], ax)), np.delete(c, -1, ax)], ax)
                    p = np.concatenate([np.ones_like(np.take(p, [0], ax)), np.delete(p, -1, ax)], ax)
                if rev:
                    c, p = np.flip(c, ax), np.flip(p, ax)
                assert_close(tf.cumsum(tf.constant(x), ax, excl, rev), c, dtype=np.float64)
                assert_close(tf.math.cumprod(tf.constant(x), ax, excl, rev), p, dtype=np.float64)
    assert_close(tf.sort(tf.constant(x)), np.sort(x), dtype=np.float64)
    assert_close(tf.sort(tf.constant(x), direction="DESCENDING"), -np.sort(-x), dtype=np.float64)
    assert_close(tf.argsort(tf.constant(x), axis=0), np.argsort(x, axis=0, kind="stable"), dtype=np.int32)
    # TF's docstring: top_k of [1, 3, 3, 2] with k=2 keeps the lower index first on ties
    r = tf.math.top_k(tf.constant([1.0, 3.0, 3.0, 2.0]), k=2)
    assert_close(r.values, [3.0, 3.0], dtype=np.float32)
    assert_close(r.indices, [1, 2], dtype=np.int32)
    assert_close(tf.nn.top_k(tf.constant([[5, 1, 4]]), 1).indices, [[0]], dtype=np.int32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="top_k: input must have at least k=4"):
        tf.math.top_k(tf.constant([1.0, 2.0]), k=4)
    with pytest.raises(ValueError, match="direction"):
        tf.sort(tf.constant([1.0]), direction="UP")


# ---- nn --------------------------------------------------------------------------------------------------------
NN = [
    ("relu6", lambda t: tf.nn.relu6(t), lambda x: np.minimum(np.maximum(x, 0), 6)),
    ("leaky_relu", lambda t: tf.nn.leaky_relu(t), lambda x: np.where(x > 0, x, 0.2 * x)),
    ("leaky_relu_a", lambda t: tf.nn.leaky_relu(t, alpha=0.5), lambda x: np.where(x > 0, x, 0.5 * x)),
    ("elu", lambda t: tf.nn.elu(t), lambda x: np.where(x > 0, x, np.exp(x) - 1)),
    ("selu", lambda t: tf.nn.selu(t), lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * (np.exp(x) - 1))),
    ("gelu_tanh", lambda t: tf.nn.gelu(t, approximate=True),
     lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))),
    ("silu", lambda t: tf.nn.silu(t), lambda x: x / (1 + np.exp(-x))),
    ("swish_beta", lambda t: tf.nn.swish(t, beta=2.0), lambda x: x / (1 + np.exp(-2 * x))),
    ("l2_loss", lambda t: tf.nn.l2_loss(t), lambda x: np.sum(x * x) / 2),
    ("l2_normalize", lambda t: tf.math.l2_normalize(t, axis=1), lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)),
    ("clip_by_norm", lambda t: tf.clip_by_norm(t, 1.5), lambda x: x * 1.5 / max(np.linalg.norm(x), 1.5)),
    ("clip_by_norm_axes", lambda t: tf.clip_by_norm(t, 1.0, axes=[1]),
     lambda x: x * 1.0 / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1.0)),
]


@pytest.mark.parametrize("name,f,ref", NN, ids=[n[0] for n in NN])
def test_nn_forward_and_gradient(name, f, ref):
    x0 = np.random.default_rng(abs(hash(name)) % 2**32).uniform(-3, 8, (3, 4))
    x0[np.abs(x0) < 0.05] = 0.3  # away from the kinks
    x0[np.abs(x0 - 6) < 0.05] = 5.5
    assert_close(f(tf.constant(x0)), ref(x0), dtype=np.float64)
    _grad_check(f, x0)


def test_nn_misc(rng):
    x = rng.standard_normal((4, 3))
    z = (rng.random((4, 3)) > 0.5).astype(np.float64)
    ref = np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))
    assert_close(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.constant(z), logits=tf.constant(x)), ref,
                 dtype=np.float64)
    _grad_check(lambda t: tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.constant(z), logits=t), x)
    m, v = tf.nn.moments(tf.constant(x), axes=[0])
    assert_close(m, x.mean(0), dtype=np.float64)
    assert_close(v, x.var(0), dtype=np.float64)
    m, v = tf.nn.moments(tf.constant(x), axes=[0, 1], keepdims=True)
    assert tuple(m.shape) == (1, 1) and tuple(v.shape) == (1, 1)
    assert_close(tf.nn.bias_add(tf.constant(x), tf.constant([1.0, 2.0, 3.0], tf.float64)), x + [1, 2, 3],
                 dtype=np.float64)
    with pytest.raises(ValueError, match="bias_add: bias of size 2"):
        tf.nn.bias_add(tf.constant(x), tf.constant([1.0, 2.0], tf.float64))
    with pytest.raises(TypeError, match="relu6: expected a float32 or float64"):
        tf.nn.relu6(tf.constant([1, 2]))


def test_dropout_statistics_and_scale():
    tf.random.set_seed(5)
    x = tf.ones([200, 200])
    y = tf.nn.dropout(x, rate=0.25).numpy()
    kept = y != 0
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    assert abs(kept.mean() - 0.75) < 0.02
    assert np.array_equal(tf.nn.dropout(x, 0.0).numpy(), x.numpy())
    with pytest.raises(ValueError, match=r"range \[0, 1\)"):
        tf.nn.dropout(x, 1.0)
    # noise_shape: one decision per column, broadcast down the rows
    y = tf.nn.dropout(tf.ones([5, 100]), 0.5, noise_shape=[1, 100]).numpy()
    assert np.all(y == y[:1])


def test_clip_by_global_norm():
    a, b = tf.constant([3.0, 4.0]), tf.constant([[0.0, 12.0]])  # global norm 13
    (ca, cb), gn = tf.clip_by_global_norm([a, b], 6.5)
    assert_close(gn, 13.0, dtype=np.float32)
    assert_close(ca, [1.5, 2.0], dtype=np.float32)
    assert_close(cb, [[0.0, 6.0]], dtype=np.float32)
    (ca,), gn = tf.clip_by_global_norm([a], 100.0)  # under the limit: unchanged
    assert_close(ca, [3.0, 4.0], dtype=np.float32)
    (ca, none), _ = tf.clip_by_global_norm([tf.constant([np.inf]), None], 1.0)
    assert none is None and np.isnan(ca.numpy()).all()  # TF: a non-finite norm gives NaN
    with pytest.raises(TypeError, match="t_list should be a sequence"):
        tf.clip_by_global_norm(a, 1.0)


# ---- control flow ------------------------------------------------------------------------------------------------
def test_cond_case_while_map():
    x = tf.Variable(3.0)
    with tf.GradientTape() as tape:
        y = tf.cond(x > 2.0, lambda: x * x, lambda: x)
    assert float(y) == 9.0 and float(tape.gradient(y, x)) == 6.0
    assert float(tf.cond(tf.constant(False), lambda: 1.0, lambda: 2.0)) == 2.0
    with pytest.raises(TypeError, match="true_fn must be callable"):
        tf.cond(True, 1.0, lambda: 2.0)
    assert tf.case([(tf.constant(False), lambda: 1), (tf.constant(True), lambda: 2)], default=lambda: 3) == 2
    assert tf.case([(tf.constant(False), lambda: 1)], default=lambda: 3) == 3
    i, s = tf.while_loop(lambda i, s: i < 5, lambda i, s: (i + 1, s + i), (tf.constant(0), tf.constant(0)))
    assert int(i) == 5 and int(s) == 10
    r = tf.while_loop(lambda v: v < 100, lambda v: v * 2, tf.constant(1), maximum_iterations=3)
    assert int(r) == 8
    m = tf.map_fn(lambda row: tf.reduce_sum(row * row), tf.constant([[1.0, 2.0], [3.0, 4.0]]))
    assert_close(m, [5.0, 25.0], dtype=np.float32)
    pair = tf.map_fn(lambda p: p[0] * p[1], (tf.constant([1.0, 2.0]), tf.constant([3.0, 4.0])))
    assert_close(pair, [3.0, 8.0], dtype=np.float32)
    v = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        out = tf.reduce_sum(tf.map_fn(lambda e: e * e * e, v))
    assert_close(tape.gradient(out, v), [3.0, 12.0], dtype=np.float32)
    assert_close(tf.vectorized_map(lambda e: e + 1.0, tf.constant([1.0, 2.0])), [2.0, 3.0], dtype=np.float32)


def test_py_function_and_numpy_function():
    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = tf.py_function(lambda t: t * t * 3.0, [x], tf.float32)
    assert float(y) == 12.0 and float(tape.gradient(y, x)) == 12.0
    r = tf.numpy_function(lambda a: (a * 2).astype(np.float32), [tf.constant([1.0, 2.0])], tf.float32)
    assert_close(r, [2.0, 4.0], dtype=np.float32)


@pytest.mark.parametrize("args,kw,expected", [
    ((tf.constant([1, 2, 3]),), {}, "[1 2 3]\n"),
    ((tf.constant([[1, 2], [3, 4]]),), {}, "[[1 2]\n [3 4]]\n"),
    ((tf.range(10),), {}, "[0 1 2 ... 7 8 9]\n"),
    ((tf.range(10),), {"summarize": -1}, "[0 1 2 3 4 5 6 7 8 9]\n"),
    (("loss:", tf.constant(0.5), 3), {"sep": "|"}, "loss:|0.5|3\n"),
    ((tf.constant(1.0 / 3.0),), {}, "0.333333343\n"),
    ((tf.constant(1.0 / 3.0, tf.float64),), {}, "0.33333333333333331\n"),
    ((tf.constant([1.5, 2.0]),), {"end": "!"}, "[1.5 2]!"),
    ((tf.constant([True, False]),), {}, "[1 0]\n"),
])
def test_print(args, kw, expected):
    buf = io.StringIO()
    tf.print(*args, output_stream=buf, **kw)
    assert buf.getvalue() == expected


def test_print_default_is_stderr(capsys):
    tf.print("x", tf.constant(2))
    captured = capsys.readouterr()
    assert captured.err == "x 2\n" and captured.out == ""


def test_debugging_asserts():
    tf.debugging.assert_equal(tf.constant([1, 2]), tf.constant([1, 2]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="x == y did not hold"):
        tf.debugging.assert_equal(tf.constant([1, 2]), tf.constant([1, 3]), message="custom")
    tf.debugging.assert_less(tf.constant([1.0]), 2.0)
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.debugging.assert_greater(tf.constant([1.0]), 2.0)
    tf.debugging.assert_near(tf.constant(1.0), tf.constant(1.0 + 1e-7))
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.debugging.assert_near(tf.constant(1.0), tf.constant(1.1))
    tf.debugging.assert_positive(tf.constant([1, 2]))
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.debugging.assert_non_negative(tf.constant([-1.0]))
    with pytest.raises(ValueError, match="must have rank 2"):
        tf.debugging.assert_rank(tf.ones([3]), 2)
    tf.debugging.assert_shapes([(tf.ones([2, 3]), ("N", 3)), (tf.ones([2]), ("N",))])
    with pytest.raises(ValueError, match="Dimension 'N'"):
        tf.debugging.assert_shapes([(tf.ones([2, 3]), ("N", 3)), (tf.ones([4]), ("N",))])
    with pytest.raises(tf.errors.InvalidArgumentError, match="bad : Tensor had NaN values"):
        tf.debugging.check_numerics(tf.constant([1.0, np.nan]), "bad")
    assert_close(tf.debugging.check_numerics(tf.constant([1.0]), "ok"), [1.0], dtype=np.float32)
