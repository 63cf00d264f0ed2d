"""Long loops: memory stays flat (nothing leaks per step), the seed loop is fast, and tapes are
thread-local (two threads training concurrently give exactly the serial results)."""
from __future__ import annotations

import gc
import os
import sys
import threading
import time

import numpy as np
import pytest

import pyfast_tape as tf

MB = 1 << 20


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        pytest.skip("/proc/self/statm not available")


def seed_linreg(steps, checkpoints=(), lr=0.01, momentum=0.0, y_values=(2.0, 4.0, 5.9, 8.1)):
    """The seed's linreg_mse.py loop. Returns (W, losses at checkpoints, rss at checkpoints)."""
    x = tf.constant([[1.0], [2.0], [3.0], [4.0]], dtype=tf.float32)
    y = tf.constant([[v] for v in y_values], dtype=tf.float32)
    W = tf.Variable([[0.5]], dtype=tf.float32)
    optimizer = tf.keras.optimizers.SGD(learning_rate=lr, momentum=momentum)
    losses, rss = {}, {}
    for step in range(1, steps + 1):
        with tf.GradientTape() as tape:
            y_predicted = tf.matmul(x, W)
            loss_value = tf.reduce_mean(tf.square(y_predicted - y))
        gradients = tape.gradient(loss_value, W)
        optimizer.apply_gradients([(gradients, W)])
        if step in checkpoints:
            losses[step] = loss_value.numpy().item()
            gc.collect()
            rss[step] = rss_bytes()
    return W.numpy().copy(), losses, rss


def test_seed_linreg_100k_steps_fast_and_flat_memory():
    t0 = time.perf_counter()
    W, losses, rss = seed_linreg(100_000, checkpoints=(10_000, 100_000))
    elapsed = time.perf_counter() - t0
    growth = rss[100_000] - rss[10_000]
    print(f"\nseed linreg: 100000 steps in {elapsed:.2f} s ({elapsed / 1e5 * 1e6:.1f} us/step); "
          f"RSS {rss[10_000] / MB:.1f} MB -> {rss[100_000] / MB:.1f} MB")
    assert growth < 5 * MB, f"RSS grew by {growth / MB:.2f} MB between step 10000 and step 100000"
    assert elapsed < 60.0
    # converged to the least-squares slope sum(x y) / sum(x^2) = 60.1 / 30
    assert abs(float(W[0, 0]) - 60.1 / 30.0) < 1e-5
    assert losses[100_000] == pytest.approx(0.0049166, rel=1e-3)


def test_nested_tapes_custom_gradient_momentum_flat_memory():
    @tf.custom_gradient
    def doubled(x):
        def grad(dy):
            return dy * 2.0
        return x * 2.0, grad

    rng = np.random.default_rng(0)
    w = tf.Variable(rng.random((8, 4)).astype(np.float32))
    b = tf.Variable(np.zeros(4, np.float32))
    x = tf.constant(rng.random((16, 8)).astype(np.float32))
    opt = tf.keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True)
    rss = {}
    for step in range(1, 20_001):
        with tf.GradientTape() as outer:
            with tf.GradientTape(persistent=True) as inner:
                h = tf.nn.softmax(tf.tanh(tf.matmul(x, w) + b))
                loss = tf.reduce_mean(doubled(h) ** 2)
            gw, _ = inner.gradient(loss, [w, b])
            total = tf.reduce_sum(gw * gw) + loss
            del inner
        grads = outer.gradient(total, [w, b])
        opt.apply_gradients(zip(grads, [w, b]))
        if step in (2_000, 20_000):
            gc.collect()
            rss[step] = rss_bytes()
    growth = rss[20_000] - rss[2_000]
    assert growth < 5 * MB, f"RSS grew by {growth / MB:.2f} MB between step 2000 and step 20000"
    assert np.all(np.isfinite(w.numpy()))


def test_tapes_are_thread_local():
    v = tf.Variable(3.0)
    c = tf.constant(2.0)
    out = {}

    def other():
        out["y"] = v * c  # runs while the main thread's tape is open: must not be recorded on it
        out["active"] = tf._core.tapes_active()
        with tf.GradientTape() as t2:
            t2.watch(c)
            z = c * c
        out["g"] = t2.gradient(z, c)

    with tf.GradientTape(persistent=True) as tape:
        tape.watch(c)
        th = threading.Thread(target=other)
        th.start()
        th.join()
        mine = v * c
    assert not out["active"]
    assert tape.gradient(out["y"], [v, c]) == [None, None]
    assert [g.numpy().item() for g in tape.gradient(mine, [v, c])] == [2.0, 3.0]
    assert out["g"].numpy().item() == 4.0
    assert [x.name for x in tape.watched_variables()] == [v.name]


def test_two_threads_training_concurrently_match_serial():
    configs = [dict(lr=0.01, momentum=0.0, y_values=(2.0, 4.0, 5.9, 8.1)),
               dict(lr=0.005, momentum=0.9, y_values=(-1.0, 0.5, 3.0, 2.0))]
    steps, checkpoints = 20_000, (1, 10, 100, 1_000, 10_000, 20_000)
    serial = [seed_linreg(steps, checkpoints, **cfg)[:2] for cfg in configs]

    results = [None, None]
    errors = []
    barrier = threading.Barrier(2)

    def work(k):
        try:
            barrier.wait()
            results[k] = seed_linreg(steps, checkpoints, **configs[k])[:2]
        except BaseException as e:  # surfaced in the main thread
            errors.append(e)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, so the two loops interleave inside their tapes
    try:
        threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert not errors, errors
    for k in range(2):
        W_t, losses_t = results[k]
        W_s, losses_s = serial[k]
        np.testing.assert_array_equal(W_t, W_s, err_msg=f"thread {k} final W")
        assert losses_t == losses_s, f"thread {k} loss history differs"
    assert serial[0][0][0, 0] != serial[1][0][0, 0]
