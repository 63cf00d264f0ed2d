"""The long fuzzing run: every property of tests/test_fuzz/ under the ``long`` hypothesis profile,
repeated (fresh random examples each round) until at least ``--calls`` calls into pyfast_tape have been
made (default 100 000), then the figures: calls per property and per op, failures (with hypothesis's
falsifying example and reproduction blob), known-bug hits (examples the properties skip because a
``test_known_bug_*`` xfail test covers them) and the time.

    python bench/fuzz_long.py                      # >= 100 000 calls
    python bench/fuzz_long.py --calls 20000 --examples 500 --max-seconds 120

Exit status 1 when any property failed.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time
import traceback
import warnings


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=100_000, help="stop after at least this many calls (default 100000)")
    ap.add_argument("--examples", type=int, default=3000, help="hypothesis examples per property per round")
    ap.add_argument("--max-seconds", type=float, default=3600.0, help="stop starting new rounds after this long")
    ap.add_argument("-k", default="", help="only properties whose name contains this")
    args = ap.parse_args()

    warnings.simplefilter("ignore", RuntimeWarning)  # NumPy references on NaN/Inf/0 inputs (checked, not errors)
    os.environ["HYPOTHESIS_PROFILE"] = "long"
    os.environ["FUZZ_LONG_EXAMPLES"] = str(args.examples)
    tests = pathlib.Path(__file__).resolve().parent.parent / "tests"
    sys.path.insert(0, str(tests))
    import test_fuzz as T  # noqa: E402  (after the profile is chosen)

    props = [(name, fn) for name, fn in vars(T).items()
             if name.startswith("test_") and hasattr(fn, "hypothesis") and args.k in name]
    per_prop = {name: [0, 0.0, 0] for name, _ in props}  # calls, seconds, failures
    failures = []
    t_start = time.perf_counter()
    rounds = 0
    while sum(T.CALLS.values()) < args.calls and time.perf_counter() - t_start < args.max_seconds:
        rounds += 1
        for name, fn in props:
            before = sum(T.CALLS.values())
            t0 = time.perf_counter()
            try:
                fn()
            except Exception as e:  # noqa: BLE001  a property failed: record it and go on
                per_prop[name][2] += 1
                failures.append((rounds, name, e, traceback.format_exc()))
            per_prop[name][0] += sum(T.CALLS.values()) - before
            per_prop[name][1] += time.perf_counter() - t0
            done = sum(T.CALLS.values())
            print(f"  round {rounds} {name:<40} calls so far {done:>8}  ({time.perf_counter() - t_start:7.1f} s)",
                  flush=True)
    elapsed = time.perf_counter() - t_start
    total = sum(T.CALLS.values())

    print("\n== long fuzz: pyfast_tape", getattr(T.tf, "__version__", "?"))
    print(f"rounds {rounds}, {args.examples} examples per property per round, {len(props)} properties")
    print(f"{'property':<42}{'calls':>10}{'seconds':>10}{'failures':>10}")
    for name, (calls, secs, fails) in per_prop.items():
        print(f"{name:<42}{calls:>10}{secs:>10.1f}{fails:>10}")
    print(f"{'TOTAL':<42}{total:>10}{elapsed:>10.1f}{len(failures):>10}")
    print(f"calls per second: {total / elapsed:.0f}")
    print("\ncalls per op:")
    for op, n in sorted(T.CALLS.items(), key=lambda kv: -kv[1]):
        print(f"  {op:<32}{n:>9}")
    print("\nknown bugs hit (examples skipped; each has a test_known_bug_* / xfail test):")
    for bug, n in sorted(T.KNOWN.items(), key=lambda kv: -kv[1]) or [("none", 0)]:
        print(f"  {bug:<52}{n:>7}")
    if failures:
        print(f"\n{len(failures)} FAILURE(S):")
        for rnd, name, e, tb in failures:
            print(f"\n--- round {rnd}: {name}: {type(e).__name__}")
            print(tb[-6000:])
    print(f"\nRESULT: {total} calls, {len(failures)} failures, {elapsed:.1f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
