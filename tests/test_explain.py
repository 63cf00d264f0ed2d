""""Why is there no gradient?": tape.explain(), unconnected_gradients='raise' and the optimizers' messages.

Each cause from the issue gets a test that checks two things in the explanation: a phrase that names the
cause, and the exact ``file:line`` of the line in *this file* where the path was cut. Expected lines are never
hard-coded: the cut line carries a marker comment ``# <tag>`` and ``loc(tag)`` finds it in this file's source,
so the tests keep working when lines move but fail when the explanation points at any other line.
"""
from __future__ import annotations

import operator
import os
import sys
import threading
import warnings

import numpy as np
import pytest

import pyfast_tape as tf

# The file name exactly as the native log records it (the frame's co_filename).
HERE = sys._getframe().f_code.co_filename
with open(HERE, encoding="utf-8") as _f:
    _SOURCE = _f.read().splitlines()
PACKAGE_DIR = os.path.dirname(os.path.abspath(tf.__file__))


def line_of(tag: str) -> int:
    """The 1-based number of the one line of this file that ends with the marker ``# <tag>``."""
    marker = f"# <{tag}>"
    hits = [i + 1 for i, text in enumerate(_SOURCE) if text.rstrip().endswith(marker)]
    assert len(hits) == 1, f"marker {marker!r} found on lines {hits}, expected exactly one"
    return hits[0]


def loc(tag: str) -> str:
    return f"{HERE}:{line_of(tag)}"


def cut_at(tag: str) -> str:
    """The fragment an explanation carries when the path is cut at the marked line."""
    return f"is cut at {loc(tag)}: "


def assert_none_and_explained(tape, target, source, *phrases):
    """gradient() is None for `source`; explain() says so and contains every phrase (cause and location)."""
    msg = tape.explain(target, source)
    assert "is None" in msg, msg
    for p in phrases:
        assert p in msg, f"expected {p!r} in the explanation:\n{msg}"
    return msg


OUTSIDE = "ran while no GradientTape was recording"
VAR_OUTSIDE = "read a Variable outside any GradientTape"
NUMPY = "went through NumPy (`.numpy()` or `np.asarray`) and came back as a new tensor"
NONDIFF = "integer and bool results carry no gradient"
STOP_GRADIENT = "`tf.stop_gradient` blocks gradients by design"
STOP_RECORDING = "ran inside `tape.stop_recording()`, so it was not recorded"
NON_TRAINABLE = "the Variable is not trainable (trainable=False), so tapes do not watch it"
UNWATCHED_TENSOR = "the tape does not watch this Tensor"
UNWATCHED_VAR = "the tape was created with watch_accessed_variables=False and never watched this Variable"
ASSIGN = "assignments are not differentiable (state stops gradients)"
NEVER_READ = "the Variable was never read while the tape was recording"
REPLACED = "it is a Tensor, not a Variable"
CONNECTED = "is connected to the target: the gradient flows through the ops this tape recorded"


# ---- one test per cause ---------------------------------------------------------------------------------

def test_op_after_the_tape_closed():
    w = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = w * 3.0
    z = y * y  # <outside>
    assert tape.gradient(z, w) is None
    assert_none_and_explained(tape, z, w, OUTSIDE, "`multiply`", cut_at("outside"))


def test_op_after_the_tape_closed_watched_constant():
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.square(x)
    z = tf.reduce_sum(y)  # <outside-const>
    assert tape.gradient(z, x) is None
    assert_none_and_explained(tape, z, x, OUTSIDE, "`reduce_sum`", cut_at("outside-const"))


def test_variable_read_after_the_tape_closed():
    w = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        pass
    y = w * 3.0  # <var-outside>
    assert tape.gradient(y, w) is None
    assert_none_and_explained(tape, y, w, VAR_OUTSIDE, cut_at("var-outside"))


def mean_squared_error(y_true, y_pred):
    return tf.reduce_mean(tf.square(y_pred - y_true))  # <seed-mse>


def _linreg_data():
    x = tf.constant([[1.0], [2.0], [3.0], [4.0]], dtype=tf.float32)
    y = tf.constant([[2.0], [4.0], [5.9], [8.1]], dtype=tf.float32)
    return x, y


def test_seed_linreg_loss_outside_the_tape():
    """The seed article's mistake: the loss is computed after the `with` block. The cut is the user's
    loss line (the subtract in mean_squared_error), never a line inside pyfast_tape."""
    x, y = _linreg_data()
    W = tf.Variable([[0.5]], dtype=tf.float32)
    with tf.GradientTape() as tape:
        y_predicted = tf.matmul(x, W)
    loss_value = mean_squared_error(y, y_predicted)
    assert tape.gradient(loss_value, W) is None
    msg = assert_none_and_explained(tape, loss_value, W, OUTSIDE, "`subtract`", cut_at("seed-mse"))
    assert PACKAGE_DIR not in msg, msg


@pytest.mark.parametrize("shape", [(3,), ()], ids=["vector", "scalar"])
@pytest.mark.parametrize("convert", [tf.constant, tf.convert_to_tensor], ids=["constant", "convert_to_tensor"])
@pytest.mark.parametrize("export", [operator.methodcaller("numpy"), np.asarray], ids=[".numpy()", "np.asarray"])
def test_numpy_round_trip(request, export, convert, shape):
    w = tf.Variable(np.full(shape, 2.0, np.float32))
    with tf.GradientTape() as tape:
        y = w * 3.0
        y2 = convert(export(y))  # <np-round-trip>
        z = tf.reduce_sum(y2 * y2)
    assert tape.gradient(z, w) is None
    assert_none_and_explained(tape, z, w, NUMPY, cut_at("np-round-trip"))


@pytest.mark.parametrize("convert, shape", [(tf.constant, (7, 13)), (tf.convert_to_tensor, (7, 17))],
                         ids=["constant", "convert_to_tensor"])
def test_numpy_round_trip_of_a_variable(convert, shape):
    # A shape (buffer size) no other test exports, so no stale export of another Variable can share the
    # buffer's address: that bug is test_numpy_round_trip_of_variables_in_a_loop's.
    w = tf.Variable(np.full(shape, 2.0, np.float32))
    with tf.GradientTape() as tape:
        c = convert(w.numpy())  # <var-numpy>
        z = tf.reduce_sum(c * c)
    assert tape.gradient(z, w) is None
    assert_none_and_explained(tape, z, w, NUMPY, cut_at("var-numpy"))


def test_numpy_round_trip_of_variables_in_a_loop():
    """W and b (same shape) both go through .numpy() each step: every step must name the round-trip line."""
    W = tf.Variable([[0.5]], name="W")
    b = tf.Variable([[0.1]], name="b")
    wrong = []
    for step in range(6):
        with tf.GradientTape() as tape:
            w_c = tf.constant(W.numpy())  # <loop-W>
            b_c = tf.constant(b.numpy())  # <loop-b>
            loss = tf.reduce_sum(w_c * 2.0 + b_c)
        for var, tag in ((W, "loop-W"), (b, "loop-b")):
            msg = tape.explain(loss, var)
            if NUMPY not in msg or cut_at(tag) not in msg:
                wrong.append(f"step {step}, {var.name}: {msg}")
    assert not wrong, "\n".join(wrong)


def test_integer_cast():
    w = tf.Variable([1.5, 2.5])
    with tf.GradientTape() as tape:
        i = tf.cast(w * 2.0, tf.int32)  # <int-cast>
        z = tf.reduce_sum(tf.cast(i, tf.float32) * 2.0)
    assert tape.gradient(z, w) is None
    assert_none_and_explained(tape, z, w, NONDIFF, "`cast` produced a int32 tensor", cut_at("int-cast"))


def test_bool_cast():
    w = tf.Variable([1.5, 0.0])
    with tf.GradientTape() as tape:
        i = tf.cast(w * 1.0, tf.bool)  # <bool-cast>
        z = tf.reduce_sum(tf.cast(i, tf.float32))
    assert tape.gradient(z, w) is None
    assert_none_and_explained(tape, z, w, NONDIFF, "`cast` produced a bool tensor", cut_at("bool-cast"))


def test_argmax():
    w = tf.Variable([1.5, 2.5, 0.5])
    with tf.GradientTape() as tape:
        k = tf.argmax(w * 2.0)  # <argmax>
        z = tf.cast(k, tf.float32) * 2.0
    assert tape.gradient(z, w) is None
    assert_none_and_explained(tape, z, w, NONDIFF, "`argmax` produced a int64 tensor", cut_at("argmax"))


def test_comparison():
    w = tf.Variable([1.5, 0.5])
    with tf.GradientTape() as tape:
        m = w > 1.0  # <compare>
        z = tf.reduce_sum(tf.cast(m, tf.float32))
    assert tape.gradient(z, w) is None
    assert_none_and_explained(tape, z, w, NONDIFF, "`greater` produced a bool tensor", cut_at("compare"))


def test_stop_gradient():
    w = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        s = tf.stop_gradient(w * 2.0)  # <stop-gradient>
        z = s * 3.0
    assert tape.gradient(z, w) is None
    assert_none_and_explained(tape, z, w, STOP_GRADIENT, cut_at("stop-gradient"))


def test_stop_recording():
    w = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        with tape.stop_recording():
            h = w * 2.0  # <stop-recording>
        z = h * 3.0
    assert tape.gradient(z, w) is None
    assert_none_and_explained(tape, z, w, STOP_RECORDING, "`multiply`", cut_at("stop-recording"))


def test_non_trainable_variable():
    v = tf.Variable(2.0, trainable=False)
    with tf.GradientTape() as tape:
        z = v * 3.0  # <non-trainable>
    assert tape.gradient(z, v) is None
    assert_none_and_explained(tape, z, v, NON_TRAINABLE, f"(read at {loc('non-trainable')})")


def test_unwatched_constant():
    c = tf.constant([2.0, 3.0])
    with tf.GradientTape() as tape:
        z = tf.reduce_sum(c * 3.0)  # <unwatched-const>
    assert tape.gradient(z, c) is None
    assert_none_and_explained(tape, z, c, UNWATCHED_TENSOR, f"(used by `multiply` at {loc('unwatched-const')})")


def test_unwatched_variable_watch_accessed_variables_false():
    v = tf.Variable(2.0)
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        z = v * 3.0  # <unwatched-var>
    assert tape.gradient(z, v) is None
    assert_none_and_explained(tape, z, v, UNWATCHED_VAR, f"(read at {loc('unwatched-var')})")


def test_assign_stops_gradients():
    """The issue's example: inside the tape `v.assign(w * 2); y = v * 3`, gradient(y, w)."""
    w = tf.Variable(2.0)
    v = tf.Variable(0.0)
    with tf.GradientTape() as tape:
        v.assign(w * 2)  # <assign>
        y = v * 3
    assert tape.gradient(y, w) is None
    assert_none_and_explained(tape, y, w, ASSIGN, "`Variable.assign`", cut_at("assign"))


@pytest.mark.parametrize("method", ["assign_add", "assign_sub"])
def test_assign_add_sub_stop_gradients(method):
    w = tf.Variable(2.0)
    v = tf.Variable(1.0)
    with tf.GradientTape() as tape:
        getattr(v, method)(w * 2)  # <assign-op>
        y = v * 3
    assert tape.gradient(y, w) is None
    assert_none_and_explained(tape, y, w, ASSIGN, f"`Variable.{method}`", cut_at("assign-op"))


def test_source_never_read_names_its_creation_line():
    w = tf.Variable(2.0)
    unused = tf.Variable(1.0)  # <created>
    with tf.GradientTape() as tape:
        y = w * 3.0
    assert tape.gradient(y, unused) is None
    assert_none_and_explained(tape, y, unused, NEVER_READ, f"it was created at {loc('created')}.")


def test_variable_replaced_by_a_tensor():
    """The issue's example: `x = tf.Variable(3.0); x = x + 1`, then inside the tape `y = x * x`."""
    x = tf.Variable(3.0)
    x = x + 1  # <replaced>
    with tf.GradientTape() as tape:
        y = x * x
    assert tape.gradient(y, x) is None
    assert_none_and_explained(tape, y, x, REPLACED, f"`add` computed it from a Variable at {loc('replaced')} outside "
                                                    "any tape", "x.assign_add(1)")


def test_long_loss_after_the_tape_closed():
    w = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        h = w * 2.0
    h = h * 1.01  # <long-outside>
    for _ in range(20):
        h = h * 1.01
    assert tape.gradient(h, w) is None
    assert_none_and_explained(tape, h, w, OUTSIDE, cut_at("long-outside"))


# ---- connected sources are never blamed -----------------------------------------------------------------

def test_connected_source_is_not_blamed():
    w = tf.Variable(2.0, name="w")
    with tf.GradientTape() as tape:
        y = w * w
    msg = tape.explain(y, w)
    assert CONNECTED in msg and "is None" not in msg, msg
    assert "Variable 'w:0'" in msg
    assert float(tape.gradient(y, w).numpy()) == pytest.approx(4.0)


def test_mixed_sources_only_the_unconnected_one_is_blamed():
    a = tf.Variable(1.0, name="a")
    b = tf.Variable(2.0, name="b")
    with tf.GradientTape() as tape:
        s = tf.stop_gradient(b * 1.0)  # <mixed-stop>
        loss = a * 2.0 + s
    ga, gb = tape.gradient(loss, [a, b])
    assert ga is not None and gb is None
    msg_a = tape.explain(loss, a)
    assert CONNECTED in msg_a and "is None" not in msg_a and "cut at" not in msg_a, msg_a
    msg_b = tape.explain(loss, b)
    assert "Variable 'b:0' is None" in msg_b and STOP_GRADIENT in msg_b and cut_at("mixed-stop") in msg_b, msg_b
    assert "'a:0'" not in msg_b


@pytest.mark.parametrize("persistent", [False, True], ids=["non-persistent", "persistent"])
def test_explain_after_gradient(persistent):
    a = tf.Variable(1.0, name="a")
    b = tf.Variable(2.0, name="b")
    with tf.GradientTape(persistent=persistent) as tape:
        h = a * 2.0
        s = tf.stop_gradient(b * 1.0)  # <after-gradient>
        loss = h * h + s
    ga, gb = tape.gradient(loss, [a, b])
    assert float(ga.numpy()) == pytest.approx(8.0) and gb is None
    if persistent:  # a second gradient() call, then explain
        assert float(tape.gradient(loss, a).numpy()) == pytest.approx(8.0)
    else:
        with pytest.raises(RuntimeError):
            tape.gradient(loss, a)
    assert CONNECTED in tape.explain(loss, a)
    assert_none_and_explained(tape, loss, b, STOP_GRADIENT, cut_at("after-gradient"))


# ---- unconnected_gradients='raise' ----------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["raise", tf.UnconnectedGradients.RAISE], ids=["string", "enum"])
def test_raise_mode(mode):
    a = tf.Variable(1.0, name="a")
    b = tf.Variable(2.0, name="b")
    c = tf.Variable(3.0, name="c")  # <raise-created>
    with tf.GradientTape() as tape:
        s = tf.stop_gradient(b * 1.0)  # <raise-stop>
        loss = a * 2.0 + s
    with pytest.raises(tf.errors.UnconnectedGradientError) as info:
        tape.gradient(loss, [a, b, c], unconnected_gradients=mode)
    err = info.value
    assert isinstance(err, ValueError)
    assert issubclass(tf.errors.UnconnectedGradientError, ValueError)
    msg = str(err)
    lines = msg.splitlines()
    assert len(lines) == 2, msg  # one line per None source, in order
    assert "Variable 'b:0' is None" in lines[0] and STOP_GRADIENT in lines[0] and cut_at("raise-stop") in lines[0]
    assert "Variable 'c:0' is None" in lines[1] and NEVER_READ in lines[1]
    assert f"it was created at {loc('raise-created')}." in lines[1]
    assert "'a:0'" not in msg  # the connected source is never blamed


def test_raise_mode_is_a_value_error_and_silent_when_connected():
    a = tf.Variable(1.0)
    with tf.GradientTape(persistent=True) as tape:
        loss = a * 2.0
        other = tf.constant(1.0) * 2.0
    (g,) = tape.gradient(loss, [a], unconnected_gradients="raise")
    assert float(g.numpy()) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="is None: the tape was created|is None: the path|is None: the target"):
        tape.gradient(other, [a], unconnected_gradients=tf.UnconnectedGradients.RAISE)


# ---- Keras optimizers -----------------------------------------------------------------------------------

def test_optimizer_warning_for_a_partial_none_gradient():
    a = tf.Variable(1.0, name="a")
    b = tf.Variable(2.0, name="b")
    opt = tf.keras.optimizers.SGD(learning_rate=0.1)
    with tf.GradientTape() as tape:
        s = tf.stop_gradient(b * 1.0)  # <opt-partial>
        loss = a * 2.0 + s
    grads = tape.gradient(loss, [a, b])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        opt.apply_gradients(zip(grads, [a, b]))
    texts = [str(w.message) for w in caught if issubclass(w.category, UserWarning)
             and "Gradients do not exist for variables" in str(w.message)]
    assert len(texts) == 1, [str(w.message) for w in caught]
    text = texts[0]
    assert "Gradients do not exist for variables ['b:0']" in text
    assert "Why (from the latest GradientTape.gradient() call):" in text
    why = text.split("Why (from the latest GradientTape.gradient() call):", 1)[1]
    assert "Variable 'b:0' is None" in why and STOP_GRADIENT in why and cut_at("opt-partial") in why, text
    assert "'a:0'" not in why
    assert float(a.numpy()) == pytest.approx(1.0 - 0.1 * 2.0)  # the connected variable is still updated
    assert float(b.numpy()) == pytest.approx(2.0)


def test_optimizer_error_for_the_seed_mistake():
    """The seed linear regression with the loss computed outside the tape: every gradient is None."""
    x, y = _linreg_data()
    W = tf.Variable([[0.5]], dtype=tf.float32, name="W")
    optimizer = tf.keras.optimizers.SGD(learning_rate=0.01)
    with tf.GradientTape() as tape:
        y_predicted = tf.matmul(x, W)
    loss_value = mean_squared_error(y, y_predicted)
    gradients = tape.gradient(loss_value, W)
    assert gradients is None
    with pytest.raises(ValueError) as info:
        optimizer.apply_gradients([(gradients, W)])
    msg = str(info.value)
    assert msg.startswith("No gradients provided for any variable."), msg
    assert "Variable 'W:0' is None" in msg and OUTSIDE in msg and cut_at("seed-mse") in msg, msg
    assert PACKAGE_DIR not in msg


def test_keras_seed_model_loss_outside_the_tape():
    """The second seed program with the loss computed after the `with` block: the explanation names the
    user's loss line (the CategoricalCrossentropy call), not a line inside pyfast_tape."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras's advice to use Input() instead of input_shape, as in the seed
        model = tf.keras.Sequential([
            tf.keras.layers.Dense(10, activation="relu", input_shape=(20,)),
            tf.keras.layers.Dense(5, activation="softmax"),
        ])
    loss_function = tf.keras.losses.CategoricalCrossentropy()
    optimizer = tf.keras.optimizers.Adam(learning_rate=0.01)
    rng = np.random.default_rng(0)
    X_train = tf.convert_to_tensor(rng.random((16, 20)), dtype=tf.float32)
    y_train = tf.convert_to_tensor(tf.keras.utils.to_categorical(rng.integers(0, 5, 16), num_classes=5),
                                   dtype=tf.float32)
    with tf.GradientTape() as tape:
        y_pred = model(X_train)
    loss = loss_function(y_train, y_pred)  # <keras-loss>
    gradients = tape.gradient(loss, model.trainable_variables)
    assert len(gradients) == 4 and all(g is None for g in gradients)
    for v in model.trainable_variables:
        msg = assert_none_and_explained(tape, loss, v, OUTSIDE, cut_at("keras-loss"))
        assert PACKAGE_DIR not in msg, msg
    with pytest.raises(ValueError) as info:
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
    msg = str(info.value)
    assert msg.startswith("No gradients provided for any variable."), msg
    assert msg.count(cut_at("keras-loss")) == 4, msg
    assert PACKAGE_DIR not in msg


# ---- the log and the latest gradient() call are per thread ---------------------------------------------

def _flood(n_events: int, errors: list) -> None:
    """Another thread: many unrecorded ops with provenance (each one is a log event in a shared log)."""
    try:
        v = tf.Variable(1.0)
        with tf.GradientTape() as t:
            h = v * 2.0
        for _ in range(n_events):
            h * 1.0  # <flood>
    except Exception as e:  # pragma: no cover - reported by the main thread
        errors.append(e)


def test_explanation_is_not_confused_by_another_threads_ops():
    w = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = w * 3.0
    errors: list = []
    # More events than the ring holds: a log shared by the threads would have evicted this thread's event.
    n_events = _ring_capacity(_provenance_tensor()) + 100
    z = y * y  # <thread-main>
    worker = threading.Thread(target=_flood, args=(n_events, errors))
    worker.start()
    worker.join()
    assert not errors, errors
    msg = assert_none_and_explained(tape, z, w, OUTSIDE, cut_at("thread-main"))
    assert loc("flood") not in msg


def test_optimizer_uses_this_threads_latest_gradient_call():
    a = tf.Variable(1.0, name="a")
    b = tf.Variable(2.0, name="b")
    with tf.GradientTape() as tape:
        s = tf.stop_gradient(b * 1.0)  # <thread-opt>
        loss = a * 2.0 + s
    grads = tape.gradient(loss, [a, b])

    def other_thread():  # its own, later gradient() call with other variables
        v = tf.Variable(1.0, name="other")
        with tf.GradientTape() as t:
            y = v * 2.0
        t.gradient(y, v)

    worker = threading.Thread(target=other_thread)
    worker.start()
    worker.join()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tf.keras.optimizers.SGD(learning_rate=0.1).apply_gradients(zip(grads, [a, b]))
    text = "\n".join(str(w.message) for w in caught)
    assert "Gradients do not exist for variables ['b:0']" in text
    assert STOP_GRADIENT in text and cut_at("thread-opt") in text, text


# ---- with nothing to explain, nothing is logged ---------------------------------------------------------
# The log is a bounded ring: once it has wrapped, an event survives exactly `capacity` later events, which is
# how these tests count events from Python (no C++ hook): a sentinel that explain() still finds after N
# calls of a function proves those calls logged (on average) less than capacity / N events each.

def _provenance_tensor():
    v = tf.Variable(1.0)
    with tf.GradientTape():
        return v * 1.0  # recorded: ops on it outside any tape are logged


def _fill(t, n):
    for _ in range(n):
        t * 1.0


def _sentinel():
    w = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = w * 3.0
    z = y * 1.0  # <sentinel>
    return lambda: cut_at("sentinel") in tape.explain(z, w)


def _ring_capacity(t):
    def evicted_after(n):
        _fill(t, 1 << 16)
        alive = _sentinel()
        _fill(t, n)
        return not alive()
    lo, hi = 1, 1 << 16
    assert evicted_after(hi), "the sentinel outlived 65536 events: the log is not a ring of at most that size"
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if evicted_after(mid) else (mid + 1, hi)
    return lo


def test_event_counting_probe_sees_the_mistake_step():
    """The probe below works: the seed mistake (loss after the tape) logs events and evicts the sentinel."""
    t = _provenance_tensor()
    capacity = _ring_capacity(t)
    x, y = _linreg_data()
    W = tf.Variable([[0.5]])
    _fill(t, capacity)
    alive = _sentinel()
    for _ in range(capacity):
        with tf.GradientTape() as tape:
            y_predicted = tf.matmul(x, W)
        tape.gradient(mean_squared_error(y, y_predicted), W)
    assert not alive()


def test_seed_linreg_step_logs_no_events():
    """The issue: with nothing to explain, the seed linear-regression step must not log anything."""
    t = _provenance_tensor()
    capacity = _ring_capacity(t)
    x, y = _linreg_data()
    W = tf.Variable([[0.5]], dtype=tf.float32)
    optimizer = tf.keras.optimizers.SGD(learning_rate=0.01)
    _fill(t, capacity)
    alive = _sentinel()
    for _ in range(capacity):
        with tf.GradientTape() as tape:
            y_predicted = tf.matmul(x, W)
            loss_value = mean_squared_error(y, y_predicted)
        gradients = tape.gradient(loss_value, W)
        optimizer.apply_gradients([(gradients, W)])
    assert alive(), "the seed step logged provenance events with nothing to explain"
