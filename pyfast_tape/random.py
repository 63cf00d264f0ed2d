"""``tf.random``: seeded normal and uniform fills with TF's global/op seed rules."""
from __future__ import annotations

import os
import threading
from typing import Any, Optional

from . import _core
from .dtypes import as_dtype, float32

_lock = threading.Lock()
_global_seed: Optional[int] = None
_counter = 0
_op_counters: dict = {}  # op seed -> calls since set_seed: repeated calls with one op seed differ (TF)
_DEFAULT_GLOBAL_SEED = 87654321  # TF's default when only an op seed is given


def set_seed(seed: Optional[int]) -> None:
    """Sets the global seed: afterwards the sequence of random ops repeats from the same point."""
    global _global_seed, _counter
    with _lock:
        _global_seed = None if seed is None else int(seed)
        _counter = 0
        _op_counters.clear()


def _next_seed(op_seed: Optional[int]) -> int:
    global _counter
    with _lock:
        if _global_seed is None and op_seed is None:
            return int.from_bytes(os.urandom(8), "little")
        g = _DEFAULT_GLOBAL_SEED if _global_seed is None else _global_seed
        if op_seed is None:
            op_seed = _counter
            _counter += 1
        else:
            k = _op_counters.get(op_seed, 0)
            _op_counters[op_seed] = k + 1
            op_seed = (int(op_seed) * 0x100000001B3 + k) & 0xFFFFFFFFFFFFFFFF
        # splitmix64 of the pair: nearby seeds give unrelated streams
        z = (g * 0x9E3779B97F4A7C15 + int(op_seed) + 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        return z ^ (z >> 31)


def normal(shape: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = float32, seed: Optional[int] = None,
           name: Optional[str] = None) -> _core.Tensor:
    return _core.random_normal_(shape, float(mean), float(stddev), as_dtype(dtype), _next_seed(seed))


def uniform(shape: Any, minval: Any = 0, maxval: Any = None, dtype: Any = float32, seed: Optional[int] = None,
            name: Optional[str] = None) -> _core.Tensor:
    dt = as_dtype(dtype)
    if maxval is None:
        if dt.is_integer:
            raise ValueError("random.uniform: maxval must be specified for integer dtypes")
        maxval = 1.0
    return _core.random_uniform_(shape, float(minval), float(maxval), dt, _next_seed(seed))


def shuffle(value: Any, seed: Optional[int] = None, name: Optional[str] = None) -> _core.Tensor:
    """tf.random.shuffle: `value` with its first dimension randomly permuted (TF's seed rules). Not
    differentiable (TF's RandomShuffle has no gradient: the result is not recorded on the tape)."""
    import numpy as np

    from .indexing import _on_device_of

    if isinstance(value, _core.Tensor):
        t = value
    elif isinstance(value, _core.VariableBase):
        t = value.read_value()
    else:
        t = _core.convert(value)
    a = np.asarray(t.numpy())
    if a.ndim == 0:
        return _core.identity(t)
    perm = np.random.default_rng(_next_seed(seed)).permutation(a.shape[0])
    out: _core.Tensor = _on_device_of(_core.convert(np.ascontiguousarray(a[perm])), t)
    return out
