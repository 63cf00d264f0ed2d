"""Wall-clock A/B of two (or more) builds, alternated in one run: the seed steps W1-W3 and `a + b`.

    python bench/ab_timing.py --python PY_A PY_B [--rounds 3]

Each round runs every interpreter once, in turn, in a fresh process (one thread), and each process reports
the minimum over repeated timings; the table gives, per build, the minimum over rounds and the spread. On
a shared 2-core machine single timings swing by 20-30%: compare builds within one run only, and prefer
bench/ab_instructions.py (callgrind) for differences of a few percent.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = r"""
import json, sys, time
sys.path.insert(0, {bench!r})
import compare
from peers import tf_eager
import pyfast_tape as tf
tf.config.threading.set_intra_op_parallelism_threads(1)
d = compare.make_data(compare.MODES["smoke"]["sizes"])
out = {{}}
def best(fn, n, reps):
    fn(n)
    t = []
    for _ in range(reps):
        t0 = time.perf_counter(); fn(n); t.append((time.perf_counter() - t0) / n)
    return min(t)
for name, make in (("W1", tf_eager._seed_linreg), ("W2", tf_eager._seed_keras_mlp), ("W3", tf_eager._seed_huber)):
    step = make(tf, d)
    def run(k, step=step):
        for _ in range(k):
            step()
    out[name] = best(run, 200, 15)
a, b = tf.constant([1.0]), tf.constant([2.0])
def add(k):
    for _ in range(k):
        a + b
out["add"] = best(add, 20000, 15)
print(json.dumps(out))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", nargs="+", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    res = {p: [] for p in args.python}
    for _ in range(args.rounds):
        for py in args.python:
            r = subprocess.run([py, "-c", CHILD.format(bench=HERE)], capture_output=True, text=True, env=env, cwd="/")
            if r.returncode:
                sys.exit(f"{py} failed: {r.stderr[-2000:]}")
            res[py].append(json.loads(r.stdout.strip().splitlines()[-1]))
    keys = ["W1", "W2", "W3", "add"]
    print(f"{'':6s}" + "".join(f"{p[-34:]:>36s}" for p in args.python))
    for k in keys:
        cells = []
        for py in args.python:
            v = [r[k] * 1e6 for r in res[py]]
            cells.append(f"{min(v):9.3f} us (max {max(v):7.3f})")
        print(f"{k:6s}" + "".join(f"{c:>36s}" for c in cells))


if __name__ == "__main__":
    main()
