"""The main job: train the seed's TensorFlow programs on pyfast_tape, unchanged but for the import.

Each program in examples/seed/ runs with ``sys.modules['tensorflow'] = pyfast_tape`` (exactly what
replacing ``import tensorflow as tf`` by ``import pyfast_tape as tf`` does); its output is printed and,
where TensorFlow's output is on file (examples/seed/expected/), compared line by line.
"""
from __future__ import annotations

import contextlib
import io
import pathlib
import runpy
import sys
import time

import pyfast_tape

HERE = pathlib.Path(__file__).resolve().parent / "seed"
PROGRAMS = ["linreg_mse.py", "huber_custom.py", "keras_mlp_cce.py"]


def run(name: str) -> str:
    sys.modules["tensorflow"] = pyfast_tape
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        runpy.run_path(str(HERE / name), run_name="__main__")
    return buf.getvalue()


def main() -> int:
    failures = 0
    for name in PROGRAMS:
        t0 = time.perf_counter()
        try:
            out = run(name)
        except Exception as e:  # report and go on with the next program
            print(f"== {name}: FAILED with {type(e).__name__}: {e}")
            failures += 1
            continue
        dt = time.perf_counter() - t0
        print(f"== {name} ({dt * 1e3:.0f} ms)")
        print(out, end="")
        expected = HERE / "expected" / (name[:-3] + ".txt")
        if expected.exists():
            same = out.strip().splitlines() == expected.read_text().strip().splitlines()
            print(f"   TensorFlow 2.21's output: {'identical' if same else 'DIFFERENT'}")
            failures += not same
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
