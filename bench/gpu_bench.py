"""GPU benchmark (bench/gpu_check.sh runs it on the lent machine): each workload beside its limit,
measured in the same process.

  - fused MSE / Huber loss+gradient over 2^24 float32 and sparse softmax-CE over 65536 x 256 logits, in
    GB/s of the bytes they must move, against device-to-device copy bandwidth (target >= 70%);
  - W4 (batch 4096, 784-2048-2048-10, ReLU, softmax-CE, SGD) against the time of its cuBLAS GEMMs alone
    (the 3 forward and 5 backward GEMMs through tf.matmul; target >= 85%);
  - W2 (the seed Keras MLP step with Adam) against PyTorch CUDA eager when torch sees a GPU.

Times are minima over repetitions, each ended by a device synchronisation. Prints a table last.
"""
from __future__ import annotations

import time

import numpy as np

import pyfast_tape as tf
from pyfast_tape import _core

GPU = "/GPU:0"


def timeit(fn, reps=20, warm=3):
    for _ in range(warm):
        fn()
    _core.synchronize()
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        _core.synchronize()
        best = min(best, time.perf_counter() - t)
    return best


def copy_bandwidth(nbytes):
    with tf.device(GPU):
        x = tf.zeros((nbytes // 4,))
    t = timeit(lambda: _core.device_copy(x), reps=30)
    return 2 * nbytes / t / 1e9  # read + write


def loss_bandwidth(kind, n):
    rng = np.random.default_rng(0)
    with tf.device(GPU):
        y = tf.constant(rng.standard_normal(n, dtype=np.float32))
        p = tf.Variable(rng.standard_normal(n, dtype=np.float32))

    def step():
        with tf.GradientTape() as tape:
            loss = getattr(_core, kind)(y, p, 1.0)
        return tape.gradient(loss, p)
    t = timeit(step)
    return 5 * 4 * n / t / 1e9, t  # forward reads pred+target, backward reads both and writes the gradient


def xent_bandwidth(n, c):
    rng = np.random.default_rng(1)
    with tf.device(GPU):
        labels = tf.constant(rng.integers(0, c, n).astype(np.int32))
        logits = tf.Variable(rng.standard_normal((n, c), dtype=np.float32))

    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(_core.sparse_softmax_cross_entropy(labels, logits))
        return tape.gradient(loss, logits)
    t = timeit(step)
    return 3 * 4 * n * c / t / 1e9, t  # forward reads the logits, backward reads them and writes the gradient


def w4(batch=4096, sizes=(784, 2048, 2048, 10)):
    rng = np.random.default_rng(2)
    with tf.device(GPU):
        x = tf.constant(rng.standard_normal((batch, sizes[0]), dtype=np.float32))
        y = tf.constant(rng.integers(0, sizes[-1], batch).astype(np.int32))
        ws = [tf.Variable(rng.standard_normal((a, b), dtype=np.float32) * np.float32(np.sqrt(2.0 / a)))
              for a, b in zip(sizes[:-1], sizes[1:])]
        bs = [tf.Variable(np.zeros(b, np.float32)) for b in sizes[1:]]
        opt = tf.keras.optimizers.SGD(0.01)
        params = [v for pair in zip(ws, bs) for v in pair]

        def step():
            with tf.GradientTape() as tape:
                h = x
                for i, (w, b) in enumerate(zip(ws, bs)):
                    h = _core.dense(h, w, b, _core.ACTIVATIONS["relu" if i < len(ws) - 1 else "linear"])
                loss = tf.reduce_mean(_core.sparse_softmax_cross_entropy(y, h))
            opt.apply_gradients(zip(tape.gradient(loss, params), params))

        acts = [x] + [tf.zeros((batch, s)) for s in sizes[1:]]

        def gemms():  # forward h W, then dW = h^T dz for every layer and dX = dz W^T for all but the first
            for i, w in enumerate(ws):
                tf.matmul(acts[i], w)
                tf.matmul(acts[i], acts[i + 1], transpose_a=True)
                if i > 0:
                    tf.matmul(acts[i + 1], w, transpose_b=True)
        t_step, t_gemm = timeit(step, reps=10), timeit(gemms, reps=10)
    flops = sum(2 * batch * a * b * (3 if i > 0 else 2) for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])))
    return t_step, t_gemm, flops


def w2():
    rng = np.random.default_rng(3)
    X = rng.random((100, 20), dtype=np.float32)
    Y = np.eye(5, dtype=np.float32)[rng.integers(0, 5, 100)]
    with tf.device(GPU):
        model = tf.keras.Sequential([tf.keras.layers.Dense(10, activation="relu", input_shape=(20,)),
                                     tf.keras.layers.Dense(5, activation="softmax")])
        loss_fn = tf.keras.losses.CategoricalCrossentropy()
        opt = tf.keras.optimizers.Adam(0.01)
        xt, yt = tf.constant(X), tf.constant(Y)

        def step():
            with tf.GradientTape() as tape:
                loss = loss_fn(yt, model(xt))
            g = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(g, model.trainable_variables))
        t = timeit(step, reps=200, warm=10)
    t_torch = None
    try:
        import torch
        if torch.cuda.is_available():
            dev = torch.device("cuda")
            m = torch.nn.Sequential(torch.nn.Linear(20, 10), torch.nn.ReLU(), torch.nn.Linear(10, 5)).to(dev)
            o = torch.optim.Adam(m.parameters(), lr=0.01)
            xt_, yt_ = torch.tensor(X, device=dev), torch.tensor(Y, device=dev)

            def tstep():
                o.zero_grad(set_to_none=True)
                loss = torch.nn.functional.cross_entropy(m(xt_), yt_)
                loss.backward()
                o.step()
            for _ in range(10):
                tstep()
            torch.cuda.synchronize()
            best = float("inf")
            for _ in range(200):
                t0 = time.perf_counter()
                tstep()
                torch.cuda.synchronize()
                best = min(best, time.perf_counter() - t0)
            t_torch = best
    except ImportError:
        pass
    return t, t_torch


def main() -> None:
    print("GPU:", _core.gpu_name(0))
    copy = copy_bandwidth(1 << 28)
    rows = []
    for name, kind in (("MSE loss+grad 2^24", "mean_squared_error"), ("Huber loss+grad 2^24", "huber")):
        gbs, t = loss_bandwidth(kind, 1 << 24)
        rows.append((name, f"{t * 1e3:.3f} ms", f"{gbs:.0f} GB/s = {gbs / copy:.0%} of copy", gbs / copy >= 0.70))
    gbs, t = xent_bandwidth(65536, 256)
    rows.append(("sparse softmax-CE 65536x256", f"{t * 1e3:.3f} ms", f"{gbs:.0f} GB/s = {gbs / copy:.0%} of copy",
                 gbs / copy >= 0.70))
    t_step, t_gemm, flops = w4()
    rows.append(("W4 step (batch 4096)", f"{t_step * 1e3:.2f} ms",
                 f"GEMMs alone {t_gemm * 1e3:.2f} ms = {t_gemm / t_step:.0%} of step; "
                 f"{flops / t_step / 1e12:.1f} TFLOP/s", t_gemm / t_step >= 0.85))
    t2, tt = w2()
    rows.append(("W2 seed Keras step", f"{t2 * 1e6:.0f} us",
                 f"PyTorch CUDA eager {tt * 1e6:.0f} us ({tt / t2:.2f}x)" if tt else "PyTorch CUDA: not present",
                 None if tt is None else t2 <= tt))
    print(f"\ndevice-to-device copy: {copy:.0f} GB/s (read + write)")
    print(f"{'workload':30s} {'time':>11s}  against its limit")
    for name, t, what, ok in rows:
        print(f"{name:30s} {t:>11s}  {what}  [{'-' if ok is None else ('PASS' if ok else 'MISS')}]")


if __name__ == "__main__":
    main()
