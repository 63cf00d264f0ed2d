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

    from ._pyops import as_tensor, from_numpy

    t = as_tensor(value)
    a = np.asarray(t.numpy())
    if a.ndim == 0:
        return _core.identity(t)
    perm = np.random.default_rng(_next_seed(seed)).permutation(a.shape[0])
    out: _core.Tensor = from_numpy(a[perm], t)
    return out


# ---- more draws: NumPy's generators, seeded by TF's global/op seed rules (_next_seed) --------------------------
# TF's own Philox streams are not reproduced here: the same seeds repeat the same values run after run, but
# not TF's values.
def _np_rng(seed_value: int) -> Any:
    import numpy as np
    return np.random.Generator(np.random.Philox(seed_value & 0xFFFFFFFFFFFFFFFF))


def _shape_list(shape: Any) -> list:
    import numpy as np
    if isinstance(shape, (_core.Tensor, _core.VariableBase)):
        return [int(d) for d in np.asarray(shape.numpy()).reshape(-1)]
    return [int(d) for d in (shape if isinstance(shape, (list, tuple)) else [shape])]


def _float_dtype(op: str, dtype: Any) -> Any:
    dt = as_dtype(dtype)
    if not dt.is_floating:
        raise TypeError(f"random.{op}: dtype must be a floating dtype, got {dt.name}")
    return dt


def _truncated(rng: Any, shape: list, mean: float, stddev: float, np_dtype: Any) -> Any:
    """Normal draws redrawn until within two standard deviations (TF's truncated_normal)."""
    import numpy as np
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2.0
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2.0
    return (out * stddev + mean).astype(np_dtype)


def truncated_normal(shape: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = float32,
                     seed: Optional[int] = None, name: Optional[str] = None) -> _core.Tensor:
    """Normal values more than two standard deviations from the mean are drawn again."""
    import numpy as np
    dt = _float_dtype("truncated_normal", dtype)
    a = _truncated(_np_rng(_next_seed(seed)), _shape_list(shape), float(mean), float(stddev), np.dtype(dt.name))
    return _core.convert(a)


def categorical(logits: Any, num_samples: int, dtype: Any = None, seed: Optional[int] = None,
                name: Optional[str] = None) -> _core.Tensor:
    """For each row of `logits` [batch, classes], `num_samples` class indices drawn from softmax(row)."""
    import numpy as np
    lg = logits if isinstance(logits, (_core.Tensor, _core.VariableBase)) else _core.convert(logits)
    a = np.asarray(lg.numpy(), dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"random.categorical: logits must be 2-D [batch_size, num_classes], got shape {a.shape}")
    return _categorical(_np_rng(_next_seed(seed)), a, int(num_samples), dtype)


def _categorical(rng: Any, a: Any, n: int, dtype: Any) -> _core.Tensor:
    import numpy as np
    out_dt = np.dtype(as_dtype("int64" if dtype is None else dtype).name)
    if out_dt.kind != "i":
        raise TypeError("random.categorical: dtype must be int32 or int64")
    if a.shape[1] == 0:
        raise _core.InvalidArgumentError("random.categorical: num_classes should be positive")
    m = np.max(a, axis=1, keepdims=True)
    p = np.exp(a - np.where(np.isfinite(m), m, 0))
    p /= p.sum(axis=1, keepdims=True)
    cdf = np.cumsum(p, axis=1)
    u = rng.random((a.shape[0], n))
    idx = np.array([np.searchsorted(cdf[i], u[i], side="right") for i in range(a.shape[0])]).reshape(a.shape[0], n)
    return _core.convert(np.minimum(idx, a.shape[1] - 1).astype(out_dt))


def gamma(shape: Any, alpha: Any, beta: Any = None, dtype: Any = float32, seed: Optional[int] = None,
          name: Optional[str] = None) -> _core.Tensor:
    """Gamma(alpha, rate beta) draws of shape `shape + broadcast(alpha, beta).shape`."""
    import numpy as np
    dt = _float_dtype("gamma", dtype)
    al = np.asarray(alpha.numpy() if isinstance(alpha, (_core.Tensor, _core.VariableBase)) else alpha, np.float64)
    be = 1.0 if beta is None else np.asarray(beta.numpy() if isinstance(beta, (_core.Tensor, _core.VariableBase))
                                             else beta, np.float64)
    full = _shape_list(shape) + list(np.broadcast(al, be).shape)
    a = _np_rng(_next_seed(seed)).gamma(np.broadcast_to(al, full), 1.0 / np.broadcast_to(be, full))
    return _core.convert(a.astype(np.dtype(dt.name)))


def poisson(shape: Any, lam: Any, dtype: Any = float32, seed: Optional[int] = None,
            name: Optional[str] = None) -> _core.Tensor:
    """Poisson(lam) draws of shape `shape + lam.shape`."""
    import numpy as np
    lm = np.asarray(lam.numpy() if isinstance(lam, (_core.Tensor, _core.VariableBase)) else lam, np.float64)
    full = _shape_list(shape) + list(lm.shape)
    a = _np_rng(_next_seed(seed)).poisson(np.broadcast_to(lm, full))
    return _core.convert(a.astype(np.dtype(as_dtype(dtype).name)))


# ---- stateless draws: a function of (shape, seed) only --------------------------------------------------------
def _stateless_rng(seed: Any, op: str) -> Any:
    import numpy as np
    s = np.asarray(seed.numpy() if isinstance(seed, (_core.Tensor, _core.VariableBase)) else seed).reshape(-1)
    if s.shape != (2,):
        raise ValueError(f"random.{op}: seed must be a shape [2] tensor or pair of integers, got {seed!r}")
    return np.random.Generator(np.random.Philox(key=[int(s[0]) & 0xFFFFFFFFFFFFFFFF, int(s[1]) & 0xFFFFFFFFFFFFFFFF]))


def stateless_normal(shape: Any, seed: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = float32,
                     name: Optional[str] = None, alg: Any = None) -> _core.Tensor:
    import numpy as np
    dt = _float_dtype("stateless_normal", dtype)
    a = _stateless_rng(seed, "stateless_normal").standard_normal(_shape_list(shape)) * float(stddev) + float(mean)
    return _core.convert(a.astype(np.dtype(dt.name)))


def stateless_uniform(shape: Any, seed: Any, minval: Any = 0, maxval: Any = None, dtype: Any = float32,
                      name: Optional[str] = None, alg: Any = None) -> _core.Tensor:
    import numpy as np
    dt = as_dtype(dtype)
    rng = _stateless_rng(seed, "stateless_uniform")
    if dt.is_integer:
        if maxval is None:
            raise ValueError("random.stateless_uniform: maxval must be specified for integer dtypes")
        a = rng.integers(int(minval), int(maxval), _shape_list(shape))
    else:
        hi = 1.0 if maxval is None else float(maxval)
        a = rng.random(_shape_list(shape)) * (hi - float(minval)) + float(minval)
    return _core.convert(a.astype(np.dtype(dt.name)))


def stateless_truncated_normal(shape: Any, seed: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = float32,
                               name: Optional[str] = None, alg: Any = None) -> _core.Tensor:
    import numpy as np
    dt = _float_dtype("stateless_truncated_normal", dtype)
    return _core.convert(_truncated(_stateless_rng(seed, "stateless_truncated_normal"), _shape_list(shape),
                                    float(mean), float(stddev), np.dtype(dt.name)))


def stateless_categorical(logits: Any, num_samples: int, seed: Any, dtype: Any = None,
                          name: Optional[str] = None) -> _core.Tensor:
    import numpy as np
    lg = logits if isinstance(logits, (_core.Tensor, _core.VariableBase)) else _core.convert(logits)
    a = np.asarray(lg.numpy(), dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"random.stateless_categorical: logits must be 2-D, got shape {a.shape}")
    return _categorical(_stateless_rng(seed, "stateless_categorical"), a, int(num_samples), dtype)


# ---- tf.random.Generator ---------------------------------------------------------------------------------------
class Generator:
    """A random number generator with its own state (TF's tf.random.Generator): from_seed gives the same
    stream each run, from_non_deterministic_state a fresh one; split(n) gives n independent generators."""

    def __init__(self, copy_from: Any = None, state: Any = None, alg: Any = None) -> None:
        import numpy as np
        if copy_from is not None:
            self._bitgen = np.random.Philox(key=copy_from._key)
            self._bitgen.state = copy_from._bitgen.state
            self._key = copy_from._key
        else:
            key = int.from_bytes(os.urandom(8), "little") if state is None else int(state)
            self._key = key & 0xFFFFFFFFFFFFFFFF
            self._bitgen = np.random.Philox(key=self._key)
        self._rng = np.random.Generator(self._bitgen)
        self._splits = 0

    @classmethod
    def from_seed(cls, seed: int, alg: Any = None) -> "Generator":
        return cls(state=int(seed))

    @classmethod
    def from_non_deterministic_state(cls, alg: Any = None) -> "Generator":
        return cls()

    @classmethod
    def from_state(cls, state: Any, alg: Any = None) -> "Generator":
        import numpy as np
        return cls(state=int(np.asarray(state.numpy() if hasattr(state, "numpy") else state).reshape(-1)[0]))

    def reset_from_seed(self, seed: int) -> None:
        self.__init__(state=int(seed))  # type: ignore[misc]

    def normal(self, shape: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = float32,
               name: Optional[str] = None) -> _core.Tensor:
        import numpy as np
        dt = _float_dtype("Generator.normal", dtype)
        a = self._rng.standard_normal(_shape_list(shape)) * float(stddev) + float(mean)
        return _core.convert(a.astype(np.dtype(dt.name)))

    def uniform(self, shape: Any, minval: Any = 0, maxval: Any = None, dtype: Any = float32,
                name: Optional[str] = None) -> _core.Tensor:
        import numpy as np
        dt = as_dtype(dtype)
        if dt.is_integer:
            if maxval is None:
                raise ValueError("Generator.uniform: maxval must be specified for integer dtypes")
            a = self._rng.integers(int(minval), int(maxval), _shape_list(shape))
        else:
            hi = 1.0 if maxval is None else float(maxval)
            a = self._rng.random(_shape_list(shape)) * (hi - float(minval)) + float(minval)
        return _core.convert(a.astype(np.dtype(dt.name)))

    def truncated_normal(self, shape: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = float32,
                         name: Optional[str] = None) -> _core.Tensor:
        import numpy as np
        dt = _float_dtype("Generator.truncated_normal", dtype)
        return _core.convert(_truncated(self._rng, _shape_list(shape), float(mean), float(stddev), np.dtype(dt.name)))

    def split(self, count: int = 1) -> list:
        """`count` new generators, each with its own stream (this generator's state advances)."""
        out = []
        for _ in range(int(count)):
            out.append(Generator(state=int(self._rng.integers(0, 2**63 - 1))))
        return out

    def make_seeds(self, count: int = 1) -> _core.Tensor:
        import numpy as np
        return _core.convert(self._rng.integers(-2**63, 2**63 - 1, (2, int(count)), dtype=np.int64))


_global_generator: Optional[Generator] = None


def get_global_generator() -> Generator:
    global _global_generator
    if _global_generator is None:
        _global_generator = Generator.from_non_deterministic_state()
    return _global_generator


def set_global_generator(generator: Generator) -> None:
    global _global_generator
    _global_generator = generator
