"""Soak test: train the seed Keras model (examples/seed/keras_mlp_cce.py: Dense relu -> Dense softmax,
CategoricalCrossentropy, Adam) in a long loop that also exercises the error paths, and show that the
resident set size stays flat.

Every step trains one Adam step on the seed model; every few steps it also runs (in rotation):

* a persistent tape with several gradient() calls, jacobian() and reset();
* nested tapes (a second-order gradient of the loss through the model);
* an exception raised in the middle of a forward pass inside a GradientTape, caught (a user error, a
  shape mismatch from the library, and a dtype error);
* tape.explain() on a connected and on a cut path (stop_gradient, .numpy() round trip, int cast);
* unconnected_gradients='raise' on a cut path, the UnconnectedGradientError caught;
* an optimizer given None gradients (its ValueError with the explanation caught) and a bad
  apply_gradients (a shape mismatch) caught.

RSS comes from /proc/self/statm. It is printed at start, after warm-up and periodically; at the end the
growth since warm-up. Exit status 1 when it grew by more than --threshold-mb after warm-up (or when a
check failed), 0 otherwise.

    python bench/soak.py --seconds 120                   # bounded time
    python bench/soak.py --steps 1000000 --seconds 0     # a million steps, no time bound
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import warnings

import numpy as np

import pyfast_tape as tf

warnings.filterwarnings("ignore", message="Do not pass an `input_shape`")  # the seed program passes it

PAGE = os.sysconf("SC_PAGE_SIZE")
MB = 1 << 20


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


class Soak:
    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        tf.random.set_seed(seed)
        # the seed program, as written there
        self.model = tf.keras.Sequential([
            tf.keras.layers.Dense(10, activation="relu", input_shape=(20,)),
            tf.keras.layers.Dense(5, activation="softmax"),
        ])
        self.loss_fn = tf.keras.losses.CategoricalCrossentropy()
        self.opt = tf.keras.optimizers.Adam(learning_rate=0.01)
        n = 100
        X = rng.random((n, 20))
        y = tf.keras.utils.to_categorical(rng.integers(0, 5, n), num_classes=5)
        self.X = tf.convert_to_tensor(X, dtype=tf.float32)
        self.Y = tf.convert_to_tensor(y, dtype=tf.float32)
        self.X64 = tf.constant(X[:8])
        self.W64 = tf.Variable(rng.standard_normal((20, 3)))
        self.bad_opt = tf.keras.optimizers.SGD(0.01)
        self.counts = {k: 0 for k in ("train", "persistent", "nested", "exception", "explain", "raise",
                                      "none_grads", "bad_apply")}

    # -- the seed step
    def train_step(self) -> float:
        with tf.GradientTape() as tape:
            y_pred = self.model(self.X)
            loss = self.loss_fn(self.Y, y_pred)
        grads = tape.gradient(loss, self.model.trainable_variables)
        self.opt.apply_gradients(zip(grads, self.model.trainable_variables))
        self.counts["train"] += 1
        return float(loss)

    # -- extras, one per step in rotation
    def persistent(self) -> None:
        w = self.W64
        with tf.GradientTape(persistent=True) as tape:
            h = tf.tanh(tf.matmul(self.X64, w))
            a = tf.reduce_sum(h * h)
            b = tf.reduce_mean(tf.nn.softmax(h))
            col = tf.reduce_sum(h, axis=0)
        ga = tape.gradient(a, w)
        gb = tape.gradient(b, [w, h])
        jac = tape.jacobian(col, w)
        assert ga is not None and gb[0] is not None and tuple(jac.shape) == (3, 20, 3)
        tape.reset()
        del tape
        self.counts["persistent"] += 1

    def nested(self) -> None:
        vars_ = self.model.trainable_variables
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                loss = self.loss_fn(self.Y, self.model(self.X))
            g = inner.gradient(loss, vars_)
            penalty = tf.add(tf.reduce_sum(g[0] * g[0]), tf.reduce_sum(g[2] * g[2]))
        g2 = outer.gradient(penalty, vars_[0])
        assert g2 is not None
        self.counts["nested"] += 1

    def exception_mid_forward(self, k: int) -> None:
        try:
            with tf.GradientTape() as tape:
                h = self.model(self.X)
                if k % 3 == 0:
                    raise KeyError("user error in the middle of the forward pass")
                if k % 3 == 1:
                    tf.matmul(h, tf.ones([7, 2]))  # shape mismatch: InvalidArgumentError
                else:
                    tf.add(h, tf.ones([100, 5], dtype=tf.float64))  # dtype mismatch
            raise AssertionError("no exception")
        except (KeyError, tf.errors.InvalidArgumentError, TypeError):
            pass
        assert tf._core.tapes_active() == 0, "a tape stayed on the stack after an exception"
        del tape
        self.counts["exception"] += 1

    def explain(self) -> None:
        w = self.W64
        with tf.GradientTape(persistent=True) as tape:
            h = tf.matmul(self.X64, w)
            cut1 = tf.stop_gradient(h)
            cut2 = tf.constant(h.numpy())
            cut3 = tf.cast(tf.cast(h, tf.int32), tf.float64)
            loss = tf.reduce_sum(h) + tf.reduce_sum(cut1 * cut2 * cut3)
        texts = [tape.explain(loss, w), tape.explain(tf.reduce_sum(cut2), w), tape.explain(cut1, w),
                 tape.explain(cut3, w)]
        assert "connected" in texts[0] and all("None" in t for t in texts[1:]), texts
        self.counts["explain"] += 1

    def unconnected_raise(self) -> None:
        w = self.W64
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(tf.stop_gradient(tf.matmul(self.X64, w)))
        try:
            tape.gradient(y, w, unconnected_gradients="raise")
            raise AssertionError("no UnconnectedGradientError")
        except tf.errors.UnconnectedGradientError as e:
            assert "stop_gradient" in str(e)
        self.counts["raise"] += 1

    def none_gradients(self) -> None:
        v = self.model.trainable_variables
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                self.opt.apply_gradients([(None, x) for x in v])
                raise AssertionError("no ValueError")
            except ValueError as e:
                assert "No gradients" in str(e)
        self.counts["none_grads"] += 1

    def bad_apply(self) -> None:
        w = self.W64
        before = w.numpy().copy()
        try:
            self.bad_opt.apply_gradients([(tf.ones([3, 20], dtype=tf.float64), w)])
            raise AssertionError("no error")
        except tf.errors.InvalidArgumentError:
            pass
        assert np.array_equal(w.numpy(), before)
        self.counts["bad_apply"] += 1

    def step(self, i: int) -> float:
        loss = self.train_step()
        k = i % 8
        if k == 1:
            self.persistent()
        elif k == 2:
            self.nested()
        elif k == 3:
            self.exception_mid_forward(i // 8)
        elif k == 4:
            self.explain()
        elif k == 5:
            self.unconnected_raise()
        elif k == 6:
            self.none_gradients()
        elif k == 7:
            self.bad_apply()
        return loss


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=1_000_000, help="training steps at most (default 1e6)")
    ap.add_argument("--seconds", type=float, default=120.0, help="stop after this long (0: no time bound)")
    ap.add_argument("--warmup", type=int, default=2000, help="steps before the reference RSS is taken")
    ap.add_argument("--report-every", type=float, default=10.0, help="seconds between RSS lines")
    ap.add_argument("--threshold-mb", type=float, default=8.0, help="allowed RSS growth after warm-up")
    args = ap.parse_args()

    rss0 = rss_bytes()
    print(f"pyfast_tape {tf.__version__}; RSS at start {rss0 / MB:.1f} MB", flush=True)
    soak = Soak()
    t0 = time.perf_counter()
    rss_warm = None
    t_warm = None
    samples = []
    next_report = 0.0
    i = 0
    loss = float("nan")
    first_loss = None
    try:
        while i < args.steps:
            loss = soak.step(i)
            if first_loss is None:
                first_loss = loss
            i += 1
            if i == args.warmup:
                gc.collect()
                rss_warm = rss_bytes()
                t_warm = time.perf_counter()
                print(f"step {i:>9}: RSS after warm-up {rss_warm / MB:.1f} MB (loss {loss:.6f})", flush=True)
                next_report = time.perf_counter() - t0 + args.report_every
            elif rss_warm is not None and time.perf_counter() - t0 >= next_report:
                gc.collect()
                r = rss_bytes()
                samples.append((i, r))
                el = time.perf_counter() - t0
                print(f"step {i:>9}: RSS {r / MB:.1f} MB ({(r - rss_warm) / MB:+.2f} MB since warm-up), "
                      f"{el:.0f} s, {(i - args.warmup) / (time.perf_counter() - t_warm):.0f} steps/s, "
                      f"loss {loss:.6f}", flush=True)
                next_report = el + args.report_every
            if args.seconds and time.perf_counter() - t0 >= args.seconds and rss_warm is not None:
                break
    except BaseException as e:  # noqa: BLE001  report and fail
        print(f"FAILED at step {i}: {type(e).__name__}: {e}", flush=True)
        return 1
    elapsed = time.perf_counter() - t0
    gc.collect()
    rss_end = rss_bytes()
    if rss_warm is None:
        print(f"only {i} steps: fewer than the warm-up ({args.warmup}); no growth figure")
        return 1
    growth = rss_end - rss_warm
    peak = max([r for _, r in samples] + [rss_end])
    print(f"\nsteps {i} in {elapsed:.1f} s ({i / elapsed:.0f} steps/s); extras: "
          + ", ".join(f"{k} {v}" for k, v in soak.counts.items()))
    print(f"loss {first_loss:.6f} -> {loss:.6f}")
    print(f"RSS: start {rss0 / MB:.1f} MB, after warm-up (step {args.warmup}) {rss_warm / MB:.1f} MB, "
          f"end {rss_end / MB:.1f} MB, peak sampled {peak / MB:.1f} MB")
    print(f"RSS growth after warm-up: {growth / MB:+.2f} MB (threshold {args.threshold_mb:.1f} MB) over "
          f"{i - args.warmup} steps = {growth / max(i - args.warmup, 1):.1f} bytes/step")
    ok = growth <= args.threshold_mb * MB
    print("RESULT:", "flat" if ok else "GREW")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
