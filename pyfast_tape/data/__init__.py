"""``tf.data``: ``Dataset`` input pipelines (see dataset_ops), ``TextLineDataset`` and
``experimental.make_csv_dataset``."""
from __future__ import annotations

from . import experimental
from .dataset_ops import (AUTOTUNE, INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, Dataset, Options,
                          OutOfRangeError)
from .readers import TextLineDataset
from .tensor_spec import TensorSpec

__all__ = ["Dataset", "TextLineDataset", "AUTOTUNE", "INFINITE_CARDINALITY", "UNKNOWN_CARDINALITY", "Options",
           "OutOfRangeError", "TensorSpec", "experimental"]
