"""Peer: JAX, every step ``jax.jit``-compiled (value_and_grad + the update in one program, parameters
donated). Losses and Keras's Adam are written out with jax.numpy (JAX ships no loss functions). Timing
synchronises with ``block_until_ready`` at the end of each sample, so dispatch may overlap compute within
a sample. W6 measures eager ``a + b`` on jax arrays (there is no tape to record on). XLA's CPU thread pool
has no size setting: the driver's CPU affinity (and, for 1 thread, XLA_FLAGS) holds it to the thread count."""
from __future__ import annotations

import os
import sys

# This folder's files are named like the packages they benchmark (numpy.py, torch.py, jax.py, ...): take it
# off sys.path, so `import numpy` finds NumPy even where a package is missing, and import siblings as `peers.x`.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE] + [os.path.dirname(_HERE)]

import functools  # noqa: E402
import warnings  # noqa: E402
from typing import Any, Callable, Dict  # noqa: E402

import numpy as np  # noqa: E402

from peers import common  # noqa: E402


def build(jax: Any, d: Dict[str, np.ndarray]) -> Dict[str, Callable[[], Callable[[], Any]]]:
    jnp = jax.numpy
    f32 = jnp.float32
    A = lambda k: jnp.asarray(d[k])  # noqa: E731
    jit = functools.partial(jax.jit, donate_argnums=0)  # argument 0: the training state, updated in place

    def sgd(params: Any, grads: Any, lr: float = 0.01) -> Any:
        return jax.tree_util.tree_map(lambda p, g: p - f32(lr) * g, params, grads)

    def stateful(step: Callable[..., Any], state: Any, *data: Any) -> Callable[[], Any]:
        """A no-argument step for the harness: keeps the (donated) state, returns the loss. The seed
        workloads close over their small constant data (measured ~5% faster than passing it); W4 passes its
        batch as an argument."""
        box = [state]

        def run() -> Any:
            box[0], loss = step(box[0], *data)
            return loss
        return run

    def seed_linreg() -> Callable[[], Any]:
        def loss_fn(W: Any, x: Any, y: Any) -> Any:
            return jnp.mean(jnp.square(x @ W - y))

        x, y = A("w1_x"), A("w1_y")

        @jit
        def step(W: Any) -> Any:
            loss, g = jax.value_and_grad(loss_fn)(W, x, y)
            return sgd(W, g), loss
        return stateful(step, A("w1_W"))

    def seed_keras_mlp() -> Callable[[], Any]:
        def loss_fn(params: Any, X: Any, Y: Any) -> Any:
            W1, b1, W2, b2 = params
            logits = jax.nn.relu(X @ W1 + b1) @ W2 + b2
            return jnp.mean(-jnp.sum(Y * jax.nn.log_softmax(logits, axis=-1), axis=-1))

        X, Y = A("w2_X"), A("w2_Y")

        @jit
        def step(state: Any) -> Any:
            """Keras 3's Adam (see numpy.py): alpha = lr sqrt(1 - b2^t) / (1 - b1^t), ..."""
            params, m, v, t = state
            loss, g = jax.value_and_grad(loss_fn)(params, X, Y)
            t = t + 1
            tf = t.astype(f32)
            alpha = f32(0.01) * jnp.sqrt(1 - jnp.power(f32(0.999), tf)) / (1 - jnp.power(f32(0.9), tf))
            m = jax.tree_util.tree_map(lambda m, g: m + (g - m) * f32(1 - 0.9), m, g)
            v = jax.tree_util.tree_map(lambda v, g: v + (g * g - v) * f32(1 - 0.999), v, g)
            params = jax.tree_util.tree_map(lambda p, m, v: p - (m * alpha) / (jnp.sqrt(v) + f32(1e-7)), params, m, v)
            return (params, m, v, t), loss
        params = tuple(A(k) for k in ("w2_W1", "w2_b1", "w2_W2", "w2_b2"))
        m, v = (tuple(jnp.zeros_like(p) for p in params) for _ in range(2))
        return stateful(step, (params, m, v, jnp.int32(0)))

    def seed_huber() -> Callable[[], Any]:
        def loss_fn(params: Any, x: Any, y: Any) -> Any:
            W, b = params
            error = x @ W + b - y
            abs_error = jnp.abs(error)
            return jnp.mean(jnp.where(abs_error <= 1.0, 0.5 * jnp.square(error), 1.0 * (abs_error - 0.5)))

        x, y = A("w3_x"), A("w3_y")

        @jit
        def step(params: Any) -> Any:
            loss, g = jax.value_and_grad(loss_fn)(params, x, y)
            return sgd(params, g), loss
        return stateful(step, (A("w3_W"), A("w3_b")))

    def large_mlp() -> Callable[[], Any]:
        def loss_fn(params: Any, X: Any, labels: Any) -> Any:
            W1, b1, W2, b2, W3, b3 = params
            h = jax.nn.relu(X @ W1 + b1)
            h = jax.nn.relu(h @ W2 + b2)
            return sparse_ce(h @ W3 + b3, labels)

        @jit
        def step(params: Any, X: Any, labels: Any) -> Any:
            loss, g = jax.value_and_grad(loss_fn)(params, X, labels)
            return sgd(params, g), loss
        params = tuple(A(k) for k in ("w4_W1", "w4_b1", "w4_W2", "w4_b2", "w4_W3", "w4_b3"))
        return stateful(step, params, A("w4_X"), A("w4_y"))

    return {"W1": seed_linreg, "W2": seed_keras_mlp, "W3": seed_huber, "W4": large_mlp}


def sparse_ce(logits: Any, labels: Any) -> Any:
    import jax
    import jax.numpy as jnp
    picked = jnp.take_along_axis(logits, labels[:, None], axis=-1)[:, 0]
    return jnp.mean(jax.nn.logsumexp(logits, axis=-1) - picked)


def mse(y_pred: Any, y_true: Any) -> Any:
    import jax.numpy as jnp
    return jnp.mean(jnp.square(y_pred - y_true))


def huber(y_pred: Any, y_true: Any, delta: float = 1.0) -> Any:
    import jax.numpy as jnp
    error = y_pred - y_true
    abs_error = jnp.abs(error)
    return jnp.mean(jnp.where(abs_error <= delta, 0.5 * jnp.square(error), delta * abs_error - 0.5 * delta * delta))


def main() -> None:
    cfg = common.load_config()
    common.pin_threads(cfg["threads"])
    rep = common.Report("jax", cfg)
    try:
        import jax
        import jax.numpy as jnp
    except Exception as e:  # noqa: BLE001
        common.skip("jax", f"import jax failed: {type(e).__name__}: {e}")
    rep.store("W6 import", rep.attempt("W6 import", lambda: common.import_time("jax", cfg["import_reps_peer"])))
    warnings.filterwarnings("ignore", message=".*donated buffers were not usable.*")
    rep.out["versions"]["jax"] = jax.__version__
    rep.note("W6", "eager a + b on jax arrays (one cached XLA executable per call); JAX has no tape")
    d = common.load_data(cfg)
    to_float = float
    sync = jax.block_until_ready

    for name, make in build(jax, d).items():
        steps = cfg["w4_check_steps"] if name == "W4" else cfg["check_steps"]
        step = rep.attempt(name, make)
        if step is None:
            continue
        rep.check(name, lambda step=step, steps=steps: common.train_check(step, to_float, steps))
        kind, kw = ("w4", {"warmup": 0}) if name == "W4" else ("small", {})
        rep.time(name, common.calls(step, sync), kind, **kw)

    for name, loss_fn, (pred, target) in (
            ("W5 mse", mse, (d["w5_pred"], d["w5_true"])),
            ("W5 huber", huber, (d["w5_pred"], d["w5_true"])),
            ("W5 ce", sparse_ce, (d["ce_logits"], d["ce_labels"]))):
        f = jax.jit(jax.value_and_grad(loss_fn))
        p, t = jnp.asarray(pred), jnp.asarray(target)
        rep.check(name, lambda f=f, p=p, t=t: [to_float(f(p, t)[0])])
        rep.time(name, common.calls(lambda f=f, p=p, t=t: f(p, t), sync), "w5", warmup=0)
        del p, t

    a, b = jnp.asarray([1.0], jnp.float32), jnp.asarray([2.0], jnp.float32)

    def outside(n: int) -> None:
        c = None
        for _ in range(n):
            c = a + b; c = a + b; c = a + b; c = a + b; c = a + b  # noqa: E702
            c = a + b; c = a + b; c = a + b; c = a + b; c = a + b  # noqa: E702
        sync(c)
    rep.time("W6 add", outside, "w6", per=10)
    rep.emit()


if __name__ == "__main__":
    main()
