"""Peer: TensorFlow with every training step and loss+gradient wrapped in ``tf.function`` (graph mode,
no XLA). The workload code is ``tf_eager.workloads``; W6 (per-op dispatch) is not measured here."""
from __future__ import annotations

import os
import sys

# This folder's files are named like the packages they benchmark (numpy.py, torch.py, jax.py, ...): take it
# off sys.path, so `import numpy` finds NumPy even where a package is missing, and import siblings as `peers.x`.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE] + [os.path.dirname(_HERE)]

from peers import tf_eager  # noqa: E402

if __name__ == "__main__":
    tf_eager.main("tf_function", compiled=True)
