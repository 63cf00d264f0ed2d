"""tf.Module and tf.name_scope against TensorFlow's documented behaviour (the docstrings and module_test.py of
tensorflow/python/module, and the eager branch of ops.name_scope_v2): names and their validation, name
scopes and the variable names they give, variables/trainable_variables/submodules found by walking the
attributes in sorted order of name (own attributes first, then each submodule), deduplicated by identity,
and Keras layers counted as modules."""
from __future__ import annotations

import collections
import threading

import numpy as np
import pytest

import pyfast_tape as tf


class Dense(tf.Module):  # the tf.Module docstring's example
    def __init__(self, input_dim, output_size, name=None):
        super().__init__(name=name)
        self.w = tf.Variable(tf.random.normal([input_dim, output_size]), name="w")
        self.b = tf.Variable(tf.zeros([output_size]), name="b")

    def __call__(self, x):
        return tf.nn.relu(tf.matmul(x, self.w) + self.b)


class MLP(tf.Module):
    def __init__(self, input_size, sizes, name=None):
        super().__init__(name=name)
        self.layers = []
        with self.name_scope:
            for size in sizes:
                self.layers.append(Dense(input_dim=input_size, output_size=size))
                input_size = size

    @tf.Module.with_name_scope
    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


# ---- names -----------------------------------------------------------------------------------------------
class MyModule(tf.Module):
    pass


class HTTPServerModule(tf.Module):
    pass


@pytest.mark.parametrize("cls, name", [(tf.Module, "module"), (MyModule, "my_module"), (MLP, "mlp"),
                                       (HTTPServerModule, "http_server_module")])
def test_default_name_is_snake_case_class_name(cls, name):
    m = cls() if cls is not MLP else cls(2, [])
    assert m.name == name
    assert m.name_scope.name == name + "/"


def test_explicit_name_and_name_scope():
    m = tf.Module(name="encoder_2")
    assert m.name == "encoder_2"
    assert m.name_scope.name == "encoder_2/"
    assert isinstance(m.name_scope, tf.name_scope)


@pytest.mark.parametrize("bad", ["a b", "1abc", "with/slash", "", "dash-ed"])
def test_invalid_names_raise(bad):
    with pytest.raises(ValueError, match="is not a valid module name"):
        tf.Module(name=bad)


def test_name_is_read_only():
    m = tf.Module(name="m")
    with pytest.raises(AttributeError):
        m.name = "other"


def test_module_created_in_a_scope_keeps_the_full_scope():
    with tf.name_scope("outer"):
        m = tf.Module(name="inner")
    assert m.name == "inner"
    assert m.name_scope.name == "outer/inner/"
    with m.name_scope:  # absolute: entering it elsewhere gives the same scope
        assert tf.Variable(1.0, name="v").name == "outer/inner/v:0"


# ---- name_scope ------------------------------------------------------------------------------------------
def test_name_scope_prefixes_variable_names():
    assert tf.Variable(1.0, name="w").name == "w:0"
    assert tf.Variable(1.0).name == "Variable:0"
    with tf.name_scope("dense"):
        assert tf.Variable(1.0, name="w").name == "dense/w:0"
        assert tf.Variable(1.0).name == "dense/Variable:0"
    assert tf.Variable(1.0, name="w").name == "w:0"


def test_name_scope_nesting_returns_full_scope_and_restores():
    with tf.name_scope("a") as a:
        assert a == "a/"
        with tf.name_scope("b") as b:
            assert b == "a/b/"
            assert tf.get_current_name_scope() == "a/b"
            assert tf.Variable(0.0, name="v").name == "a/b/v:0"
        assert tf.get_current_name_scope() == "a"
    assert tf.get_current_name_scope() == ""


def test_name_scope_not_uniquified_in_eager_mode():
    with tf.name_scope("s") as first:
        pass
    with tf.name_scope("s") as second:
        pass
    assert first == second == "s/"


def test_trailing_slash_is_absolute_and_empty_resets():
    with tf.name_scope("a"):
        with tf.name_scope("x/") as s:
            assert s == "x/"
            assert tf.Variable(0.0, name="v").name == "x/v:0"
        with tf.name_scope("") as s:
            assert s == ""
            assert tf.Variable(0.0, name="v").name == "v:0"


def test_name_scope_restored_after_exception():
    with pytest.raises(RuntimeError):
        with tf.name_scope("boom"):
            raise RuntimeError("x")
    assert tf.get_current_name_scope() == ""


def test_name_scope_rejects_non_string():
    with pytest.raises(ValueError, match="name for name_scope must be a string"):
        tf.name_scope(3)


def test_name_scope_object_reentrant():
    scope = tf.name_scope("r")
    with scope as s1:
        with scope as s2:
            assert (s1, s2) == ("r/", "r/r/")
        assert tf.get_current_name_scope() == "r"
    assert tf.get_current_name_scope() == ""
    assert scope.name == "r"


def test_name_scope_is_per_thread():
    seen = []

    def worker():
        seen.append(tf.get_current_name_scope())
        seen.append(tf.Variable(0.0, name="t").name)

    with tf.name_scope("main_thread"):
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    assert seen == ["", "t:0"]


def test_variable_name_with_colon_kept():
    with tf.name_scope("s"):
        assert tf.Variable(0.0, name="given:0").name == "given:0"


# ---- the docstring examples -------------------------------------------------------------------------------
def test_dense_docstring_variables_sorted_by_attribute_name():
    d = Dense(input_dim=3, output_size=2)
    y = d(tf.ones([1, 3]))
    assert tuple(y.shape) == (1, 2)
    assert [id(v) for v in d.variables] == [id(d.b), id(d.w)]
    assert [v.name for v in d.variables] == ["b:0", "w:0"]
    assert [id(v) for v in d.trainable_variables] == [id(d.b), id(d.w)]
    assert isinstance(d.variables, tuple)


def test_mlp_docstring_scoped_names_and_order():
    module = MLP(input_size=5, sizes=[5, 5])
    assert [v.name for v in module.variables] == ["mlp/b:0", "mlp/w:0", "mlp/b:0", "mlp/w:0"]
    expect = [module.layers[0].b, module.layers[0].w, module.layers[1].b, module.layers[1].w]
    assert [id(v) for v in module.variables] == [id(v) for v in expect]
    assert [id(m) for m in module.submodules] == [id(m) for m in module.layers]
    out = module(tf.ones([2, 5]))
    assert tuple(out.shape) == (2, 5)
    # the forward is the two relu(x @ w + b) layers
    x = np.ones((2, 5), np.float32)
    for layer in module.layers:
        x = np.maximum(x @ layer.w.numpy() + layer.b.numpy(), 0)
    np.testing.assert_allclose(out.numpy(), x, rtol=1e-5, atol=1e-6)


def test_with_name_scope_docstring():
    class Lazy(tf.Module):
        @tf.Module.with_name_scope
        def __call__(self, x):
            if not hasattr(self, "w"):
                self.w = tf.Variable(tf.random.normal([x.shape[1], 3]))
            return tf.matmul(x, self.w)

    mod = Lazy()
    assert tuple(mod(tf.ones([1, 2])).shape) == (1, 3)
    assert mod.w.name == "lazy/Variable:0"
    assert Lazy.__call__.__name__ == "__call__"  # the decorator keeps the method's name


def test_submodules_docstring():
    a, b, c = tf.Module(), tf.Module(), tf.Module()
    a.b = b
    b.c = c
    assert list(a.submodules) == [b, c]
    assert list(b.submodules) == [c]
    assert list(c.submodules) == []


# ---- the walk ------------------------------------------------------------------------------------------
def test_own_attributes_before_submodules_breadth_then_depth():
    root = tf.Module(name="root")
    root.z_var = tf.Variable(1.0, name="z")
    root.a_child = tf.Module(name="a_child")
    root.a_child.inner = tf.Variable(2.0, name="inner")
    root.a_child.grand = tf.Module(name="grand")
    root.a_child.grand.g = tf.Variable(3.0, name="g")
    root.b_child = tf.Module(name="b_child")
    root.b_child.v = tf.Variable(4.0, name="bv")
    # root's own variable first (attributes sorted), then a_child's subtree, then b_child's
    assert [v.name for v in root.variables] == ["z:0", "inner:0", "g:0", "bv:0"]
    assert [m.name for m in root.submodules] == ["a_child", "b_child", "grand"]


def test_nested_containers_sorted_keys_and_dedup():
    m = tf.Module()
    v1, v2, v3, v4 = (tf.Variable(float(i), name=f"v{i}") for i in range(1, 5))
    m.d = {"z": v1, "a": [v2, (v3,)]}
    m.c = [v4, v1]  # v1 again: reported once, where first seen
    m.e = collections.OrderedDict([("y", v3), ("b", v2)])
    assert [v.name for v in m.variables] == ["v4:0", "v1:0", "v2:0", "v3:0"]


def test_namedtuple_attribute():
    Pair = collections.namedtuple("Pair", ["second", "first"])
    m = tf.Module()
    a, b = tf.Variable(1.0, name="a"), tf.Variable(2.0, name="b")
    m.p = Pair(second=a, first=b)
    assert [v.name for v in m.variables] == ["a:0", "b:0"]  # field order, not name order
    assert list(m._flatten(predicate=lambda x: isinstance(x, tf.Variable), with_path=True)) == [
        (("p", "second"), a), (("p", "first"), b)]


def test_trainable_and_non_trainable():
    m = tf.Module()
    m.a = tf.Variable(1.0, trainable=False, name="a")
    m.b = tf.Variable(2.0, name="b")
    m.sub = tf.Module()
    m.sub.c = tf.Variable(3.0, trainable=False, name="c")
    assert [v.name for v in m.variables] == ["a:0", "b:0", "c:0"]
    assert [v.name for v in m.trainable_variables] == ["b:0"]
    assert [v.name for v in m.non_trainable_variables] == ["a:0", "c:0"]


def test_shared_submodule_and_variable_counted_once():
    shared = Dense(2, 2, name="shared")
    m = tf.Module()
    m.x = shared
    m.y = [shared]
    m.extra = shared.w
    assert [id(s) for s in m.submodules] == [id(shared)]
    assert [v.name for v in m.variables] == ["w:0", "b:0"]  # 'extra' (the w) comes before the submodule's


def test_cycles_terminate():
    a, b = tf.Module(name="a"), tf.Module(name="b")
    a.b, b.a = b, a
    a.self_ref = a
    a.v = tf.Variable(1.0, name="v")
    assert [m.name for m in a.submodules] == ["b"]
    assert [v.name for v in a.variables] == ["v:0"]
    paths = list(a._flatten(predicate=lambda x: isinstance(x, tf.Variable), with_path=True))
    assert (("v",), a.v) in paths


def test_flatten_with_path_and_recursive_false():
    m = tf.Module()
    m.x = [tf.constant(1.0), tf.constant(2.0)]
    m.y = {"i": tf.constant(3.0), "j": tf.constant(4.0)}
    m.z = tf.constant(5.0)
    m.sub = tf.Module()
    m.sub.t = tf.constant(6.0)
    is_tensor = lambda x: isinstance(x, tf.Tensor)  # noqa: E731
    got = list(m._flatten(predicate=is_tensor, with_path=True))
    assert [p for p, _ in got] == [("x", 0), ("x", 1), ("y", "i"), ("y", "j"), ("z",), ("sub", "t")]
    assert [float(t) for _, t in got] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    flat = list(m._flatten(recursive=False, predicate=is_tensor))
    assert [float(t) for t in flat] == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_attribute_traversal_key():
    m = tf.Module()
    m.a = tf.Variable(1.0, name="a")
    m.b = tf.Variable(2.0, name="b")
    got = list(m._flatten(predicate=lambda x: isinstance(x, tf.Variable),
                          attribute_traversal_key=lambda k: {"b": 0}.get(k, 1)))
    assert [v.name for v in got] == ["b:0", "a:0"]


def test_unsortable_dict_keys_raise_value_error():
    m = tf.Module()
    m.bad = {1: tf.Variable(1.0), "a": tf.Variable(2.0)}
    with pytest.raises(ValueError, match="Error processing property 'bad'"):
        m.variables


# ---- Keras layers are modules ------------------------------------------------------------------------------
def test_keras_layer_is_a_module_and_its_weights_are_found():
    layer = tf.keras.layers.Dense(3)
    assert isinstance(layer, tf.Module)
    layer(tf.ones([1, 2]))
    holder = tf.Module()
    holder.layer = layer
    assert [id(v) for v in holder.trainable_variables] == [id(layer.kernel), id(layer.bias)]
    assert [id(s) for s in holder.submodules] == [id(layer)]


def test_keras_layer_keeps_its_own_api():
    layer = tf.keras.layers.Dense(2, name="my_dense")
    assert layer.name == "my_dense"
    layer.name = "renamed"  # Keras layers keep a settable name
    assert layer.name == "renamed"
    layer(tf.ones([1, 4]))
    assert isinstance(layer.variables, list) and len(layer.variables) == 2
    assert layer.name_scope.name == "renamed/"


def test_module_of_sequential_model():
    model = tf.keras.Sequential([tf.keras.layers.Dense(4), tf.keras.layers.Dense(1)])
    model(tf.ones([2, 3]))
    holder = tf.Module()
    holder.model = model
    found = holder.trainable_variables
    assert len(found) == 4
    assert {id(v) for v in found} == {id(v) for v in model.trainable_variables}
    assert model.layers[0] in holder.submodules and model.layers[1] in holder.submodules


def test_module_trains_with_gradient_tape():
    tf.random.set_seed(1)
    d = Dense(3, 1)
    x = tf.constant(np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(d(x))
    grads = tape.gradient(loss, d.trainable_variables)
    assert len(grads) == 2
    assert all(g is not None for g in grads)
    assert tuple(grads[0].shape) == (1,) and tuple(grads[1].shape) == (3, 1)
