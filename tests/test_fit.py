"""Keras training API: Model.compile/fit/evaluate/predict, History, metrics and the progress bar.

fit must be the hand-written loop (same tape, same fused kernels, same optimizer updates): with the same
initial weights and shuffle=False its per-epoch loss is the batch-size-weighted mean of the loop's batch
losses and its final weights are the loop's. evaluate/predict are checked against NumPy computations on
the model's own outputs; the progress bar against Keras 3's line formats."""
from __future__ import annotations

import re

import numpy as np
import pytest

import pyfast_tape as tf

keras = tf.keras
from pyfast_tape.keras import callbacks as kcallbacks  # noqa: E402
from pyfast_tape.keras import metrics as kmetrics  # noqa: E402

NUM = r"-?\d+\.\d{4}(?:e[-+]\d+)?"
TIME = r"\d+(?:us|ms|s)/step"


def _data(n=96, d=8, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    labels = rng.integers(0, classes, n)
    return x, labels, keras.utils.to_categorical(labels, classes).astype(np.float32)


def _mlp(out_units=3, out_activation="softmax", d=8):
    return keras.Sequential([keras.Input((d,)), keras.layers.Dense(16, activation="relu"),
                             keras.layers.Dense(out_units, activation=out_activation)])


def _twins(**kw):
    a, b = _mlp(**kw), _mlp(**kw)
    b.set_weights([w.copy() for w in a.get_weights()])
    return a, b


def _hand_loop(model, optimizer, loss_fn, x, y, batch_size, epochs, sample_weight=None):
    """The loop fit replaces: returns each epoch's batch-size-weighted mean batch loss."""
    out = []
    n = len(x)
    for _ in range(epochs):
        total = count = 0.0
        for lo in range(0, n, batch_size):
            xb, yb = tf.constant(x[lo:lo + batch_size]), tf.constant(y[lo:lo + batch_size])
            with tf.GradientTape() as tape:
                y_pred = model(xb)
                if sample_weight is None:
                    loss = loss_fn(yb, y_pred)
                else:
                    loss = loss_fn(yb, y_pred, sample_weight=sample_weight[lo:lo + batch_size])
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            total += float(loss) * len(xb)
            count += len(xb)
        out.append(total / count)
    return out


# ---- fit is the hand-written loop ----------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["adam_cce", "sgd_momentum_mse", "adam_sparse", "sgd_bce"])
@pytest.mark.parametrize("batch_size", [16, 20])  # 20: a short last batch (96 = 4*20 + 16)
def test_fit_matches_hand_written_loop(case, batch_size):
    x, labels, onehot = _data()
    if case == "adam_cce":
        kw, y = {}, onehot
        make_opt, make_loss = (lambda: keras.optimizers.Adam(0.01)), keras.losses.CategoricalCrossentropy
    elif case == "sgd_momentum_mse":
        kw, y = dict(out_units=2, out_activation=None), x[:, :2] * 0.5 + 0.1
        make_opt, make_loss = (lambda: keras.optimizers.SGD(0.05, momentum=0.9)), keras.losses.MeanSquaredError
    elif case == "adam_sparse":
        kw, y = {}, labels.astype(np.int32)
        make_opt, make_loss = (lambda: keras.optimizers.Adam(0.01)), keras.losses.SparseCategoricalCrossentropy
    else:
        kw, y = dict(out_units=1, out_activation="sigmoid"), (labels > 0).astype(np.float32)[:, None]
        make_opt, make_loss = (lambda: keras.optimizers.SGD(0.1)), keras.losses.BinaryCrossentropy
    a, b = _twins(**kw)
    a.compile(optimizer=make_opt(), loss=make_loss())
    hist = a.fit(x, y, batch_size=batch_size, epochs=3, shuffle=False, verbose=0)
    expected = _hand_loop(b, make_opt(), make_loss(), x, y, batch_size, 3)
    np.testing.assert_allclose(hist.history["loss"], expected, rtol=1e-6, atol=1e-7)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)
    assert int(a.optimizer.iterations.numpy()) == 3 * -(-len(x) // batch_size)


def test_fit_sample_weight_matches_hand_loop():
    x, _, onehot = _data(n=64)
    sw = np.linspace(0.5, 2.0, 64).astype(np.float32)
    a, b = _twins()
    a.compile(keras.optimizers.SGD(0.1), keras.losses.CategoricalCrossentropy())
    hist = a.fit(x, onehot, batch_size=16, epochs=2, shuffle=False, verbose=0, sample_weight=sw)
    expected = _hand_loop(b, keras.optimizers.SGD(0.1), keras.losses.CategoricalCrossentropy(), x, onehot, 16, 2,
                          sample_weight=sw)
    np.testing.assert_allclose(hist.history["loss"], expected, rtol=1e-6, atol=1e-7)


def test_fit_shuffle_is_seeded_by_tf_random_set_seed():
    x, _, onehot = _data(n=64)

    def run(shuffle):
        tf.random.set_seed(1234)
        model = _mlp()
        model.compile("adam", "categorical_crossentropy")
        h = model.fit(x, onehot, batch_size=8, epochs=2, shuffle=shuffle, verbose=0)
        return h.history["loss"], model.get_weights()

    (l1, w1), (l2, w2), (l3, _) = run(True), run(True), run(False)
    assert l1 == l2
    for p, q in zip(w1, w2):
        np.testing.assert_array_equal(p, q)
    assert l1 != l3  # same initial weights (same seed), other batch order


def test_fit_accepts_tensors_lists_and_float64():
    x, _, onehot = _data(n=32)
    a, b = _twins()
    a.compile(keras.optimizers.SGD(0.1), "categorical_crossentropy")
    b.compile(keras.optimizers.SGD(0.1), "categorical_crossentropy")
    ha = a.fit(tf.constant(x), tf.constant(onehot), batch_size=8, shuffle=False, verbose=0)
    hb = b.fit(x.astype(np.float64).tolist(), onehot.astype(np.float64), batch_size=8, shuffle=False, verbose=0)
    np.testing.assert_allclose(ha.history["loss"], hb.history["loss"], rtol=1e-6)


# ---- History ---------------------------------------------------------------------------------------------------
def test_history_keys_and_lengths_with_validation_split():
    x, _, onehot = _data(n=80)
    model = _mlp()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy", "mse"])
    hist = model.fit(x, onehot, batch_size=16, epochs=3, validation_split=0.25, verbose=0)
    assert isinstance(hist, kcallbacks.History)
    assert model.history is hist
    assert list(hist.history) == ["accuracy", "loss", "mse", "val_accuracy", "val_loss", "val_mse"]
    assert all(len(v) == 3 for v in hist.history.values())
    assert all(isinstance(v, float) for vs in hist.history.values() for v in vs)
    assert hist.epoch == [0, 1, 2]
    # validation data = the last 25% of the samples, evaluated after the epoch: evaluate() agrees
    val = model.evaluate(x[60:], onehot[60:], batch_size=16, verbose=0, return_dict=True)
    for k in ("loss", "accuracy", "mse"):
        assert hist.history["val_" + k][-1] == pytest.approx(val[k], rel=1e-6, abs=1e-7)
    # and 60 training samples in batches of 16: 4 steps per epoch
    assert int(model.optimizer.iterations.numpy()) == 12


def test_history_with_validation_data_freq_and_initial_epoch():
    x, _, onehot = _data(n=48)
    model = _mlp()
    model.compile("sgd", "categorical_crossentropy", metrics=["acc"])
    hist = model.fit(x, onehot, epochs=4, initial_epoch=1, validation_data=(x[:16], onehot[:16]),
                     validation_freq=2, verbose=0)
    assert hist.epoch == [1, 2, 3]
    assert len(hist.history["loss"]) == 3 and len(hist.history["acc"]) == 3
    assert len(hist.history["val_loss"]) == 2  # after epochs 1 and 3 only: (epoch + 1) % 2 == 0 (Keras)
    assert "val_acc" in hist.history


def test_metric_names_follow_keras():
    x, labels, onehot = _data(n=32)
    model = _mlp()
    model.compile("adam", keras.losses.CategoricalCrossentropy(),
                  metrics=["mean_squared_error", kmetrics.MeanAbsoluteError(), "mae", kmetrics.categorical_accuracy])
    logs = model.fit(x, onehot, verbose=0).history
    assert list(logs) == ["categorical_accuracy", "loss", "mae", "mean_absolute_error", "mean_squared_error"]


@pytest.mark.parametrize("loss,labels_kind,expected", [
    (keras.losses.CategoricalCrossentropy, "onehot", kmetrics.CategoricalAccuracy),
    (keras.losses.SparseCategoricalCrossentropy, "int", kmetrics.SparseCategoricalAccuracy),
    (keras.losses.SparseCategoricalCrossentropy, "int_col", kmetrics.SparseCategoricalAccuracy),
    (keras.losses.BinaryCrossentropy, "binary", kmetrics.BinaryAccuracy),
])
def test_accuracy_is_resolved_like_keras_and_computed_per_sample(loss, labels_kind, expected):
    x, labels, onehot = _data(n=40)
    if labels_kind == "binary":
        model, y = _mlp(out_units=1, out_activation="sigmoid"), (labels > 0).astype(np.float32)[:, None]
    else:
        model = _mlp()
        y = {"onehot": onehot, "int": labels, "int_col": labels[:, None]}[labels_kind]
    model.compile("adam", loss(), metrics=["accuracy"])
    model.fit(x, y, batch_size=16, verbose=0)
    (metric,) = [m for m in model.metrics if m.name == "accuracy"]
    assert type(metric) is expected
    loss_value, acc = model.evaluate(x, y, batch_size=16, verbose=0)
    p = model.predict(x, verbose=0)
    if labels_kind == "binary":
        manual = np.mean((p > 0.5).astype(np.float32) == y)
    else:
        manual = np.mean(np.argmax(p, -1) == labels)
    assert acc == pytest.approx(manual, abs=1e-7)


# ---- evaluate / predict ------------------------------------------------------------------------------------------
def test_evaluate_values_and_forms():
    x, labels, onehot = _data(n=50)
    model = _mlp()
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy", "mse"])
    model.fit(x, onehot, epochs=2, verbose=0)
    p = model.predict(x, verbose=0).astype(np.float64)
    ce = -np.sum(onehot * np.log(p), axis=-1)  # the softmax output: Keras's logits path, to float32 rounding
    loss, acc, mse = model.evaluate(x, onehot, batch_size=16, verbose=0)
    assert loss == pytest.approx(ce.mean(), rel=2e-5)
    assert acc == pytest.approx(np.mean(np.argmax(p, -1) == labels))
    assert mse == pytest.approx(np.mean((p - onehot) ** 2), rel=1e-5)
    d = model.evaluate(x, onehot, batch_size=16, verbose=0, return_dict=True)
    assert list(d) == ["accuracy", "loss", "mse"]
    assert d["loss"] == pytest.approx(loss, rel=1e-12)
    # no metrics: the loss alone, as a float
    plain = _mlp()
    plain.set_weights(model.get_weights())
    plain.compile("adam", "categorical_crossentropy")
    only = plain.evaluate(x, onehot, verbose=0)
    assert isinstance(only, float) and only == pytest.approx(loss, rel=1e-6)


def test_evaluate_sample_weight():
    x, _, onehot = _data(n=32)
    sw = np.r_[np.ones(16), np.zeros(16)].astype(np.float32)
    model = _mlp()
    model.compile("sgd", "categorical_crossentropy")
    weighted = model.evaluate(x, onehot, sample_weight=sw, batch_size=16, verbose=0)
    first_half = model.evaluate(x[:16], onehot[:16], batch_size=16, verbose=0)
    assert weighted == pytest.approx(first_half / 2, rel=1e-6)  # batch 2 weighs zero (sum over batch size)


@pytest.mark.parametrize("batch_size", [None, 7, 64, 1000])
def test_predict_shape_dtype_and_values(batch_size):
    x, _, _ = _data(n=50)
    model = _mlp()
    out = model.predict(x, batch_size=batch_size, verbose=0)
    assert isinstance(out, np.ndarray) and out.shape == (50, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, model(tf.constant(x)).numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(model.predict_on_batch(x[:5]), out[:5], rtol=1e-6, atol=1e-7)


def test_predict_and_evaluate_record_nothing_on_an_enclosing_tape():
    x, _, onehot = _data(n=16)
    model = _mlp()
    model.compile("sgd", "categorical_crossentropy")
    with tf.GradientTape() as tape:
        model.predict(x, verbose=0)
        model.evaluate(x, onehot, verbose=0)
    assert tape._num_entries == 0


def test_train_and_test_on_batch():
    x, _, onehot = _data(n=16)
    a, b = _twins()
    a.compile(keras.optimizers.SGD(0.1), "categorical_crossentropy", metrics=["accuracy"])
    loss, acc = a.train_on_batch(x, onehot)
    (expected,) = _hand_loop(b, keras.optimizers.SGD(0.1), keras.losses.CategoricalCrossentropy(), x, onehot, 16, 1)
    assert loss == pytest.approx(expected, rel=1e-6)
    logs = a.test_on_batch(x, onehot, return_dict=True)
    assert set(logs) == {"accuracy", "loss"}


# ---- progress bar ------------------------------------------------------------------------------------------------
def _fit_output(capsys, verbose, epochs=2):
    x, _, onehot = _data(n=64)
    model = _mlp()
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    capsys.readouterr()
    model.fit(x, onehot, batch_size=16, epochs=epochs, verbose=verbose)
    return capsys.readouterr().out


def test_progress_bar_verbose_1(capsys):
    out = _fit_output(capsys, 1)
    lines = out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    bar = re.compile(rf"^4/4 ━{{20}} \d+s {TIME} - accuracy: {NUM} - loss: {NUM}$")
    assert bar.match(lines[1]) and bar.match(lines[3]), lines
    assert "\r" not in out and "\x1b" not in out  # not a terminal: one clean line per epoch


def test_progress_bar_verbose_2(capsys):
    out = _fit_output(capsys, 2)
    lines = out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    line = re.compile(rf"^4/4 - \d+s - {TIME} - accuracy: {NUM} - loss: {NUM}$")
    assert line.match(lines[1]) and line.match(lines[3]), lines


def test_progress_bar_one_epoch_has_no_epoch_line_and_shows_validation(capsys):
    x, _, onehot = _data(n=64)
    model = _mlp()
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    capsys.readouterr()
    model.fit(x, onehot, batch_size=16, validation_split=0.25)
    (line,) = capsys.readouterr().out.splitlines()
    assert re.match(rf"^3/3 ━{{20}} \d+s {TIME} - accuracy: {NUM} - loss: {NUM} - val_accuracy: {NUM} - "
                    rf"val_loss: {NUM}$", line), line


def test_verbose_0_prints_nothing(capsys):
    x, _, onehot = _data(n=32)
    model = _mlp()
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    capsys.readouterr()
    model.fit(x, onehot, epochs=2, verbose=0, validation_split=0.5)
    model.evaluate(x, onehot, verbose=0)
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""


def test_evaluate_and_predict_bars(capsys):
    x, _, onehot = _data(n=40)
    model = _mlp()
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    capsys.readouterr()
    model.evaluate(x, onehot, batch_size=16)
    model.predict(x, batch_size=16)
    ev, pr = capsys.readouterr().out.splitlines()
    assert re.match(rf"^3/3 ━{{20}} \d+s {TIME} - accuracy: {NUM} - loss: {NUM}$", ev), ev
    assert re.match(rf"^3/3 ━{{20}} \d+s {TIME}$", pr), pr


def test_progbar_on_a_terminal_rewrites_the_line(capsys):
    bar = kcallbacks.Progbar(3, interval=0.0, dynamic_display=True)
    for i in (1, 2):
        bar.update(i, [("loss", 1.0 * i)])
    bar.update(3, [("loss", 0.25)], finalize=True)
    out = capsys.readouterr().out
    assert out.count("\r") == 3 and out.endswith("\n") and out.count("\n") == 1
    assert "\x1b[1m" in out and "\x1b[32m" in out  # Keras's bold count and green bar
    assert out.rstrip().endswith("- loss: 0.2500")
    assert "- loss: 1.5000" in out  # during the epoch: Keras's average of the values shown so far


# ---- callbacks, compile ---------------------------------------------------------------------------------------------
def test_callbacks_are_called_and_early_stopping_stops():
    x, _, onehot = _data(n=32)
    model = _mlp()
    model.compile(keras.optimizers.SGD(0.0), "categorical_crossentropy")  # lr 0: the loss never improves
    seen = {"epochs": [], "batches": 0, "test": 0}

    class Counter(kcallbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen["batches"] += 1
            assert "loss" in logs

        def on_test_end(self, logs=None):
            seen["test"] += 1

    cbs = [kcallbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen["epochs"].append((e, sorted(logs)))),
           Counter(), kcallbacks.EarlyStopping(monitor="loss", patience=1)]
    hist = model.fit(x, onehot, batch_size=8, epochs=10, verbose=0, callbacks=cbs, validation_split=0.25,
                     shuffle=False)
    assert hist.epoch == [0, 1]
    assert [e for e, _ in seen["epochs"]] == [0, 1]
    assert seen["epochs"][0][1] == ["loss", "val_loss"]
    assert seen["batches"] == 2 * 3 and seen["test"] == 2


def test_compile_resolves_names_and_objects():
    model = _mlp()
    model.compile(optimizer="sgd", loss="mse")
    assert isinstance(model.optimizer, keras.optimizers.SGD) and model.optimizer.learning_rate == pytest.approx(0.01)
    assert model.loss == "mse"
    model.compile(optimizer="Adam", loss=keras.losses.Huber())
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    x, _, onehot = _data(n=16)
    h = model.fit(x, onehot, verbose=0)
    assert list(h.history) == ["loss"]
    model.compile(optimizer="adam", loss=lambda yt, yp: tf.reduce_mean(tf.square(yt - yp), axis=-1))
    assert model.fit(x, onehot, verbose=0).history["loss"][0] > 0
    with pytest.raises(ValueError, match="Could not interpret"):
        model.compile(optimizer="adam", loss="no_such_loss")
    with pytest.raises(ValueError, match="Could not interpret optimizer"):
        model.compile(optimizer="no_such_optimizer", loss="mse")


def test_errors():
    x, _, onehot = _data(n=16)
    model = _mlp()
    with pytest.raises(ValueError, match="You must call `compile\\(\\)`"):
        model.fit(x, onehot, verbose=0)
    model.compile("adam", "categorical_crossentropy")
    with pytest.raises(ValueError, match="Data cardinality is ambiguous"):
        model.fit(x, onehot[:10], verbose=0)
    with pytest.raises(ValueError, match="not sufficient to split"):
        model.fit(x[:1], onehot[:1], validation_split=0.5, verbose=0)
    with pytest.raises(ValueError, match="verbose"):
        model.fit(x, onehot, verbose=3)


def test_metrics_module_standalone():
    m = kmetrics.Mean()
    m.update_state([1.0, 2.0, 3.0])
    m.update_state(10.0, sample_weight=2.0)
    assert float(m.result()) == pytest.approx((6 + 20) / 5)
    acc = kmetrics.SparseCategoricalAccuracy()
    assert float(acc([1, 2], [[0.1, 0.8, 0.1], [0.6, 0.3, 0.1]])) == pytest.approx(0.5)
    b = kmetrics.BinaryAccuracy(threshold=0.5)
    assert float(b([[1.0], [0.0]], [[0.7], [0.6]])) == pytest.approx(0.5)
    assert kmetrics.get("mse").name == "mean_squared_error"
    np.testing.assert_allclose(kmetrics.mean_absolute_error([[1.0, 3.0]], [[2.0, 1.0]]).numpy(), [1.5])


def test_fit_on_a_subclassed_model():
    x, labels, _ = _data(n=48)

    class MLP(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = [keras.layers.Dense(16, activation="relu")]
            self.out = keras.layers.Dense(3)
            self.scale = self.add_weight((), initializer="ones", name="scale")

        def call(self, inputs, training=None):
            return self.out(self.hidden[0](inputs)) * self.scale

    model = MLP()
    model(x[:1])
    assert [type(l).__name__ for l in model.layers] == ["Dense", "Dense"]
    assert len(model.trainable_variables) == 5 and model.trainable_variables[0] is model.scale
    assert model.count_params() == 8 * 16 + 16 + 16 * 3 + 3 + 1
    twin = MLP()
    twin(x[:1])
    twin.set_weights(model.get_weights())
    model.compile(keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    hist = model.fit(x, labels, batch_size=16, epochs=2, shuffle=False, verbose=0)
    expected = _hand_loop(twin, keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                          x, labels, 16, 2)
    np.testing.assert_allclose(hist.history["loss"], expected, rtol=1e-6)
    assert float(model.scale.numpy()) != 1.0  # the model's own weight is trained too


def test_functional_model_is_reported_as_unsupported():
    inputs = keras.Input((4,))
    with pytest.raises(NotImplementedError, match="functional"):
        keras.Model(inputs, inputs)
