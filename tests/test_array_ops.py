"""Array ops (pyfast_tape/array_ops.py, tf.random.shuffle): forward against NumPy, gradients against central
differences in float64 (and second order through the recorded NumPy-forward primitives), TF's dtype rules,
bad input (the right exception, the op named), and the exports (tf.*, tf.linalg.eye, tf.newaxis)."""
from __future__ import annotations

import re

import numpy as np
import pytest

import pyfast_tape as tf
from conftest import assert_close, tolerance
from reference import central_difference

IAE = tf.errors.InvalidArgumentError
F64 = np.float64
ALL_DTYPES = [np.float32, np.float64, np.int32, np.int64, np.bool_]


def _arr(shape, dtype=F64, seed=0):
    a = np.random.default_rng(seed).normal(size=shape)
    if np.dtype(dtype) == np.bool_:
        return a > 0
    if np.dtype(dtype).kind in "iu":
        return np.round(a * 10).astype(dtype)
    return a.astype(dtype)


def _outs(y):
    return list(y) if isinstance(y, (list, tuple)) else [y]


def check_grad(f_tf, f_np, inputs, wrt=None, seed=1):
    """The gradient of sum(f(x) * w) (w random; a list-valued f weighs each output) against central
    differences of the NumPy forward `f_np`, in float64."""
    inputs = [np.asarray(a, dtype=F64) for a in inputs]
    wrt = list(range(len(inputs))) if wrt is None else wrt
    ref_outs = _outs(f_np(*inputs))
    rng = np.random.default_rng(seed)
    ws = [rng.normal(size=np.shape(o)) for o in ref_outs]
    xs = [tf.constant(a) for a in inputs]
    with tf.GradientTape() as tape:
        for i in wrt:
            tape.watch(xs[i])
        ys = _outs(f_tf(*xs))
        assert len(ys) == len(ws)
        loss = tf.add_n([tf.reduce_sum(y * w) for y, w in zip(ys, ws)]) if len(ys) > 1 else tf.reduce_sum(ys[0] * ws[0])
    grads = tape.gradient(loss, [xs[i] for i in wrt])

    def flat(*args):
        return np.concatenate([np.ravel(o) for o in _outs(f_np(*args))])

    num = central_difference(flat, inputs, dy=np.concatenate([w.ravel() for w in ws]), wrt=wrt)
    for g, i in zip(grads, wrt):
        assert g is not None, f"no gradient for input {i}"
        assert_close(g, num[i], F64, tol="fd", what=f"gradient of input {i}")


# =====================================================================================================
# concat, stack, unstack, split
# =====================================================================================================
@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("axis", [0, 1, -1, -3])
def test_concat_matches_numpy(dtype, axis):
    a, b, c = _arr((2, 3, 4), dtype, 0), _arr((2, 3, 4), dtype, 1), _arr((2, 3, 4), dtype, 2)
    a = a if axis not in (1,) else _arr((2, 1, 4), dtype, 3)
    out = tf.concat([tf.constant(a), tf.constant(b), c], axis)
    assert_close(out, np.concatenate([a, b, c], axis), dtype)


def test_concat_single_value_is_identity_and_python_values_take_the_tensor_dtype():
    x = tf.constant([1.0, 2.0])
    assert_close(tf.concat([x], 0), [1.0, 2.0], np.float32)
    assert_close(tf.concat(x, 0), [1.0, 2.0], np.float32)
    assert_close(tf.concat([[1, 2], x], 0), [1, 2, 1, 2], np.float32)  # the list takes x's dtype
    assert_close(tf.concat([np.zeros((0, 2)), np.ones((1, 2))], 0), np.ones((1, 2)), F64)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_concat_gradient(axis):
    shapes = [(2, 3, 4)] * 3
    shapes = [tuple(2 + i if d == axis else s for d, s in enumerate(sh)) for i, sh in enumerate(shapes)]
    check_grad(lambda *xs: tf.concat(list(xs), axis), lambda *xs: np.concatenate(xs, axis),
               [_arr(s, seed=i) for i, s in enumerate(shapes)])


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
def test_stack_matches_numpy(dtype, axis):
    vals = [_arr((2, 3), dtype, i) for i in range(4)]
    assert_close(tf.stack([tf.constant(v) for v in vals], axis=axis), np.stack(vals, axis), dtype)


def test_stack_of_python_values_infers_one_dtype():
    assert_close(tf.stack([1, 2.5]), [1.0, 2.5], np.float32)
    assert_close(tf.stack([[1, 2], [3, 4]], axis=1), [[1, 3], [2, 4]], np.int32)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_stack_gradient(axis):
    check_grad(lambda a, b, c: tf.stack([a, b, c], axis=axis), lambda a, b, c: np.stack([a, b, c], axis),
               [_arr((2, 3), seed=i) for i in range(3)])


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_unstack_matches_numpy(dtype, axis):
    a = _arr((3, 4, 2), dtype)
    outs = tf.unstack(tf.constant(a), axis=axis)
    ref = [np.take(a, i, axis=axis) for i in range(a.shape[axis])]
    assert len(outs) == len(ref)
    for o, r in zip(outs, ref):
        assert_close(o, r, dtype)
    assert tf.unstack(tf.zeros([0, 3])) == []


@pytest.mark.parametrize("axis", [0, 1])
def test_unstack_gradient(axis):
    a = _arr((3, 4))
    check_grad(lambda x: tf.unstack(x, axis=axis), lambda x: [np.take(x, i, axis=axis) for i in range(x.shape[axis])],
               [a])


def test_unstack_gradient_of_one_piece_is_zero_elsewhere():
    x = tf.Variable(np.arange(6.0).reshape(3, 2))
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.unstack(x)[1] * 2.0)
    assert_close(tape.gradient(y, x), [[0, 0], [2, 2], [0, 0]], F64)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("splits,axis", [(3, 1), ([2, 5, 2], 1), ([4, -1], 1), ([1, 1], 0), (1, 0), ([0, 9], -1)])
def test_split_matches_numpy(dtype, splits, axis):
    a = _arr((2, 9), dtype)
    outs = tf.split(tf.constant(a), splits, axis=axis)
    n = a.shape[axis]
    if isinstance(splits, int):
        ref = np.split(a, splits, axis)
    else:
        s = list(splits)
        if -1 in s:
            s[s.index(-1)] = n - (sum(s) + 1)
        ref = np.split(a, np.cumsum(s)[:-1], axis)
    assert len(outs) == len(ref)
    for o, r in zip(outs, ref):
        assert_close(o, r, dtype)


def test_split_sizes_as_a_tensor():
    outs = tf.split(tf.range(10), tf.constant([3, 7]))
    assert [o.shape.as_list() for o in outs] == [[3], [7]]


@pytest.mark.parametrize("splits", [2, [1, -1, 2]])
def test_split_gradient(splits):
    def ref(x):
        s = [2, 2] if splits == 2 else [1, 1, 2]
        return np.split(x, np.cumsum(s)[:-1], 1)
    check_grad(lambda x: tf.split(x, splits, axis=1), ref, [_arr((3, 4))])


def test_split_then_concat_second_order():
    x = tf.constant([1.0, 2.0, 3.0, 4.0], tf.float64)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            a, b = tf.split(x, 2)
            y = tf.reduce_sum(tf.concat([b, a], 0) ** 3)
        g = inner.gradient(y, x)
    h = outer.gradient(g, x)
    assert_close(g, 3 * np.array([1.0, 2, 3, 4]) ** 2, F64)
    assert_close(h, 6 * np.array([1.0, 2, 3, 4]), F64)


# =====================================================================================================
# slice, strided_slice, reverse, roll
# =====================================================================================================
@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("begin,size", [([1, 0, 0], [1, 1, 3]), ([1, 0, 0], [2, 1, -1]), ([0, 2, 1], [-1, 0, 2]),
                                        ([3, 2, 3], [0, 0, 0])])
def test_slice_matches_numpy(dtype, begin, size):
    a = _arr((3, 2, 3), dtype)
    key = tuple(slice(b, a.shape[i] if s == -1 else b + s) for i, (b, s) in enumerate(zip(begin, size)))
    assert_close(tf.slice(tf.constant(a), begin, size), a[key], dtype)
    assert_close(tf.slice(a, tf.constant(begin), tf.constant(size)), a[key], dtype)


def test_slice_gradient():
    check_grad(lambda x: tf.slice(x, [1, 0], [2, -1]), lambda x: x[1:3, :], [_arr((4, 3))])


# (begin, end, strides, masks, the NumPy key)
SS = [
    ([1, 0, 0], [2, 1, 3], [1, 1, 1], {}, (slice(1, 2), slice(0, 1), slice(0, 3))),
    ([1, -1, 0], [2, -3, 3], [1, -1, 1], {}, (slice(1, 2), slice(-1, -3, -1), slice(0, 3))),
    ([0, 0], [0, 2], [1, 1], {"begin_mask": 1, "end_mask": 1}, (slice(None), slice(0, 2))),
    ([1], [2], [1], {"shrink_axis_mask": 1}, (1,)),
    ([-1, 0], [0, 0], [1, 1], {"shrink_axis_mask": 1, "end_mask": 2}, (-1, slice(0, None))),
    ([0, 1], [0, 2], [1, 1], {"ellipsis_mask": 1}, (Ellipsis, slice(1, 2))),
    ([0, 0, 1], [0, 0, 3], [1, 1, 1], {"new_axis_mask": 1, "ellipsis_mask": 2}, (None, Ellipsis, slice(1, 3))),
    ([0, 0, 0], [0, 0, 0], [1, 1, -1], {"begin_mask": 7, "end_mask": 7},
     (slice(None), slice(None), slice(None, None, -1))),
    ([5, 0], [-9, 9], [-2, 2], {}, (slice(5, -9, -2), slice(0, 9, 2))),
    ([0, 1, 0], [1, 2, 1], [1, 1, 1], {"shrink_axis_mask": 2, "new_axis_mask": 4}, (slice(0, 1), 1, None)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.bool_])
@pytest.mark.parametrize("case", SS, ids=[str(c[4]) for c in SS])
def test_strided_slice_matches_numpy(dtype, case):
    b, e, s, masks, key = case
    a = _arr((3, 2, 3), dtype)
    assert_close(tf.strided_slice(tf.constant(a), b, e, s, **masks), a[key], dtype)


def test_strided_slice_default_strides_and_gradient():
    a = _arr((4, 5))
    assert_close(tf.strided_slice(a, [1, 1], [3, 4]), a[1:3, 1:4], F64)
    check_grad(lambda x: tf.strided_slice(x, [3, 0], [0, 5], [-1, 2]), lambda x: x[3:0:-1, 0:5:2], [a])


@pytest.mark.parametrize("axis", [[0], [1], [-1], [0, 2], []])
def test_reverse_matches_numpy_and_gradient(axis):
    a = _arr((2, 3, 4))
    assert_close(tf.reverse(tf.constant(a), axis), np.flip(a, axis) if axis else a, F64)
    ai = a.astype(np.int32)
    assert_close(tf.reverse(ai, axis), np.flip(ai, axis) if axis else ai, np.int32)
    check_grad(lambda x: tf.reverse(x, axis), lambda x: np.flip(x, axis) if axis else x, [a])


@pytest.mark.parametrize("shift,axis", [(2, 0), (-1, 1), ([1, 2], [0, 1]), ([3, -2], [1, 1]), (7, -1), (0, 0)])
def test_roll_matches_numpy_and_gradient(shift, axis):
    a = _arr((3, 4))
    ref = np.roll(a, shift, axis)
    assert_close(tf.roll(tf.constant(a), shift, axis), ref, F64)
    assert_close(tf.roll(a.astype(np.int64), shift, axis), np.roll(a.astype(np.int64), shift, axis), np.int64)
    check_grad(lambda x: tf.roll(x, shift, axis), lambda x: np.roll(x, shift, axis), [a])


# =====================================================================================================
# tile, repeat, pad
# =====================================================================================================
@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("shape,mult", [((2, 3), [2, 3]), ((3,), [4]), ((2, 1, 2), [1, 3, 2]), ((2, 2), [0, 2]),
                                        ((), [])])
def test_tile_matches_numpy(dtype, shape, mult):
    a = _arr(shape, dtype)
    assert_close(tf.tile(tf.constant(a), mult), np.tile(a, mult) if mult else a, dtype)


def test_tile_gradient_sums_the_copies():
    check_grad(lambda x: tf.tile(x, [2, 3]), lambda x: np.tile(x, [2, 3]), [_arr((2, 3))])
    check_grad(lambda x: tf.tile(x, tf.constant([3, 1, 2])), lambda x: np.tile(x, [3, 1, 2]), [_arr((1, 2, 2))])


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("repeats,axis", [(2, None), ([1, 0, 3], 0), (3, 1), ([2, 1, 0, 1], -1), ([2], 0)])
def test_repeat_matches_numpy(dtype, repeats, axis):
    a = _arr((3, 4), dtype)
    assert_close(tf.repeat(tf.constant(a), repeats, axis=axis), np.repeat(a, repeats, axis=axis), dtype)


def test_repeat_gradient():
    check_grad(lambda x: tf.repeat(x, [2, 0, 3], axis=0), lambda x: np.repeat(x, [2, 0, 3], axis=0), [_arr((3, 2))])
    check_grad(lambda x: tf.repeat(x, 2), lambda x: np.repeat(x, 2), [_arr((2, 2))])


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("mode", ["CONSTANT", "REFLECT", "SYMMETRIC", "reflect"])
@pytest.mark.parametrize("pads", [[[1, 1], [2, 2]], [[0, 2], [1, 0]], [[0, 0], [0, 0]]])
def test_pad_matches_numpy(dtype, mode, pads):
    a = _arr((3, 4), dtype)
    np_mode = {"CONSTANT": "constant", "REFLECT": "reflect", "SYMMETRIC": "symmetric"}[mode.upper()]
    assert_close(tf.pad(tf.constant(a), pads, mode), np.pad(a, pads, mode=np_mode), dtype)


def test_pad_constant_values_takes_the_tensor_dtype():
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    assert_close(tf.pad(a, [[1, 0], [0, 1]], constant_values=7), np.pad(a, [[1, 0], [0, 1]], constant_values=7),
                 np.int32)
    assert_close(tf.pad(tf.constant([1.0, 2.0]), [[2, 1]], constant_values=-0.5), [-0.5, -0.5, 1, 2, -0.5],
                 np.float32)


@pytest.mark.parametrize("mode", ["CONSTANT", "REFLECT", "SYMMETRIC"])
def test_pad_gradient(mode):
    pads = [[1, 2], [2, 1]]
    check_grad(lambda x: tf.pad(x, pads, mode, constant_values=0.5),
               lambda x: np.pad(x, pads, mode=mode.lower(), **({"constant_values": 0.5} if mode == "CONSTANT" else {})),
               [_arr((3, 4))])


def test_pad_second_order():
    x = tf.constant([1.0, 2.0, 3.0], tf.float64)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = tf.reduce_sum(tf.pad(x, [[2, 1]], "REFLECT") ** 3)  # [3, 2, 1, 2, 3, 2]
        g = inner.gradient(y, x)
    h = outer.gradient(g, x)
    counts = np.array([1.0, 3.0, 2.0])
    assert_close(g, 3 * counts * np.array([1.0, 2, 3]) ** 2, F64)
    assert_close(h, 6 * counts * np.array([1.0, 2, 3]), F64)


# =====================================================================================================
# gather, gather_nd, scatter_nd, tensor_scatter_nd_*
# =====================================================================================================
def _np_gather(p, idx, axis, batch_dims):
    """TF's gather with batch_dims, by loops over the batch."""
    if batch_dims == 0:
        return np.take(p, idx, axis=axis)
    return np.stack([_np_gather(p[i], idx[i], axis - 1, batch_dims - 1) for i in range(p.shape[0])])


GATHER = [  # (params shape, indices, axis, batch_dims)
    ((5,), [0, 3, 3, 4], None, 0),
    ((4, 3), [[2, 0], [1, 1]], 0, 0),
    ((4, 3), [2, 0, 2], 1, 0),
    ((2, 3, 4), 1, -1, 0),
    ((2, 3, 4), [[0, 2], [1, 1]], 1, 1),
    ((2, 3, 4), [[0, 2, 3], [1, 1, 0]], 2, 1),
    ((2, 3, 4), [[[0], [2], [1]], [[1], [1], [0]]], 2, 2),
    ((2, 3, 4), [[0, 2, 3], [1, 1, 0]], -1, -1),
    ((3, 2), np.zeros((0,), np.int64), 0, 0),
]


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("case", GATHER, ids=[str(i) for i in range(len(GATHER))])
def test_gather_matches_numpy(dtype, case):
    shape, idx, axis, bd = case
    a = _arr(shape, dtype)
    idx = np.asarray(idx)
    ax = bd if axis is None else axis
    bd_n = bd + idx.ndim if bd < 0 else bd
    ax_n = ax + len(shape) if ax < 0 else ax
    ref = _np_gather(a, idx, ax_n, bd_n)
    for ind in (idx, tf.constant(idx.astype(np.int32)), tf.constant(idx.astype(np.int64))):
        out = tf.gather(tf.constant(a), ind, axis=axis, batch_dims=bd)
        assert_close(out, ref, dtype)


@pytest.mark.parametrize("case", GATHER[:-1], ids=[str(i) for i in range(len(GATHER) - 1)])
def test_gather_gradient_is_a_scatter_add(case):
    shape, idx, axis, bd = case
    idx = np.asarray(idx)
    ax = bd if axis is None else axis
    bd_n = bd + idx.ndim if bd < 0 else bd
    ax_n = ax + len(shape) if ax < 0 else ax
    check_grad(lambda x: tf.gather(x, idx, axis=axis, batch_dims=bd), lambda x: _np_gather(x, idx, ax_n, bd_n),
               [_arr(shape)])


def test_gather_of_a_variable_and_second_order_with_duplicates():
    x = tf.Variable([1.0, 2.0, 3.0], dtype=tf.float64)
    idx = [0, 2, 2]
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            y = tf.reduce_sum(tf.gather(x, idx) ** 3)
        g = inner.gradient(y, x)
    h = outer.gradient(g, x)
    counts = np.array([1.0, 0.0, 2.0])
    assert_close(g, 3 * counts * np.array([1.0, 2, 3]) ** 2, F64)
    assert_close(h, 6 * counts * np.array([1.0, 2, 3]), F64)


GATHER_ND = [  # (params shape, indices, batch_dims)
    ((5, 2), [[2], [3], [0]], 0),
    ((2, 3, 3), [[0, 0, 0], [1, 2, 1]], 0),
    ((2, 3, 3), [[[0, 0], [0, 2]], [[1, 0], [1, 2]]], 0),
    ((2, 3, 3), [[0, 0], [0, 2], [1, 0], [1, 2], [0, 2]], 0),
    ((2, 3), np.zeros((2, 0), np.int64), 0),
    ((2, 3, 4), [[[1], [0]], [[2], [2]]], 1),
    ((2, 3, 4), [[1, 3], [2, 0]], 1),
]


def _np_gather_nd(p, idx, bd):
    idx = np.asarray(idx)
    if bd:
        return np.stack([_np_gather_nd(p[i], idx[i], bd - 1) for i in range(p.shape[0])])
    k = idx.shape[-1]
    flat = idx.reshape(int(np.prod(idx.shape[:-1])), k)
    out = np.stack([p[tuple(row)] for row in flat]) if len(flat) else np.zeros((0,) + p.shape[k:], p.dtype)
    return out.reshape(idx.shape[:-1] + p.shape[k:])


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("case", GATHER_ND, ids=[str(i) for i in range(len(GATHER_ND))])
def test_gather_nd_matches_numpy(dtype, case):
    shape, idx, bd = case
    a = _arr(shape, dtype)
    out = tf.gather_nd(tf.constant(a), idx, batch_dims=bd)
    assert_close(out, _np_gather_nd(a, idx, bd), dtype)


@pytest.mark.parametrize("case", GATHER_ND, ids=[str(i) for i in range(len(GATHER_ND))])
def test_gather_nd_gradient(case):
    shape, idx, bd = case
    check_grad(lambda x: tf.gather_nd(x, idx, batch_dims=bd), lambda x: _np_gather_nd(x, idx, bd), [_arr(shape)])


def _np_scatter_nd(idx, upd, shape):
    idx = np.asarray(idx)
    out = np.zeros(shape, dtype=np.asarray(upd).dtype)
    k = idx.shape[-1]
    u = np.asarray(upd).reshape((-1,) + tuple(shape[k:]))
    for row, v in zip(idx.reshape(-1, k), u):
        out[tuple(row)] += v
    return out


SCATTER = [  # (indices, updates shape, output shape)
    ([[1], [3], [5], [7], [9]], (5,), [10]),
    ([[0, 2], [2, 1], [3, 3]], (3,), [4, 5]),
    ([[0], [2], [0]], (3, 4), [3, 4]),  # duplicates add up; whole rows
    ([[[0, 1], [1, 1]], [[1, 1], [2, 0]]], (2, 2, 2), [3, 2, 2]),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("case", SCATTER, ids=[str(i) for i in range(len(SCATTER))])
def test_scatter_nd_matches_numpy(dtype, case):
    idx, ushape, shape = case
    u = _arr(ushape, dtype)
    assert_close(tf.scatter_nd(idx, tf.constant(u), shape), _np_scatter_nd(idx, u, shape), dtype)
    assert_close(tf.scatter_nd(tf.constant(idx), u, tf.constant(shape)), _np_scatter_nd(idx, u, shape), dtype)


@pytest.mark.parametrize("case", SCATTER, ids=[str(i) for i in range(len(SCATTER))])
def test_scatter_nd_gradient(case):
    idx, ushape, shape = case
    check_grad(lambda u: tf.scatter_nd(idx, u, shape), lambda u: _np_scatter_nd(idx, u, shape), [_arr(ushape)])


def _np_tensor_scatter(kind, t, idx, upd):
    out = np.array(t, copy=True)
    idx = np.asarray(idx)
    k = idx.shape[-1]
    u = np.asarray(upd).reshape((-1,) + t.shape[k:])
    for row, v in zip(idx.reshape(-1, k), u):
        r = tuple(row)
        if kind == "add":
            out[r] = out[r] + v
        elif kind == "sub":
            out[r] = out[r] - v
        elif kind == "update":
            out[r] = v
        elif kind == "max":
            out[r] = np.maximum(out[r], v)
        else:
            out[r] = np.minimum(out[r], v)
    return out


TSCATTER = [  # (tensor shape, indices, updates shape)
    ((3, 3), [[0, 2], [1, 1], [2, 0]], (3,)),
    ((4, 3), [[1], [3]], (2, 3)),
    ((4, 3), [[1], [3], [1]], (3, 3)),  # a duplicate index
    ((2, 2, 2), [[[0, 1]], [[1, 0]]], (2, 1, 2)),
]
KINDS = {"add": tf.tensor_scatter_nd_add, "sub": tf.tensor_scatter_nd_sub, "update": tf.tensor_scatter_nd_update,
         "max": tf.tensor_scatter_nd_max, "min": tf.tensor_scatter_nd_min}


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("case", TSCATTER, ids=[str(i) for i in range(len(TSCATTER))])
def test_tensor_scatter_nd_matches_numpy(kind, dtype, case):
    shape, idx, ushape = case
    t, u = _arr(shape, dtype, 0), _arr(ushape, dtype, 1)
    assert_close(KINDS[kind](tf.constant(t), idx, tf.constant(u)), _np_tensor_scatter(kind, t, idx, u), dtype)


def test_tensor_scatter_nd_update_of_bools_and_python_updates():
    t = tf.constant([True, False, True])
    assert_close(tf.tensor_scatter_nd_update(t, [[0], [1]], [False, True]), [False, True, True], np.bool_)
    assert_close(tf.tensor_scatter_nd_add(tf.constant([1.0, 2.0]), [[1]], [5]), [1.0, 7.0], np.float32)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("case", TSCATTER, ids=[str(i) for i in range(len(TSCATTER))])
def test_tensor_scatter_nd_gradient(kind, case):
    shape, idx, ushape = case
    # distinct values: no ties for max/min (where the central difference is one-sided)
    check_grad(lambda t, u: KINDS[kind](t, idx, u), lambda t, u: _np_tensor_scatter(kind, t, idx, u),
               [_arr(shape, seed=0), _arr(ushape, seed=1) * 1.7])


def test_tensor_scatter_nd_max_ties_share_the_gradient():
    t = tf.constant([1.0, 5.0], tf.float64)
    u = tf.constant([1.0, 2.0], tf.float64)
    with tf.GradientTape() as tape:
        tape.watch([t, u])
        y = tf.reduce_sum(tf.tensor_scatter_nd_max(t, [[0], [1]], u) * [2.0, 3.0])
    gt, gu = tape.gradient(y, [t, u])
    assert_close(gt, [1.0, 3.0], F64)  # t[0] ties with u[0]: half each (TF's rule)
    assert_close(gu, [1.0, 0.0], F64)


# =====================================================================================================
# where(cond), linspace, meshgrid, eye, sequence_mask
# =====================================================================================================
@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 2), ()])
def test_where_one_argument_gives_int64_coordinates(dtype, shape):
    a = _arr(shape, dtype)
    out = tf.where(tf.constant(a))
    assert_close(out, np.argwhere(a), np.int64)


def test_where_three_arguments_and_the_half_given_form():
    assert_close(tf.where([True, False], [1.0, 2.0], [3.0, 4.0]), [1.0, 4.0], np.float32)
    with pytest.raises(ValueError, match="x and y must both be non-None or both be None"):
        tf.where([True], [1.0])


@pytest.mark.parametrize("start,stop,num,axis,dtype", [
    (10.0, 12.0, 3, 0, np.float32), (0, 100, 5, 0, F64), (np.float64(-1.0), 2.0, 7, 0, F64),
    (1.0, 5.0, 1, 0, np.float32),
    (1.0, 5.0, 0, 0, np.float32), (1.0, 5.0, 2, 0, np.float32), ([0.0, 5.0], [10.0, 40.0], 5, 0, np.float32),
    ([0.0, 5.0], [10.0, 40.0], 5, -1, np.float32), ([[0.0], [1.0]], [4.0, 8.0, 12.0], 3, 1, np.float32),
    (np.int64(2), np.int64(9), 4, 0, F64),
])
def test_linspace_matches_numpy_and_tf_dtypes(start, stop, num, axis, dtype):
    out = tf.linspace(start, stop, num, axis=axis)
    s0, s1 = np.broadcast_arrays(np.asarray(start, F64), np.asarray(stop, F64))
    ref = np.linspace(s0, s1, num, axis=axis)
    assert_close(out, ref, dtype)


def test_linspace_gradient():
    check_grad(lambda a, b: tf.linspace(a, b, 5), lambda a, b: np.linspace(a, b, 5), [np.array(1.5), np.array(-2.0)])
    check_grad(lambda a, b: tf.linspace(a, b, 4, axis=1), lambda a, b: np.linspace(a, b, 4, axis=1),
               [np.array([0.5, 1.0]), np.array([2.0, -3.0])])


@pytest.mark.parametrize("indexing", ["xy", "ij"])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_meshgrid_matches_numpy(indexing, n):
    args = [np.arange(k + 2, dtype=np.float32) * (k + 1) for k in range(n)]
    outs = tf.meshgrid(*[tf.constant(a) for a in args], indexing=indexing)
    refs = np.meshgrid(*args, indexing=indexing)
    assert len(outs) == n
    for o, r in zip(outs, refs):
        assert_close(o, r, np.float32)
    assert tf.meshgrid() == []


def test_meshgrid_gradient():
    check_grad(lambda x, y: tf.meshgrid(x, y), lambda x, y: np.meshgrid(x, y), [_arr((3,)), _arr((2,), seed=1)])


def test_eye_top_level_is_linalg_eye():
    assert tf.eye is tf.linalg.eye
    assert_close(tf.eye(2, 3), np.eye(2, 3), np.float32)
    assert_close(tf.eye(2, batch_shape=[3], dtype=tf.int32), np.broadcast_to(np.eye(2), (3, 2, 2)), np.int32)


@pytest.mark.parametrize("lengths,maxlen,dtype", [([1, 3, 2], 5, None), ([1, 3, 2], None, None),
                                                  ([[1, 0], [2, 4]], 3, tf.float32), ([], None, None),
                                                  ([0, 2], 0, tf.int32)])
def test_sequence_mask(lengths, maxlen, dtype):
    ln = np.asarray(lengths, dtype=np.int64)
    m = maxlen if maxlen is not None else (max(0, ln.max()) if ln.size else 0)
    ref = np.arange(m) < ln[..., None]
    out = tf.sequence_mask(lengths, maxlen, dtype=dtype) if dtype is not None else tf.sequence_mask(lengths, maxlen)
    assert_close(out, ref, np.bool_ if dtype is None else dtype.as_numpy_dtype)


# =====================================================================================================
# shape, size, rank, unique
# =====================================================================================================
@pytest.mark.parametrize("shape", [(), (3,), (2, 0, 4), (2, 3, 4)])
def test_shape_size_rank(shape):
    for x in (tf.zeros(shape), tf.Variable(np.zeros(shape)), np.zeros(shape)):
        assert_close(tf.shape(x), list(shape), np.int32, shape=(len(shape),))
        assert_close(tf.shape(x, out_type=tf.int64), list(shape), np.int64, shape=(len(shape),))
        assert_close(tf.size(x), int(np.prod(shape)), np.int32)
        assert_close(tf.size(x, out_type=tf.int64), int(np.prod(shape)), np.int64)
        assert_close(tf.rank(x), len(shape), np.int32)
    assert isinstance(tf.shape(tf.zeros([2])), tf.Tensor)
    assert_close(tf.shape([[1, 2, 3]]), [1, 3], np.int32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64, np.bool_])
def test_unique_matches_first_occurrence_order(dtype):
    a = np.array([1, 1, 2, 4, 4, 4, 7, 8, 8, 0, 2]).astype(dtype)
    y, idx = tf.unique(tf.constant(a))
    _, first = np.unique(a, return_index=True)
    ref_y = a[np.sort(first)]
    assert_close(y, ref_y, dtype)
    assert_close(idx, [list(ref_y).index(v) for v in a], np.int32)
    out = tf.unique(a, out_idx=tf.int64)
    assert out.y is not None and out.idx.dtype == tf.int64
    assert_close(np.asarray(out.y)[np.asarray(out.idx)], a, dtype)


# =====================================================================================================
# tf.random.shuffle
# =====================================================================================================
def test_random_shuffle_permutes_the_first_dimension_with_tf_seed_rules():
    a = np.arange(20.0).reshape(10, 2)
    tf.random.set_seed(7)
    s1 = tf.random.shuffle(a, seed=3).numpy()
    s1b = tf.random.shuffle(a, seed=3).numpy()
    tf.random.set_seed(7)
    s2 = tf.random.shuffle(a, seed=3).numpy()
    np.testing.assert_array_equal(s1, s2)  # same global and op seed after set_seed: same sequence
    assert not np.array_equal(s1, s1b) or not np.array_equal(s1, a)
    np.testing.assert_array_equal(np.sort(s1[:, 0]), a[:, 0])
    np.testing.assert_array_equal(s1[:, 1], s1[:, 0] + 1)  # rows move whole
    assert tf.random.shuffle(tf.constant([1, 2, 3])).dtype == tf.int32
    assert_close(tf.random.shuffle(tf.constant(5.0)), 5.0, np.float32)


def test_random_shuffle_is_not_differentiable():
    x = tf.Variable([1.0, 2.0, 3.0])
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.random.shuffle(x))
    assert tape.gradient(y, x) is None


# =====================================================================================================
# indexing, exports
# =====================================================================================================
def test_integer_array_indexing_is_rejected_as_in_tf():
    # TF 2.21's Tensor.__getitem__ accepts integers, slices, ellipsis, tf.newaxis and scalar int tensors
    # only; a 1-D index array or tensor raises TypeError (tf.gather is the way).
    t = tf.constant([[1, 2], [3, 4], [5, 6]])
    for key in (np.array([0, 2]), tf.constant([0, 2])):
        with pytest.raises(TypeError):
            t[key]
    assert_close(tf.gather(t, [0, 2]), [[1, 2], [5, 6]], np.int32)
    assert_close(t[t > 2], [3, 4, 5, 6], np.int32)  # a boolean mask is tf.boolean_mask
    assert_close(t[tf.constant(1)], [3, 4], np.int32)  # a scalar tensor is an integer index


def test_newaxis_and_exports():
    assert tf.newaxis is None
    assert_close(tf.constant([1, 2])[tf.newaxis, :], [[1, 2]], np.int32)
    for n in ["concat", "stack", "unstack", "split", "tile", "pad", "gather", "gather_nd", "scatter_nd",
              "tensor_scatter_nd_update", "tensor_scatter_nd_add", "tensor_scatter_nd_sub", "tensor_scatter_nd_min",
              "tensor_scatter_nd_max", "where", "slice", "strided_slice", "reverse", "roll", "repeat", "linspace",
              "eye", "meshgrid", "shape", "size", "rank", "unique", "sequence_mask", "newaxis"]:
        assert hasattr(tf, n), n
        assert n in tf.__all__, n
    assert callable(tf.random.shuffle)
    assert slice(1, 2) == slice(1, 2)  # the builtin is untouched here


# =====================================================================================================
# bad input: the exception TF raises, a message naming the op
# =====================================================================================================
def _op(name):
    return rf"\b{re.escape(name)}\b"


X = np.arange(6.0).reshape(2, 3)
BAD = [
    ("concat-dims", lambda: tf.concat([X, np.zeros((2, 4))], 0), IAE, _op("concat")),
    ("concat-ranks", lambda: tf.concat([X, np.zeros(3)], 0), IAE, "Ranks"),
    ("concat-axis", lambda: tf.concat([X, X], 2), IAE, r"\[-2, 2\)"),
    ("concat-scalars", lambda: tf.concat([1.0, 2.0], 0), IAE, "scalars"),
    ("concat-dtypes", lambda: tf.concat([tf.constant([1]), tf.constant([1.0])], 0), IAE, "dtype"),
    ("concat-empty", lambda: tf.concat([], 0), ValueError, None),
    ("stack-shapes", lambda: tf.stack([tf.zeros([2]), tf.zeros([3])]), IAE, _op("stack")),
    ("stack-axis", lambda: tf.stack([tf.zeros([2]), tf.zeros([2])], axis=2), ValueError, r"not in range \[-2, 2\)"),
    ("unstack-axis", lambda: tf.unstack(X, axis=2), ValueError, r"not in range \[-2, 2\)"),
    ("unstack-num", lambda: tf.unstack(X, num=3), IAE, _op("unstack")),
    ("split-uneven", lambda: tf.split(X, 2, axis=1), IAE, "evenly divide"),
    ("split-zero", lambda: tf.split(X, 0), IAE, "> 0"),
    ("split-sizes", lambda: tf.split(X, [1, 1], axis=1), IAE, _op("split")),
    ("split-two-unknown", lambda: tf.split(X, [-1, -1, 1], axis=1), IAE, "Only one"),
    ("split-rank0-sizes", lambda: tf.split(X, tf.constant(2)), ValueError, "Rank-0"),
    ("split-axis", lambda: tf.split(X, 1, axis=3), IAE, _op("split")),
    ("slice-begin", lambda: tf.slice(X, [3, 0], [1, 1]), IAE, r"begin\[0\]"),
    ("slice-size", lambda: tf.slice(X, [1, 0], [2, 1]), IAE, r"size\[0\]"),
    ("slice-rank", lambda: tf.slice(X, [0], [1]), IAE, _op("slice")),
    ("slice-float-begin", lambda: tf.slice(X, [0.5, 0], [1, 1]), TypeError, _op("slice")),
    ("strided_slice-zero-stride", lambda: tf.strided_slice(X, [0], [1], [0]), IAE, "non-zero"),
    ("strided_slice-shrink-oob", lambda: tf.strided_slice(X, [5], [6], shrink_axis_mask=1), IAE, "out of bounds"),
    ("strided_slice-lengths", lambda: tf.strided_slice(X, [0, 0], [1], [1]), IAE, "equal size"),
    ("strided_slice-ellipses", lambda: tf.strided_slice(X, [0, 0], [0, 0], ellipsis_mask=3), IAE, "Multiple"),
    ("strided_slice-too-many", lambda: tf.strided_slice(X, [0, 0, 0], [1, 1, 1]), IAE, _op("strided_slice")),
    ("reverse-twice", lambda: tf.reverse(X, [0, -2]), IAE, "more than once"),
    ("reverse-axis", lambda: tf.reverse(X, [2]), IAE, _op("reverse")),
    ("roll-sizes", lambda: tf.roll(X, [1, 2], [0]), IAE, _op("roll")),
    ("roll-axis", lambda: tf.roll(X, 1, 2), IAE, _op("roll")),
    ("tile-length", lambda: tf.tile(X, [2]), IAE, "length 2"),
    ("tile-negative", lambda: tf.tile(X, [1, -1]), IAE, _op("tile")),
    ("repeat-count", lambda: tf.repeat(X, [1, 2], axis=1), IAE, _op("repeat")),
    ("repeat-axis", lambda: tf.repeat(X, 2, axis=2), IAE, _op("repeat")),
    ("pad-shape", lambda: tf.pad(X, [[1, 1]]), IAE, _op("pad")),
    ("pad-negative", lambda: tf.pad(X, [[1, -1], [0, 0]]), IAE, "non-negative"),
    ("pad-mode", lambda: tf.pad(X, [[1, 1], [0, 0]], "WRAP"), ValueError, "CONSTANT"),
    ("pad-reflect-too-wide", lambda: tf.pad(X, [[2, 0], [0, 0]], "REFLECT"), IAE, "less than"),
    ("pad-symmetric-too-wide", lambda: tf.pad(X, [[3, 0], [0, 0]], "SYMMETRIC"), IAE, "no greater"),
    ("pad-constant-dtype", lambda: tf.pad(tf.constant([1]), [[1, 1]], constant_values=1.5), TypeError, None),
    ("pad-constant-shape", lambda: tf.pad(X, [[1, 1], [0, 0]], constant_values=[1.0, 2.0]), IAE, "scalar"),
    ("gather-range", lambda: tf.gather(X, [0, 2]), IAE, r"indices\[1\] = 2 is not in \[0, 2\)"),
    ("gather-negative", lambda: tf.gather(X, [-1]), IAE, _op("gather")),
    ("gather-float", lambda: tf.gather(X, [0.0]), TypeError, _op("gather")),
    ("gather-axis", lambda: tf.gather(X, [0], axis=2), IAE, "axis"),
    ("gather-batch-dims", lambda: tf.gather(X, [[0]], axis=0, batch_dims=1), IAE, "batch_dims"),
    ("gather-batch-shape", lambda: tf.gather(X, [[0], [1], [0]], axis=1, batch_dims=1), IAE, _op("gather")),
    ("gather-scalar", lambda: tf.gather(tf.constant(1.0), [0]), IAE, _op("gather")),
    ("gather_nd-range", lambda: tf.gather_nd(X, [[1, 3]]), IAE, "does not index into param shape"),
    ("gather_nd-depth", lambda: tf.gather_nd(X, [[0, 0, 0]]), IAE, _op("gather_nd")),
    ("gather_nd-scalar-indices", lambda: tf.gather_nd(X, 0), IAE, "at least a vector"),
    ("scatter_nd-range", lambda: tf.scatter_nd([[10]], [1.0], [8]), IAE, "does not index into shape"),
    ("scatter_nd-updates", lambda: tf.scatter_nd([[1], [2]], [1.0, 2.0, 3.0], [8]), IAE, _op("scatter_nd")),
    ("tensor_scatter_nd_update-dtype",
     lambda: tf.tensor_scatter_nd_update(tf.constant([1, 2]), [[0]], tf.constant([1.0])), IAE, "dtype"),
    ("tensor_scatter_nd_add-range", lambda: tf.tensor_scatter_nd_add(X, [[2, 0]], [1.0]), IAE,
     _op("tensor_scatter_nd_add")),
    ("tensor_scatter_nd_max-shape", lambda: tf.tensor_scatter_nd_max(X, [[0]], [1.0]), IAE,
     _op("tensor_scatter_nd_max")),
    ("linspace-num", lambda: tf.linspace(0.0, 1.0, -1), IAE, _op("linspace")),
    ("linspace-stop-dtype", lambda: tf.linspace(tf.constant(0.0), tf.constant(1.0, tf.float64), 3), IAE, "dtype"),
    ("meshgrid-indexing", lambda: tf.meshgrid([1], [2], indexing="yx"), ValueError, "'xy' or 'ij'"),
    ("meshgrid-kwarg", lambda: tf.meshgrid([1], sparse=True), TypeError, "invalid keyword"),
    ("meshgrid-dtypes", lambda: tf.meshgrid([1], [2.0]), IAE, _op("meshgrid")),
    ("sequence_mask-maxlen", lambda: tf.sequence_mask([1, 2], [3, 4]), ValueError, "maxlen"),
    ("shape-out-type", lambda: tf.shape(X, out_type=tf.float32), IAE, "out_type"),
    ("unique-rank", lambda: tf.unique(X), IAE, "1D"),
]


@pytest.mark.parametrize("fn,exc,needle", [pytest.param(f, e, n, id=i) for i, f, e, n in BAD])
def test_bad_input_raises(fn, exc, needle):
    with pytest.raises(exc) as info:
        fn()
    if needle is not None:
        assert re.search(needle, str(info.value)), f"message does not match {needle!r}: {info.value}"


def test_invalid_argument_errors_are_value_errors():
    assert issubclass(IAE, ValueError)


def test_float32_forward_tolerances_are_exact_for_data_movement():
    a = _arr((3, 4), np.float32)
    out = tf.gather(tf.concat([a, a], 0), [5, 0])
    assert_close(out, np.concatenate([a, a])[[5, 0]], np.float32, **tolerance(np.float32, "rounded"))


# =====================================================================================================
# device placement: outputs stay on the input's device (an emulated GPU: host memory behind the GPU device)
# =====================================================================================================
_DEVICE_SCRIPT = r'''
import numpy as np
import pyfast_tape as tf

def run(dev):
    with tf.device(dev):
        x = tf.constant(np.arange(12.0).reshape(3, 4))
        with tf.GradientTape() as tape:
            tape.watch(x)
            ys = [tf.concat([x, x], 0), tf.stack([x, x]), tf.gather(x, [0, 2, 2], axis=1), tf.gather_nd(x, [[1, 2]]),
                  tf.pad(x, [[1, 1], [0, 0]]), tf.pad(x, [[1, 1], [1, 1]], "REFLECT"), tf.tile(x, [2, 1]),
                  tf.roll(x, 1, 0), tf.reverse(x, [1]), tf.repeat(x, 2, axis=0), tf.scatter_nd([[0]], x[:1], [3, 4]),
                  tf.tensor_scatter_nd_update(x, [[0]], x[1:2]), tf.tensor_scatter_nd_max(x, [[0]], x[1:2] * 0.5),
                  tf.slice(x, [0, 0], [1, 2]), tf.strided_slice(x, [0], [2]), tf.split(x, 2, 1)[0], tf.unstack(x)[0],
                  tf.linspace(x[0, 0], x[0, 1], 3), tf.where(x > 3), tf.random.shuffle(x)]
            loss = tf.add_n([tf.reduce_sum(y * y) for y in ys if y.dtype == tf.float64])
        g = tape.gradient(loss, x)
    return [y.device for y in ys] + [g.device], g.numpy()

devs, g_gpu = run("/GPU:0")
assert all(d.endswith("GPU:0") for d in devs), devs
_, g_cpu = run("/CPU:0")
np.testing.assert_allclose(g_gpu, g_cpu, rtol=1e-12)
print("OK")
'''


def test_outputs_and_gradients_stay_on_an_emulated_gpu(tmp_path):
    import os
    import subprocess
    import sys
    script = tmp_path / "devices.py"
    script.write_text(_DEVICE_SCRIPT)
    env = dict(os.environ, PYFAST_TAPE_EMULATE_GPU="1", PYFAST_TAPE_POISON_GPU="1")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300,
                          cwd=str(tmp_path))
    assert proc.returncode == 0 and "OK" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-3000:]
