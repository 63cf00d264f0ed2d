"""Peer: pyfast_tape, running the TensorFlow-API workload code of ``tf_eager.py`` with
``import pyfast_tape as tf`` — the same lines TensorFlow runs.

This process also measures the machine references the targets compare against, each right before the
workload it judges: NumPy's sgemm (2048 x 2048 float32) before W4, a STREAM triad before W5, and the
time of ``import pyfast_tape`` in fresh interpreters (min of 5).
"""
from __future__ import annotations

import os
import sys
import time

# This folder's files are named like the packages they benchmark (numpy.py, torch.py, jax.py, ...): take it
# off sys.path, so `import numpy` finds NumPy even where a package is missing, and import siblings as `peers.x`.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE] + [os.path.dirname(_HERE)]

from peers import common  # noqa: E402


def main() -> None:
    cfg = common.load_config()
    common.pin_threads(cfg["threads"])
    rep = common.Report("pyfast_tape", cfg)
    try:
        import pyfast_tape as tf
    except Exception as e:  # noqa: BLE001
        common.skip("pyfast_tape", f"import pyfast_tape failed: {type(e).__name__}: {e}")
    rep.store("W6 import", rep.attempt("W6 import", lambda: common.import_time("pyfast_tape", cfg["import_reps"])))
    tf.config.threading.set_intra_op_parallelism_threads(cfg["threads"])
    rep.out["versions"]["pyfast_tape"] = tf.__version__

    from peers import tf_eager
    sizes = cfg["sizes"]

    # NumPy's OpenBLAS was loaded (with `common`) before pyfast_tape set OPENBLAS_THREAD_TIMEOUT, so its
    # threads keep spinning a moment after the sgemm: let them park before pyfast_tape's own threads run.
    def references_w4() -> None:
        rep.time("ref sgemm", common.sgemm(sizes["sgemm_n"]), "ref", warmup=1)
        time.sleep(0.3)

    def references_w5() -> None:
        rep.time("ref triad", common.triad(sizes["triad_n"], cfg["threads"]), "ref")
        rep.time("ref triad (1 thread)", common.triad(sizes["triad_n"], 1), "ref")
        time.sleep(0.3)

    tf_eager.workloads(tf, rep, cfg, common.load_data(cfg), before_w4=references_w4, before_w5=references_w5)
    rep.emit()


if __name__ == "__main__":
    main()
