"""Threads: tapes are per thread, training is deterministic under concurrency, a tape used from a thread
that did not enter it raises a clear RuntimeError (its state intact), and changing the intra-op thread
count while other threads run ops is safe.

* four threads, each training its own model (two seed linear regressions, two small Keras MLPs with Adam),
  give bit-identical weights and loss histories to the same four runs done one after another;
* a tape entered in one thread: gradient(), jacobian() and __exit__ from another thread raise
  RuntimeError naming the problem; entering it in a second thread while it is active raises; the owner
  can still use it afterwards and gets the right gradient;
* tf.config.threading.set_intra_op_parallelism_threads called in a loop from one thread while three
  threads run ops large enough for the OpenMP/BLAS paths: no crash (run in a subprocess, so a crash is a
  test failure with its signal, not a dead test run) and every result within tolerance of NumPy.
"""
from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import pyfast_tape as tf

pytestmark = pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`:UserWarning")

N_THREADS = 4
HERE = os.path.dirname(os.path.abspath(__file__))


# ---- workloads ---------------------------------------------------------------------------------------------
def linreg(steps: int, lr: float, momentum: float, ys) -> dict:
    """The seed's linreg_mse.py loop (with optional momentum); returns W and the loss of every step."""
    x = tf.constant([[1.0], [2.0], [3.0], [4.0]], dtype=tf.float32)
    y = tf.constant([[v] for v in ys], dtype=tf.float32)
    W = tf.Variable([[0.5]], dtype=tf.float32)
    opt = tf.keras.optimizers.SGD(learning_rate=lr, momentum=momentum)
    losses = np.empty(steps, np.float32)
    for step in range(steps):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(tf.matmul(x, W) - y))
        grads = tape.gradient(loss, W)
        opt.apply_gradients([(grads, W)])
        losses[step] = loss.numpy()
    return {"weights": [W.numpy().copy()], "losses": losses}


def keras_mlp(steps: int, seed: int, hidden: int = 10, batch: int = 100) -> dict:
    """The seed's keras_mlp_cce.py structure (Dense relu -> Dense softmax, CategoricalCrossentropy, Adam)
    with weights and data drawn from a NumPy generator of its own (no shared random state)."""
    rng = np.random.default_rng(seed)
    model = tf.keras.Sequential([
        tf.keras.layers.Dense(hidden, activation="relu", input_shape=(20,)),
        tf.keras.layers.Dense(5, activation="softmax"),
    ])
    model.build((None, 20))
    model.set_weights([rng.standard_normal(w.shape).astype(np.float32) * 0.3 for w in model.get_weights()])
    loss_fn = tf.keras.losses.CategoricalCrossentropy()
    opt = tf.keras.optimizers.Adam(learning_rate=0.01)
    X = tf.convert_to_tensor(rng.random((batch, 20)), dtype=tf.float32)
    Y = tf.convert_to_tensor(tf.keras.utils.to_categorical(rng.integers(0, 5, batch), num_classes=5),
                             dtype=tf.float32)
    losses = np.empty(steps, np.float32)
    for step in range(steps):
        with tf.GradientTape() as tape:
            loss = loss_fn(Y, model(X))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        losses[step] = loss.numpy()
    return {"weights": [w.copy() for w in model.get_weights()], "losses": losses}


JOBS = [
    lambda: linreg(1500, 0.01, 0.0, (2.0, 4.0, 5.9, 8.1)),
    lambda: keras_mlp(150, seed=1),
    lambda: linreg(1500, 0.005, 0.9, (-1.0, 0.5, 3.0, 2.0)),
    lambda: keras_mlp(150, seed=2, hidden=64, batch=512),  # 512x64 activations: above the OpenMP threshold
]


def run_concurrently(jobs, switch=1e-5):
    results = [None] * len(jobs)
    errors = []
    barrier = threading.Barrier(len(jobs))

    def work(k):
        try:
            barrier.wait()
            results[k] = jobs[k]()
        except BaseException as e:  # noqa: BLE001  surfaced in the main thread
            errors.append((k, e))

    old = sys.getswitchinterval()
    sys.setswitchinterval(switch)  # switch threads often: the loops interleave inside their tapes
    try:
        threads = [threading.Thread(target=work, args=(k,)) for k in range(len(jobs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert not any(t.is_alive() for t in threads), "a training thread hung"
    finally:
        sys.setswitchinterval(old)
    assert not errors, errors
    return results


def test_four_threads_training_concurrently_are_bit_identical_to_serial():
    serial = [job() for job in JOBS]
    concurrent = run_concurrently(JOBS)
    for k, (s, c) in enumerate(zip(serial, concurrent)):
        np.testing.assert_array_equal(c["losses"], s["losses"], err_msg=f"thread {k}: loss history differs")
        assert len(c["weights"]) == len(s["weights"])
        for i, (wc, ws) in enumerate(zip(c["weights"], s["weights"])):
            assert wc.tobytes() == ws.tobytes(), f"thread {k}: weight {i} differs from the serial run"
    # the four runs really are different computations, and they trained
    assert serial[0]["losses"][-1] < serial[0]["losses"][0] and serial[1]["losses"][-1] < serial[1]["losses"][0]
    assert not np.array_equal(serial[0]["weights"][0], serial[2]["weights"][0])
    assert not np.array_equal(serial[1]["losses"], serial[3]["losses"])


def test_concurrent_runs_repeat_exactly():
    a = run_concurrently(JOBS[:2] * 2)
    b = run_concurrently(JOBS[:2] * 2)
    for k in range(4):
        assert a[k]["losses"].tobytes() == b[k]["losses"].tobytes()
        assert a[k]["losses"].tobytes() == a[k % 2]["losses"].tobytes()


def test_nested_and_persistent_tapes_in_threads_are_independent():
    """Each thread: an outer tape, a persistent inner tape, a second-order gradient; exact vs serial."""
    def job(seed):
        def run():
            rng = np.random.default_rng(seed)
            w = tf.Variable(rng.standard_normal((6, 3)))
            x = tf.constant(rng.standard_normal((5, 6)))
            out = []
            for _ in range(60):
                with tf.GradientTape() as outer:
                    with tf.GradientTape(persistent=True) as inner:
                        h = tf.nn.softmax(tf.tanh(tf.matmul(x, w)))
                        loss = tf.reduce_sum(h * h)
                    g1 = inner.gradient(loss, w)
                    g1b = inner.gradient(loss, w)
                    total = tf.reduce_sum(g1 * g1)
                g2 = outer.gradient(total, w)
                w.assign_sub(0.01 * g2)
                out.append((g1.numpy() - g1b.numpy()).tobytes())
                out.append(g2.numpy().tobytes())
            return out
        return run

    jobs = [job(s) for s in range(N_THREADS)]
    serial = [j() for j in jobs]
    conc = run_concurrently(jobs)
    assert conc == serial


# ---- one tape, two threads ---------------------------------------------------------------------------------
def in_thread(fn):
    """Runs fn in a new thread; returns ('ok', value) or ('err', exception)."""
    box = {}

    def work():
        try:
            box["r"] = ("ok", fn())
        except BaseException as e:  # noqa: BLE001
            box["r"] = ("err", e)

    t = threading.Thread(target=work)
    t.start()
    t.join(timeout=30)
    assert not t.is_alive(), "the call hung"
    return box["r"]


def _assert_runtime_error(res, *words):
    status, val = res
    assert status == "err", f"expected RuntimeError, got a result {val!r}"
    assert isinstance(val, RuntimeError), f"expected RuntimeError, got {type(val).__name__}: {val}"
    msg = str(val).lower()
    for w in words:
        assert w in msg, f"{w!r} not in message: {val}"


@pytest.mark.parametrize("persistent", [False, True], ids=["non-persistent", "persistent"])
def test_gradient_from_another_thread_while_active_raises(persistent):
    # non-persistent: the refused call must not stop the owner's recording (it did before 1b89c15)
    x = tf.Variable(3.0)
    tape = tf.GradientTape(persistent=persistent)
    with tape:
        y = x * x
        res = in_thread(lambda: tape.gradient(y, x))
        _assert_runtime_error(res, "thread")
        z = y * 2.0  # the owner keeps recording
    g = tape.gradient(z, x)
    assert float(g) == 12.0


@pytest.mark.parametrize("persistent", [False, True], ids=["non-persistent", "persistent"])
def test_jacobian_from_another_thread_while_active_raises(persistent):
    x = tf.constant([1.0, 2.0])
    tape = tf.GradientTape(persistent=persistent)
    with tape:
        tape.watch(x)
        y = x * x
        res = in_thread(lambda: tape.jacobian(y, x))
        _assert_runtime_error(res, "thread")
        z = y * 2.0  # the owner keeps recording
    np.testing.assert_array_equal(tape.jacobian(z, x).numpy(), np.diag([4.0, 8.0]))


def test_exit_from_another_thread_raises_and_owner_can_exit():
    x = tf.Variable(2.0)
    tape = tf.GradientTape()
    tape.__enter__()
    try:
        y = x * x
        res = in_thread(lambda: tape.__exit__(None, None, None))
        _assert_runtime_error(res, "thread")
        assert tf._core.tapes_active() == 1  # still on this thread's stack
    finally:
        tape.__exit__(None, None, None)
    assert tf._core.tapes_active() == 0
    assert float(tape.gradient(y, x)) == 4.0


def test_entering_an_active_tape_in_a_second_thread_raises():
    x = tf.Variable(2.0)
    tape = tf.GradientTape()
    with tape:
        res = in_thread(lambda: tape.__enter__())
        _assert_runtime_error(res, "already active", "thread")
        y = x * x
        # the other thread's failed enter left nothing on any stack
        assert in_thread(lambda: tf._core.tapes_active()) == ("ok", 0)
    assert float(tape.gradient(y, x)) == 4.0


def test_with_block_in_second_thread_while_active_raises():
    tape = tf.GradientTape()

    def other():
        with tape:
            pass

    with tape:
        _assert_runtime_error(in_thread(other), "already active")
    assert tf._core.tapes_active() == 0


def test_tape_reused_in_another_thread_after_exit_works():
    """After the owner exited, a persistent tape's gradient may be taken anywhere (TF allows it)."""
    x = tf.Variable(2.0)
    with tf.GradientTape(persistent=True) as tape:
        y = x * x * x
    assert in_thread(lambda: float(tape.gradient(y, x))) == ("ok", 12.0)
    assert float(tape.gradient(y, x)) == 12.0


def test_other_threads_ops_are_not_recorded_on_my_tape():
    v = tf.Variable(3.0)
    with tf.GradientTape(persistent=True) as tape:
        status, y_other = in_thread(lambda: v * 2.0)
        mine = v * 5.0
    assert status == "ok"
    assert tape.gradient(y_other, v) is None
    assert float(tape.gradient(mine, v)) == 5.0
    with pytest.raises(tf.errors.UnconnectedGradientError):
        tape.gradient(y_other, v, unconnected_gradients="raise")


def _run_script(code: str, timeout: int = 180) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "4")
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                       timeout=timeout, env=env, cwd=HERE)
    assert r.returncode == 0, (f"exit status {r.returncode} (negative: killed by signal {-r.returncode})\n"
                               f"stdout:\n{r.stdout[-3000:]}\nstderr:\n{r.stderr[-3000:]}")
    return r


def test_watch_and_reset_from_another_thread_while_recording_do_not_crash():
    """Another thread hammers watch()/reset() on a tape this thread is recording on: no crash, and the
    owner's final gradient (of ops recorded after the last reset) is right or None -- never garbage."""
    r = _run_script("""
        import threading, numpy as np, pyfast_tape as tf
        x = tf.Variable(np.ones((64, 64)))
        c = tf.constant(np.full((64, 64), 2.0))
        stop = threading.Event()
        errors = []
        tape = tf.GradientTape(persistent=True)
        def other():
            while not stop.is_set():
                try:
                    tape.watch(c)
                    tape.reset()
                except RuntimeError:
                    pass  # a clear refusal is fine
                except BaseException as e:
                    errors.append(repr(e))
        t = threading.Thread(target=other)
        with tape:
            t.start()
            for i in range(300):
                y = tf.reduce_sum(tf.tanh(tf.matmul(x, c)))
        stop.set(); t.join()
        assert not errors, errors
        g = tape.gradient(y, x)
        if g is not None:
            want = (1 - np.tanh(np.ones((64, 64)) @ np.full((64, 64), 2.0)) ** 2) @ np.full((64, 64), 2.0).T
            np.testing.assert_allclose(g.numpy(), want, rtol=1e-12, atol=1e-300)
        print("ok", g is not None)
    """)
    assert r.stdout.startswith("ok")


# ---- intra-op thread count changed while ops run ------------------------------------------------------------
def test_set_intra_op_threads_while_ops_run_is_safe_and_correct():
    r = _run_script("""
        import threading, time, numpy as np, pyfast_tape as tf
        cfg = tf.config.threading
        start = cfg.get_intra_op_parallelism_threads()
        rng = np.random.default_rng(0)
        A = rng.standard_normal((256, 192)).astype(np.float32)
        B = rng.standard_normal((192, 160)).astype(np.float32)
        X = rng.standard_normal((300, 400))
        L = rng.standard_normal((512, 64)).astype(np.float32)
        want_mm = A.astype(np.float64) @ B.astype(np.float64)
        want_sum = X.sum(axis=0)
        ls = L.astype(np.float64)
        want_sm = np.exp(ls - ls.max(1, keepdims=True)); want_sm /= want_sm.sum(1, keepdims=True)
        stop = threading.Event()
        errors, counts = [], [0, 0, 0, 0]
        sets = [0]

        def setter():
            n = 0
            while not stop.is_set():
                cfg.set_intra_op_parallelism_threads([1, 2, 3, 4, 8, 1, 16][n % 7]); n += 1
                time.sleep(0)
            sets[0] = n

        def worker(k):
            try:
                a, b, x, l = tf.constant(A), tf.constant(B), tf.constant(X), tf.constant(L)
                while not stop.is_set():
                    mm = tf.matmul(a, b).numpy()
                    np.testing.assert_allclose(mm, want_mm, rtol=1e-4, atol=1e-4)
                    s = tf.reduce_sum(x, axis=0).numpy()
                    np.testing.assert_allclose(s, want_sum, rtol=1e-12, atol=1e-10)
                    sm = tf.nn.softmax(l).numpy()
                    np.testing.assert_allclose(sm, want_sm, rtol=1e-5, atol=1e-7)
                    with tf.GradientTape() as tape:
                        tape.watch(a)
                        loss = tf.reduce_sum(tf.square(tf.matmul(a, b)))
                    g = tape.gradient(loss, a).numpy()
                    np.testing.assert_allclose(g, 2 * want_mm @ B.T.astype(np.float64), rtol=1e-3, atol=1e-2)
                    counts[k] += 1
            except BaseException as e:
                errors.append(f"worker {k}: {e!r}")
                stop.set()

        ts = [threading.Thread(target=worker, args=(k,)) for k in range(3)] + [threading.Thread(target=setter)]
        for t in ts: t.start()
        time.sleep(4.0)
        stop.set()
        for t in ts: t.join(60)
        assert not any(t.is_alive() for t in ts), "a thread hung"
        assert not errors, errors
        assert min(counts[:3]) > 0, counts
        cfg.set_intra_op_parallelism_threads(start)
        assert cfg.get_intra_op_parallelism_threads() == start
        print("ok", counts[:3], "iterations,", sets[0], "thread-count changes")
    """)
    assert r.stdout.startswith("ok"), r.stdout


def test_intra_op_thread_count_does_not_change_results_beyond_rounding():
    cfg = tf.config.threading
    start = cfg.get_intra_op_parallelism_threads()
    rng = np.random.default_rng(1)
    X = rng.standard_normal((256, 300)).astype(np.float32)
    outs = []
    try:
        for n in (1, 2, 4, 7):
            cfg.set_intra_op_parallelism_threads(n)
            assert cfg.get_intra_op_parallelism_threads() == n
            t = tf.constant(X)
            outs.append((tf.reduce_sum(t, axis=0).numpy(), tf.reduce_sum(t).numpy(),
                         tf.matmul(t, t, transpose_b=True).numpy()))
    finally:
        cfg.set_intra_op_parallelism_threads(start)
    for o in outs[1:]:
        np.testing.assert_allclose(o[0], outs[0][0], rtol=1e-6, atol=1e-5)
        np.testing.assert_allclose(o[1], outs[0][1], rtol=1e-6)
        np.testing.assert_allclose(o[2], outs[0][2], rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("bad", [-1, -8])
def test_set_intra_op_threads_rejects_negative(bad):
    cfg = tf.config.threading
    start = cfg.get_intra_op_parallelism_threads()
    with pytest.raises(ValueError, match="thread"):
        cfg.set_intra_op_parallelism_threads(bad)
    assert cfg.get_intra_op_parallelism_threads() == start


# ---- reference counts: not atomic, so every count change must happen under the GIL (csrc/tensor.h) ----------
def test_shared_tensors_keep_exact_reference_counts_across_threads_and_released_gil():
    """Eight threads share tensors: small ops (GIL held) churn their reference counts while large matmuls run
    with the GIL released. Afterwards every count is back where it started (a lost update would leak or
    free early) and the results match a serial run."""
    rng = np.random.default_rng(3)
    big = tf.constant(rng.standard_normal((384, 384)).astype(np.float32))  # its matmul releases the GIL
    small = tf.constant(rng.standard_normal((4, 4)).astype(np.float32))
    v = tf.Variable(rng.standard_normal((4, 4)).astype(np.float32))
    before = (tf._core._use_count(big), tf._core._use_count(small))

    def work(k):
        out = []
        for i in range(40):
            with tf.GradientTape() as tape:
                y = tf.reduce_sum(tf.matmul(small, v) * small + float(k))
                z = tf.matmul(big, big) if i % 8 == 0 else big
            g = tape.gradient(y, v)
            out.append((float(y), g.numpy().copy(), float(tf.reduce_sum(z[:1, :1]))))
            del y, z, g, tape
        return out

    serial = [work(k) for k in range(8)]
    results, errors = [None] * 8, []

    def run(k):
        try:
            results[k] = work(k)
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=run, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
    finally:
        sys.setswitchinterval(old)
    assert not errors, errors
    for k in range(8):
        for (a, ga, za), (b, gb, zb) in zip(results[k], serial[k]):
            assert a == b and za == zb
            np.testing.assert_array_equal(ga, gb)
    gc.collect()
    assert (tf._core._use_count(big), tf._core._use_count(small)) == before


def test_dlpack_export_released_without_the_gil_on_another_thread():
    """A DLPack consumer may free the exported tensor on any thread without the GIL: the deleter takes the
    GIL to drop its reference (the counts are not atomic)."""
    import ctypes

    t = tf.constant(np.arange(12, dtype=np.float32).reshape(3, 4))
    base = tf._core._use_count(t)
    caps = [t.__dlpack__() for _ in range(16)]
    assert tf._core._use_count(t)[0] == base[0] + 16
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    rename = ctypes.pythonapi.PyCapsule_SetName
    rename.restype, rename.argtypes = ctypes.c_int, [ctypes.py_object, ctypes.c_char_p]
    managed = []
    for c in caps:  # consume like a foreign framework: take the pointer, mark the capsule used
        managed.append(get(c, b"dltensor"))
        rename(c, b"used_dltensor")
    # DLManagedTensor = {DLTensor (48 bytes), manager_ctx, deleter}: call deleter(self) through a CFUNCTYPE,
    # which releases the GIL for the call, from several threads at once
    deleter_of = lambda p: ctypes.cast(ctypes.c_void_p.from_address(p + 48 + 8).value,  # noqa: E731
                                       ctypes.CFUNCTYPE(None, ctypes.c_void_p))
    threads = [threading.Thread(target=lambda p=p: deleter_of(p)(p)) for p in managed]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    del caps
    gc.collect()
    assert tf._core._use_count(t) == base
    np.testing.assert_array_equal(t.numpy(), np.arange(12, dtype=np.float32).reshape(3, 4))
