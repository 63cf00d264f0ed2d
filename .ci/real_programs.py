#!/usr/bin/env python3
"""CI step: run the real TensorFlow programs (../shared/real-programs/run.py) on the installed pyfast_tape,
print run.py's table, and fail on a regression: every program named in .ci/real_programs_expected.txt
must still run to the end (PASS or RUNS...). A program newly running to the end is reported, so the list
can be extended in the same commit.

    python .ci/real_programs.py [RUN_PY]

Without the programs (a clone outside the workplace that has ../shared), says so and exits 0.
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def main(argv):
    run_py = argv[0] if argv else os.path.join(ROOT, "..", "shared", "real-programs", "run.py")
    if not os.path.exists(run_py):
        print(f"real programs: {run_py} not found; skipped")
        return 0
    with open(os.path.join(HERE, "real_programs_expected.txt")) as f:
        expected = [ln.split("#")[0].strip() for ln in f if ln.split("#")[0].strip()]
    out = tempfile.mkdtemp(prefix="real-programs-json-")
    js = os.path.join(out, "results.json")
    # run.py's own exit status is 1 until every program runs: the expected list is the gate here.
    subprocess.run([sys.executable, run_py, "--json", js], cwd=tempfile.gettempdir())
    with open(js) as f:
        results = json.load(f)
    ran = {n for n, r in results.items() if r["verdict"] == "PASS" or r["verdict"].startswith("RUNS")}
    lost = [n for n in expected if n not in ran]
    new = sorted(ran - set(expected))
    if new:
        print("real programs now running to the end (add them to .ci/real_programs_expected.txt): " + ", ".join(new))
    if lost:
        for n in lost:
            r = results.get(n, {"verdict": "missing", "detail": ""})
            print(f"REGRESSION: {n} no longer runs to the end: {r['verdict']} {r['detail']}", file=sys.stderr)
        return 1
    print(f"real programs: all {len(expected)} expected to run did")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
