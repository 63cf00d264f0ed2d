"""Per-op and per-step cost in instructions (callgrind), for an A/B of two builds on a noisy machine.

    python bench/ab_instructions.py [--python PY ...]    # one or more interpreters, each with a pyfast_tape

For each interpreter, runs the seed steps W1-W3 (bench/peers/tf_eager.py, the same code the timing
benchmark runs) and `a + b` on 1-element tensors (outside a tape and recorded) under
`valgrind --tool=callgrind`, twice: with N and with 2N repetitions after the same warm-up. The difference of
the two instruction totals divided by N is the cost of one repetition, free of start-up and import costs.
Instruction counts do not depend on what else the machine is doing (wall-clock timings here swing by
20-30% between runs), so two builds can be compared in one sitting; they are not times (a cache miss
counts as one instruction).
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = r"""
import os, sys
sys.path.insert(0, {bench!r})
import numpy as np
import compare
from peers import tf_eager
import pyfast_tape as tf
tf.config.threading.set_intra_op_parallelism_threads(1)
d = compare.make_data(compare.MODES["smoke"]["sizes"])
what, n = sys.argv[1], int(sys.argv[2])
if what == "add" or what == "add_tape":
    a, b = tf.constant([1.0]), tf.constant([2.0])
    def run(k):
        if what == "add":
            for _ in range(k):
                a + b
        else:
            with tf.GradientTape() as t:
                t.watch(a)
                for _ in range(k):
                    a + b
else:
    make = dict(W1=tf_eager._seed_linreg, W2=tf_eager._seed_keras_mlp, W3=tf_eager._seed_huber)[what]
    step = make(tf, d)
    def run(k):
        for _ in range(k):
            step()
run(50)  # warm-up: first-call paths, free lists filled
run(n)
"""


def instructions(py: str, what: str, n: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "child.py")
        with open(script, "w") as f:
            f.write(CHILD.format(bench=HERE))
        out = os.path.join(tmp, "cg.out")
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONHASHSEED="0")
        r = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", py, script, what, str(n)],
                           capture_output=True, text=True, env=env, cwd=tmp)
        m = re.search(r"Collected : (\d+)", r.stderr)
        if not m:
            raise RuntimeError(f"callgrind failed for {py} {what}: {r.stderr[-2000:]}")
        return int(m.group(1))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", nargs="+", default=[sys.executable])
    ap.add_argument("--n", type=int, default=200)
    args = ap.parse_args()
    rows = [("W1", args.n), ("W2", args.n // 4), ("W3", args.n), ("add", args.n * 10), ("add_tape", args.n * 10)]
    print(f"{'workload':10s} " + " ".join(f"{p[-40:]:>42s}" for p in args.python))
    for what, n in rows:
        per = []
        for py in args.python:
            per.append((instructions(py, what, 2 * n) - instructions(py, what, n)) / n)
        print(f"{what:10s} " + " ".join(f"{v:42,.0f}" for v in per), flush=True)


if __name__ == "__main__":
    main()
