"""DLPack exchange: zero-copy both ways with NumPy (always), PyTorch and JAX (when installed)."""
import gc

import numpy as np
import pytest

import pyfast_tape as tf


def _ptr(a):
    return np.asarray(a).__array_interface__["data"][0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64, np.bool_])
def test_numpy_from_tensor_shares_memory_and_outlives_it(dtype):
    src = (np.arange(12).reshape(3, 4) % 3).astype(dtype)
    t = tf.constant(src.copy())
    a = np.from_dlpack(t)
    assert a.dtype == src.dtype and a.shape == (3, 4)
    assert _ptr(a) == _ptr(t.numpy())  # zero-copy
    del t
    gc.collect()
    np.testing.assert_array_equal(a, src)  # the capsule kept the storage alive


@pytest.mark.parametrize("name", ["top", "experimental"])
def test_tensor_from_numpy_shares_memory_and_outlives_it(name):
    from_dlpack = tf.from_dlpack if name == "top" else tf.experimental.dlpack.from_dlpack
    b = np.arange(6, dtype=np.float64).reshape(2, 3)
    u = from_dlpack(b)
    assert u.dtype == tf.float64 and tuple(u.shape) == (2, 3)
    assert _ptr(u.numpy()) == _ptr(b)
    ref = b.copy()
    del b
    gc.collect()
    np.testing.assert_array_equal(u.numpy(), ref)


def test_capsule_round_trip_and_single_consumption():
    t = tf.constant([1.0, 2.0, 3.0])
    cap = tf.experimental.dlpack.to_dlpack(t)
    u = tf.experimental.dlpack.from_dlpack(cap)
    np.testing.assert_array_equal(u.numpy(), [1.0, 2.0, 3.0])
    assert _ptr(u.numpy()) == _ptr(t.numpy())
    with pytest.raises(TypeError, match="from_dlpack"):
        tf.experimental.dlpack.from_dlpack(cap)  # a capsule is consumed once


def test_strided_producer_is_copied_by_value():
    b = np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2]
    np.testing.assert_array_equal(tf.from_dlpack(b).numpy(), b)


def test_dlpack_device_and_bad_input():
    assert tf.constant([1.0]).__dlpack_device__() == (1, 0)
    with pytest.raises(TypeError, match="from_dlpack"):
        tf.from_dlpack([1.0, 2.0])
    with pytest.raises(TypeError, match="dtype"):
        tf.from_dlpack(np.array([1 + 2j]))


def test_gradients_flow_through_a_dlpack_tensor_used_as_input():
    x = tf.from_dlpack(np.array([1.0, 2.0], np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(x * x)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [2.0, 4.0])


def test_torch_exchange():
    torch = pytest.importorskip("torch")
    t = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    tt = torch.from_dlpack(t)
    assert tt.data_ptr() == _ptr(t.numpy())
    x = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    u = tf.from_dlpack(x)
    assert _ptr(u.numpy()) == x.data_ptr()
    np.testing.assert_array_equal(u.numpy(), x.numpy())


def test_jax_exchange():
    jnp = pytest.importorskip("jax.numpy")
    j = jnp.arange(4.0, dtype=jnp.float32)
    np.testing.assert_array_equal(tf.from_dlpack(j).numpy(), np.arange(4.0))
    t = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(np.asarray(jnp.from_dlpack(t)), [[1.0, 2.0], [3.0, 4.0]])


# ---- the versioned protocol (DLPack 1.x): max_version, copy, the read-only flag ----------------------------
def test_numpy_round_trip_through_a_read_only_array():
    """np.from_dlpack(t) is read-only (tensors are immutable); handing that array back works (NumPy exports
    a read-only array only through the versioned protocol, which from_dlpack asks for)."""
    t = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    a = np.from_dlpack(t)
    assert not a.flags.writeable
    u = tf.from_dlpack(a)
    np.testing.assert_array_equal(u.numpy(), [[1.0, 2.0], [3.0, 4.0]])
    assert _ptr(u.numpy()) == _ptr(t.numpy())  # zero-copy all the way round
    r = np.arange(4.0)
    r.flags.writeable = False
    np.testing.assert_array_equal(tf.from_dlpack(r).numpy(), r)


def test_dunder_dlpack_versioned_and_legacy_capsules():
    t = tf.constant([1.0, 2.0])
    assert "dltensor_versioned" in repr(t.__dlpack__(max_version=(1, 0)))
    assert "dltensor_versioned" in repr(t.__dlpack__(max_version=(1, 3)))  # a newer minor: our 1.0 layout
    assert '"dltensor"' in repr(t.__dlpack__())  # no max_version: a legacy consumer
    assert '"dltensor"' in repr(t.__dlpack__(max_version=(0, 8)))
    assert '"dltensor"' in repr(tf.experimental.dlpack.to_dlpack(t))
    for cap in (t.__dlpack__(max_version=(1, 0)), t.__dlpack__()):
        np.testing.assert_array_equal(tf.from_dlpack(cap).numpy(), [1.0, 2.0])


def test_copy_true_gives_the_consumer_its_own_writable_buffer():
    t = tf.constant([1.0, 2.0, 3.0])
    a = np.from_dlpack(t, copy=True)
    assert a.flags.writeable and _ptr(a) != _ptr(t.numpy())
    a[0] = 9.0
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0, 3.0])
    b = np.from_dlpack(t, copy=False)  # no copy is needed on the CPU
    assert _ptr(b) == _ptr(t.numpy())


def test_dlpack_bad_arguments():
    t = tf.constant([1.0])
    with pytest.raises(BufferError, match="requested"):
        t.__dlpack__(dl_device=(2, 0))
    with pytest.raises(TypeError, match="max_version"):
        t.__dlpack__(max_version=1)


def test_legacy_producer_without_max_version_still_imports():
    class Legacy:  # a producer from before DLPack 1.0: __dlpack__ takes no max_version
        def __init__(self, a):
            self.a = a

        def __dlpack__(self, stream=None):
            return self.a.__dlpack__()

        def __dlpack_device__(self):
            return (1, 0)

    np.testing.assert_array_equal(tf.from_dlpack(Legacy(np.arange(3.0))).numpy(), [0.0, 1.0, 2.0])
