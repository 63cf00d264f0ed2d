"""GradientTape semantics as TensorFlow documents them (the autodiff guides, the GradientTape and
custom_gradient API pages, TF's own backprop tests). Expected values are worked out by hand or with
NumPy, never taken from pyfast_tape."""
from __future__ import annotations

import numpy as np
import pytest

import pyfast_tape as tf
import reference as ref
from conftest import assert_close

NON_PERSISTENT = ("A non-persistent GradientTape can only be used to compute one set of gradients "
                  "(or jacobians)")


def close(t, expected, rtol=1e-6, atol=1e-7):
    """A gradient (not None) against hand-worked values. Explicit tolerances: tighter than conftest.TOL's
    float32 "value" row, looser than its float64 one (hand values are often rounded decimals); a scalar
    `expected` stands for every element."""
    assert t is not None, "expected a gradient, got None"
    shape = np.shape(t.numpy()) if np.ndim(expected) == 0 else None
    assert_close(t, expected, rtol=rtol, atol=atol, shape=shape)


# ---- basics ------------------------------------------------------------------------------------------------
def test_watch_constant_and_gradient_dtype_shape():
    x = tf.constant(3.0)
    with tf.GradientTape() as g:
        g.watch(x)
        y = x * x
    dy_dx = g.gradient(y, x)
    assert dy_dx.dtype == tf.float32 and tuple(dy_dx.shape) == ()
    close(dy_dx, 6.0)


def test_unwatched_constant_gives_none():
    x = tf.constant(3.0)
    with tf.GradientTape() as g:
        y = x * x
    assert g.gradient(y, x) is None


def test_trainable_variable_is_watched_automatically():
    w = tf.Variable([[1.0, 2.0], [3.0, 4.0]])
    x = tf.constant([[1.0], [-1.0]])
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.matmul(w, x) ** 2)
    g = tape.gradient(y, w)
    wx = np.array([[1.0, 2.0], [3.0, 4.0]]) @ np.array([[1.0], [-1.0]])
    close(g, 2 * wx @ np.array([[1.0, -1.0]]))
    assert g.dtype == w.dtype and tuple(g.shape) == (2, 2)


def test_persistent_tape_allows_several_gradients():
    x = tf.constant(3.0)
    with tf.GradientTape(persistent=True) as g:
        g.watch(x)
        y = x * x
        z = y * y
    close(g.gradient(z, x), 108.0)  # 4 x^3
    close(g.gradient(y, x), 6.0)
    close(g.gradient(z, x), 108.0)
    close(g.gradient([y, z], x), 114.0)
    del g


@pytest.mark.parametrize("second", ["gradient", "jacobian"])
@pytest.mark.parametrize("first", ["gradient", "jacobian"])
def test_non_persistent_tape_used_twice_raises(first, second):
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as g:
        g.watch(x)
        y = x * x
    getattr(g, first)(y, x)
    with pytest.raises(RuntimeError) as e:
        getattr(g, second)(y, x)
    assert str(e.value) == NON_PERSISTENT


def test_non_persistent_batch_jacobian_then_gradient_raises():
    x = tf.constant([[1.0, 2.0]])
    with tf.GradientTape() as g:
        g.watch(x)
        y = x * x
    g.batch_jacobian(y, x)
    with pytest.raises(RuntimeError, match="non-persistent GradientTape"):
        g.gradient(y, x)


def test_gradient_inside_context_of_non_persistent_tape():
    # TF stops recording a non-persistent tape when gradient() is called in its context
    x = tf.constant(2.0)
    with tf.GradientTape() as g:
        g.watch(x)
        y = x * x
        dy = g.gradient(y, x)
        z = dy * x
    close(dy, 4.0)
    with pytest.raises(RuntimeError, match="non-persistent"):
        g.gradient(z, x)


# ---- targets -----------------------------------------------------------------------------------------------
def test_non_scalar_target_is_summed():
    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = x * [3.0, 4.0]
    close(tape.gradient(y, x), 7.0)
    xs = tf.constant([1.0, -2.0, 0.5])
    with tf.GradientTape() as tape:
        tape.watch(xs)
        y = xs * xs  # vector target: gradient of sum
    close(tape.gradient(y, xs), [2.0, -4.0, 1.0])


def test_multiple_targets_are_summed_list_and_dict():
    x = tf.Variable(2.0)
    with tf.GradientTape(persistent=True) as tape:
        y0 = x ** 2
        y1 = 1 / x
    close(tape.gradient(y0, x), 4.0)
    close(tape.gradient(y1, x), -0.25)
    close(tape.gradient([y0, y1], x), 3.75)
    close(tape.gradient({"y0": y0, "y1": y1}, x), 3.75)
    close(tape.gradient((y0, [y1, y0]), x), 7.75)


def test_output_gradients_weight_the_target():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4))
    w = rng.standard_normal((3, 4))
    x = tf.constant(a)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = tf.tanh(x)
        z = tf.reduce_sum(x, axis=1)
    close(tape.gradient(y, x, output_gradients=tf.constant(w)), ref.tanh_grad(a, w), rtol=1e-12)
    close(tape.gradient(y, x, output_gradients=w), ref.tanh_grad(a, w), rtol=1e-12)  # a NumPy array works too
    og = np.array([1.0, -2.0, 3.0])
    close(tape.gradient([y, z], x, output_gradients=[tf.constant(w), tf.constant(og)]),
          ref.tanh_grad(a, w) + og[:, None], rtol=1e-12)


def test_gradient_of_variable_target_with_respect_to_itself_is_ones():
    # TF reads a Variable target inside the tape, so d v / d v = ones
    v = tf.Variable([1.0, 2.0, 3.0])
    with tf.GradientTape() as tape:
        pass
    close(tape.gradient(v, v), [1.0, 1.0, 1.0])


# ---- sources -----------------------------------------------------------------------------------------------
def test_nested_source_structures_are_mirrored():
    a, b, c = tf.Variable(1.0), tf.Variable(2.0), tf.Variable(3.0)
    with tf.GradientTape(persistent=True) as tape:
        y = a * b * c
    g = tape.gradient(y, [a, b, c])
    assert isinstance(g, list) and len(g) == 3
    for t, e in zip(g, [6.0, 3.0, 2.0]):
        close(t, e)
    g = tape.gradient(y, (a, b))
    assert isinstance(g, tuple) and len(g) == 2
    close(g[0], 6.0)
    close(g[1], 3.0)
    g = tape.gradient(y, {"zeta": a, "alpha": b})
    assert isinstance(g, dict) and set(g) == {"zeta", "alpha"}
    close(g["zeta"], 6.0)
    close(g["alpha"], 3.0)
    g = tape.gradient(y, {"w": [a, (b, {"k": c})], "v": a})
    close(g["w"][0], 6.0)
    close(g["w"][1][0], 3.0)
    close(g["w"][1][1]["k"], 2.0)
    close(g["v"], 6.0)
    assert isinstance(g["w"], list) and isinstance(g["w"][1], tuple)
    g = tape.gradient(y, c)
    close(g, 2.0)
    g = tape.gradient(y, [])
    assert g == []


def test_same_source_twice():
    x = tf.Variable(3.0)
    with tf.GradientTape() as tape:
        y = x * x
    g = tape.gradient(y, [x, x])
    close(g[0], 6.0)
    close(g[1], 6.0)


def test_watch_nested_structure_of_tensors():
    a, b = tf.constant(1.0), tf.constant([2.0, 3.0])
    with tf.GradientTape() as tape:
        tape.watch({"a": a, "rest": [b]})
        y = a * tf.reduce_sum(b * b)
    ga, gb = tape.gradient(y, [a, b])
    close(ga, 13.0)
    close(gb, [4.0, 6.0])


def test_watch_rejects_non_tensors():
    with tf.GradientTape() as tape:
        with pytest.raises(ValueError):
            tape.watch("not a tensor")


# ---- paths without gradients -------------------------------------------------------------------------------
def test_autodiff_guide_none_cases():
    x0 = tf.Variable(3.0, name="x0")
    x1 = tf.Variable(3.0, name="x1", trainable=False)  # not trainable: not watched
    x2 = tf.Variable(2.0, name="x2") + 1.0             # a Tensor, not a Variable
    x3 = tf.constant(3.0, name="x3")                   # not watched
    with tf.GradientTape() as tape:
        y = (x0 ** 2) + (x1 ** 2) + (x2 ** 2)
    grad = tape.gradient(y, [x0, x1, x2, x3])
    close(grad[0], 6.0)
    assert grad[1] is None and grad[2] is None and grad[3] is None
    assert [v.name for v in tape.watched_variables()] == ["x0:0"]


def test_integer_path_gives_none():
    x = tf.constant([1.5, 2.5])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.cast(tf.cast(x, tf.int32), tf.float32) * x  # only the direct factor carries a gradient
        z = tf.cast(tf.cast(x, tf.int32), tf.float32)
    g = tape.gradient([y, z], x)
    close(g, [1.0, 2.0])  # d/dx (floor(x) * x) = floor(x)


def test_integer_source_gives_none():
    x = tf.constant(10)
    with tf.GradientTape() as g:
        g.watch(x)  # TF logs a warning and returns None
        y = x * x
    assert g.gradient(y, x) is None


def test_argmax_path_gives_none():
    x = tf.constant([1.0, 3.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.cast(tf.argmax(x), tf.float32)
    assert tape.gradient(y, x) is None


def test_numpy_round_trip_cuts_the_path():
    x = tf.Variable([[1.0, 2.0], [3.0, 4.0]], dtype=tf.float32)
    with tf.GradientTape() as tape:
        x2 = x ** 2
        y = np.mean(x2, axis=0)
        y = tf.reduce_mean(y, axis=0)
    assert tape.gradient(y, x) is None


def test_variable_replaced_by_tensor_gives_none():
    x = tf.Variable(2.0)
    results = []
    for _ in range(2):
        with tf.GradientTape() as tape:
            y = x + 1
        results.append(tape.gradient(y, x))
        x = x + 1  # should be x.assign_add(1): x is now a Tensor
    close(results[0], 1.0)
    assert results[1] is None


def test_assign_inside_tape_is_not_differentiable():
    x0 = tf.Variable(3.0)
    x1 = tf.Variable(0.0)
    with tf.GradientTape(persistent=True) as tape:
        x1.assign_add(x0)
        y = x1 ** 2
    assert tape.gradient(y, x0) is None
    close(tape.gradient(y, x1), 6.0)


def test_unconnected_none_and_zero():
    x = tf.Variable([2.0, 2.0])
    y = tf.Variable(3.0)
    with tf.GradientTape(persistent=True) as tape:
        z = y ** 2
    assert tape.gradient(z, x) is None
    g = tape.gradient(z, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    assert g.dtype == tf.float32 and tuple(g.shape) == (2,)
    np.testing.assert_array_equal(g.numpy(), [0.0, 0.0])
    g = tape.gradient(z, [x, y], unconnected_gradients="zero")
    np.testing.assert_array_equal(g[0].numpy(), [0.0, 0.0])
    close(g[1], 6.0)
    assert tape.gradient(z, [x, y], unconnected_gradients="none")[0] is None
    with pytest.raises(ValueError):
        tape.gradient(z, x, unconnected_gradients="sometimes")


def test_zero_for_float64_source_keeps_dtype():
    x = tf.constant(np.ones((2, 3)))
    y = tf.constant(1.0, dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch([x, y])
        z = y * 2.0
    g = tape.gradient(z, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    assert g.dtype == tf.float64 and tuple(g.shape) == (2, 3)
    assert not np.any(g.numpy())


# ---- controlling what is recorded -------------------------------------------------------------------------
def test_stop_recording():
    x = tf.Variable(2.0)
    y = tf.Variable(3.0)
    with tf.GradientTape() as t:
        x_sq = x * x
        with t.stop_recording():
            y_sq = y * y
        z = x_sq + y_sq
    grad = t.gradient(z, {"x": x, "y": y})
    close(grad["x"], 4.0)
    assert grad["y"] is None


def test_stop_recording_guide_example_and_resumes_after():
    x = tf.constant(4.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        with tape.stop_recording():
            y = x ** 2
        z = x ** 3  # recorded again
    assert tape.gradient(y, x) is None
    close(tape.gradient(z, x), 48.0)


def test_stop_recording_restores_recording_after_exception():
    x = tf.constant(2.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        with pytest.raises(KeyError):
            with tape.stop_recording():
                raise KeyError("boom")
        y = x * x
    close(tape.gradient(y, x), 4.0)


def test_stop_recording_only_stops_that_tape():
    x = tf.constant(3.0)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            with inner.stop_recording():
                y = x * x
        assert inner.gradient(y, x) is None
    close(outer.gradient(y, x), 6.0)


def test_stop_recording_outside_context_raises_runtime_error():
    tape = tf.GradientTape()
    with pytest.raises(RuntimeError):
        with tape.stop_recording():
            pass


def test_reset():
    x = tf.Variable(2.0)
    y = tf.Variable(3.0)
    with tf.GradientTape() as t:
        y_sq = y * y
        t.reset()  # throw out everything recorded so far
        z = x * x + y_sq
    grad = t.gradient(z, {"x": x, "y": y})
    close(grad["x"], 4.0)
    assert grad["y"] is None


def test_reset_forgets_watched_tensors():
    a = tf.constant(2.0)
    with tf.GradientTape() as t:
        t.watch(a)
        t.reset()
        y = a * a
    assert t.gradient(y, a) is None


def test_reset_makes_a_used_persistent_tape_fresh():
    x = tf.Variable(2.0)
    with tf.GradientTape(persistent=True) as t:
        y = x * x
        close(t.gradient(y, x), 4.0)
        t.reset()
        z = x * x * x
    close(t.gradient(z, x), 12.0)
    assert t.gradient(y, x) is None


def test_watch_accessed_variables_false_with_explicit_watch():
    x0 = tf.Variable(0.0)
    x1 = tf.Variable(10.0)
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(x1)
        y0 = tf.tanh(x0)
        y1 = tf.sigmoid(x1)
        y = y0 + y1
        ys = tf.reduce_sum(y)
    grad = tape.gradient(ys, {"x0": x0, "x1": x1})
    assert grad["x0"] is None
    s = 1.0 / (1.0 + np.exp(-10.0))
    close(grad["x1"], s * (1 - s), rtol=1e-5)
    assert list(tape.watched_variables()) == [x1]


def test_watch_accessed_variables_false_persistent():
    x = tf.Variable(2.0)
    w = tf.Variable(5.0)
    with tf.GradientTape(watch_accessed_variables=False, persistent=True) as tape:
        tape.watch(x)
        y = x ** 2
        z = w ** 3
    close(tape.gradient(y, x), 4.0)
    assert tape.gradient(z, w) is None


def test_non_trainable_variable_can_be_watched_explicitly():
    v = tf.Variable(3.0, trainable=False)
    assert v.trainable is False
    with tf.GradientTape() as tape:
        y = v * v
    assert tape.gradient(y, v) is None
    with tf.GradientTape() as tape:
        tape.watch(v)
        y = v * v
    close(tape.gradient(y, v), 6.0)


def test_watched_variables():
    a = tf.Variable(1.0, name="a")
    b = tf.Variable(2.0, name="b")
    c = tf.Variable(3.0, name="c", trainable=False)
    d = tf.Variable(4.0, name="d")
    with tf.GradientTape() as tape:
        y = a * c + a + d
    names = [v.name for v in tape.watched_variables()]
    assert sorted(names) == ["a:0", "d:0"]
    assert isinstance(tape.watched_variables(), tuple)
    assert all(isinstance(v, tf.Variable) for v in tape.watched_variables())
    tape.gradient(y, [a, b])
    assert sorted(v.name for v in tape.watched_variables()) == ["a:0", "d:0"]  # still known after gradient()
    assert b.name == "b:0"


def test_watched_variables_in_order_of_construction():
    a = tf.Variable(1.0, name="a")
    b = tf.Variable(2.0, name="b")
    with tf.GradientTape() as tape:
        y = b * b + a
    assert [v.name for v in tape.watched_variables()] == ["a:0", "b:0"]


# ---- nested tapes ----------------------------------------------------------------------------------------
def test_nested_second_order_doc_example():
    x = tf.constant(5.0)
    with tf.GradientTape() as g:
        g.watch(x)
        with tf.GradientTape() as gg:
            gg.watch(x)
            y = x * x
        dy_dx = gg.gradient(y, x)
    d2y_dx2 = g.gradient(dy_dx, x)
    close(dy_dx, 10.0)
    close(d2y_dx2, 2.0)


def test_nested_tapes_with_variables():
    x = tf.Variable(1.0)
    with tf.GradientTape() as t2:
        with tf.GradientTape() as t1:
            y = x * x * x
        dy_dx = t1.gradient(y, x)
    d2y_dx2 = t2.gradient(dy_dx, x)
    close(dy_dx, 3.0)
    close(d2y_dx2, 6.0)


def test_persistent_tape_records_its_own_gradient_inside_context():
    x = tf.constant(2.0)
    with tf.GradientTape(persistent=True) as t:
        t.watch(x)
        y = x ** 3
        g = t.gradient(y, x)
    close(g, 12.0)
    close(t.gradient(g, x), 12.0)  # 6 x


def test_gradient_with_respect_to_intermediate_tensor():
    x = tf.constant(2.0)
    with tf.GradientTape(persistent=True) as t:
        t.watch(x)
        h = x * 2.0
        y = h * h + x
    gh, gx = t.gradient(y, [h, x])
    close(gh, 8.0)    # 2 h
    close(gx, 17.0)   # 8 x + 1


def test_output_gradients_may_contain_none():
    x = tf.constant(2.0)
    with tf.GradientTape() as t:
        t.watch(x)
        a = x * 3.0
        b = x * x
    close(t.gradient([a, b], x, output_gradients=[None, tf.constant(2.0)]), 3.0 + 2.0 * 4.0)


def test_inner_tape_does_not_see_outer_only_ops():
    x = tf.constant(2.0)
    with tf.GradientTape() as outer:
        outer.watch(x)
        y = x * x  # before the inner tape exists
        with tf.GradientTape() as inner:
            inner.watch(x)
            z = y * x
        assert inner.gradient(z, x).numpy() == pytest.approx(4.0)  # y is a constant to the inner tape
    close(outer.gradient(z, x), 12.0)  # 3 x^2


def test_persistent_outer_tape_hessian_of_quadratic():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((3, 3))
    x0 = rng.standard_normal((3, 1))
    x = tf.constant(x0)
    At = tf.constant(A)
    with tf.GradientTape(persistent=True) as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            f = tf.reduce_sum(tf.matmul(tf.transpose(x), tf.matmul(At, x)))  # x^T A x
        g = inner.gradient(f, x)
    close(g, (A + A.T) @ x0, rtol=1e-12)
    h = outer.jacobian(g, x)
    assert tuple(h.shape) == (3, 1, 3, 1)
    close(tf.reshape(h, [3, 3]), A + A.T, rtol=1e-12)
    close(outer.gradient(g, x), (A + A.T).sum(axis=0)[:, None], rtol=1e-12)  # persistent: usable again


# ---- jacobian and batch_jacobian --------------------------------------------------------------------------
def test_jacobian_doc_example():
    with tf.GradientTape() as g:
        x = tf.constant([1.0, 2.0])
        g.watch(x)
        y = x * x
    close(g.jacobian(y, x), [[2.0, 0.0], [0.0, 4.0]])


def test_jacobian_several_sources():
    with tf.GradientTape() as g:
        x = tf.constant([1.0, 2.0])
        y = tf.constant([3.0, 4.0])
        g.watch(x)
        g.watch(y)
        z = x * x * y
    jx, jy = g.jacobian(z, [x, y])
    close(jx, np.diag([6.0, 16.0]))
    close(jy, np.diag([1.0, 4.0]))


def test_jacobian_shapes_against_central_differences():
    rng = np.random.default_rng(2)
    xv, wv, bv = rng.standard_normal((2, 4)), rng.standard_normal((4, 3)), rng.standard_normal((3,))
    x = tf.constant(xv)
    w = tf.Variable(wv)
    b = tf.Variable(bv)
    with tf.GradientTape(persistent=True) as tape:
        y = tf.nn.softmax(tf.matmul(x, w) + b)
    jw, jb = tape.jacobian(y, [w, b])
    assert tuple(jw.shape) == (2, 3, 4, 3) and tuple(jb.shape) == (2, 3, 3)
    assert jw.dtype == tf.float64

    def f(wa, ba):
        return ref.softmax(xv @ wa + ba)

    for i in range(2):
        for j in range(3):
            e = np.zeros((2, 3))
            e[i, j] = 1.0
            nw, nb = ref.central_difference(f, [wv, bv], e)
            np.testing.assert_allclose(jw.numpy()[i, j], nw, rtol=1e-6, atol=1e-8)
            np.testing.assert_allclose(jb.numpy()[i, j], nb, rtol=1e-6, atol=1e-8)
    # the same tape can produce the jacobian twice (persistent) and gradients agree with jacobian sums
    close(tape.gradient(y, b), jb.numpy().sum(axis=(0, 1)), rtol=1e-10, atol=1e-12)


def test_jacobian_of_scalar_and_unconnected():
    x = tf.constant([1.0, 2.0, 3.0])
    u = tf.constant([[1.0, 2.0]])
    with tf.GradientTape(persistent=True) as g:
        g.watch([x, u])
        s = tf.reduce_sum(x * x)
    close(g.jacobian(s, x), [2.0, 4.0, 6.0])
    assert g.jacobian(s, u) is None
    z = g.jacobian(s, u, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    assert tuple(z.shape) == (1, 2) and not np.any(z.numpy())
    with tf.GradientTape() as g2:
        g2.watch([x, u])
        v = x * 2.0
    z = g2.jacobian(v, u, unconnected_gradients="zero")
    assert tuple(z.shape) == (3, 1, 2) and z.dtype == tf.float32 and not np.any(z.numpy())


def test_batch_jacobian_doc_example():
    with tf.GradientTape() as g:
        x = tf.constant([[1.0, 2.0], [3.0, 4.0]], dtype=tf.float32)
        g.watch(x)
        y = x * x
    close(g.batch_jacobian(y, x), [[[2, 0], [0, 4]], [[6, 0], [0, 8]]])


def test_batch_jacobian_matches_per_example_jacobian():
    rng = np.random.default_rng(3)
    xv, wv = rng.standard_normal((5, 3)), rng.standard_normal((3, 4))
    x = tf.constant(xv)
    w = tf.constant(wv)
    with tf.GradientTape() as g:
        g.watch(x)
        y = tf.tanh(tf.matmul(x, w))
    bj = g.batch_jacobian(y, x)
    assert tuple(bj.shape) == (5, 4, 3)
    t = np.tanh(xv @ wv)
    expected = (1 - t * t)[:, :, None] * wv.T[None, :, :]  # d y[b,j] / d x[b,i] = (1 - t^2)[b,j] w[i,j]
    close(bj, expected, rtol=1e-12)


def test_batch_jacobian_bad_first_dimension():
    x = tf.constant(np.ones((2, 3), np.float32))
    with tf.GradientTape() as g:
        g.watch(x)
        y = tf.reshape(tf.broadcast_to(x, [2, 2, 3]), [4, 3])
    with pytest.raises(ValueError):
        g.batch_jacobian(y, x)


def test_batch_jacobian_needs_rank_2():
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as g:
        g.watch(x)
        y = x * x
    with pytest.raises(ValueError, match="rank at least 2"):
        g.batch_jacobian(y, x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_jacobian_unconnected_is_zeros_by_default(dtype):
    with tf.GradientTape(persistent=True) as tape:
        x = tf.constant(np.array([[2.0]], dtype))
        tape.watch(x)
        y = tf.constant(np.array([[1.0]], dtype))
    jac = tape.batch_jacobian(y, x)
    assert jac is not None and jac.dtype == tf.as_dtype(dtype)
    np.testing.assert_array_equal(jac.numpy(), [[[0.0]]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_jacobian_unconnected_zero(dtype):
    with tf.GradientTape(persistent=True) as tape:
        x = tf.constant(np.array([[2.0]], dtype))
        tape.watch(x)
        y = tf.constant(np.array([[1.0]], dtype))
    jac = tape.batch_jacobian(y, x, unconnected_gradients="zero")
    assert jac.dtype == tf.as_dtype(dtype)
    np.testing.assert_array_equal(jac.numpy(), [[[0.0]]])


# ---- custom_gradient and stop_gradient -------------------------------------------------------------------
@tf.custom_gradient
def log1pexp(x):
    e = tf.exp(x)

    def grad(upstream):
        return upstream * (1 - 1 / (1 + e))
    return tf.math.log(1 + e), grad


def test_custom_gradient_doc_example_is_stable():
    x = tf.constant(100.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = log1pexp(x)
    close(tape.gradient(y, x), 1.0)
    x = tf.constant(0.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = log1pexp(x)
    close(y, np.log(2.0))
    close(tape.gradient(y, x), 0.5)


def test_custom_gradient_replaces_the_gradient():
    @tf.custom_gradient
    def clip_gradients(y):
        def backward(dy):
            return dy * 0.5
        return tf.identity(y), backward

    x = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        z = tf.reduce_sum(clip_gradients(x * x) * 3.0)
    close(tape.gradient(z, x), [3.0, 6.0])  # 3 * 0.5 * 2x


def test_custom_gradient_two_inputs_and_upstream():
    @tf.custom_gradient
    def mul(a, b):
        def grad(dy):
            return dy * b * 10.0, dy * a * 100.0  # deliberately not the true gradient
        return a * b, grad

    a, b = tf.constant([1.0, 2.0]), tf.constant([3.0, 4.0])
    with tf.GradientTape() as tape:
        tape.watch([a, b])
        y = mul(a, b) * tf.constant([1.0, -1.0])
    ga, gb = tape.gradient(y, [a, b])
    close(ga, [30.0, -40.0])
    close(gb, [100.0, -200.0])


def test_custom_gradient_may_return_none_for_an_input():
    @tf.custom_gradient
    def f(a, b):
        def grad(dy):
            return dy * 2.0, None
        return a * 2.0 + b, grad

    a, b = tf.constant(1.0), tf.constant(1.0)
    with tf.GradientTape() as tape:
        tape.watch([a, b])
        y = f(a, b)
    ga, gb = tape.gradient(y, [a, b])
    close(ga, 2.0)
    assert gb is None


def test_custom_gradient_with_variables():
    w1 = tf.Variable(1.0)
    w0 = tf.Variable(1.0)
    seen = {}

    @tf.custom_gradient
    def linear_poly(x):
        poly = w1 * x + w0

        def grad_fn(dpoly, variables):
            seen["variables"] = variables
            grad_xs = dpoly * w1
            by_var = {id(w1): tf.reduce_sum(dpoly * x), id(w0): tf.reduce_sum(dpoly)}
            return grad_xs, [by_var[id(v)] for v in variables]  # one gradient per variable, in their order
        return poly, grad_fn

    x = tf.constant([1.0, 2.0, 3.0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        poly = linear_poly(x)
    close(poly, [2.0, 3.0, 4.0])
    close(tape.gradient(poly, x), [1.0, 1.0, 1.0])
    gw1, gw0 = tape.gradient(poly, [w1, w0])
    close(gw1, 6.0)
    close(gw0, 3.0)
    assert len(seen["variables"]) == 2
    assert {id(v) for v in seen["variables"]} == {id(w1), id(w0)}


def test_custom_gradient_with_variables_requires_variables_kwarg():
    w = tf.Variable(2.0)

    @tf.custom_gradient
    def f(x):
        def grad_fn(dy):
            return dy * w
        return x * w, grad_fn

    x = tf.constant(1.0)
    with pytest.raises(TypeError, match="variables"):
        with tf.GradientTape() as tape:
            tape.watch(x)
            f(x)


def test_custom_gradient_with_variable_as_argument():
    @tf.custom_gradient
    def f(z):
        def grad(dy):
            return dy * 10.0
        return z * 1.0, grad

    w = tf.Variable(3.0)
    with tf.GradientTape() as tape:
        y = f(w)
    close(y, 3.0)
    close(tape.gradient(y, w), 10.0)


def test_custom_gradient_second_order_through_grad_fn():
    @tf.custom_gradient
    def cube(x):
        def grad(dy):
            return dy * 3.0 * x * x  # recorded by an outer tape
        return x * x * x, grad

    x = tf.constant(2.0)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = cube(x)
        g = inner.gradient(y, x)
    close(g, 12.0)
    close(outer.gradient(g, x), 12.0)  # 6 x


def test_stop_gradient():
    x = tf.Variable(2.0)
    y = tf.Variable(3.0)
    with tf.GradientTape() as t:
        y_sq = y ** 2
        z = x ** 2 + tf.stop_gradient(y_sq)
    grad = t.gradient(z, {"x": x, "y": y})
    close(grad["x"], 4.0)
    assert grad["y"] is None


def test_stop_gradient_blocks_one_path_only():
    x = tf.constant(3.0)
    with tf.GradientTape() as t:
        t.watch(x)
        y = x * tf.stop_gradient(x)  # d/dx = stop(x) = 3
    close(t.gradient(y, x), 3.0)
    close(tf.stop_gradient(tf.constant([1.0, 2.0])), [1.0, 2.0])


# ---- Variables -------------------------------------------------------------------------------------------
def test_variable_read_is_a_snapshot():
    v = tf.Variable([1.0, 2.0])
    c = tf.constant([5.0, 7.0])
    with tf.GradientTape() as tape:
        tape.watch(c)
        y = tf.reduce_sum(v * v) + tf.reduce_sum(v * c)
    v.assign_sub([1.0, 1.0])  # after the forward pass: backward must see the old value
    gv, gc = tape.gradient(y, [v, c])
    close(gv, [2.0 + 5.0, 4.0 + 7.0])
    close(gc, [1.0, 2.0])
    close(v, [0.0, 1.0])


def test_variable_assign_between_reads_inside_tape():
    v = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        a = v * v         # reads 2
        v.assign(5.0)
        b = v * 1.0       # reads 5
        y = a + b * a     # a + b a
    # dy/dv = d(a)/dv (1 + b) + b's read contributes a  =  4 * 6 + 4
    close(tape.gradient(y, v), 4.0 * 6.0 + 4.0)


@pytest.mark.parametrize("op", ["assign", "assign_add", "assign_sub"])
def test_assignments_after_forward_do_not_change_backward(op):
    w = tf.Variable(np.array([[0.5, -1.0], [2.0, 0.25]]))
    x = tf.constant(np.array([[1.0, 2.0], [3.0, 4.0]]))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(tf.matmul(x, w)))
    getattr(w, op)(np.full((2, 2), 10.0))
    w0 = np.array([[0.5, -1.0], [2.0, 0.25]])
    xv = np.array([[1.0, 2.0], [3.0, 4.0]])
    close(tape.gradient(loss, w), xv.T @ (2 * xv @ w0), rtol=1e-12)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_in_place_optimizer_update_does_not_change_recorded_reads(momentum):
    v = tf.Variable([1.0, 2.0])
    kept = tf.identity(v)
    as_numpy = v.numpy()
    opt = tf.keras.optimizers.SGD(learning_rate=1.0, momentum=momentum)
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(v * v)
    opt.apply_gradients([(tf.constant([10.0, 10.0]), v)])  # updates v in place
    close(v, [-9.0, -8.0])
    close(tape.gradient(y, v), [2.0, 4.0])
    close(kept, [1.0, 2.0])
    np.testing.assert_array_equal(as_numpy, [1.0, 2.0])


def test_variable_properties():
    v = tf.Variable([[1.0, 2.0]], name="weights")
    assert v.name == "weights:0"
    assert v.dtype == tf.float32
    assert tuple(v.shape) == (1, 2)
    assert v.trainable
    np.testing.assert_array_equal(v.numpy(), [[1.0, 2.0]])
    v.assign_add([[1.0, 1.0]])
    v.assign_sub([[0.5, 0.5]])
    np.testing.assert_array_equal(v.numpy(), [[1.5, 2.5]])
    v.assign([[0.0, -1.0]])
    np.testing.assert_array_equal(v.numpy(), [[0.0, -1.0]])
    d = tf.Variable(np.zeros(3))
    assert d.dtype == tf.float64


# ---- construction (the native base class parses the arguments) ------------------------------------------
@pytest.mark.parametrize("args, kwargs, persistent, watch", [
    ((), {}, False, True),
    ((True,), {}, True, True),
    ((True, False), {}, True, False),
    ((), {"persistent": 1, "watch_accessed_variables": 0}, True, False),
    ((), {"watch_accessed_variables": False}, False, False),
])
def test_constructor_arguments(args, kwargs, persistent, watch):
    v = tf.Variable(2.0)
    tape = tf.GradientTape(*args, **kwargs)
    assert isinstance(tape, tf.GradientTape) and not tape._active
    with tape as entered:
        assert entered is tape and tape._active
        y = v * v
    assert not tape._active
    g = tape.gradient(y, v)
    assert (g is not None) == watch
    if watch:
        close(g, 4.0)
    if persistent:
        assert (tape.gradient(y, v) is not None) == watch
    else:
        with pytest.raises(RuntimeError, match="non-persistent GradientTape"):
            tape.gradient(y, v)


@pytest.mark.parametrize("args, kwargs, match", [
    ((), {"persistant": True}, "persistant"),
    ((True, True, True), {}, "at most 2"),
    ((), {"persistent": object.__new__(type("Bad", (), {"__bool__": lambda s: 1 / 0}))}, "division"),
])
def test_constructor_rejects_bad_arguments(args, kwargs, match):
    with pytest.raises((TypeError, ZeroDivisionError), match=match):
        tf.GradientTape(*args, **kwargs)


def test_gradient_tape_can_be_subclassed():
    class Counting(tf.GradientTape):
        def __init__(self, label):
            super().__init__(persistent=True)
            self.label = label
            self.entered = 0

        def __enter__(self):
            self.entered += 1
            return super().__enter__()

    x = tf.constant(3.0)
    with Counting("mine") as tape:
        tape.watch(x)
        y = x * x
    assert tape.label == "mine" and tape.entered == 1 and tape._persistent
    close(tape.gradient(y, x), 6.0)
    close(tape.gradient(y, x), 6.0)
    assert not tf._core.tapes_active()


def test_tape_dropped_inside_its_with_block_leaves_no_active_tape():
    x = tf.constant(1.0)
    tape = tf.GradientTape()
    tape.__enter__()
    tape.watch(x)
    _ = x * x
    assert tf._core.tapes_active() == 1
    del tape  # never exited: the native destructor takes it off the stack
    assert tf._core.tapes_active() == 0
    _ = x * x  # no dangling tape to record on


# ---- gradient(): the native fast path and the general Python path agree ------------------------------------
def _forms():
    v = tf.Variable([1.0, -2.0])
    w = tf.Variable(3.0)
    c = tf.constant([0.5, 4.0])
    return v, w, c


# y = sum(v*v*w + c*v): dy/dv = 2 v w + c, dy/dw = sum(v*v), dy/dc = v (c watched).
_GV, _GW, _GC = np.array([6.5, -8.0]), 5.0, np.array([1.0, -2.0])


@pytest.mark.parametrize("form,expected", [
    ("single_var", _GV), ("single_tensor", _GC), ("flat_list", [_GV, _GW, _GC]),
    ("list_with_unwatched", [_GV, None]), ("empty_list", []), ("target_is_variable", [1.0, None]),
    ("tuple", (_GV, _GW)), ("nested_list", [_GV, [_GW, _GC]]), ("dict", {"a": _GV, "b": [_GW]}),
    ("kw_sources", [_GV]), ("output_gradients", [2 * _GV]), ("zero", [_GV, 0.0]),
    ("numpy_source", (TypeError, "GradientTape.gradient: sources must be Tensors or Variables")),
])
def test_gradient_every_form_of_the_call(form, expected):
    """Each form of the arguments through the one gradient(): the result mirrors the sources' structure."""
    v, w, c = _forms()
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(c)
        y = tf.reduce_sum(v * v * w + c * v)
    args, kwargs = {
        "single_var": ((y, v), {}),
        "single_tensor": ((y, c), {}),
        "flat_list": ((y, [v, w, c]), {}),
        "list_with_unwatched": ((y, [v, tf.constant(1.0)]), {}),
        "empty_list": ((y, []), {}),
        "target_is_variable": ((w, [w, v]), {}),
        "tuple": ((y, (v, w)), {}),
        "nested_list": ((y, [v, [w, c]]), {}),
        "dict": ((y, {"a": v, "b": [w]}), {}),
        "kw_sources": ((y,), {"sources": [v]}),
        "output_gradients": ((y, [v]), {"output_gradients": tf.constant(2.0)}),
        "zero": ((y, [v, tf.constant(1.0)]), {"unconnected_gradients": "zero"}),
        "numpy_source": ((y, np.ones(2)), {}),
    }[form]
    if isinstance(expected, tuple) and isinstance(expected[0], type):
        with pytest.raises(expected[0], match=expected[1]):
            tape.gradient(*args, **kwargs)
        return
    got = tape.gradient(*args, **kwargs)
    assert type(got) is type(expected) or (isinstance(expected, np.ndarray) and isinstance(got, tf.Tensor))
    if isinstance(expected, dict):
        assert sorted(got) == sorted(expected)
    for g, e in zip(tf._nest.flatten(got), tf._nest.flatten(expected)):
        if e is None:
            assert g is None
        else:
            np.testing.assert_allclose(np.asarray(g), e, rtol=1e-6)


def test_gradient_fast_path_marks_a_tape_used_and_stops_its_recording():
    v = tf.Variable(2.0)
    tape = tf.GradientTape()
    with tape:
        y = v * v
        close(tape.gradient(y, v), 4.0)  # inside the block: TF stops recording a non-persistent tape
        n = tape._num_entries
        z = y * v
    assert n == 1 and tape._num_entries == 1
    with pytest.raises(RuntimeError, match="non-persistent GradientTape"):
        tape.gradient(z, v)
    assert "gradient(" in (tf.GradientTape.gradient.__doc__ or "") or tf.GradientTape.gradient.__text_signature__


# ---- exception safety ------------------------------------------------------------------------------------
def test_exception_inside_with_leaves_no_active_tape():
    x = tf.constant(2.0)
    tape = tf.GradientTape(persistent=True)
    with pytest.raises(ZeroDivisionError):
        with tape:
            tape.watch(x)
            y = x * x
            1 / 0
    assert not tf._core.tapes_active()
    z = y * x  # after the exception: not recorded
    assert tape.gradient(z, x) is None
    close(tape.gradient(y, x), 4.0)
    with tape:  # the tape can be entered again and records again
        w = y * x
    close(tape.gradient(w, x), 12.0)


def test_exception_inside_with_keeps_what_was_recorded():
    x = tf.constant(2.0)
    tape = tf.GradientTape()
    with pytest.raises(ValueError):
        with tape:
            tape.watch(x)
            y = x * x
            raise ValueError("boom")
    close(tape.gradient(y, x), 4.0)


def test_exception_in_inner_tape_keeps_outer_recording():
    x = tf.constant(3.0)
    with tf.GradientTape() as outer:
        outer.watch(x)
        inner = tf.GradientTape()
        with pytest.raises(RuntimeError):
            with inner:
                inner.watch(x)
                raise RuntimeError("inner failure")
        y = x * x
        assert tf._core.tapes_active()
    assert inner.gradient(y, x) is None
    close(outer.gradient(y, x), 6.0)
    assert not tf._core.tapes_active()


def test_exception_inside_a_failing_op_leaves_no_active_tape():
    x = tf.constant([1.0, 2.0])
    with pytest.raises(ValueError):
        with tf.GradientTape() as tape:
            tape.watch(x)
            tf.matmul(x, x)  # rank 1: invalid argument
    assert not tf._core.tapes_active()
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    close(tape.gradient(y, x), [2.0, 4.0])


def test_many_tapes_do_not_interfere():
    v = tf.Variable(1.5)
    for i in range(50):
        with tf.GradientTape() as tape:
            y = v * float(i)
        close(tape.gradient(y, v), float(i))
    assert not tf._core.tapes_active()


def test_target_is_the_watched_source():
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
    close(tape.gradient(x, x), [1.0, 1.0])
