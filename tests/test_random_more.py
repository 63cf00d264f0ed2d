"""tf.random beyond normal/uniform: truncated_normal, categorical, gamma, poisson, shuffle, stateless_*,
tf.random.Generator. Seeded draws repeat; distributions are checked on large seeded samples."""
from __future__ import annotations

import numpy as np
import pytest

import pyfast_tape as tf


def test_truncated_normal_bounds_and_moments():
    tf.random.set_seed(1)
    x = tf.random.truncated_normal([200000], mean=3.0, stddev=2.0).numpy()
    assert x.dtype == np.float32 and np.all(np.abs(x - 3.0) <= 4.0 + 1e-5)
    # the standard normal truncated to [-2, 2] has variance 0.7737
    assert abs(x.mean() - 3.0) < 0.02 and abs(x.std() / 2.0 - np.sqrt(0.7737413)) < 0.01
    tf.random.set_seed(1)
    np.testing.assert_array_equal(tf.random.truncated_normal([200000], mean=3.0, stddev=2.0).numpy(), x)
    with pytest.raises(TypeError, match="floating dtype"):
        tf.random.truncated_normal([2], dtype=tf.int32)


def test_categorical_frequencies():
    logits = np.log(np.array([[0.1, 0.2, 0.7], [0.5, 0.5, 0.0]], np.float32) + 1e-30)
    s = tf.random.categorical(tf.constant(logits), 30000, seed=3).numpy()
    assert s.shape == (2, 30000) and s.dtype == np.int64
    f0 = np.bincount(s[0], minlength=3) / 30000
    np.testing.assert_allclose(f0, [0.1, 0.2, 0.7], atol=0.015)
    assert np.all(s[1] != 2)  # probability 0 is never drawn
    assert tf.random.categorical(tf.constant(logits), 5, dtype=tf.int32).dtype == tf.int32
    with pytest.raises(ValueError, match="2-D"):
        tf.random.categorical(tf.constant([1.0, 2.0]), 1)


def test_gamma_poisson_shapes_and_means():
    g = tf.random.gamma([4000], alpha=[2.0, 5.0], beta=2.0, seed=1).numpy()
    assert g.shape == (4000, 2)
    np.testing.assert_allclose(g.mean(0), [1.0, 2.5], rtol=0.05)
    p = tf.random.poisson([5000], lam=[1.0, 10.0], seed=2).numpy()
    assert p.shape == (5000, 2) and p.dtype == np.float32
    np.testing.assert_allclose(p.mean(0), [1.0, 10.0], rtol=0.05)


def test_shuffle_is_a_permutation_of_rows():
    x = tf.constant(np.arange(20).reshape(10, 2))
    y = tf.random.shuffle(x, seed=4).numpy()
    assert sorted(map(tuple, y)) == sorted(map(tuple, x.numpy())) and not np.array_equal(y, x.numpy())


def test_stateless_are_functions_of_the_seed():
    for f in (lambda s: tf.random.stateless_normal([5], seed=s), lambda s: tf.random.stateless_uniform([5], seed=s),
              lambda s: tf.random.stateless_truncated_normal([5], seed=s),
              lambda s: tf.random.stateless_uniform([5], seed=s, minval=0, maxval=100, dtype=tf.int64),
              lambda s: tf.random.stateless_categorical(tf.zeros([2, 4]), 6, seed=s)):
        a, b, c = f([1, 2]).numpy(), f([1, 2]).numpy(), f([1, 3]).numpy()
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)
    u = tf.random.stateless_uniform([10000], seed=[7, 7], minval=-1.0, maxval=3.0).numpy()
    assert u.min() >= -1.0 and u.max() < 3.0 and abs(u.mean() - 1.0) < 0.05
    with pytest.raises(ValueError, match="seed must be a shape \\[2\\]"):
        tf.random.stateless_normal([2], seed=[1, 2, 3])


def test_generator():
    g1, g2 = tf.random.Generator.from_seed(42), tf.random.Generator.from_seed(42)
    np.testing.assert_array_equal(g1.normal([4]).numpy(), g2.normal([4]).numpy())
    np.testing.assert_array_equal(g1.uniform([3], maxval=10, dtype=tf.int32).numpy(),
                                  g2.uniform([3], maxval=10, dtype=tf.int32).numpy())
    a, b = g1.split(2)
    assert not np.array_equal(a.normal([4]).numpy(), b.normal([4]).numpy())
    n1, n2 = tf.random.Generator.from_non_deterministic_state(), tf.random.Generator.from_non_deterministic_state()
    assert not np.array_equal(n1.normal([4]).numpy(), n2.normal([4]).numpy())
    t = g1.truncated_normal([1000]).numpy()
    assert np.all(np.abs(t) <= 2.0)
    assert g1.normal([2, 3], dtype=tf.float64).dtype == tf.float64
    assert isinstance(tf.random.get_global_generator(), tf.random.Generator)
