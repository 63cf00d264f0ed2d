"""Shared helpers for the peer processes of ``bench/compare.py``: configuration and data loading,
thread pinning, timing, the 100-step correctness run, import timing and the one JSON line a peer prints.

No framework (and no pyfast_tape) is imported here: every peer imports only its own framework.

Timing model (the same for every peer): ``run(n)`` executes n repetitions and waits for the results
(``block_until_ready`` for JAX, nothing for the synchronous peers); a *sample* is one ``run(n)`` with n
chosen so a sample lasts about ``sample_s``; the per-repetition time of a sample is its duration / n. After
a warm-up (the correctness run, where there is one) and the calibration of n, we take samples until the
workload's time budget is spent (at least ``min_samples``) and report the minimum and the median of the
per-repetition times. The garbage collector is off while a sample runs.
"""
from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from typing import Any, Callable, Dict, List, Optional

import numpy as np

MARKER = "@@BENCH_RESULT@@"


# ---- configuration, data, threads --------------------------------------------------------------------------
def load_config() -> Dict[str, Any]:
    """The driver passes one argument: the path of a config JSON (sizes, budgets, threads, data path)."""
    if len(sys.argv) != 2:
        raise SystemExit(f"usage: {sys.argv[0]} CONFIG.json   (run by bench/compare.py)")
    with open(sys.argv[1]) as f:
        return json.load(f)


def load_data(cfg: Dict[str, Any]) -> Dict[str, np.ndarray]:
    """Every array of the shared .npz (float32 data and weights, int32 labels), loaded eagerly."""
    with np.load(cfg["data"]) as z:
        return {k: z[k] for k in z.files}


def pin_threads(threads: int) -> None:
    """Restricts this process to `threads` CPUs when the machine has more, so frameworks whose pool size
    cannot be set (or that ignore the setting) still get the same cores as everyone else. The thread-count
    environment variables (OMP/OpenBLAS/MKL) are set by the driver before this process started."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return
    if threads < len(cpus):
        os.sched_setaffinity(0, cpus[:threads])


# ---- timing ------------------------------------------------------------------------------------------------
def bench(run: Callable[[int], Any], budget_s: float, sample_s: float, min_samples: int = 3,
          max_samples: int = 2000, warmup: int = 1) -> Dict[str, Any]:
    """Times `run(n)` (n repetitions, synchronised at the end); returns seconds per repetition.

    `warmup` single repetitions first (0 where the correctness run has just warmed the workload up), then
    n doubles until a run lasts half a sample (these runs warm up too) and is scaled to ~`sample_s`."""
    for _ in range(warmup):
        run(1)
    n = 1
    while True:
        t0 = time.perf_counter()
        run(n)
        dt = time.perf_counter() - t0
        if dt >= sample_s / 2 or n >= 1 << 20:
            break
        n *= 2
    n = max(1, round(n * sample_s / max(dt, 1e-9)))
    times: List[float] = []
    gc.collect()
    start = time.perf_counter()
    while len(times) < max_samples and (len(times) < min_samples or time.perf_counter() - start < budget_s):
        gc.disable()
        try:
            t0 = time.perf_counter()
            run(n)
            dt = time.perf_counter() - t0
        finally:
            gc.enable()
        times.append(dt / n)
    return {"min": min(times), "median": statistics.median(times), "samples": len(times), "per_sample": n}


def calls(fn: Callable[[], Any], sync: Optional[Callable[[Any], Any]] = None) -> Callable[[int], Any]:
    """`run(n)` for `bench`: n calls of `fn`, then `sync` on the last result (JAX's block_until_ready)."""
    def run(n: int) -> Any:
        r = None
        for _ in range(n):
            r = fn()
        if sync is not None:
            sync(r)
        return r
    return run


def train_check(step: Callable[[], Any], to_float: Callable[[Any], float], steps: int) -> List[float]:
    """Runs `steps` training steps from the initial weights; returns [loss of step 1, loss of the last
    step] (the loss each step computed before its update, as the seed programs print it)."""
    first = to_float(step())
    last = first
    for _ in range(steps - 1):
        last = step()
    return [first, to_float(last)]


def import_time(module: str, reps: int, python: str = sys.executable) -> Dict[str, Any]:
    """`import module` in `reps` fresh interpreters (from a neutral directory): seconds, min and median."""
    code = f"import time; t = time.perf_counter(); import {module}; print(repr(time.perf_counter() - t))"
    times = []
    with tempfile.TemporaryDirectory() as d:
        for _ in range(reps):
            out = subprocess.run([python, "-c", code], cwd=d, capture_output=True, text=True, timeout=300)
            if out.returncode != 0:
                raise RuntimeError(f"import {module} failed: {out.stderr[-2000:]}")
            times.append(float(out.stdout.strip().splitlines()[-1]))
    return {"min": min(times), "median": statistics.median(times), "samples": len(times), "per_sample": 1}


# ---- machine references (NumPy), measured in the pyfast_tape process ----------------------------------------
def triad(n: int, threads: int, block: int = 1 << 16) -> Callable[[int], Any]:
    """`run(reps)` for `bench`: the STREAM triad a = b + s*c over n float32 on `threads` threads.

    NumPy has no fused triad, so each thread walks its half in blocks: s*c into a small cache-resident
    buffer, then + b into a — memory sees exactly the 3 arrays (NumPy releases the GIL inside ufuncs, so
    the threads run in parallel). Bytes counted: 3 * 4 * n per triad (no write-allocate)."""
    from concurrent.futures import ThreadPoolExecutor
    rng = np.random.default_rng(7)
    a = np.empty(n, np.float32)
    b = rng.standard_normal(n, dtype=np.float32)
    c = rng.standard_normal(n, dtype=np.float32)
    s = np.float32(3.0)
    bounds = np.linspace(0, n, threads + 1).astype(int)
    tmps = [np.empty(block, np.float32) for _ in range(threads)]

    def part(k: int) -> None:
        tmp = tmps[k]
        for i in range(int(bounds[k]), int(bounds[k + 1]), block):
            j = min(i + block, int(bounds[k + 1]))
            t = tmp[:j - i]
            np.multiply(c[i:j], s, out=t)
            np.add(t, b[i:j], out=a[i:j])

    pool = ThreadPoolExecutor(threads)

    def run(reps: int) -> None:
        for _ in range(reps):
            list(pool.map(part, range(threads)))
    return run


def sgemm(n: int) -> Callable[[int], Any]:
    """`run(reps)` for `bench`: NumPy's float32 matmul (its OpenBLAS) of two n x n matrices (2 n^3 FLOPs)."""
    rng = np.random.default_rng(8)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty((n, n), np.float32)

    def run(reps: int) -> None:
        for _ in range(reps):
            np.matmul(a, b, out=c)
    return run


# ---- the report a peer prints --------------------------------------------------------------------------------
class Report:
    """Collects one peer's timings, correctness losses, notes and errors; ``emit`` prints the JSON line."""

    def __init__(self, peer: str, cfg: Dict[str, Any]) -> None:
        self.cfg = cfg
        self.out: Dict[str, Any] = {"peer": peer, "versions": {"python": sys.version.split()[0],
                                                               "numpy": np.__version__},
                                    "threads": cfg["threads"], "times": {}, "check": {}, "notes": {},
                                    "errors": {}}
        self.t_start = time.perf_counter()

    def budget(self, kind: str) -> Dict[str, Any]:
        b = self.cfg["budget"]
        return {"budget_s": b[kind], "sample_s": b["sample_s"], "min_samples": b["min_samples"]}

    def attempt(self, name: str, fn: Callable[[], Any]) -> Any:
        """Runs one workload part; a failure is recorded under `name` and the peer goes on."""
        try:
            return fn()
        except Exception as e:  # noqa: BLE001  a peer that cannot run one workload still reports the rest
            self.out["errors"][name] = f"{type(e).__name__}: {e}".strip()[:500]
            traceback.print_exc(file=sys.stderr)
            return None

    def time(self, name: str, run: Callable[[int], Any], kind: str, per: int = 1, **kw: Any) -> None:
        """Times `run` with the budget of `kind` ('small', 'w4', 'w5', 'w6', 'ref'); `per` operations per
        repetition (the result is per operation)."""
        args = self.budget(kind)
        args.update(kw)
        self.store(name, self.attempt(name, lambda: bench(run, **args)), per)

    def store(self, name: str, result: Optional[Dict[str, Any]], per: int = 1) -> None:
        if result is None:
            return
        if per != 1:
            result = dict(result, min=result["min"] / per, median=result["median"] / per)
        self.out["times"][name] = result

    def check(self, name: str, fn: Callable[[], List[float]]) -> None:
        r = self.attempt(name + " check", fn)
        if r is not None:
            self.out["check"][name] = [float(v) for v in r]

    def note(self, name: str, text: str) -> None:
        self.out["notes"][name] = text

    def emit(self) -> None:
        self.out["wall_s"] = time.perf_counter() - self.t_start
        sys.stdout.flush()
        print(MARKER + json.dumps(self.out), flush=True)


def skip(peer: str, reason: str) -> None:
    """The peer's framework is not importable: one JSON line saying so, exit 0."""
    print(MARKER + json.dumps({"peer": peer, "skipped": reason}), flush=True)
    raise SystemExit(0)
