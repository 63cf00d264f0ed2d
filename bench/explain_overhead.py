"""What the "why is there no gradient?" provenance log costs the seed linear-regression step.

The issue: "with nothing to explain the feature adds under 5% to the seed linear-regression step".

There is no switch that turns the provenance hooks off (they are compiled into every op: csrc/tape.cpp
finish_op -> provenance.cpp log_unrecorded), so the two variants of the step can not be "with" and
"without" the feature. Instead this script measures, in one process, with min-of-many-repeats:

  1. the normal seed step (tape + matmul + subtract + square + reduce_mean + gradient + SGD apply), with
     the seed's own data, loss function, Variable and optimizer (examples/seed/linreg_mse.py, run once);
  2. how many events the log gets per normal step (and per phase of it), counted without C++ changes:
     the log is a ring of 1 << 14 events, so once the ring has wrapped, a sentinel event survives exactly
     16384 later events (explain() finds it until then). Fill the ring, log a sentinel, run K steps, then
     F filler events; a binary search finds the smallest F that evicts the sentinel:
     events_per_step = (F(K=0) - F(K)) / K;
  3. the cost of one logged event: the same multiply on a tensor that carries tape provenance (logged:
     frame walk for file:line + ring push) versus on a plain constant (not logged);
  4. for scale: the step's forward ops with no tape at all (plain eager, provenance can not trigger) vs
     inside a tape, and the "mistake" step (loss computed after the tape closed), where the log does fire.

The overhead with nothing to explain is then events_per_step * event_cost / step_time, plus the
per-op flag tests (one OR per input and one branch per op, ~1 ns) that only a compile-time switch could
time. Run: python bench/explain_overhead.py [--quick]
"""
from __future__ import annotations

import contextlib
import io
import pathlib
import runpy
import sys
import time

import pyfast_tape as tf

SEED = pathlib.Path(__file__).resolve().parent.parent / "examples" / "seed" / "linreg_mse.py"
RING = 1 << 14  # ProvLog::kCapacity in csrc/provenance.cpp


def load_seed():
    """Run the seed program once (as the project runs it: tensorflow -> pyfast_tape) and take its objects."""
    sys.modules["tensorflow"] = tf
    with contextlib.redirect_stdout(io.StringIO()):
        g = runpy.run_path(str(SEED), run_name="__main__")
    return g["x"], g["y"], g["W"], g["optimizer"], g["mean_squared_error"]


X, Y, W, OPT, MSE = load_seed()


def step():
    """The seed's training step, as written there."""
    with tf.GradientTape() as tape:
        y_predicted = tf.matmul(X, W)
        loss_value = MSE(Y, y_predicted)
    gradients = tape.gradient(loss_value, W)
    OPT.apply_gradients([(gradients, W)])


W_MISTAKE = tf.Variable([[0.5]])


def step_mistake():
    """The seed article's mistake: the loss after the `with` block (4 unrecorded ops, all logged). The
    all-None ValueError is not part of the timing: gradient() alone."""
    with tf.GradientTape() as tape:
        y_predicted = tf.matmul(X, W_MISTAKE)
    loss_value = MSE(Y, y_predicted)
    tape.gradient(loss_value, W_MISTAKE)


def forward_no_tape():
    y_predicted = tf.matmul(X, W)
    MSE(Y, y_predicted)


def forward_in_tape():
    with tf.GradientTape():
        y_predicted = tf.matmul(X, W)
        MSE(Y, y_predicted)


def min_time_per_call(fns, number, repeat):
    """Min over `repeat` blocks of `number` calls, per call, in seconds; the variants are interleaved."""
    best = {f.__name__: float("inf") for f in fns}
    for f in fns:  # warm-up
        for _ in range(number):
            f()
    for _ in range(repeat):
        for f in fns:
            t0 = time.perf_counter()
            for _ in range(number):
                f()
            best[f.__name__] = min(best[f.__name__], (time.perf_counter() - t0) / number)
    return best


# ---- counting log events without touching C++ -------------------------------------------------------------

_SRC_TAPE_W = tf.Variable(1.0)


def _provenance_tensor():
    """A tensor with tape provenance (generation 1): every op on it outside a tape logs one event."""
    with tf.GradientTape():
        return _SRC_TAPE_W * 1.0


_FILL = _provenance_tensor()


def _fill(n):
    for _ in range(n):
        _FILL * 1.0  # one event each


def _sentinel():
    w = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = w * 3.0
    z = y * 1.0  # one event: the sentinel
    return tape, z, w


def _alive(s):
    tape, z, w = s
    return "no GradientTape was recording" in tape.explain(z, w)


def _evicted_after(fn, k_calls, fillers):
    _fill(RING)  # the ring is full and wraps: the next event goes to the oldest slot
    s = _sentinel()
    for _ in range(k_calls):
        fn()
    _fill(fillers)
    return not _alive(s)


def fillers_to_evict(fn, k_calls):
    """The smallest number of filler events, after the sentinel and k_calls calls of fn, that evicts it."""
    lo, hi = 0, RING
    assert _evicted_after(fn, k_calls, hi), "sentinel survived a full ring of fillers: the probe is broken"
    while lo < hi:
        mid = (lo + hi) // 2
        if _evicted_after(fn, k_calls, mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def events_per_call(fn, k_calls):
    """Log events per call of fn (k_calls * events must stay under the ring size to be counted exactly)."""
    base = fillers_to_evict(fn, 0)
    with_calls = fillers_to_evict(fn, k_calls)
    return (base - with_calls) / k_calls


# the normal step cut in phases, to see which one logs
def phase_forward():
    with tf.GradientTape():
        y_predicted = tf.matmul(X, W)
        MSE(Y, y_predicted)


def phase_forward_gradient():
    with tf.GradientTape() as tape:
        y_predicted = tf.matmul(X, W)
        loss_value = MSE(Y, y_predicted)
    tape.gradient(loss_value, W)


_G = tf.constant([[0.0]])


def phase_apply():
    OPT.apply_gradients([(_G, W)])


# ---- the cost of one event -------------------------------------------------------------------------------

_PLAIN = tf.constant(1.0)


def op_logged():  # the input carries provenance: frame walk for file:line + ring push
    _FILL * 1.0


def op_plain():  # the same op on a plain constant: one flag test, nothing logged
    _PLAIN * 1.0


def main():
    quick = "--quick" in sys.argv
    number, repeat = (100, 20) if quick else (500, 60)
    print(f"pyfast_tape {getattr(tf, '__version__', '?')}, seed: {SEED}")
    print(f"timing: min over {repeat} interleaved blocks of {number} calls each, per call\n")

    k = 1000
    e = events_per_call(step, k)
    print(f"log events per normal step: {e:g}  (ring-eviction count over {k} steps)")
    for fn in (phase_forward, phase_forward_gradient, phase_apply, step_mistake):
        print(f"  {fn.__name__:24s} {events_per_call(fn, k):g} events per call")
    print()

    t = min_time_per_call([step, step_mistake, forward_no_tape, forward_in_tape, op_logged, op_plain],
                          number, repeat)
    ev_cost = t["op_logged"] - t["op_plain"]
    print(f"normal seed step                  {t['step'] * 1e6:8.2f} us")
    print(f"mistake step (loss outside tape)  {t['step_mistake'] * 1e6:8.2f} us   (logs 3 events; no SGD apply)")
    print(f"forward ops, no tape              {t['forward_no_tape'] * 1e6:8.2f} us   (provenance can not trigger)")
    print(f"forward ops, inside a tape        {t['forward_in_tape'] * 1e6:8.2f} us   (recorded: no events)")
    print(f"multiply, input with provenance   {t['op_logged'] * 1e9:8.0f} ns   (logs one event)")
    print(f"multiply, plain input             {t['op_plain'] * 1e9:8.0f} ns")
    print(f"  -> one logged event costs       {ev_cost * 1e9:8.0f} ns")
    overhead = e * ev_cost / t["step"]
    print(f"\nevent overhead of the normal step: {e:g} events x {ev_cost * 1e9:.0f} ns = {overhead * 100:.2f}% "
          "of the step (plus the per-op flag tests, not separable without a compile-time switch)")
    print(f"for scale, if one event per step were logged: {ev_cost / t['step'] * 100:.1f}% of the step")


if __name__ == "__main__":
    main()
