"""pyfast_tape against its peers on the workloads W1-W6 listed below, side by side in one run.

    python bench/compare.py [--quick | --smoke] [--peers pyfast_tape,numpy,tf_eager,tf_function,torch,jax]
                            [--python-tf PATH] [--python-peers PATH] [--threads 2] [--rounds 1]
                            [--out bench/RESULTS.md] [--json results.json]

The driver makes the data and initial weights once (NumPy, fixed seed, one .npz in a temporary
directory), then runs each peer in its own process (``bench/peers/<peer>.py`` under the interpreter that
has its framework; a peer whose import fails is skipped) with the same thread count for all. Each peer
prints one JSON line: per workload the min and median time, and the losses of the correctness run. The
driver prints, and writes to ``--out``: the times, the ratios to pyfast_tape, GFLOP/s and GB/s against
the machine references measured in the pyfast_tape process, the targets with PASS/MISS, and the
cross-peer correctness check (exit status 1 on a mismatch or a peer that crashed; timings and missed
targets never fail the run).

Workloads (float32 everywhere; the same math, data and initial weights in every peer):
  W1  seed linear regression step (examples/seed/linreg_mse.py), SGD
  W2  seed Keras MLP step (examples/seed/keras_mlp_cce.py): Dense 20->10 relu -> 5 softmax, CCE, Adam
  W3  seed Huber step (examples/seed/huber_custom.py), SGD
  W4  large MLP step: batch 4096 (--quick 512), 784-2048-2048-10, ReLU, softmax-CE from logits, SGD
  W5  loss + gradient: MSE and Huber over 2^24 elements, sparse softmax-CE over 65536 x 256 logits
  W6  per-op dispatch: a + b on 1-element tensors, outside / inside an active tape; import time
"""
from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
PEERS = ["pyfast_tape", "numpy", "tf_eager", "tf_function", "torch", "jax"]
MARKER = "@@BENCH_RESULT@@"  # bench/peers/common.py prints it before the JSON line
ROWS = [  # (result key, label)
    ("W1", "W1 seed linreg step"),
    ("W2", "W2 seed Keras MLP step (Adam)"),
    ("W3", "W3 seed Huber step"),
    ("W4", "W4 large MLP step"),
    ("W5 mse", "W5 MSE loss+grad"),
    ("W5 huber", "W5 Huber loss+grad"),
    ("W5 ce", "W5 softmax-CE loss+grad"),
    ("W6 add", "W6 a + b"),
    ("W6 add (tape)", "W6 a + b, recorded"),
    ("W6 import", "W6 import"),
]
# Correctness: relative tolerance per checked quantity (float32; W4/W5 sum millions of terms in
# framework-specific orders).
RTOL = {"W1": 1e-4, "W2": 1e-4, "W3": 1e-4, "W4": 1e-3, "W5 mse": 1e-3, "W5 huber": 1e-3, "W5 ce": 1e-3}

MODES: Dict[str, Dict[str, Any]] = {
    "full": dict(sizes=dict(w4=[4096, 784, 2048, 2048, 10], w5=[4096, 4096], ce=[65536, 256],
                            triad_n=1 << 24, sgemm_n=2048),
                 budget=dict(small=2.0, w4=8.0, w5=2.0, w6=1.0, ref=1.5, sample_s=0.01, min_samples=5),
                 check_steps=100, w4_check_steps=3, import_reps=5, import_reps_peer=3, timeout=900),
    "quick": dict(sizes=dict(w4=[512, 784, 2048, 2048, 10], w5=[4096, 4096], ce=[65536, 256],
                             triad_n=1 << 24, sgemm_n=2048),
                  budget=dict(small=0.25, w4=0.5, w5=0.3, w6=0.2, ref=0.3, sample_s=0.005, min_samples=3),
                  check_steps=100, w4_check_steps=3, import_reps=5, import_reps_peer=1, timeout=300),
    "smoke": dict(sizes=dict(w4=[32, 784, 64, 64, 10], w5=[64, 64], ce=[128, 16], triad_n=1 << 16, sgemm_n=128),
                  budget=dict(small=0.02, w4=0.02, w5=0.02, w6=0.02, ref=0.02, sample_s=0.002, min_samples=2),
                  check_steps=100, w4_check_steps=3, import_reps=1, import_reps_peer=1, timeout=300),
}


# ---- data --------------------------------------------------------------------------------------------------
def _glorot(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """Keras's default kernel initializer: uniform in +-sqrt(6 / (fan_in + fan_out))."""
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32)


def make_data(sizes: Dict[str, Any], seed: int = 1234) -> Dict[str, np.ndarray]:
    """Every peer's inputs and initial weights (float32; labels int32)."""
    rng = np.random.default_rng(seed)
    f32 = np.float32
    d: Dict[str, np.ndarray] = {}
    # W1, W3: the seed programs' own constants.
    d["w1_x"] = np.array([[1.0], [2.0], [3.0], [4.0]], f32)
    d["w1_y"] = np.array([[2.0], [4.0], [5.9], [8.1]], f32)
    d["w1_W"] = np.array([[0.5]], f32)
    d["w3_x"] = d["w1_x"].copy()
    d["w3_y"] = np.array([[2.0], [4.1], [5.8], [8.2]], f32)
    d["w3_W"] = np.array([[0.1]], f32)
    d["w3_b"] = np.array([[0.1]], f32)
    # W2: the seed's shapes (100 samples, 20 features, 5 classes), Keras's initializers.
    d["w2_X"] = rng.random((100, 20)).astype(f32)
    d["w2_Y"] = np.eye(5, dtype=f32)[rng.integers(0, 5, 100)]
    d["w2_W1"], d["w2_b1"] = _glorot(rng, 20, 10), np.zeros(10, f32)
    d["w2_W2"], d["w2_b2"] = _glorot(rng, 10, 5), np.zeros(5, f32)
    # W4
    B, d0, d1, d2, d3 = sizes["w4"]
    d["w4_X"] = rng.random((B, d0)).astype(f32)
    d["w4_y"] = rng.integers(0, d3, B).astype(np.int32)
    for k, (fi, fo) in enumerate([(d0, d1), (d1, d2), (d2, d3)], start=1):
        d[f"w4_W{k}"], d[f"w4_b{k}"] = _glorot(rng, fi, fo), np.zeros(fo, f32)
    # W5: errors spread over both Huber branches (|e| <= 1 and > 1).
    d["w5_true"] = rng.standard_normal(sizes["w5"], dtype=f32)
    d["w5_pred"] = d["w5_true"] + f32(1.5) * rng.standard_normal(sizes["w5"], dtype=f32)
    N, C = sizes["ce"]
    d["ce_logits"] = f32(2.0) * rng.standard_normal((N, C), dtype=f32)
    d["ce_labels"] = rng.integers(0, C, N).astype(np.int32)
    return d


# ---- FLOP and byte models ----------------------------------------------------------------------------------
def w4_flops(sizes: Dict[str, Any]) -> float:
    """Forward GEMMs + weight-gradient GEMMs of all 3 layers + input-gradient GEMMs of layers 2 and 3
    (none for the input batch); bias, activation and loss FLOPs are not counted."""
    B, d0, d1, d2, d3 = sizes["w4"]
    fwd = 2.0 * B * (d0 * d1 + d1 * d2 + d2 * d3)
    return fwd + fwd + 2.0 * B * (d1 * d2 + d2 * d3)


def w5_bytes(sizes: Dict[str, Any], key: str) -> float:
    """MSE/Huber: forward reads y_true and y_pred, backward reads both and writes dy_pred: 5 arrays.
    Softmax-CE: forward reads the logits, backward reads them and writes dlogits: 3 logit-sized arrays,
    plus the int32 labels read twice. Scalars and per-row temporaries are not counted."""
    if key == "W5 ce":
        N, C = sizes["ce"]
        return 3.0 * 4 * N * C + 2.0 * 4 * N
    return 5.0 * 4 * float(np.prod(sizes["w5"]))


BYTE_MODEL = ("MSE/Huber: 5 x 4 B per element (forward reads y_true, y_pred; backward reads both, writes the "
              "gradient). Softmax-CE: 3 x 4 B per logit + 8 B per row (logits read twice, gradient written once, "
              "int32 labels read twice). Triad: 3 x 4 B per element. No write-allocate traffic is counted.")


# ---- running the peers -------------------------------------------------------------------------------------
def interpreters(args: argparse.Namespace) -> Dict[str, str]:
    def pick(given: Optional[str], default: str) -> str:
        if given:
            return given
        return default if os.path.exists(default) else sys.executable
    tf_py = pick(args.python_tf, "/work/tfvenv/bin/python")
    peers_py = pick(args.python_peers, "/work/peervenv/bin/python")
    return {"pyfast_tape": sys.executable, "numpy": sys.executable, "tf_eager": tf_py, "tf_function": tf_py,
            "torch": peers_py, "jax": peers_py}


def peer_env(threads: int) -> Dict[str, str]:
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
              "NUMEXPR_NUM_THREADS"):
        env[k] = str(threads)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("JAX_PLATFORMS", "cpu")
    if threads == 1:  # XLA's CPU pool has no size setting but this on/off switch (affinity covers the rest)
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false "
                            "intra_op_parallelism_threads=1").strip()
    return env


def run_peer(peer: str, python: str, cfg_path: str, env: Dict[str, str], cwd: str, timeout: float,
             verbose: bool) -> Dict[str, Any]:
    script = HERE / "peers" / f"{peer}.py"
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([python, str(script), cfg_path], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"peer": peer, "failed": f"timed out after {timeout:.0f} s"}
    except OSError as e:
        return {"peer": peer, "skipped": f"cannot run {python}: {e}"}
    wall = time.perf_counter() - t0
    if verbose and proc.stderr.strip():
        sys.stderr.write(proc.stderr)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARKER):
            res = json.loads(line[len(MARKER):])
            res["python"] = python
            res["process_s"] = wall
            return res
    return {"peer": peer, "failed": f"exit status {proc.returncode}, no result line; stderr tail:\n"
                                    f"{proc.stderr[-3000:]}"}


def merge_rounds(acc: Dict[str, Any], new: Dict[str, Any]) -> Dict[str, Any]:
    """Folds a later round's results into the first's: min of the minima, median of the rounds' medians
    (each round is a fresh process, so a burst of load on the machine spoils one round, not the result)."""
    if "times" not in new:
        acc.setdefault("errors", {})[f"round {acc.get('rounds', 1) + 1}"] = new.get("failed") or new.get("skipped")
        return acc
    acc["rounds"] = acc.get("rounds", 1) + 1
    for key, t in new["times"].items():
        old = acc["times"].get(key)
        if old is None:
            acc["times"][key] = dict(t, medians=[t["median"]])
            continue
        medians = old.get("medians", [old["median"]]) + [t["median"]]
        acc["times"][key] = {"min": min(old["min"], t["min"]), "median": float(np.median(medians)),
                             "samples": old["samples"] + t["samples"], "per_sample": t["per_sample"],
                             "medians": medians}
    for key, v in new.get("check", {}).items():  # deterministic: every round must agree with the first
        if key in acc["check"] and not np.allclose(v, acc["check"][key], rtol=RTOL.get(key, 1e-4), atol=1e-7):
            acc["errors"][f"{key} check, round {acc['rounds']}"] = f"{v} differs from round 1's {acc['check'][key]}"
    acc["errors"].update(new.get("errors", {}))
    acc["process_s"] = acc.get("process_s", 0.0) + new.get("process_s", 0.0)
    return acc


# ---- formatting --------------------------------------------------------------------------------------------
def fmt_time(s: Optional[float]) -> str:
    if s is None:
        return "—"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if s >= scale or unit == "ns":
            v = s / scale
            return f"{v:.3g} {unit}" if v < 1000 else f"{v:.0f} {unit}"
    return "—"


def fmt_ratio(r: Optional[float]) -> str:
    if r is None:
        return "—"
    return f"{r:.3g}×" if r < 100 else f"{r:.0f}×"


def table(header: List[str], rows: List[List[str]]) -> str:
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) if rows else len(header[i]) for i in range(len(header))]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows])


# ---- analysis ----------------------------------------------------------------------------------------------
class Results:
    def __init__(self, results: Dict[str, Dict[str, Any]], cfg: Dict[str, Any]) -> None:
        self.r = results
        self.cfg = cfg
        self.sizes = cfg["sizes"]
        self.ran = [p for p, v in results.items() if "times" in v]

    def t(self, peer: str, key: str, stat: str = "min") -> Optional[float]:
        v = self.r.get(peer, {}).get("times", {}).get(key)
        return None if v is None else v[stat]

    def ratio(self, peer: str, key: str) -> Optional[float]:
        a, b = self.t(peer, key), self.t("pyfast_tape", key)
        return None if a is None or b is None else a / b

    def sgemm_gflops(self) -> Optional[float]:
        t = self.t("pyfast_tape", "ref sgemm")
        return None if t is None else 2.0 * self.sizes["sgemm_n"] ** 3 / t / 1e9

    def triad_gbps(self) -> Optional[float]:
        ts = [t for t in (self.t("pyfast_tape", "ref triad"), self.t("pyfast_tape", "ref triad (1 thread)")) if t]
        return None if not ts else 3.0 * 4 * self.sizes["triad_n"] / min(ts) / 1e9

    def gflops(self, peer: str) -> Optional[float]:
        t = self.t(peer, "W4")
        return None if t is None else w4_flops(self.sizes) / t / 1e9

    def gbps(self, peer: str, key: str) -> Optional[float]:
        t = self.t(peer, key)
        return None if t is None else w5_bytes(self.sizes, key) / t / 1e9

    # -- tables
    def times_table(self) -> str:
        rows = []
        for key, label in ROWS:
            cells = [label]
            for p in self.ran:
                mn, md = self.t(p, key), self.t(p, key, "median")
                cells.append("n/a" if mn is None else f"{fmt_time(mn)} / {fmt_time(md)}")
            rows.append(cells)
        return table(["workload (min / median)"] + self.ran, rows)

    def ratio_table(self) -> str:
        others = [p for p in self.ran if p != "pyfast_tape"]
        rows = [[label] + [fmt_ratio(self.ratio(p, key)) for p in others] for key, label in ROWS]
        return table(["peer min / pyfast_tape min"] + others, rows)

    def rate_table(self) -> str:
        rows = [["W4 GFLOP/s"] + [f"{g:.1f}" if (g := self.gflops(p)) else "—" for p in self.ran]]
        for key, label in ROWS[4:7]:
            rows.append([f"{label} GB/s"] + [f"{g:.1f}" if (g := self.gbps(p, key)) else "—" for p in self.ran])
        sg, n = self.sgemm_gflops(), self.sizes["triad_n"]
        triads = []
        for key, what in (("ref triad", f"{self.cfg['threads']} threads"), ("ref triad (1 thread)", "1 thread")):
            t = self.t("pyfast_tape", key)
            triads.append(("—" if t is None else f"{3.0 * 4 * n / t / 1e9:.1f}") + f" GB/s on {what}")
        refs = (f"References (pyfast_tape process): NumPy sgemm {self.sizes['sgemm_n']}² = "
                f"{'—' if sg is None else f'{sg:.1f}'} GFLOP/s; triad over {self.sizes['triad_n']} float32 = "
                f"{', '.join(triads)} (the targets use the higher). "
                f"W4 FLOPs per step = {w4_flops(self.sizes) / 1e9:.2f} G (batch {self.sizes['w4'][0]}).")
        return table(["throughput (from min)"] + self.ran, rows) + "\n\n" + refs

    def targets(self) -> List[Tuple[str, str, str]]:
        """(target, measured, PASS/MISS/n/a), comparing minimum times."""
        out = []

        def verdict(ok: Optional[bool]) -> str:
            return "n/a" if ok is None else ("PASS" if ok else "MISS")

        for w in ("W1", "W2", "W3"):
            r = self.ratio("jax", w)
            out.append((f"{w} step ≤ 1× JAX jit", "—" if r is None else f"JAX/pyfast_tape = {r:.2f}×",
                        verdict(None if r is None else r >= 1.0)))
        for w in ("W1", "W3"):
            r = self.ratio("torch", w)
            out.append((f"{w} ≥ 10× faster than PyTorch eager", "—" if r is None else f"{r:.1f}×",
                        verdict(None if r is None else r >= 10.0)))
        g, sg = self.gflops("pyfast_tape"), self.sgemm_gflops()
        out.append(("W4 ≥ 90% of sgemm GFLOP/s", "—" if g is None or sg is None else
                    f"{g:.1f} / {sg:.1f} GFLOP/s = {100 * g / sg:.0f}%",
                    verdict(None if g is None or sg is None else g >= 0.9 * sg)))
        tr = self.triad_gbps()
        for key, name in (("W5 mse", "MSE"), ("W5 huber", "Huber")):
            b = self.gbps("pyfast_tape", key)
            out.append((f"W5 {name} ≥ 60% of triad GB/s", "—" if b is None or tr is None else
                        f"{b:.1f} / {tr:.1f} GB/s = {100 * b / tr:.0f}%",
                        verdict(None if b is None or tr is None else b >= 0.6 * tr)))
        peers_ce = [(self.t(p, "W5 ce"), p) for p in self.ran if p != "pyfast_tape" and self.t(p, "W5 ce")]
        own = self.t("pyfast_tape", "W5 ce")
        if peers_ce and own:
            best, who = min(peers_ce)
            out.append(("W5 softmax-CE ≥ 3× faster than the fastest peer", f"{best / own:.2f}× ({who})",
                        verdict(best / own >= 3.0)))
        else:
            out.append(("W5 softmax-CE ≥ 3× faster than the fastest peer", "—", "n/a"))
        t = self.t("pyfast_tape", "W6 add (tape)")
        out.append(("W6 recorded a + b ≤ 0.5 µs", fmt_time(t), verdict(None if t is None else t <= 0.5e-6)))
        t = self.t("pyfast_tape", "W6 import")
        out.append(("import pyfast_tape ≤ 0.3 s", fmt_time(t), verdict(None if t is None else t <= 0.3)))
        return out

    def correctness(self) -> Tuple[str, bool]:
        """Each peer's losses against the reference peer's (pyfast_tape, else the first that ran)."""
        have = [p for p in self.ran if self.r[p].get("check")]
        if not have:
            return "no correctness results", False
        ref = "pyfast_tape" if "pyfast_tape" in have else have[0]
        rows, ok_all = [], True
        for key in RTOL:
            cells, ref_v = [key], self.r[ref]["check"].get(key)
            for p in have:
                v = self.r[p]["check"].get(key)
                if v is None:
                    cells.append("—")
                    continue
                text = ", ".join(f"{x:.7g}" for x in v)
                if p != ref:
                    ok = ref_v is not None and len(v) == len(ref_v) and bool(
                        np.allclose(v, ref_v, rtol=RTOL[key], atol=1e-7))
                    ok_all &= ok
                    text += " OK" if ok else " MISMATCH"
                cells.append(text)
            rows.append(cells)
        note = (f"Losses [step 1, step {self.cfg['check_steps']}] for W1-W3 and [step 1, step "
                f"{self.cfg['w4_check_steps']}] for W4 from the shared initial weights; W5: the loss value. "
                f"Reference: {ref}; rtol {RTOL['W1']:g} (W1-W3), {RTOL['W4']:g} (W4, W5).")
        return table(["check"] + have, rows) + "\n\n" + note + "\n\nCorrectness: " + \
            ("OK" if ok_all else "MISMATCH"), ok_all


# ---- machine and report ------------------------------------------------------------------------------------
def machine() -> Dict[str, str]:
    info = {"cpu": platform.processor() or platform.machine(), "cpus": str(os.cpu_count())}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        info["cpu"] = fields.get("Model name", info["cpu"])
        info["cpus"] = (f"{fields.get('CPU(s)', info['cpus'])} CPUs ({fields.get('Core(s) per socket', '?')} cores "
                        f"per socket x {fields.get('Socket(s)', '?')} sockets, {fields.get('Thread(s) per core', '?')} "
                        f"threads per core)")
    except (OSError, subprocess.SubprocessError, ValueError):
        pass
    return info


def versions_table(res: Results) -> str:
    rows = []
    for p in res.ran:
        v = dict(res.r[p]["versions"])
        rows.append([p, v.pop("python", "?"), v.pop("numpy", "?"), ", ".join(f"{k} {x}" for k, x in v.items()) or "—",
                     res.r[p]["python"]])
    return table(["peer", "python", "numpy", "framework", "interpreter"], rows)


def report(res: Results, args: argparse.Namespace, mode: str, command: str, info: Dict[str, str],
           load: Tuple[str, str], started: str) -> Tuple[str, bool]:
    check_text, ok = res.correctness()
    targets = table(["target", "measured", "verdict"], [list(t) for t in res.targets()])
    skipped = [f"- {p}: {v.get('skipped') or v.get('failed')}" for p, v in res.r.items() if "times" not in v]
    errors = [f"- {p} {k}: {e}" for p in res.ran for k, e in res.r[p].get("errors", {}).items()]
    notes = [f"- {p} {k}: {n}" for p in res.ran for k, n in res.r[p].get("notes", {}).items()]
    mode_note = {"full": "", "quick": " — **quick run: fewer repetitions, W4 at batch 512; indicative only**",
                 "smoke": " — **smoke run: tiny sizes, numbers meaningless**"}[mode]
    parts = [
        f"# pyfast_tape against its peers (bench/compare.py){mode_note}",
        "",
        f"- Command: `{command}`",
        f"- Started: {started}; mode: {mode}; rounds: {args.rounds}; threads per peer: {args.threads} "
        f"(OMP/OpenBLAS/MKL env, torch.set_num_threads, tf.config.threading, CPU affinity)",
        f"- Machine: {info['cpu']}; {info['cpus']}; load average at start {load[0]}, at end {load[1]}",
        "- Timing: per workload a warm-up, then samples of n back-to-back repetitions (each sample "
        f"~{res.cfg['budget']['sample_s'] * 1e3:g} ms, synchronised at its end) until the time budget is spent; "
        "min and median of the per-repetition times. One peer per process, run one after another"
        + (f"; {args.rounds} rounds, round-robin, merged as the min of the minima and the median of the rounds' "
           "medians." if args.rounds > 1 else "."),
        "",
        "## Versions",
        "",
        versions_table(res),
        "",
        "## Times",
        "",
        res.times_table(),
        "",
        "## Ratios (> 1×: pyfast_tape is faster)",
        "",
        res.ratio_table(),
        "",
        "## Throughput",
        "",
        res.rate_table(),
        "",
        f"Byte model: {BYTE_MODEL} FLOP model (W4): {' '.join(w4_flops.__doc__.split())}",
        "",
        "## Targets (minimum times)",
        "",
        targets,
        "",
        "## Correctness",
        "",
        check_text,
        "",
    ]
    if skipped or errors or notes:
        parts += ["## Skipped peers, errors and notes", ""] + skipped + errors + notes + [""]
    parts += ["## What limits it", "", "_To be filled in by the lead after the final run._", ""]
    return "\n".join(parts), ok


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repetitions, W4 at batch 512 (~1 minute)")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds: checks the harness only")
    ap.add_argument("--peers", default=",".join(PEERS), help=f"comma-separated subset of {','.join(PEERS)}")
    ap.add_argument("--python-tf", default=None, help="interpreter with TensorFlow (default /work/tfvenv/bin/python)")
    ap.add_argument("--python-peers", default=None,
                    help="interpreter with PyTorch and JAX (default /work/peervenv/bin/python)")
    ap.add_argument("--threads", type=int, default=2, help="threads per peer (default 2)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="run every peer this many times, round-robin, and merge (min of minima, median of "
                         "medians): on a shared machine a burst of load then spoils one round, not the result")
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"), help="Markdown report ('' to skip)")
    ap.add_argument("--json", default=None, help="also write every peer's raw results here")
    ap.add_argument("--verbose", action="store_true", help="show the peers' stderr")
    args = ap.parse_args(argv)

    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        ap.error(f"unknown peers {unknown}; choose from {PEERS}")
    command = shlex.join(["python", os.path.relpath(__file__)] + (sys.argv[1:] if argv is None else argv))
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    load_start = " ".join(f"{x:.2f}" for x in os.getloadavg())
    pythons = interpreters(args)

    results: Dict[str, Dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="pft_bench_") as tmp:
        m = MODES[mode]
        cfg = dict(mode=mode, threads=args.threads, data=os.path.join(tmp, "data.npz"), sizes=m["sizes"],
                   budget=m["budget"], check_steps=m["check_steps"], w4_check_steps=m["w4_check_steps"],
                   import_reps=m["import_reps"], import_reps_peer=m["import_reps_peer"])
        t0 = time.perf_counter()
        np.savez(cfg["data"], **make_data(cfg["sizes"]))
        cfg_path = os.path.join(tmp, "config.json")
        with open(cfg_path, "w") as f:
            json.dump(cfg, f)
        print(f"[compare] {mode} run, {args.threads} threads, data in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)
        env = peer_env(args.threads)
        for rnd in range(args.rounds):
            for p in peers:
                if rnd and "times" not in results[p]:
                    continue  # skipped or failed in the first round
                tag = f" round {rnd + 1}/{args.rounds}" if args.rounds > 1 else ""
                print(f"[compare] {p:12s}{tag} ({pythons[p]}) ...", end="", file=sys.stderr, flush=True)
                res = run_peer(p, pythons[p], cfg_path, env, tmp, m["timeout"], args.verbose)
                results[p] = res if rnd == 0 else merge_rounds(results[p], res)
                status = res.get("skipped") or res.get("failed") or f"{res.get('process_s', 0):.1f} s"
                print(f" {status.splitlines()[0] if status else ''}", file=sys.stderr, flush=True)
                if res.get("failed"):
                    print(res["failed"], file=sys.stderr)
    load_end = " ".join(f"{x:.2f}" for x in os.getloadavg())

    res = Results(results, cfg)
    text, ok = report(res, args, mode, command, machine(), (load_start, load_end), started)
    print(text)
    if args.out:
        pathlib.Path(args.out).write_text(text)
        print(f"[compare] wrote {args.out}", file=sys.stderr)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({"config": cfg, "results": results, "correct": ok,
                                                       "targets": res.targets()}, indent=1))
    failed = [p for p, r in results.items() if r.get("failed")]
    return 0 if ok and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
