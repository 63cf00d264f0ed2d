"""Run a TensorFlow program on pyfast_tape, unchanged:

    python -m pyfast_tape prog.py [args ...]
    python -m pyfast_tape -m package.module [args ...]

Every ``tensorflow``, ``tensorflow.*``, ``keras`` and ``tf_keras`` import in the program is served by
pyfast_tape (pyfast_tape.compat). The program sees ``sys.argv`` and ``sys.path[0]`` as ``python prog.py``
would give them.
"""
from __future__ import annotations

import os
import runpy
import sys

USAGE = "usage: python -m pyfast_tape prog.py [args ...]\n       python -m pyfast_tape -m module [args ...]"


def main(argv: list) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip() if argv else USAGE, file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    from . import compat
    compat.enable()
    if argv[0] == "-m":
        if len(argv) < 2:
            print(USAGE, file=sys.stderr)
            return 2
        sys.argv = argv[1:]
        sys.path.insert(0, os.getcwd())
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        return 0
    prog = argv[0]
    if not os.path.exists(prog):
        print(f"python -m pyfast_tape: can't open file '{prog}': no such file", file=sys.stderr)
        return 2
    sys.argv = list(argv)
    sys.path[0] = os.path.dirname(os.path.abspath(prog))  # as `python prog.py` sets it
    runpy.run_path(prog, run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
