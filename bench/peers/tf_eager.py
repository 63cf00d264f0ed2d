"""Peer: TensorFlow eager (Keras 3) — and the TensorFlow-API workload code the pyfast_tape and tf.function
peers run too.

``workloads(tf, ...)`` is written against TensorFlow's public API only; ``bench/peers/pyfast_tape.py``
calls it with ``tf = pyfast_tape`` and ``bench/peers/tf_function.py`` with ``compiled=True`` (each step
wrapped in ``tf.function``, no XLA). So pyfast_tape and TensorFlow run the very same lines, which are
the seed programs' lines (examples/seed/) with the shared data and initial weights.
"""
from __future__ import annotations

import os
import sys

# This folder's files are named like the packages they benchmark (numpy.py, torch.py, jax.py, ...): take it
# off sys.path, so `import numpy` finds NumPy even where a package is missing, and import siblings as `peers.x`.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE] + [os.path.dirname(_HERE)]

import warnings  # noqa: E402
from typing import Any, Callable, Dict, Optional  # noqa: E402

from peers import common  # noqa: E402


def _seed_linreg(tf: Any, d: Dict[str, Any]) -> Callable[[], Any]:
    """W1: examples/seed/linreg_mse.py, one epoch per call."""
    def mean_squared_error(y_true: Any, y_pred: Any) -> Any:
        return tf.reduce_mean(tf.square(y_pred - y_true))

    x = tf.constant(d["w1_x"], dtype=tf.float32)
    y = tf.constant(d["w1_y"], dtype=tf.float32)
    W = tf.Variable(d["w1_W"], dtype=tf.float32)
    optimizer = tf.keras.optimizers.SGD(learning_rate=0.01)
    optimizer.build([W])

    def step() -> Any:
        with tf.GradientTape() as tape:
            y_predicted = tf.matmul(x, W)
            loss_value = mean_squared_error(y, y_predicted)
        gradients = tape.gradient(loss_value, W)
        optimizer.apply_gradients([(gradients, W)])
        return loss_value
    return step


def _seed_keras_mlp(tf: Any, d: Dict[str, Any]) -> Callable[[], Any]:
    """W2: examples/seed/keras_mlp_cce.py (Dense 20->10 relu -> 5 softmax, CCE, Adam), shared data/weights."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras 3's "do not pass input_shape" (the seed does)
        model = tf.keras.Sequential([
            tf.keras.layers.Dense(10, activation='relu', input_shape=(20,)),
            tf.keras.layers.Dense(5, activation='softmax'),
        ])
    model.set_weights([d["w2_W1"], d["w2_b1"], d["w2_W2"], d["w2_b2"]])
    loss_function = tf.keras.losses.CategoricalCrossentropy()
    optimizer = tf.keras.optimizers.Adam(learning_rate=0.01)
    optimizer.build(model.trainable_variables)
    X_train = tf.convert_to_tensor(d["w2_X"], dtype=tf.float32)
    y_train = tf.convert_to_tensor(d["w2_Y"], dtype=tf.float32)

    def step() -> Any:
        with tf.GradientTape() as tape:
            y_pred = model(X_train)
            loss = loss_function(y_train, y_pred)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss
    return step


def _seed_huber(tf: Any, d: Dict[str, Any]) -> Callable[[], Any]:
    """W3: examples/seed/huber_custom.py."""
    def huber_loss(y_true: Any, y_pred: Any, delta: float = 1.0) -> Any:
        error = y_pred - y_true
        abs_error = tf.abs(error)
        squared_loss = 0.5 * tf.square(error)
        linear_loss = delta * (abs_error - 0.5 * delta)
        return tf.reduce_mean(tf.where(abs_error <= delta, squared_loss, linear_loss))

    x = tf.constant(d["w3_x"], dtype=tf.float32)
    y = tf.constant(d["w3_y"], dtype=tf.float32)
    W = tf.Variable(d["w3_W"], dtype=tf.float32)
    b = tf.Variable(d["w3_b"], dtype=tf.float32)
    optimizer = tf.keras.optimizers.SGD(learning_rate=0.01)
    optimizer.build([W, b])

    def step() -> Any:
        with tf.GradientTape() as tape:
            y_predicted = tf.matmul(x, W) + b
            loss_value = huber_loss(y, y_predicted)
        gradients = tape.gradient(loss_value, [W, b])
        optimizer.apply_gradients(zip(gradients, [W, b]))
        return loss_value
    return step


def _large_mlp(tf: Any, d: Dict[str, Any]) -> Callable[[], Any]:
    """W4: Sequential(Dense relu, Dense relu, Dense) + SparseCategoricalCrossentropy(from_logits) + SGD."""
    W1, W2, W3 = d["w4_W1"], d["w4_W2"], d["w4_W3"]
    model = tf.keras.Sequential([
        tf.keras.Input(shape=(W1.shape[0],)),
        tf.keras.layers.Dense(W1.shape[1], activation='relu'),
        tf.keras.layers.Dense(W2.shape[1], activation='relu'),
        tf.keras.layers.Dense(W3.shape[1]),
    ])
    model.set_weights([W1, d["w4_b1"], W2, d["w4_b2"], W3, d["w4_b3"]])
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = tf.keras.optimizers.SGD(learning_rate=0.01)
    optimizer.build(model.trainable_variables)
    X = tf.constant(d["w4_X"])
    labels = tf.constant(d["w4_y"])

    def step() -> Any:
        with tf.GradientTape() as tape:
            logits = model(X)
            loss = loss_fn(labels, logits)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss
    return step


def _loss_and_grad(tf: Any, loss_obj: Any, compiled: bool) -> Callable[[Any, Any], Any]:
    """W5: the framework's loss and its gradient with respect to the predictions (logits)."""
    def f(y_true: Any, y_pred: Any) -> Any:
        with tf.GradientTape() as tape:
            tape.watch(y_pred)
            loss = loss_obj(y_true, y_pred)
        return loss, tape.gradient(loss, y_pred)
    return tf.function(f) if compiled else f


def _add10(a: Any, b: Any) -> None:
    """W6: ten one-element adds per call (the loop around them costs ~5 ns per add)."""
    c = a + b; c = a + b; c = a + b; c = a + b; c = a + b  # noqa: E702,F841
    c = a + b; c = a + b; c = a + b; c = a + b; c = a + b  # noqa: E702,F841


def workloads(tf: Any, rep: common.Report, cfg: Dict[str, Any], d: Dict[str, Any], compiled: bool = False,
              before_w4: Optional[Callable[[], None]] = None, before_w5: Optional[Callable[[], None]] = None,
              dispatch: bool = True) -> None:
    """W1-W6 with `tf` (TensorFlow or pyfast_tape); `compiled` wraps steps in tf.function."""
    wrap = tf.function if compiled else (lambda f: f)
    to_float = lambda t: float(t.numpy())  # noqa: E731

    for name, make, steps in (("W1", _seed_linreg, cfg["check_steps"]), ("W2", _seed_keras_mlp, cfg["check_steps"]),
                              ("W3", _seed_huber, cfg["check_steps"])):
        step = rep.attempt(name, lambda make=make: wrap(make(tf, d)))
        if step is None:
            continue
        rep.check(name, lambda step=step, steps=steps: common.train_check(step, to_float, steps))
        rep.time(name, common.calls(step), "small")

    if before_w4 is not None:
        before_w4()
    step = rep.attempt("W4", lambda: wrap(_large_mlp(tf, d)))
    if step is not None:
        rep.check("W4", lambda: common.train_check(step, to_float, cfg["w4_check_steps"]))
        rep.time("W4", common.calls(step), "w4", warmup=0)
    del step

    if before_w5 is not None:
        before_w5()
    yt, yp = tf.constant(d["w5_true"]), tf.constant(d["w5_pred"])
    logits, labels = tf.constant(d["ce_logits"]), tf.constant(d["ce_labels"])
    for name, make_loss, args in (
            ("W5 mse", lambda: tf.keras.losses.MeanSquaredError(), (yt, yp)),
            ("W5 huber", lambda: tf.keras.losses.Huber(delta=1.0), (yt, yp)),
            ("W5 ce", lambda: tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True), (labels, logits))):
        f = rep.attempt(name, lambda make_loss=make_loss: _loss_and_grad(tf, make_loss(), compiled))
        if f is None:
            continue
        rep.check(name, lambda f=f, args=args: [to_float(f(*args)[0])])
        rep.time(name, common.calls(lambda f=f, args=args: f(*args)), "w5", warmup=0)

    if not dispatch:
        rep.note("W6", "per-op dispatch is an eager notion: not measured under tf.function")
        return
    a, b = tf.constant([1.0]), tf.constant([2.0])

    def outside(n: int) -> None:
        for _ in range(n):
            _add10(a, b)

    def in_tape(n: int) -> None:
        with tf.GradientTape() as tape:
            tape.watch(a)
            for _ in range(n):
                _add10(a, b)
    rep.time("W6 add", outside, "w6", per=10)
    rep.time("W6 add (tape)", in_tape, "w6", per=10)


def main(peer: str = "tf_eager", compiled: bool = False) -> None:
    cfg = common.load_config()
    common.pin_threads(cfg["threads"])
    rep = common.Report(peer, cfg)
    try:
        import tensorflow as tf
    except Exception as e:  # noqa: BLE001
        common.skip(peer, f"import tensorflow failed: {type(e).__name__}: {e}")
    import keras
    if not compiled:
        rep.store("W6 import", rep.attempt("W6 import", lambda: common.import_time("tensorflow",
                                                                                   cfg["import_reps_peer"])))
    tf.config.threading.set_intra_op_parallelism_threads(cfg["threads"])
    tf.config.threading.set_inter_op_parallelism_threads(cfg["threads"])
    rep.out["versions"].update(tensorflow=tf.__version__, keras=keras.__version__)
    if compiled:
        rep.note("mode", "each step / loss+gradient wrapped in tf.function (graph mode, no XLA)")
    workloads(tf, rep, cfg, common.load_data(cfg), compiled=compiled, dispatch=not compiled)
    rep.emit()


if __name__ == "__main__":
    main()
