"""Regressions at the edges of the Python layer: the optimizer's first build under threads, the sparse
cross-entropy's shape in its error, boolean-mask indexing (tf.boolean_mask), Keras fit/evaluate on zero
samples, gradient() on a tape never entered, Dense's min_ndim=2 input spec, a built model nested in a
Sequential, and `import pyfast_tape` from the source tree. Expected values are derived by hand (or by a
float64 transcription of Keras's formula) in each test."""
from __future__ import annotations

import pathlib
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest

import pyfast_tape as tf

keras = tf.keras
REPO = pathlib.Path(__file__).resolve().parent.parent


def _np(t):
    return np.asarray(t.numpy() if hasattr(t, "numpy") else t)


# ---- 1. two threads making the first apply_gradients on one optimizer --------------------------------------
def _sgd_momentum_reference(x0, steps, lr=0.1, momentum=0.9, g=1.0):
    x, m = float(x0), 0.0
    for _ in range(steps):
        m = momentum * m - lr * g
        x += m
    return x


def _adam_reference(x0, steps, lr=0.1, b1=0.9, b2=0.999, eps=1e-7, g=1.0):
    x, m, v = float(x0), 0.0, 0.0
    for t in range(1, steps + 1):
        m += (g - m) * (1 - b1)
        v += (g * g - v) * (1 - b2)
        alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        x -= m * alpha / (np.sqrt(v) + eps)
    return x


def test_first_apply_gradients_from_several_threads_builds_once_and_applies_every_step():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: inside build, between index and slots
    try:
        for trial in range(200):
            n_threads = 2 + trial % 3
            use_adam = trial % 2 == 1
            opt = keras.optimizers.Adam(0.1) if use_adam else keras.optimizers.SGD(0.1, momentum=0.9)
            variables = [tf.Variable(np.full((3,), float(i + 1), np.float32)) for i in range(6)]
            barrier = threading.Barrier(n_threads)
            errors = []

            def step():
                try:
                    barrier.wait()
                    opt.apply_gradients([(tf.ones_like(v), v) for v in variables])
                except BaseException as e:  # noqa: BLE001  any exception is the failure we look for
                    errors.append(e)

            threads = [threading.Thread(target=step) for _ in range(n_threads)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert errors == [], f"trial {trial} ({type(opt).__name__}, {n_threads} threads): {errors!r}"
            assert int(opt.iterations.numpy()) == n_threads
            # built once: one entry per variable, slots complete
            assert len(opt._trainable_variables) == len(variables)
            n_slots = 2 if use_adam else 1
            assert len(opt.variables) == 1 + n_slots * len(variables)
            ref = _adam_reference if use_adam else _sgd_momentum_reference
            for i, v in enumerate(variables):
                np.testing.assert_allclose(_np(v), np.full(3, ref(i + 1, n_threads)), rtol=1e-5, atol=1e-6)
    finally:
        sys.setswitchinterval(old)


def test_build_publishes_a_variable_only_with_its_slots():
    opt = keras.optimizers.Adam(0.1)
    v = tf.Variable([1.0, 2.0])
    opt.build([v, v])  # the same variable twice: one entry, one set of slots
    assert list(opt._index.values()) == [0]
    assert len(opt._momentums) == len(opt._velocities) == 1
    opt.apply_gradients([(tf.constant([1.0, -1.0]), v)])
    # one Adam step with |g| = 1 moves each entry by about lr against the sign of its gradient
    np.testing.assert_allclose(_np(v), [_adam_reference(1.0, 1, g=1.0), _adam_reference(2.0, 1, g=-1.0)], rtol=1e-6)
    np.testing.assert_allclose(_np(v), [0.9, 2.1], rtol=1e-5)


# ---- 2. SparseCategoricalCrossentropy names the y_pred shape it was given -----------------------------------
def test_sparse_categorical_crossentropy_error_shows_the_y_pred_shape_passed():
    loss = keras.losses.SparseCategoricalCrossentropy()
    with pytest.raises(ValueError) as info:
        loss(0, tf.constant([0.5]))
    text = str(info.value)
    assert "y_pred.shape=(1,)" in text
    assert "y_true.shape=()" in text
    assert "output.shape=()" not in text and "got shape ()" not in text
    assert "at least rank 1" in text and "(batch_size, num_classes)" in text


def test_sparse_categorical_crossentropy_scalar_y_pred_keeps_keras_message():
    with pytest.raises(ValueError, match=r"Argument `output` must be at least rank 1\. Received: output\.shape=\(\)"):
        keras.losses.sparse_categorical_crossentropy(0, tf.constant(0.5))


def test_sparse_categorical_crossentropy_valid_scalar_label_still_works():
    loss = keras.losses.SparseCategoricalCrossentropy()
    # one sample, label 1, probabilities [0.3, 0.7]: -log(0.7)
    np.testing.assert_allclose(float(loss(1, tf.constant([0.3, 0.7]))), -np.log(0.7), rtol=1e-6)
    np.testing.assert_allclose(float(loss([1], tf.constant([[0.3, 0.7]]))), -np.log(0.7), rtol=1e-6)


# ---- 3. boolean-mask indexing: tensor[mask] is tf.boolean_mask ------------------------------------------------
def test_bool_mask_indexing_selects_rows_like_tf_boolean_mask():
    t = tf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    for mask in (np.array([True, False, True]), tf.constant([True, False, True])):
        y = t[mask]
        assert tuple(y.shape) == (2, 2)
        np.testing.assert_array_equal(_np(y), [[1.0, 2.0], [5.0, 6.0]])
    # a mask over both dimensions: the selected elements in row-major order
    y = t[np.array([[True, False], [False, True], [True, True]])]
    np.testing.assert_array_equal(_np(y), [1.0, 4.0, 5.0, 6.0])
    # TF's docstring example: foo[foo > 2]
    foo = tf.constant([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    got = foo[foo > 2]
    assert got.dtype == tf.int32
    np.testing.assert_array_equal(_np(got), [3, 4, 5, 6, 7, 8, 9])
    # nothing selected: an empty result of the remaining shape
    assert tuple(t[np.zeros(3, bool)].shape) == (0, 2)
    np.testing.assert_array_equal(_np(tf.boolean_mask(t, [False, True], axis=1)), [[2.0], [4.0], [6.0]])


def test_bool_mask_indexing_is_differentiable_to_second_order():
    x = tf.constant([1.0, 2.0, 3.0, 4.0])
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            z = tf.reduce_sum(x[x > 2.5] ** 3)  # x3^3 + x4^3 = 27 + 64
        g = inner.gradient(z, x)
    assert float(z) == 91.0
    np.testing.assert_array_equal(_np(g), [0.0, 0.0, 27.0, 48.0])  # 3 x^2 where selected
    np.testing.assert_array_equal(_np(outer.gradient(g, x)), [0.0, 0.0, 18.0, 24.0])  # 6 x


def test_bool_mask_indexing_of_a_variable_gives_its_gradient():
    v = tf.Variable([[1.0, 2.0], [3.0, 4.0]])
    with tf.GradientTape() as tape:
        s = tf.reduce_sum(v[np.array([[True, False], [True, True]])] * tf.constant([1.0, 2.0, 3.0]))
    assert float(s) == 1.0 * 1 + 3.0 * 2 + 4.0 * 3
    np.testing.assert_array_equal(_np(tape.gradient(s, v)), [[1.0, 0.0], [2.0, 3.0]])


def test_bool_mask_of_a_variable_with_a_1d_numpy_mask_gives_its_gradient():
    # Nothing but the mask op reads the Variable: the op itself must read it so the tape watches it.
    v = tf.Variable([1.0, 2.0, 3.0])
    with tf.GradientTape() as tape:
        s = tf.reduce_sum(tf.boolean_mask(v, np.array([True, False, True])) * tf.constant([2.0, 5.0]))
    np.testing.assert_array_equal(_np(tape.gradient(s, v)), [2.0, 0.0, 5.0])


def test_bool_mask_errors_are_tf_errors_not_numpy_truth_value():
    t = tf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    with pytest.raises(ValueError, match=r"^Shapes \(3,\) and \(2,\) are incompatible$"):
        t[np.array([True, False])]
    with pytest.raises(ValueError, match=r"^mask cannot be scalar\.$"):
        t[True]
    for mask in (np.array([True, False, True]), tf.constant([True, False, True])):
        with pytest.raises(TypeError) as info:
            t[mask, 0]
        assert "tf.boolean_mask" in str(info.value) and "truth value" not in str(info.value)
    with pytest.raises(TypeError) as info:
        t[np.array([0, 2])]
    assert "truth value" not in str(info.value) and "gathers" in str(info.value)


# ---- 4. fit / evaluate on zero samples behave as Keras 3 ----------------------------------------------------
def test_fit_on_zero_samples_warns_and_logs_nothing_like_keras():
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    before = [w.copy() for w in model.get_weights()]
    x = np.zeros((0, 3), np.float32)
    y = np.zeros((0, 1), np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(x, y, epochs=2, verbose=0)
    ran_out = [w for w in caught if issubclass(w.category, UserWarning) and "Your input ran out of data" in
               str(w.message)]
    assert len(ran_out) == 2  # one per epoch, as Keras's EpochIterator warns
    assert history.history == {}
    assert history.epoch == [0, 1]
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)  # no step ran
    with pytest.warns(UserWarning, match="Your input ran out of data"):
        assert model.evaluate(x, y, verbose=0) == []
    with pytest.warns(UserWarning, match="Your input ran out of data"):
        assert model.evaluate(x, y, verbose=0, return_dict=True) == {}


def test_fit_on_zero_samples_still_validates():
    model = keras.Sequential([keras.Input(shape=(1,)), keras.layers.Dense(1, kernel_initializer="ones")])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.warns(UserWarning, match="Your input ran out of data"):
        history = model.fit(np.zeros((0, 1), np.float32), np.zeros((0, 1), np.float32), epochs=1, verbose=0,
                            validation_data=(np.array([[2.0]], np.float32), np.array([[0.0]], np.float32)))
    # y = 1 * 2 + 0 against 0: mse 4
    assert history.history == {"val_loss": [pytest.approx(4.0)]}


# ---- 5. gradient() on a tape never entered -------------------------------------------------------------------
_TF_NOT_ENTERED = "A non-persistent GradientTape can only be used to compute one set of gradients (or jacobians)"


@pytest.mark.parametrize("persistent", [False, True], ids=["non-persistent", "persistent"])
def test_gradient_on_a_tape_never_entered_raises_runtime_error(persistent):
    x = tf.Variable(2.0)
    y = x * x
    tape = tf.GradientTape(persistent=persistent)
    with pytest.raises(RuntimeError) as info:
        tape.gradient(y, x)
    assert str(info.value).startswith(_TF_NOT_ENTERED)
    with pytest.raises(RuntimeError) as info:  # TF 2.21's jacobian checks `self._tape is None` too
        tape.jacobian(y, x)
    assert str(info.value).startswith(_TF_NOT_ENTERED)
    with tape:  # entered once, the tape works
        z = x * 3.0
    assert float(tape.gradient(z, x)) == 3.0


# ---- 6. Dense requires inputs of rank >= 2 (Keras's InputSpec(min_ndim=2)) -----------------------------------
def test_dense_rejects_rank_1_inputs_with_keras_message():
    layer = keras.layers.Dense(3, name="d3")
    expected = ("Input 0 with name 'None' of layer 'd3' is incompatible with the layer: expected min_ndim=2, "
                "found ndim=1. Full shape received: (4,)")
    with pytest.raises(ValueError) as info:
        layer(tf.ones([4]))
    assert str(info.value) == expected
    assert not layer.built and layer.weights == []  # rejected before building
    out = layer(tf.ones([2, 4]))  # rank 2 works, and a later rank-1 call is rejected too
    assert tuple(out.shape) == (2, 3)
    with pytest.raises(ValueError, match=r"expected min_ndim=2, found ndim=1\. Full shape received: \(4,\)"):
        layer(tf.ones([4]))
    with pytest.raises(ValueError, match=r"expected min_ndim=2, found ndim=0\. Full shape received: \(\)"):
        keras.layers.Dense(2)(tf.constant(1.0))
    with pytest.raises(ValueError, match=r"expected min_ndim=2, found ndim=1\. Full shape received: \(None,\)"):
        keras.Sequential([keras.Input(shape=()), keras.layers.Dense(3)])


# ---- 7. a built model nested in a Sequential feeds its OUTPUT width to the next layer -----------------------
def test_sequential_after_a_built_sequential_uses_its_output_width():
    inner = keras.Sequential([keras.Input(shape=(5,)), keras.layers.Dense(2, kernel_initializer="ones")])
    outer = keras.Sequential([inner, keras.layers.Dense(1, kernel_initializer="ones")])
    x = np.arange(15, dtype=np.float32).reshape(3, 5)
    y = outer(tf.constant(x))
    assert tuple(outer.layers[1].kernel.shape) == (2, 1)
    # inner: each of its 2 units is the row sum; outer: their sum
    np.testing.assert_allclose(_np(y), 2.0 * x.sum(axis=1, keepdims=True), rtol=1e-6)
    assert tuple(inner.compute_output_shape((None, 5))) == (None, 2)
    # the same with the outer Input given up front: built at construction
    outer2 = keras.Sequential([keras.Input(shape=(5,)), inner, keras.layers.Dense(1)])
    assert tuple(outer2.layers[1].kernel.shape) == (2, 1)


def test_sequential_after_a_built_subclassed_model_uses_its_output_width():
    class Inner(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(7)

        def call(self, x):
            return self.dense(x)

    inner = Inner()
    inner(tf.ones([1, 5]))
    outer = keras.Sequential([keras.Input(shape=(5,)), inner, keras.layers.Dense(1)])
    assert tuple(outer.layers[1].kernel.shape) == (7, 1)
    assert tuple(outer(tf.ones([4, 5])).shape) == (4, 1)


# ---- 8. `import pyfast_tape` from the source tree ---------------------------------------------------------------
_IMPORT_FROM_SOURCE_TREE = """
import sys
# an editable install maps pyfast_tape._core to its build; drop such finders so the source tree shadows the
# package exactly as it does for a regular `pip install .` run from the repository root
sys.meta_path[:] = [f for f in sys.meta_path if isinstance(f, type) or type(f).__module__ in
                    ("importlib._bootstrap", "importlib._bootstrap_external", "_frozen_importlib",
                     "_frozen_importlib_external")]
import pyfast_tape
"""


def test_import_from_the_repository_root_explains_the_missing_core():
    if any((REPO / "pyfast_tape").glob("_core*.so")) or any((REPO / "pyfast_tape").glob("_core*.pyd")):
        pytest.skip("a compiled _core was built into the source tree")
    r = subprocess.run([sys.executable, "-c", _IMPORT_FROM_SOURCE_TREE], cwd=REPO, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode != 0
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: "), r.stderr
    assert "circular import" not in r.stderr and "partially initialized" not in r.stderr
    for part in ("source tree", "no compiled `_core`", "`pip install .`", "outside the repository root", "pytest"):
        assert part in last, (part, last)
