"""``keras.utils``."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np


def to_categorical(x: Any, num_classes: Optional[int] = None) -> np.ndarray:
    """One-hot encodes integer class labels (Keras 3: a float64 NumPy array of shape labels + (C,))."""
    x = np.array(x, dtype="int64")
    input_shape = x.shape
    if input_shape and input_shape[-1] == 1 and len(input_shape) > 1:
        input_shape = tuple(input_shape[:-1])
    x = x.reshape(-1)
    if not num_classes:
        num_classes = int(np.max(x)) + 1
    if x.size and (x.min() < 0 or x.max() >= num_classes):
        raise ValueError(f"to_categorical: labels must lie in [0, {num_classes}), got values in "
                         f"[{int(x.min())}, {int(x.max())}]")
    batch_size = x.shape[0]
    categorical = np.zeros((batch_size, num_classes))
    categorical[np.arange(batch_size), x] = 1
    return np.reshape(categorical, input_shape + (num_classes,))


def set_random_seed(seed: int) -> None:
    """Seeds Python's, NumPy's and pyfast_tape's generators (Keras's helper)."""
    import random as _pyrandom

    from .. import random as _random
    _pyrandom.seed(seed)
    np.random.seed(seed)
    _random.set_seed(seed)
