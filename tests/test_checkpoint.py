"""tf.train.Checkpoint / CheckpointManager / latest_checkpoint, Keras save_weights / load_weights and
tf.saved_model, against TensorFlow 2's semantics (values restored bit for bit)."""
from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

import pyfast_tape as tf
from pyfast_tape import checkpoint as ckpt_lib
from pyfast_tape import saved_model as saved_model_lib

keras = tf.keras


def _bits(variables):
    return [np.array(v.numpy()) for v in variables]


def _assert_same_bits(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        x, y = np.asarray(x), np.asarray(y)
        assert x.dtype == y.dtype and x.shape == y.shape
        assert x.tobytes() == y.tobytes()


@pytest.fixture(autouse=True)
def _no_pending_restores():
    yield
    ckpt_lib._PENDING.clear()  # a test's deferred restorations must not reach the next test's layers


# ---- Variables -----------------------------------------------------------------------------------------------
def test_variables_round_trip_bit_exact(tmp_path):
    special = np.array([np.nan, -0.0, np.inf, -np.inf, 1e-45, 3.4e38], np.float32)
    v32 = tf.Variable(special)
    v64 = tf.Variable(np.array([[np.pi, -1e-300]], np.float64))
    i32 = tf.Variable(np.array([1, -2, 2**31 - 1], np.int32))
    i64 = tf.Variable(np.int64(2**40 + 1))
    b = tf.Variable(np.array([True, False]))
    ckpt = tf.train.Checkpoint(a=v32, b=v64, c=i32, d=i64, e=b)
    saved = _bits([v32, v64, i32, i64, b])
    path = ckpt.save(str(tmp_path / "ckpt"))
    assert path == str(tmp_path / "ckpt-1")
    assert os.path.isfile(path + ".index") and os.path.isfile(path + ".data-00000-of-00001")
    for v in (v32, v64, i32):
        v.assign(np.zeros(v.shape, v.dtype.as_numpy_dtype))
    i64.assign(np.int64(0))
    b.assign(np.array([False, True]))
    ckpt.restore(path).assert_consumed()
    _assert_same_bits(_bits([v32, v64, i32, i64, b]), saved)
    assert i64.shape == () and int(i64.numpy()) == 2**40 + 1


def test_save_numbers_checkpoints_and_write_does_not(tmp_path):
    v = tf.Variable(1.0)
    ckpt = tf.train.Checkpoint(v=v)
    p1 = ckpt.save(tmp_path / "ckpt")  # os.PathLike accepted
    p2 = ckpt.save(str(tmp_path / "ckpt"))
    assert (p1, p2) == (str(tmp_path / "ckpt-1"), str(tmp_path / "ckpt-2"))
    assert int(ckpt.save_counter.numpy()) == 2
    assert tf.train.latest_checkpoint(str(tmp_path)) == p2
    w = ckpt.write(str(tmp_path / "exact"))
    assert w == str(tmp_path / "exact") and os.path.isfile(w + ".index")
    assert int(ckpt.save_counter.numpy()) == 2
    assert tf.train.latest_checkpoint(str(tmp_path)) == p2  # write() leaves the state file alone


def test_write_read_and_restore_of_write_checkpoint(tmp_path):
    v = tf.Variable([1.0, 2.0])
    path = tf.train.Checkpoint(v=v).write(str(tmp_path / "w"))
    v2 = tf.Variable([0.0, 0.0])
    tf.train.Checkpoint(v=v2).read(path).assert_consumed()
    np.testing.assert_array_equal(v2.numpy(), [1.0, 2.0])
    # restore() creates save_counter, which a write() checkpoint lacks: assert_consumed fails, as in TF
    v3 = tf.Variable([0.0, 0.0])
    status = tf.train.Checkpoint(v=v3).restore(path)
    np.testing.assert_array_equal(v3.numpy(), [1.0, 2.0])
    with pytest.raises(AssertionError, match="not bound to checkpointed values"):
        status.assert_consumed()
    status.expect_partial()


def test_checkpoint_state_file_is_tf_text_format(tmp_path):
    ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
    ckpt.save(str(tmp_path / "ckpt"))
    ckpt.save(str(tmp_path / "ckpt"))
    text = (tmp_path / "checkpoint").read_text()
    assert text == 'model_checkpoint_path: "ckpt-2"\nall_model_checkpoint_paths: "ckpt-2"\n'
    state = tf.train.get_checkpoint_state(str(tmp_path))
    assert state.model_checkpoint_path == str(tmp_path / "ckpt-2")
    assert state.all_model_checkpoint_paths == [str(tmp_path / "ckpt-2")]


def test_latest_checkpoint_reads_a_handwritten_state_file(tmp_path):
    assert tf.train.latest_checkpoint(str(tmp_path)) is None
    tf.train.Checkpoint(v=tf.Variable(1.0)).write(str(tmp_path / "model.ckpt-7"))
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "model.ckpt-7"\n'
                                         'all_model_checkpoint_paths: "model.ckpt-5"\n'
                                         'all_model_checkpoint_paths: "model.ckpt-7"\n')
    assert tf.train.latest_checkpoint(str(tmp_path)) == str(tmp_path / "model.ckpt-7")
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "gone-3"\n')
    assert tf.train.latest_checkpoint(str(tmp_path)) is None  # the files must exist


def test_state_file_escapes_round_trip(tmp_path):
    odd = str(tmp_path / 'we"ird\\na\u00efve')
    ckpt_lib.update_checkpoint_state_internal(str(tmp_path), odd, [odd], save_relative_paths=True)
    text = (tmp_path / "checkpoint").read_text()
    assert '\\"' in text and "\\\\" in text and "\\303\\257" in text  # C escapes, UTF-8 as octal
    assert tf.train.get_checkpoint_state(str(tmp_path)).model_checkpoint_path == odd


# ---- tf.Module graphs -----------------------------------------------------------------------------------------
class Leaf(tf.Module):
    def __init__(self, n, name=None):
        super().__init__(name=name)
        self.w = tf.Variable(np.arange(n, dtype=np.float32), name="w")
        self.step = tf.Variable(np.int64(n), trainable=False, name="step")


class Tree(tf.Module):
    def __init__(self):
        super().__init__()
        self.leaves = [Leaf(2), Leaf(3)]
        self.by_name = {"b": Leaf(4), "a": tf.Variable(5.0)}
        self.pair = (tf.Variable([1.0]), {"deep": [Leaf(1)]})
        self.scale = tf.Variable(2.0)
        self.note = "not state"

    @tf.function
    def __call__(self, x):
        return x * self.scale + tf.reduce_sum(self.leaves[0].w)


def _randomize(module, seed):
    rng = np.random.default_rng(seed)
    for v in module.variables:
        dt = v.dtype.as_numpy_dtype
        v.assign((rng.standard_normal(tuple(v.shape)) * 100).astype(dt))


def test_module_with_nested_lists_dicts_tuples(tmp_path):
    src = Tree()
    _randomize(src, 1)
    path = tf.train.Checkpoint(model=src).save(str(tmp_path / "ckpt"))
    keys = {k for k, _ in tf.train.list_variables(path)}
    for key in ("model/leaves/0/w", "model/leaves/1/step", "model/by_name/a", "model/by_name/b/w",
                "model/pair/0", "model/pair/1/deep/0/w", "model/scale", "save_counter"):
        assert key + "/.ATTRIBUTES/VARIABLE_VALUE" in keys
    dst = Tree()
    _randomize(dst, 2)
    tf.train.Checkpoint(model=dst).restore(path).assert_consumed()
    _assert_same_bits(_bits(dst.variables), _bits(src.variables))
    np.testing.assert_array_equal(tf.train.load_variable(path, "model/pair/1/deep/0/w/.ATTRIBUTES/VARIABLE_VALUE"),
                                  src.pair[1]["deep"][0].w.numpy())


def test_shared_objects_restore_through_any_path(tmp_path):
    shared = tf.Variable([3.0, 4.0])
    holder = tf.Module()
    holder.v = shared
    path = tf.train.Checkpoint(first=shared, second=holder).save(str(tmp_path / "ckpt"))
    keys = [k for k, _ in tf.train.list_variables(path) if k != "_CHECKPOINTABLE_OBJECT_GRAPH"]
    assert keys == ["first/.ATTRIBUTES/VARIABLE_VALUE", "save_counter/.ATTRIBUTES/VARIABLE_VALUE"]  # saved once
    # restored through the other edge of the graph
    fresh = tf.Module()
    fresh.v = tf.Variable([0.0, 0.0])
    tf.train.Checkpoint(second=fresh).restore(path).expect_partial()
    np.testing.assert_array_equal(fresh.v.numpy(), [3.0, 4.0])


def test_nested_checkpoints_and_plain_objects(tmp_path):
    class Holder:  # not a tf.Module: its trackable attributes are walked all the same
        def __init__(self):
            self.v = tf.Variable([1.0, 2.0])
            self.items = [tf.Variable(3.0)]

    inner = tf.train.Checkpoint(h=Holder())
    outer = tf.train.Checkpoint(inner=inner, x=tf.Variable(7.0))
    path = outer.save(str(tmp_path / "ckpt"))
    assert "inner/h/items/0/.ATTRIBUTES/VARIABLE_VALUE" in dict(tf.train.list_variables(path))
    inner2 = tf.train.Checkpoint(h=Holder())
    inner2.h.v.assign([0.0, 0.0])
    inner2.h.items[0].assign(0.0)
    outer2 = tf.train.Checkpoint(inner=inner2, x=tf.Variable(0.0))
    outer2.restore(path).assert_consumed()
    np.testing.assert_array_equal(inner2.h.v.numpy(), [1.0, 2.0])
    assert float(inner2.h.items[0].numpy()) == 3.0 and float(outer2.x.numpy()) == 7.0


def test_checkpoint_root_argument(tmp_path):
    module = Leaf(3)
    ckpt = tf.train.Checkpoint(module, extra=tf.Variable(1.5))
    path = ckpt.save(str(tmp_path / "ckpt"))
    keys = dict(tf.train.list_variables(path)).keys()
    assert {"w/.ATTRIBUTES/VARIABLE_VALUE", "extra/.ATTRIBUTES/VARIABLE_VALUE"} <= keys  # no "root/" prefix
    other = Leaf(3)
    other.w.assign(np.zeros(3, np.float32))
    tf.train.Checkpoint(other, extra=tf.Variable(0.0)).restore(path).assert_consumed()
    np.testing.assert_array_equal(other.w.numpy(), [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="root.w already exists"):
        tf.train.Checkpoint(module, w=tf.Variable(1.0))


def test_non_trackable_arguments_raise():
    with pytest.raises(ValueError, match="expecting x to be a trackable object"):
        tf.train.Checkpoint(x=3)
    with pytest.raises(ValueError, match="expecting f to be a trackable object"):
        tf.train.Checkpoint(f=lambda: 1)


# ---- assertions and errors -------------------------------------------------------------------------------------
def test_assert_consumed_fails_for_unmatched_values_and_objects(tmp_path):
    path = tf.train.Checkpoint(a=tf.Variable(1.0), b=tf.Variable(2.0)).save(str(tmp_path / "ckpt"))
    a = tf.Variable(0.0)
    status = tf.train.Checkpoint(a=a).restore(path)
    assert float(a.numpy()) == 1.0
    status.assert_existing_objects_matched()  # every live variable got a value
    status.assert_nontrivial_match()
    with pytest.raises(AssertionError, match=r"Unresolved object in checkpoint \(root\)\.b"):
        status.assert_consumed()
    status.expect_partial()
    c = tf.Variable(0.0)
    status = tf.train.Checkpoint(a=tf.Variable(0.0), b=tf.Variable(0.0), c=c).restore(path)
    with pytest.raises(AssertionError, match="Found 1 Python objects that were not bound"):
        status.assert_existing_objects_matched()
    with pytest.raises(AssertionError):
        status.assert_consumed()
    status = tf.train.Checkpoint(z=tf.Variable(0.0)).read(path)  # (restore() would match save_counter)
    with pytest.raises(AssertionError, match="Nothing except the root object matched"):
        status.assert_nontrivial_match()
    status.expect_partial()


def test_restore_none_and_missing_paths(tmp_path):
    status = tf.train.Checkpoint(v=tf.Variable(1.0)).restore(None)
    with pytest.raises(AssertionError, match="No checkpoint specified"):
        status.assert_consumed()
    with pytest.raises(tf.errors.NotFoundError, match="missing the checkpoint suffix"):
        tf.train.Checkpoint(v=tf.Variable(1.0)).restore(str(tmp_path / "nothing-1"))
    with pytest.raises(tf.errors.NotFoundError, match="Failed to find any matching files"):
        tf.train.Checkpoint(v=tf.Variable(1.0)).read(str(tmp_path / "nothing"))


def test_shape_and_dtype_mismatch_raise(tmp_path):
    path = tf.train.Checkpoint(v=tf.Variable([1.0, 2.0])).write(str(tmp_path / "w"))
    with pytest.raises(ValueError, match=r"incompatible tensor with shape \(2,\).*shape \(3,\)"):
        tf.train.Checkpoint(v=tf.Variable([0.0, 0.0, 0.0])).read(path)
    with pytest.raises(ValueError, match="float32.*float64|dtype"):
        tf.train.Checkpoint(v=tf.Variable(np.zeros(2, np.float64))).read(path)


def _fake_tf_checkpoint(prefix):
    """The shape of a TF checkpoint: a binary SSTable .index (ending in the table magic) and a data shard."""
    footer = b"\x00" * 40 + bytes.fromhex("57fb808b247547db")
    with open(prefix + ".index", "wb") as f:
        f.write(b"\x00\x1d\x00\x00\x00\x00\x00\x00\x00\x00\x01\xff" * 4 + footer)
    with open(prefix + ".data-00000-of-00001", "wb") as f:
        f.write(b"\x00" * 64)


def test_tensorflow_checkpoint_raises_a_clear_error(tmp_path):
    prefix = str(tmp_path / "ckpt-1")
    _fake_tf_checkpoint(prefix)
    with pytest.raises(NotImplementedError, match="TensorFlow checkpoint.*SSTable.*pyfast_tape reads and writes only "
                                                  "its own checkpoint format"):
        tf.train.Checkpoint(v=tf.Variable(1.0)).restore(prefix)
    with pytest.raises(NotImplementedError, match="TensorFlow checkpoint"):
        tf.train.list_variables(prefix)
    (tmp_path / "garbage.index").write_bytes(b"\x01\x02not json")
    with pytest.raises(ValueError, match="not a pyfast_tape checkpoint index"):
        tf.train.Checkpoint(v=tf.Variable(1.0)).read(str(tmp_path / "garbage"))


def test_index_documents_its_format(tmp_path):
    path = tf.train.Checkpoint(v=tf.Variable(1.0)).write(str(tmp_path / "w"))
    index = json.loads((tmp_path / "w.index").read_text())
    assert index["format"] == "pyfast_tape.checkpoint" and "NOT TensorFlow's" in index["note"]
    reader = tf.train.load_checkpoint(path)
    assert reader.has_tensor("v/.ATTRIBUTES/VARIABLE_VALUE")
    assert reader.get_variable_to_shape_map()["v/.ATTRIBUTES/VARIABLE_VALUE"] == []
    assert reader.get_variable_to_dtype_map()["v/.ATTRIBUTES/VARIABLE_VALUE"] == tf.float32
    with pytest.raises(tf.errors.NotFoundError, match="not found in checkpoint"):
        reader.get_tensor("nope")


# ---- Keras: a model and its optimizer, mid-training ----------------------------------------------------------
def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((32, 5)).astype(np.float32)
    y = (x @ rng.standard_normal((5, 3))).astype(np.float32)
    return x, y


def _model():
    return keras.Sequential([keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)])


def _train(model, opt, x, y, steps):
    for i in range(steps):
        xb, yb = x[(i * 8) % 32:(i * 8) % 32 + 8], y[(i * 8) % 32:(i * 8) % 32 + 8]
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(xb) - yb))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))


def test_keras_model_and_adam_mid_training(tmp_path):
    tf.random.set_seed(1)
    x, y = _data()
    model, opt = _model(), keras.optimizers.Adam(0.01)
    _train(model, opt, x, y, 5)
    ckpt = tf.train.Checkpoint(model=model, optimizer=opt)
    path = ckpt.save(str(tmp_path / "ckpt"))
    keys = dict(tf.train.list_variables(path))
    assert "model/_layers/0/kernel/.ATTRIBUTES/VARIABLE_VALUE" in keys
    assert "optimizer/iterations/.ATTRIBUTES/VARIABLE_VALUE" in keys
    assert "optimizer/_velocities/3/.ATTRIBUTES/VARIABLE_VALUE" in keys
    saved_weights, saved_opt = _bits(model.variables), _bits(opt.variables)
    assert int(opt.iterations.numpy()) == 5
    _train(model, opt, x, y, 4)  # keep training
    continued_weights, continued_opt = _bits(model.variables), _bits(opt.variables)
    ckpt.restore(path).assert_consumed()
    _assert_same_bits(_bits(model.variables), saved_weights)
    _assert_same_bits(_bits(opt.variables), saved_opt)  # iterations, m and v slots
    assert int(opt.iterations.numpy()) == 5
    _train(model, opt, x, y, 4)  # training continues identically
    _assert_same_bits(_bits(model.variables), continued_weights)
    _assert_same_bits(_bits(opt.variables), continued_opt)


def test_deferred_restoration_into_model_built_after_restore(tmp_path):
    tf.random.set_seed(2)
    x, y = _data(1)
    model, opt = _model(), keras.optimizers.Adam(0.01)
    _train(model, opt, x, y, 3)
    path = tf.train.Checkpoint(model=model, optimizer=opt).save(str(tmp_path / "ckpt"))
    _train(model, opt, x, y, 3)
    expected_weights, expected_opt = _bits(model.variables), _bits(opt.variables)

    fresh, fresh_opt = _model(), keras.optimizers.Adam(0.01)  # nothing built, no slots yet
    assert not fresh.variables and len(fresh_opt.variables) == 1
    status = tf.train.Checkpoint(model=fresh, optimizer=fresh_opt).restore(tf.train.latest_checkpoint(str(tmp_path)))
    assert int(fresh_opt.iterations.numpy()) == 3  # existing variables: restored at once
    status.assert_existing_objects_matched()
    with pytest.raises(AssertionError, match="Unresolved object"):
        status.assert_consumed()
    fresh.build((None, 5))  # the layers' weights take the saved values as they are created
    _assert_same_bits(_bits(fresh.variables), [tf.train.load_variable(path, f"model/_layers/{i}/{n}/.ATTRIBUTES/"
                                                                      "VARIABLE_VALUE")
                                               for i in (0, 1) for n in ("kernel", "bias")])
    with pytest.raises(AssertionError, match="_momentums"):
        status.assert_consumed()  # the slots come with the first apply_gradients
    _train(fresh, fresh_opt, x, y, 3)
    status.assert_consumed()
    _assert_same_bits(_bits(fresh.variables), expected_weights)
    _assert_same_bits(_bits(fresh_opt.variables), expected_opt)


def test_deferred_restoration_through_fit_and_subclassed_model(tmp_path):
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(4)
            self.out = keras.layers.Dense(1)

        def call(self, x):
            return self.out(tf.nn.relu(self.dense(x)))

    tf.random.set_seed(3)
    x, y = _data(2)
    y = y[:, :1]
    net = Net()
    net.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="mse")
    net.fit(x, y, epochs=2, batch_size=8, verbose=0, shuffle=False)
    path = tf.train.Checkpoint(model=net).save(str(tmp_path / "ckpt"))
    assert "model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE" in dict(tf.train.list_variables(path))
    assert "model/optimizer/momentums/0/.ATTRIBUTES/VARIABLE_VALUE" in dict(tf.train.list_variables(path))
    net.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    expected = _bits(net.variables) + _bits(net.optimizer.variables)

    net2 = Net()
    net2.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="mse")
    status = tf.train.Checkpoint(model=net2).restore(path)
    net2.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)  # builds the layers and the slots
    status.assert_consumed()
    _assert_same_bits(_bits(net2.variables) + _bits(net2.optimizer.variables), expected)


def test_checkpoint_manager_rotation(tmp_path):
    v = tf.Variable(0.0)
    ckpt = tf.train.Checkpoint(v=v)
    manager = tf.train.CheckpointManager(ckpt, str(tmp_path), max_to_keep=2)
    assert manager.latest_checkpoint is None and manager.checkpoints == []
    paths = []
    for i in range(4):
        v.assign(float(i))
        paths.append(manager.save())
    assert paths == [str(tmp_path / f"ckpt-{n}") for n in (1, 2, 3, 4)]
    assert manager.checkpoints == paths[2:]
    assert manager.latest_checkpoint == paths[3] == tf.train.latest_checkpoint(str(tmp_path))
    files = sorted(os.listdir(tmp_path))
    assert files == ["checkpoint", "ckpt-3.data-00000-of-00001", "ckpt-3.index", "ckpt-4.data-00000-of-00001",
                     "ckpt-4.index"]
    lines = (tmp_path / "checkpoint").read_text().splitlines()
    assert lines[:3] == ['model_checkpoint_path: "ckpt-4"', 'all_model_checkpoint_paths: "ckpt-3"',
                         'all_model_checkpoint_paths: "ckpt-4"']
    assert [line.split(":")[0] for line in lines[3:]] == ["all_model_checkpoint_timestamps"] * 2 + [
        "last_preserved_timestamp"]
    # an explicit number; save_counter still increments
    assert manager.save(checkpoint_number=100) == str(tmp_path / "ckpt-100")
    assert int(ckpt.save_counter.numpy()) == 5
    assert manager.checkpoints == [str(tmp_path / "ckpt-4"), str(tmp_path / "ckpt-100")]

    # a new manager on the directory resumes its state; restoring continues the numbering
    v2 = tf.Variable(-1.0)
    ckpt2 = tf.train.Checkpoint(v=v2)
    manager2 = tf.train.CheckpointManager(ckpt2, str(tmp_path), max_to_keep=2)
    assert manager2.checkpoints == [str(tmp_path / "ckpt-4"), str(tmp_path / "ckpt-100")]
    assert manager2.restore_or_initialize() == str(tmp_path / "ckpt-100")
    assert float(v2.numpy()) == 3.0 and int(ckpt2.save_counter.numpy()) == 5
    assert manager2.save() == str(tmp_path / "ckpt-6")
    assert not os.path.exists(tmp_path / "ckpt-4.index")

    with pytest.raises(ValueError, match="positive integer"):
        tf.train.CheckpointManager(ckpt, str(tmp_path / "x"), max_to_keep=0)


def test_checkpoint_manager_keep_all_interval_and_init_fn(tmp_path):
    step = tf.Variable(np.int64(0), trainable=False)
    ckpt = tf.train.Checkpoint(step=step)
    calls = []
    manager = tf.train.CheckpointManager(ckpt, str(tmp_path), max_to_keep=None, step_counter=step,
                                         checkpoint_interval=10, init_fn=lambda: calls.append(1))
    assert manager.restore_or_initialize() is None and calls == [1]
    assert manager.save() == str(tmp_path / "ckpt-1")
    step.assign(np.int64(5))
    assert manager.save() is None  # fewer than 10 steps since the last
    step.assign(np.int64(10))
    assert manager.save() == str(tmp_path / "ckpt-2")
    assert len(manager.checkpoints) == 2


# ---- Keras save_weights / load_weights -------------------------------------------------------------------------
def test_save_weights_checkpoint_format_and_deferred_load(tmp_path):
    tf.random.set_seed(4)
    x, _ = _data(3)
    model = _model()
    model(x)
    prefix = str(tmp_path / "weights" / "w")
    model.save_weights(prefix)
    assert os.path.isfile(prefix + ".index") and tf.train.latest_checkpoint(str(tmp_path / "weights")) == prefix
    assert "_layers/1/bias/.ATTRIBUTES/VARIABLE_VALUE" in dict(tf.train.list_variables(prefix))
    other = _model()
    status = other.load_weights(prefix)  # not built: restored when built
    other(x)
    status.assert_consumed()
    _assert_same_bits(_bits(other.variables), _bits(model.variables))
    np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))


def test_save_weights_h5(tmp_path):
    pytest.importorskip("h5py")
    import h5py
    tf.random.set_seed(5)
    x, y = _data(4)
    model = _model()
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    path = str(tmp_path / "m.weights.h5")
    model.save_weights(path)
    with h5py.File(path, "r") as f:  # Keras 3's layout
        names = []
        f.visit(names.append)
        np.testing.assert_array_equal(f["layers/dense_1/vars/1"][()], model.layers[1].bias.numpy())
    assert {"vars", "layers/dense/vars/0", "layers/dense/vars/1", "layers/dense_1/vars/0", "optimizer/vars/0",
            "optimizer/vars/8"} <= set(names)
    other = _model()
    other.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match="not yet been built"):
        other.load_weights(path)
    other.build((None, 5))
    with pytest.warns(UserWarning, match="Skipping variable loading for optimizer"):
        other.load_weights(path)  # the optimizer has no slots yet: skipped, as in Keras 3
    _assert_same_bits(_bits(other.variables), _bits(model.variables))
    with pytest.raises(ValueError, match=r"must end in `\.weights\.h5`"):
        model.save_weights(str(tmp_path / "m.h5"))


def test_weights_h5_without_h5py_names_the_package(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py now raises ImportError
    model = _model()
    model.build((None, 5))
    with pytest.raises(ImportError, match="`h5py`"):
        model.save_weights(str(tmp_path / "m.weights.h5"))
    with pytest.raises(ImportError, match="`h5py`"):
        model.load_weights(str(tmp_path / "m.weights.h5"))


# ---- tf.saved_model --------------------------------------------------------------------------------------------
class Scaler(tf.Module):
    def __init__(self):
        super().__init__()
        self.w = tf.Variable([[1.0], [2.0]])
        self.b = tf.Variable(0.5)
        self.layers = [Leaf(2)]

    @tf.function
    def __call__(self, x):
        return tf.matmul(x, self.w) + self.b

    @tf.function
    def double(self, x):
        return 2.0 * self(x)

    def plain(self):
        return self.b * 10.0


def test_saved_model_round_trip(tmp_path):
    module = Scaler()
    export = str(tmp_path / "sm")
    tf.saved_model.save(module, export, signatures={"serving_default": module.double, "call": module.__call__})
    assert os.path.isfile(os.path.join(export, "variables", "variables.index"))
    assert not os.path.exists(os.path.join(export, "saved_model.pb"))
    assert tf.saved_model.contains_saved_model(export)
    manifest = json.loads((tmp_path / "sm" / "pyfast_tape_saved_model.json").read_text())
    assert manifest["functions"] == ["__call__", "double"] and "NOT TensorFlow's" in manifest["note"]
    saved = _bits(module.variables)
    module.w.assign([[9.0], [9.0]])  # later changes to the original do not reach the loaded copy

    loaded = tf.saved_model.load(export)
    assert loaded is not module and loaded.w is not module.w
    _assert_same_bits(_bits(loaded.variables), saved)
    x = tf.constant([[1.0, 1.0]])
    np.testing.assert_array_equal(loaded(x).numpy(), [[3.5]])
    np.testing.assert_array_equal(loaded.double(x).numpy(), [[7.0]])
    assert float(loaded.plain().numpy()) == 5.0
    out = loaded.signatures["serving_default"](x=x)
    assert list(out) == ["output_0"] and np.array_equal(out["output_0"].numpy(), [[7.0]])
    with pytest.raises(TypeError, match="keyword arguments only"):
        loaded.signatures["call"](x)
    # two loads are independent; the original is untouched by the loaded copy
    again = tf.saved_model.load(export)
    loaded.b.assign(100.0)
    assert float(again.b.numpy()) == 0.5 and float(module.b.numpy()) == 0.5
    # a SavedModel directory restores through tf.train.Checkpoint too
    fresh = Scaler()
    tf.train.Checkpoint(fresh).restore(export).expect_partial()
    _assert_same_bits(_bits(fresh.variables), saved)


def test_saved_model_keras_model(tmp_path):
    tf.random.set_seed(6)
    x, y = _data(5)
    model = _model()
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    tf.saved_model.save(model, str(tmp_path / "k"))
    loaded = tf.saved_model.load(str(tmp_path / "k"))
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    # the copy's optimizer knows the copy's variables: training both continues identically
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    loaded.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    _assert_same_bits(_bits(loaded.variables), _bits(model.variables))


def test_saved_model_from_another_program_gives_variables_only(tmp_path):
    module = Scaler()
    export = str(tmp_path / "sm")
    tf.saved_model.save(module, export, signatures=module.double)
    saved_model_lib._REGISTRY.clear()  # what another process would see
    loaded = tf.saved_model.load(export)
    np.testing.assert_array_equal(loaded.w.numpy(), [[1.0], [2.0]])
    np.testing.assert_array_equal(loaded.layers[0].w.numpy(), [0.0, 1.0])
    assert len(loaded.variables) == len(module.variables)
    with pytest.raises(NotImplementedError, match="cannot serialize Python code"):
        loaded.double(tf.constant([[1.0, 1.0]]))
    with pytest.raises(NotImplementedError, match="same program"):
        loaded.signatures["serving_default"](x=tf.constant([[1.0, 1.0]]))


def test_saved_model_errors(tmp_path):
    tf_dir = tmp_path / "tf_saved_model"
    (tf_dir / "variables").mkdir(parents=True)
    (tf_dir / "saved_model.pb").write_bytes(b"\x08\x01\x12\x00")
    with pytest.raises(NotImplementedError, match="TensorFlow SavedModel.*protobuf format.*not supported"):
        tf.saved_model.load(str(tf_dir))
    with pytest.raises(OSError, match="SavedModel file does not exist"):
        tf.saved_model.load(str(tmp_path / "nothing"))
    with pytest.raises(ValueError, match="Expected an object of type `Trackable`"):
        tf.saved_model.save(3, str(tmp_path / "x"))


def test_write_callbacks_and_checkpoints_iterator(tmp_path):
    seen = []
    options = tf.train.CheckpointOptions(experimental_write_callbacks=[seen.append, lambda: seen.append("done")])
    ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
    path = ckpt.save(str(tmp_path / "ckpt"), options=options)
    assert seen == [path, "done"]
    assert list(tf.train.checkpoints_iterator(str(tmp_path), timeout=0)) == [path]
