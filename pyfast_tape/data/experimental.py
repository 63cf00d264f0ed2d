"""``tf.data.experimental``: AUTOTUNE, the cardinality constants and ``cardinality()``, ``CsvDataset`` and
``make_csv_dataset``."""
from __future__ import annotations

from typing import Any

from .dataset_ops import AUTOTUNE, INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, Dataset
from .readers import CsvDataset, make_csv_dataset

__all__ = ["AUTOTUNE", "INFINITE_CARDINALITY", "UNKNOWN_CARDINALITY", "cardinality", "CsvDataset",
           "make_csv_dataset"]


def cardinality(dataset: Dataset) -> Any:
    """``dataset.cardinality()``."""
    return dataset.cardinality()
