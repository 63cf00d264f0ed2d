"""tf.linalg: factorisations, solvers and structure ops against NumPy float64 and finite differences."""
from __future__ import annotations

import numpy as np
import pytest

import pyfast_tape as tf
from conftest import assert_close
from reference import central_difference

LA = tf.linalg


def _spd(rng, n, batch=()):
    a = rng.standard_normal(batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def _grad(f, x0):
    """tf's gradient of sum(f(x) * w) for a fixed random w, and the same by central differences."""
    rng = np.random.default_rng(7)
    y0 = f(tf.constant(x0))
    outs = y0 if isinstance(y0, (tuple, list)) else (y0,)
    ws = [rng.standard_normal(tuple(o.shape)) for o in outs]

    def scalar(xv):
        ys = f(tf.constant(xv))
        ys = ys if isinstance(ys, (tuple, list)) else (ys,)
        return sum(float(np.sum(y.numpy() * w)) for y, w in zip(ys, ws))

    x = tf.Variable(x0)
    with tf.GradientTape() as tape:
        ys = f(x)
        ys = ys if isinstance(ys, (tuple, list)) else (ys,)
        loss = tf.add_n([tf.reduce_sum(y * w) for y, w in zip(ys, ws)]) if hasattr(tf, "add_n") else \
            sum((tf.reduce_sum(y * w) for y, w in zip(ys, ws)), tf.constant(0.0, tf.float64))
    g = tape.gradient(loss, x)
    return g.numpy(), central_difference(scalar, [x0])[0]


# ---- forward against NumPy ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_matches_numpy(rng, dtype):
    a = rng.standard_normal((2, 4, 4)).astype(dtype) + 4 * np.eye(4, dtype=dtype)
    b = rng.standard_normal((2, 4, 3)).astype(dtype)
    spd = _spd(rng, 4, (2,)).astype(dtype)
    assert_close(LA.inv(a), np.linalg.inv(a.astype(np.float64)), dtype=dtype, rtol=1e-4 if dtype == np.float32 else 1e-10)
    assert_close(LA.det(a), np.linalg.det(a.astype(np.float64)), dtype=dtype, rtol=1e-4 if dtype == np.float32 else 1e-10)
    s, ld = LA.slogdet(a)
    s64, ld64 = np.linalg.slogdet(a.astype(np.float64))
    assert_close(s, s64, dtype=dtype)
    assert_close(ld, ld64, dtype=dtype, rtol=1e-4 if dtype == np.float32 else 1e-10)
    assert_close(LA.solve(a, b), np.linalg.solve(a.astype(np.float64), b), dtype=dtype,
                 rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-5 if dtype == np.float32 else 1e-12)
    assert_close(LA.cholesky(spd), np.linalg.cholesky(spd.astype(np.float64)), dtype=dtype,
                 rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-5 if dtype == np.float32 else 1e-12)
    e, v = LA.eigh(spd)
    e64 = np.linalg.eigvalsh(spd.astype(np.float64))
    assert_close(e, e64, dtype=dtype, rtol=1e-4 if dtype == np.float32 else 1e-10)
    # eigenvectors up to sign: V diag(e) V^T reconstructs the matrix
    rec = v.numpy() @ (e.numpy()[..., None] * np.swapaxes(v.numpy(), -1, -2))
    np.testing.assert_allclose(rec, spd, rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-3 if dtype == np.float32 else 1e-10)
    q, r = LA.qr(a)
    np.testing.assert_allclose(q.numpy() @ r.numpy(), a, rtol=1e-4, atol=1e-4 if dtype == np.float32 else 1e-12)
    assert np.allclose(np.tril(r.numpy(), -1), 0)
    sv, u, vv = LA.svd(a)
    assert_close(sv, np.linalg.svd(a.astype(np.float64), compute_uv=False), dtype=dtype,
                 rtol=1e-4 if dtype == np.float32 else 1e-10)
    rec = u.numpy() @ (sv.numpy()[..., None] * np.swapaxes(vv.numpy(), -1, -2))
    np.testing.assert_allclose(rec, a, rtol=1e-4, atol=1e-4 if dtype == np.float32 else 1e-12)


def test_structure_ops(rng):
    x = rng.standard_normal((2, 3, 4))
    sq = rng.standard_normal((3, 3))
    assert_close(LA.diag(tf.constant([1.0, 2.0])), np.diag([1.0, 2.0]), dtype=np.float32)
    assert_close(LA.diag_part(tf.constant(x)), np.diagonal(x, axis1=-2, axis2=-1), dtype=np.float64)
    assert_close(LA.diag_part(tf.constant(np.swapaxes(x, -1, -2))), np.diagonal(x, axis1=-2, axis2=-1), dtype=np.float64)
    assert_close(LA.trace(tf.constant(sq)), np.trace(sq), dtype=np.float64)
    for lo, up in [(0, 0), (1, 0), (0, -1), (-1, 0), (2, 1)]:
        i, j = np.arange(3)[:, None], np.arange(4)[None, :]
        keep = np.ones((3, 4), bool)
        if lo >= 0:
            keep &= i - j <= lo
        if up >= 0:
            keep &= j - i <= up
        assert_close(LA.band_part(tf.constant(x), lo, up), x * keep, dtype=np.float64)
    m, v = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4))
    assert_close(LA.matvec(tf.constant(m), tf.constant(v)), np.einsum("bij,bj->bi", m, v), dtype=np.float64)
    assert_close(LA.l2_normalize(tf.constant(x), axis=-1), x / np.sqrt(np.sum(x * x, -1, keepdims=True)),
                 dtype=np.float64)
    assert_close(LA.l2_normalize(tf.zeros([3])), np.zeros(3), dtype=np.float32)  # epsilon: no NaN
    assert_close(LA.eye(2, 3, batch_shape=[2]), np.broadcast_to(np.eye(2, 3), (2, 2, 3)), dtype=np.float32)


@pytest.mark.parametrize("ord,axis,ref", [
    ("euclidean", None, lambda x: np.sqrt(np.sum(x * x))),
    (2, 1, lambda x: np.linalg.norm(x, 2, axis=1)),
    (1, 0, lambda x: np.sum(np.abs(x), axis=0)),
    (np.inf, -1, lambda x: np.max(np.abs(x), axis=-1)),
    (3, 1, lambda x: np.sum(np.abs(x) ** 3, axis=1) ** (1 / 3)),
    ("fro", [0, 1], lambda x: np.linalg.norm(x, "fro")),
    (1, [0, 1], lambda x: np.linalg.norm(x, 1)),
    (np.inf, [0, 1], lambda x: np.linalg.norm(x, np.inf)),
])
def test_norm(rng, ord, axis, ref):
    x = rng.standard_normal((3, 4))
    assert_close(tf.norm(tf.constant(x), ord=ord, axis=axis), ref(x), dtype=np.float64)
    g, fd = _grad(lambda t: tf.norm(t, ord=ord, axis=axis), x)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-7)


# ---- gradients against finite differences (float64) ---------------------------------------------------------
GRADS = [
    ("inv", lambda t: LA.inv(t), lambda r: r.standard_normal((2, 3, 3)) + 3 * np.eye(3)),
    ("inv_adjoint", lambda t: LA.inv(t, adjoint=True), lambda r: r.standard_normal((3, 3)) + 3 * np.eye(3)),
    ("det", lambda t: LA.det(t), lambda r: r.standard_normal((2, 3, 3)) + 2 * np.eye(3)),
    ("slogdet", lambda t: LA.slogdet(t)[1], lambda r: r.standard_normal((3, 3)) + 3 * np.eye(3)),
    ("solve_matrix", lambda t: LA.solve(t, tf.constant(np.arange(6.0).reshape(3, 2))),
     lambda r: r.standard_normal((3, 3)) + 3 * np.eye(3)),
    ("solve_adjoint", lambda t: LA.solve(t, tf.constant(np.arange(6.0).reshape(3, 2)), adjoint=True),
     lambda r: r.standard_normal((3, 3)) + 3 * np.eye(3)),
    ("cholesky", lambda t: LA.cholesky(tf.linalg.band_part(t, -1, 0) + tf.transpose(tf.linalg.band_part(t, -1, 0))
                                        - tf.linalg.diag(tf.linalg.diag_part(t))), lambda r: _spd(r, 3)),
    ("eigh_values", lambda t: LA.eigh(0.5 * (t + tf.transpose(t)))[0], lambda r: _spd(r, 3)),
    ("svd_values", lambda t: LA.svd(t, compute_uv=False), lambda r: r.standard_normal((4, 3))),
    ("qr", lambda t: LA.qr(t), lambda r: r.standard_normal((4, 3))),
    ("trace", lambda t: LA.trace(t), lambda r: r.standard_normal((3, 3))),
    ("diag_part", lambda t: LA.diag_part(t), lambda r: r.standard_normal((2, 3, 4))),
    ("diag", lambda t: LA.diag(t), lambda r: r.standard_normal((2, 3))),
    ("band_part", lambda t: LA.band_part(t, 1, 0), lambda r: r.standard_normal((3, 4))),
    ("l2_normalize", lambda t: LA.l2_normalize(t, axis=0), lambda r: r.standard_normal((3, 2))),
    ("matvec", lambda t: LA.matvec(t, tf.constant([1.0, -2.0, 0.5], tf.float64)), lambda r: r.standard_normal((2, 3))),
    ("einsum_matmul", lambda t: tf.einsum("ij,jk->ik", t, tf.constant(np.arange(6.0).reshape(3, 2))),
     lambda r: r.standard_normal((2, 3))),
    ("einsum_sum_only", lambda t: tf.einsum("ijk->j", t), lambda r: r.standard_normal((2, 3, 4))),
    ("einsum_batch_ellipsis", lambda t: tf.einsum("...ij,...jk->...ik", t, t), lambda r: r.standard_normal((2, 3, 3))),
    ("einsum_outer", lambda t: tf.einsum("i,j->ij", t, t), lambda r: r.standard_normal(3)),
]


@pytest.mark.parametrize("name,f,make", GRADS, ids=[g[0] for g in GRADS])
def test_gradient_finite_difference(name, f, make):
    x0 = make(np.random.default_rng(abs(hash(name)) % 2**32))
    g, fd = _grad(f, x0)
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-6)


def test_second_order_through_inv():
    # d2/dx2 of sum(inv(x)) for a 1x1 matrix: inv = 1/x, second derivative 2/x^3.
    x = tf.Variable([[2.0]], dtype=tf.float64)
    with tf.GradientTape() as t2:
        with tf.GradientTape() as t1:
            y = tf.reduce_sum(LA.inv(x))
        g = t1.gradient(y, x)
    h = t2.gradient(g, x)
    np.testing.assert_allclose(g.numpy(), [[-0.25]])
    np.testing.assert_allclose(h.numpy(), [[0.25]])


def test_einsum_forms(rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    for eq, args in [("ij,jk->ik", (a, b)), ("ij,jk", (a, b)), ("ij->ji", (a,)), ("ij->", (a,)),
                     ("bij,bjk->bik", (rng.standard_normal((2, 2, 3)), rng.standard_normal((2, 3, 2)))),
                     ("...j,j->...", (rng.standard_normal((2, 3, 4)), rng.standard_normal(4)))]:
        assert_close(tf.einsum(eq, *[tf.constant(x) for x in args]), np.einsum(eq, *args), dtype=np.float64)
    assert_close(tf.tensordot(tf.constant(a), tf.constant(b), axes=1), np.tensordot(a, b, axes=1), dtype=np.float64)


BAD = [
    (lambda: LA.inv(tf.zeros([2, 3])), tf.errors.InvalidArgumentError, "linalg.inv: input must be a square"),
    (lambda: LA.inv(tf.zeros([2, 2])), tf.errors.InvalidArgumentError, "not invertible"),
    (lambda: LA.inv(tf.constant([[1, 2], [3, 4]])), TypeError, "linalg.inv: expected a float32 or float64"),
    (lambda: LA.cholesky(tf.constant([[1.0, 2.0], [2.0, 1.0]])), tf.errors.InvalidArgumentError, "Cholesky"),
    (lambda: LA.solve(LA.eye(2), tf.ones([3, 1])), tf.errors.InvalidArgumentError, "rhs must have shape"),
    (lambda: LA.solve(LA.eye(2), tf.ones([2, 1], tf.float64)), TypeError, "same dtype"),
    (lambda: tf.norm(tf.ones([2, 2]), ord="nuc"), ValueError, "'ord'"),
    (lambda: tf.einsum("ij,jk->ik", tf.ones([2, 3])), ValueError, "einsum"),
    (lambda: tf.einsum("ii->i", tf.ones([2, 2])), NotImplementedError, "repeated indices"),
]


@pytest.mark.parametrize("call,exc,text", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_input(call, exc, text):
    with pytest.raises(exc) as e:
        call()
    assert text in str(e.value)
