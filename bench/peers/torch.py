"""Peer: PyTorch eager. Gradients with ``torch.autograd.grad`` and updates in place under
``torch.no_grad()`` (measured here about 1.7x faster per seed step than ``torch.optim.SGD`` with
``zero_grad``/``backward``/``step``); Keras's Adam written out (torch's Adam puts epsilon elsewhere);
the loss functions are torch's own fused ones (``F.cross_entropy``, ``F.mse_loss``, ``F.huber_loss``)."""
from __future__ import annotations

import os
import sys

# This folder's files are named like the packages they benchmark (numpy.py, torch.py, jax.py, ...): take it
# off sys.path, so `import numpy` finds NumPy even where a package is missing, and import siblings as `peers.x`.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE] + [os.path.dirname(_HERE)]

from typing import Any, Callable, Dict, List  # noqa: E402

import numpy as np  # noqa: E402

from peers import common  # noqa: E402


def build(torch: Any, d: Dict[str, np.ndarray]) -> Dict[str, Callable[[], Callable[[], Any]]]:
    F = torch.nn.functional
    T = lambda k: torch.from_numpy(d[k].copy())  # noqa: E731
    P = lambda k: torch.from_numpy(d[k].copy()).requires_grad_(True)  # noqa: E731

    class KerasAdam:
        """Keras 3's Adam (see numpy.py), in float32 scalars and in-place tensor ops."""

        def __init__(self, params: List[Any], lr: float = 0.01, beta_1: float = 0.9, beta_2: float = 0.999,
                     epsilon: float = 1e-7) -> None:
            self.lr, self.b1, self.b2, self.eps = np.float32(lr), np.float32(beta_1), np.float32(beta_2), epsilon
            self.c1, self.c2 = float(np.float32(1 - beta_1)), float(np.float32(1 - beta_2))
            self.m = [torch.zeros_like(p) for p in params]
            self.v = [torch.zeros_like(p) for p in params]
            self.t = 0

        def apply(self, params: List[Any], grads: List[Any]) -> None:
            self.t += 1
            t = np.float32(self.t)
            alpha = float(self.lr * np.sqrt(np.float32(1) - self.b2 ** t) / (np.float32(1) - self.b1 ** t))
            with torch.no_grad():
                for p, g, m, v in zip(params, grads, self.m, self.v):
                    m.lerp_(g, self.c1)          # m += (g - m)(1 - b1)
                    v.lerp_(g * g, self.c2)      # v += (g^2 - v)(1 - b2)
                    p.sub_(m * alpha / (v.sqrt() + self.eps))

    def seed_linreg() -> Callable[[], Any]:
        x, y, W = T("w1_x"), T("w1_y"), P("w1_W")

        def step() -> Any:
            loss = torch.mean(torch.square(torch.matmul(x, W) - y))
            (g,) = torch.autograd.grad(loss, (W,))
            with torch.no_grad():
                W.sub_(g, alpha=0.01)
            return loss
        return step

    def seed_keras_mlp() -> Callable[[], Any]:
        X, Y = T("w2_X"), T("w2_Y")
        params = [P("w2_W1"), P("w2_b1"), P("w2_W2"), P("w2_b2")]
        adam = KerasAdam(params, lr=0.01)

        def step() -> Any:
            W1, b1, W2, b2 = params
            logits = torch.addmm(b2, torch.relu(torch.addmm(b1, X, W1)), W2)
            loss = F.cross_entropy(logits, Y)  # probabilities as targets: CE from the logits, batch mean
            adam.apply(params, torch.autograd.grad(loss, params))
            return loss
        return step

    def seed_huber() -> Callable[[], Any]:
        x, y, W, b = T("w3_x"), T("w3_y"), P("w3_W"), P("w3_b")

        def step() -> Any:
            error = torch.matmul(x, W) + b - y
            abs_error = torch.abs(error)
            loss = torch.mean(torch.where(abs_error <= 1.0, 0.5 * torch.square(error), 1.0 * (abs_error - 0.5)))
            gW, gb = torch.autograd.grad(loss, (W, b))
            with torch.no_grad():
                W.sub_(gW, alpha=0.01)
                b.sub_(gb, alpha=0.01)
            return loss
        return step

    def large_mlp() -> Callable[[], Any]:
        X, labels = T("w4_X"), torch.from_numpy(d["w4_y"].astype(np.int64))
        params = [P(k) for k in ("w4_W1", "w4_b1", "w4_W2", "w4_b2", "w4_W3", "w4_b3")]

        def step() -> Any:
            W1, b1, W2, b2, W3, b3 = params
            h = torch.relu(torch.addmm(b1, X, W1))
            h = torch.relu(torch.addmm(b2, h, W2))
            loss = F.cross_entropy(torch.addmm(b3, h, W3), labels)
            grads = torch.autograd.grad(loss, params)
            with torch.no_grad():
                for p, g in zip(params, grads):
                    p.sub_(g, alpha=0.01)
            return loss
        return step

    return {"W1": seed_linreg, "W2": seed_keras_mlp, "W3": seed_huber, "W4": large_mlp}


def main() -> None:
    cfg = common.load_config()
    common.pin_threads(cfg["threads"])
    rep = common.Report("torch", cfg)
    try:
        import torch
    except Exception as e:  # noqa: BLE001
        common.skip("torch", f"import torch failed: {type(e).__name__}: {e}")
    rep.store("W6 import", rep.attempt("W6 import", lambda: common.import_time("torch", cfg["import_reps_peer"])))
    torch.set_num_threads(cfg["threads"])
    rep.out["versions"]["torch"] = torch.__version__
    F = torch.nn.functional
    d = common.load_data(cfg)
    to_float = lambda t: float(t.item())  # noqa: E731

    for name, make in build(torch, d).items():
        steps = cfg["w4_check_steps"] if name == "W4" else cfg["check_steps"]
        step = rep.attempt(name, make)
        if step is None:
            continue
        rep.check(name, lambda step=step, steps=steps: common.train_check(step, to_float, steps))
        kind, kw = ("w4", {"warmup": 0}) if name == "W4" else ("small", {})
        rep.time(name, common.calls(step), kind, **kw)

    yt = torch.from_numpy(d["w5_true"])
    yp = torch.from_numpy(d["w5_pred"]).requires_grad_(True)
    logits = torch.from_numpy(d["ce_logits"]).requires_grad_(True)
    labels = torch.from_numpy(d["ce_labels"].astype(np.int64))
    for name, loss_fn, (target, pred) in (
            ("W5 mse", lambda p, t: F.mse_loss(p, t), (yt, yp)),
            ("W5 huber", lambda p, t: F.huber_loss(p, t, delta=1.0), (yt, yp)),
            ("W5 ce", lambda p, t: F.cross_entropy(p, t), (labels, logits))):
        def f(loss_fn: Any = loss_fn, target: Any = target, pred: Any = pred) -> Any:
            loss = loss_fn(pred, target)
            return loss, torch.autograd.grad(loss, (pred,))[0]
        rep.check(name, lambda f=f: [to_float(f()[0])])
        rep.time(name, common.calls(f), "w5", warmup=0)

    a, b = torch.tensor([1.0]), torch.tensor([2.0])
    a_watched = a.clone().requires_grad_(True)

    def adds(x: Any) -> Callable[[int], None]:
        def run(n: int) -> None:
            for _ in range(n):
                c = x + b; c = x + b; c = x + b; c = x + b; c = x + b  # noqa: E702,F841
                c = x + b; c = x + b; c = x + b; c = x + b; c = x + b  # noqa: E702,F841
        return run
    rep.time("W6 add", adds(a), "w6", per=10)
    rep.time("W6 add (tape)", adds(a_watched), "w6", per=10)
    rep.note("W6", "'recorded' = the left operand requires grad (autograd records the add)")
    rep.emit()


if __name__ == "__main__":
    main()
