"""The seed's TensorFlow programs, run unchanged but for the import line, in a fresh interpreter each
(subprocess + exec of sys.executable: no fork of a process that has run OpenMP). Every number they print
must match what TensorFlow 2.21 printed (examples/seed/expected/) to float32 rounding."""
from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
SEED_DIRS = [REPO / "examples" / "seed", pathlib.Path("/work/shared/seed")]
SEED = next((d for d in SEED_DIRS if (d / "linreg_mse.py").exists()), None)
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")

pytestmark = pytest.mark.skipif(SEED is None, reason="seed programs not found")


def run_seed(name: str, tmp_path: pathlib.Path, seed: "int | None" = None) -> str:
    """Runs a seed program with the import swapped; `seed` seeds NumPy and tf.random first (for the Keras
    program, whose data and initial weights are otherwise drawn differently every run)."""
    src = (SEED / name).read_text()
    assert "import tensorflow as tf" in src
    prelude = "" if seed is None else f"\nimport numpy as _np; _np.random.seed({seed}); tf.random.set_seed({seed})"
    swapped = src.replace("import tensorflow as tf", "import pyfast_tape as tf" + prelude)
    script = tmp_path / name
    script.write_text(swapped)
    env = dict(os.environ)
    # the installed package, never the source tree (which has no _core in a non-editable install)
    proc = subprocess.run([sys.executable, str(script)], cwd=str(tmp_path), env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, f"{name} failed (rc {proc.returncode}):\n{proc.stderr[-4000:]}"
    return proc.stdout


def parse(text: str):
    """Lines -> (text skeleton with numbers replaced by '#', list of numbers)."""
    out = []
    for line in text.strip().splitlines():
        nums = [float(m) for m in NUMBER.findall(line)]
        out.append((NUMBER.sub("#", line).strip(), nums))
    return out


def compare(actual: str, expected: str, rtol: float = 1e-6) -> None:
    a, e = parse(actual), parse(expected)
    assert len(a) == len(e), f"{len(a)} lines printed, {len(e)} expected:\n{actual}"
    for k, ((sa, na), (se, ne)) in enumerate(zip(a, e)):
        assert sa == se, f"line {k}: {sa!r} != {se!r}"
        assert len(na) == len(ne), f"line {k}: {na} vs {ne}"
        np.testing.assert_allclose(na, ne, rtol=rtol, atol=0, err_msg=f"line {k}:\n  got      {actual.splitlines()[k]}"
                                   f"\n  expected {expected.strip().splitlines()[k]}")


def test_parse_and_compare_can_fail():
    exp = "Epoch 0: Loss = 4.175000190734863, W = [[0.125]]\n"
    compare("Epoch 0: Loss = 4.1750002, W = [[0.125]]\n", exp)
    with pytest.raises(AssertionError):
        compare("Epoch 0: Loss = 4.1751, W = [[0.125]]\n", exp)
    with pytest.raises(AssertionError):
        compare("Epoch 1: Loss = 4.175000190734863, W = [[0.125]]\n", exp)
    with pytest.raises(AssertionError):
        compare("Epoch 0: Loss = 4.175000190734863, W = [[0.125]]\nextra\n", exp)


@pytest.mark.parametrize("name", ["linreg_mse.py", "huber_custom.py"])
def test_seed_program_matches_tensorflow(name, tmp_path):
    expected = (SEED / "expected" / (name[:-3] + ".txt")).read_text()
    compare(run_seed(name, tmp_path), expected)


def test_keras_mlp_cce_runs_and_learns(tmp_path):
    out = run_seed("keras_mlp_cce.py", tmp_path, seed=0)  # unseeded, the first loss strayed past ln 5 +- 0.5
    lines = parse(out)
    assert [nums[0] for _, nums in lines] == [0, 20, 40, 60, 80]
    losses = [nums[1] for _, nums in lines]
    assert all(np.isfinite(losses))
    assert abs(losses[0] - np.log(5.0)) < 0.5  # random init, 5 classes: about ln 5
    assert losses[-1] < losses[0]
