"""`python -m pyfast_tape prog.py` and pyfast_tape.compat: TensorFlow imports served by pyfast_tape, one copy
of each module."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest


def _run(tmp_path, source, *args, via_main=True):
    prog = tmp_path / "prog.py"
    prog.write_text(textwrap.dedent(source))
    cmd = [sys.executable, "-m", "pyfast_tape", str(prog), *args] if via_main else [sys.executable, str(prog), *args]
    # Run from a directory that is neither the repository root (its source tree would shadow the package)
    # nor the program's own directory, so sys.path[0] is checked too.
    cwd = tmp_path / "elsewhere"
    cwd.mkdir(exist_ok=True)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=cwd)


def test_tensorflow_program_runs_unchanged(tmp_path):
    (tmp_path / "helper_mod.py").write_text("VALUE = 41\n")
    r = _run(tmp_path, """
        import sys
        import tensorflow as tf
        from tensorflow.keras.layers import Dense
        from tensorflow import keras
        import keras as k2
        import tensorflow.keras.losses as L
        from tensorflow.math import reduce_sum
        import pyfast_tape
        import helper_mod  # next to the program: sys.path[0] is the program's directory

        assert tf is pyfast_tape, tf
        assert Dense is pyfast_tape.keras.layers.Dense
        assert keras is pyfast_tape.keras and k2 is pyfast_tape.keras
        assert L is pyfast_tape.keras.losses
        assert reduce_sum is pyfast_tape.reduce_sum or reduce_sum is pyfast_tape.math.reduce_sum
        # one copy of each module: the dtype objects are the same, so dtype checks hold
        layer = Dense(2)
        y = layer(tf.ones([3, 4]))
        assert y.dtype == tf.float32 and tuple(y.shape) == (3, 2)
        copies = [n for n, m in sys.modules.items() if getattr(m, "__name__", "") == "pyfast_tape.keras.layers"]
        assert all(sys.modules[n] is pyfast_tape.keras.layers for n in copies), copies
        assert pyfast_tape.__spec__.name == "pyfast_tape"
        print("argv", sys.argv[1:], helper_mod.VALUE + 1)
    """, "a", "--b=1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "argv ['a', '--b=1'] 42"


def test_missing_name_is_module_not_found(tmp_path):
    r = _run(tmp_path, """
        try:
            import tensorflow.contrib.nothing_here
        except ModuleNotFoundError as e:
            print("MNF", e.name, "|", e)
    """)
    assert r.returncode == 0, r.stderr
    out = r.stdout.strip()
    assert out.startswith("MNF tensorflow.contrib"), out
    assert "pyfast_tape" in out


def test_compat_enable_from_inside_a_program(tmp_path):
    r = _run(tmp_path, """
        import pyfast_tape.compat
        pyfast_tape.compat.enable()
        import tensorflow as tf, pyfast_tape
        from tensorflow.keras import layers
        assert tf is pyfast_tape and layers is pyfast_tape.keras.layers
        pyfast_tape.compat.disable()
        try:
            import tensorflow.keras.models
            print("still served")
        except ModuleNotFoundError:
            print("off")
    """, via_main=False)
    assert r.returncode == 0, r.stderr
    # tensorflow itself is not installed here: with the hook off, the import fails
    assert r.stdout.strip() == "off"


def test_usage_and_missing_file(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pyfast_tape"], capture_output=True, text=True, timeout=60,
                       cwd=tmp_path)
    assert r.returncode == 2 and "usage: python -m pyfast_tape" in r.stderr
    r = subprocess.run([sys.executable, "-m", "pyfast_tape", "nope.py"], capture_output=True, text=True,
                       timeout=60, cwd=tmp_path)
    assert r.returncode == 2 and "can't open file 'nope.py'" in r.stderr


def test_program_exception_propagates(tmp_path):
    r = _run(tmp_path, """
        import tensorflow as tf
        raise SystemExit(3)
    """)
    assert r.returncode == 3
