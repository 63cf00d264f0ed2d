"""bench/compare.py end to end at toy sizes (--smoke): the pyfast_tape and NumPy peers run in their own
processes, every workload reports a time, the report and the JSON are written and the cross-peer
correctness check passes. No timing is asserted."""
from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
COMPARE = REPO / "bench" / "compare.py"
WORKLOADS = ["W1", "W2", "W3", "W4", "W5 mse", "W5 huber", "W5 ce", "W6 add", "W6 import"]

pytestmark = pytest.mark.skipif(not COMPARE.exists(), reason="bench/compare.py not in this tree")


def test_compare_smoke(tmp_path: pathlib.Path) -> None:
    out, js = tmp_path / "RESULTS.md", tmp_path / "results.json"
    proc = subprocess.run([sys.executable, str(COMPARE), "--quick", "--smoke", "--peers", "pyfast_tape,numpy",
                           "--out", str(out), "--json", str(js)], cwd=str(tmp_path), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, f"rc {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"

    data = json.loads(js.read_text())
    assert data["correct"] is True
    results = data["results"]
    for peer in ("pyfast_tape", "numpy"):
        r = results[peer]
        assert "times" in r, r
        assert not r["errors"], r["errors"]
        for w in WORKLOADS:
            t = r["times"][w]
            assert 0 < t["min"] <= t["median"], (peer, w, t)
        assert set(r["check"]) >= {"W1", "W2", "W3", "W4"}
    pft = results["pyfast_tape"]["times"]
    for ref in ("ref sgemm", "ref triad", "W6 add (tape)"):
        assert ref in pft
    # the seed programs' first losses (examples/seed/expected): 67.82 / 4 and TF's 4.175
    assert results["pyfast_tape"]["check"]["W1"][0] == pytest.approx(16.955, rel=1e-6)
    assert results["numpy"]["check"]["W3"][0] == pytest.approx(4.175, rel=1e-6)

    report = out.read_text()
    for heading in ("## Times", "## Ratios", "## Throughput", "## Targets", "## Correctness", "## What limits it"):
        assert heading in report
    assert "Correctness: OK" in report and "MISMATCH" not in report
    assert "W1 seed linreg step" in proc.stdout
