"""Peer: hand-written NumPy — every forward and backward pass written out, Keras's Adam and SGD updates,
float32 throughout (NumPy's OpenBLAS for the matrix products). No tape: W6 measures only ``a + b``."""
from __future__ import annotations

import os
import sys

# This folder's files are named like the packages they benchmark (numpy.py, torch.py, jax.py, ...): take it
# off sys.path, so `import numpy` finds NumPy even where a package is missing, and import siblings as `peers.x`.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE] + [os.path.dirname(_HERE)]

from typing import Any, Callable, Dict, List, Tuple  # noqa: E402

import numpy as np  # noqa: E402

from peers import common  # noqa: E402

f32 = np.float32


class KerasAdam:
    """Keras 3's Adam, in float32: alpha = lr sqrt(1 - b2^t) / (1 - b1^t); m += (g - m)(1 - b1);
    v += (g^2 - v)(1 - b2); p -= (m alpha) / (sqrt(v) + eps)."""

    def __init__(self, params: List[np.ndarray], lr: float = 0.01, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7) -> None:
        self.lr, self.b1, self.b2, self.eps = f32(lr), f32(beta_1), f32(beta_2), f32(epsilon)
        self.c1, self.c2 = f32(1 - beta_1), f32(1 - beta_2)
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def apply(self, params: List[np.ndarray], grads: List[np.ndarray]) -> None:
        self.t += 1
        t = f32(self.t)
        alpha = self.lr * np.sqrt(f32(1) - self.b2 ** t) / (f32(1) - self.b1 ** t)
        for p, g, m, v in zip(params, grads, self.m, self.v):
            m += (g - m) * self.c1
            v += (g * g - v) * self.c2
            p -= (m * alpha) / (np.sqrt(v) + self.eps)


def softmax_ce(logits: np.ndarray, labels: np.ndarray) -> Tuple[np.floating, np.ndarray]:
    """Mean sparse softmax cross-entropy and its gradient with respect to the logits (stable: max shift)."""
    n = logits.shape[0]
    rows = np.arange(n)
    sh = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(sh)
    s = e.sum(axis=1)
    loss = np.mean(np.log(s) - sh[rows, labels])
    e /= s[:, None]
    e[rows, labels] -= f32(1)
    e *= f32(1.0 / n)
    return loss, e


def seed_linreg(d: Dict[str, np.ndarray]) -> Callable[[], Any]:
    x, y, W = d["w1_x"], d["w1_y"], d["w1_W"].copy()
    lr = f32(0.01)

    def step() -> Any:
        e = x @ W - y
        loss = np.mean(np.square(e))
        W[...] -= lr * (x.T @ (e * f32(2.0 / e.size)))
        return loss
    return step


def seed_keras_mlp(d: Dict[str, np.ndarray]) -> Callable[[], Any]:
    """Dense(10, relu) -> Dense(5, softmax) + CategoricalCrossentropy = CE from the logits (as Keras)."""
    X, Y = d["w2_X"], d["w2_Y"]
    params = [d["w2_W1"].copy(), d["w2_b1"].copy(), d["w2_W2"].copy(), d["w2_b2"].copy()]
    adam = KerasAdam(params, lr=0.01)
    n = X.shape[0]

    def step() -> Any:
        W1, b1, W2, b2 = params
        z1 = X @ W1 + b1
        h = np.maximum(z1, f32(0))
        logits = h @ W2 + b2
        sh = logits - logits.max(axis=1, keepdims=True)
        logp = sh - np.log(np.exp(sh).sum(axis=1, keepdims=True))
        loss = np.mean(-(Y * logp).sum(axis=1))
        dlogits = (np.exp(logp) * Y.sum(axis=1, keepdims=True) - Y) * f32(1.0 / n)
        dh = dlogits @ W2.T
        dz1 = dh * (z1 > 0)
        adam.apply(params, [X.T @ dz1, dz1.sum(axis=0), h.T @ dlogits, dlogits.sum(axis=0)])
        return loss
    return step


def seed_huber(d: Dict[str, np.ndarray]) -> Callable[[], Any]:
    x, y, W, b = d["w3_x"], d["w3_y"], d["w3_W"].copy(), d["w3_b"].copy()
    lr, delta = f32(0.01), f32(1.0)

    def step() -> Any:
        e = x @ W + b - y
        ae = np.abs(e)
        loss = np.mean(np.where(ae <= delta, f32(0.5) * np.square(e), delta * (ae - f32(0.5) * delta)))
        de = np.where(ae <= delta, e, delta * np.sign(e)) * f32(1.0 / e.size)
        W[...] -= lr * (x.T @ de)
        b[...] -= lr * de.sum(axis=0, keepdims=True)
        return loss
    return step


def large_mlp(d: Dict[str, np.ndarray]) -> Callable[[], Any]:
    X, labels = d["w4_X"], d["w4_y"]
    params = [d[k].copy() for k in ("w4_W1", "w4_b1", "w4_W2", "w4_b2", "w4_W3", "w4_b3")]
    lr = f32(0.01)

    def step() -> Any:
        W1, b1, W2, b2, W3, b3 = params
        h1 = X @ W1
        h1 += b1
        np.maximum(h1, f32(0), out=h1)
        h2 = h1 @ W2
        h2 += b2
        np.maximum(h2, f32(0), out=h2)
        logits = h2 @ W3
        logits += b3
        loss, dlogits = softmax_ce(logits, labels)
        dh2 = dlogits @ W3.T
        dh2 *= h2 > 0
        dh1 = dh2 @ W2.T
        dh1 *= h1 > 0
        grads = [X.T @ dh1, dh1.sum(axis=0), h1.T @ dh2, dh2.sum(axis=0), h2.T @ dlogits, dlogits.sum(axis=0)]
        for p, g in zip(params, grads):
            g *= lr
            p -= g
        return loss
    return step


def mse(y_true: np.ndarray, y_pred: np.ndarray) -> Tuple[Any, np.ndarray]:
    e = y_pred - y_true
    loss = np.vdot(e, e) / f32(e.size)
    e *= f32(2.0 / e.size)
    return loss, e


def huber(y_true: np.ndarray, y_pred: np.ndarray, delta: float = 1.0) -> Tuple[Any, np.ndarray]:
    """0.5 q^2 + delta (|e| - q) with q = min(|e|, delta) is Keras's Huber on both branches."""
    d = f32(delta)
    e = y_pred - y_true
    ae = np.abs(e)
    q = np.minimum(ae, d)
    ae -= q
    loss = (f32(0.5) * np.vdot(q, q) + d * ae.sum(dtype=np.float32)) / f32(e.size)
    np.clip(e, -d, d, out=e)
    e *= f32(1.0 / e.size)
    return loss, e


def main() -> None:
    cfg = common.load_config()
    common.pin_threads(cfg["threads"])
    rep = common.Report("numpy", cfg)
    rep.store("W6 import", rep.attempt("W6 import", lambda: common.import_time("numpy", cfg["import_reps_peer"])))
    d = common.load_data(cfg)
    to_float = float

    for name, make, steps in (("W1", seed_linreg, cfg["check_steps"]), ("W2", seed_keras_mlp, cfg["check_steps"]),
                              ("W3", seed_huber, cfg["check_steps"]), ("W4", large_mlp, cfg["w4_check_steps"])):
        step = rep.attempt(name, lambda make=make: make(d))
        if step is None:
            continue
        rep.check(name, lambda step=step, steps=steps: common.train_check(step, to_float, steps))
        kind, kw = ("w4", {"warmup": 0}) if name == "W4" else ("small", {})
        rep.time(name, common.calls(step), kind, **kw)

    for name, fn, args in (("W5 mse", mse, (d["w5_true"], d["w5_pred"])),
                           ("W5 huber", huber, (d["w5_true"], d["w5_pred"])),
                           ("W5 ce", lambda lg, lb: softmax_ce(lg, lb), (d["ce_logits"], d["ce_labels"]))):
        rep.check(name, lambda fn=fn, args=args: [to_float(fn(*args)[0])])
        rep.time(name, common.calls(lambda fn=fn, args=args: fn(*args)), "w5", warmup=0)

    a, b = np.array([1.0], f32), np.array([2.0], f32)

    def outside(n: int) -> None:
        for _ in range(n):
            c = a + b; c = a + b; c = a + b; c = a + b; c = a + b  # noqa: E702,F841
            c = a + b; c = a + b; c = a + b; c = a + b; c = a + b  # noqa: E702,F841
    rep.time("W6 add", outside, "w6", per=10)
    rep.note("W6", "NumPy has no tape: 'a + b, recorded' is not applicable")
    rep.emit()


if __name__ == "__main__":
    main()
