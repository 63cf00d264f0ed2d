"""``tf.data.Dataset``: input pipelines with TensorFlow's semantics, run eagerly in Python over NumPy memory.

Elements travel through a pipeline as nested structures (tuples, namedtuples, dicts, as ``tf.data``'s nest:
lists are values, not structure) of NumPy arrays, and become ``tf.Tensor``s only where user code sees them:
when iterated, and as the arguments of the functions given to ``map``, ``filter`` and the like.

Batches are cut from NumPy memory without a Python loop per element where the source allows it: a dataset
made by ``from_tensor_slices`` (or a small ``range``) keeps an *index plan* (the source arrays and a stream of
row indices) through ``shuffle``, ``repeat``, ``take``, ``skip``, ``shard``, ``prefetch`` and ``cache``, and
``batch`` then slices the arrays (contiguous rows: a zero-copy view) or gathers one batch with NumPy fancy
indexing. ``shuffle`` keeps TensorFlow's buffer semantics (fill a buffer of ``buffer_size`` elements, emit a
random one and put the next input element in its place), drawing from a NumPy Generator seeded from the
``seed`` argument and ``tf.random``'s global seed; its streams are not TensorFlow's.

``element_spec`` of a ``map`` (and ``flat_map``/``interleave``) is found by calling the function on two
probe elements (zeros with unknown dimensions of size 2, ones with size 3): output dimensions that differ
are unknown (``None``), as TensorFlow's trace would leave them. Like TensorFlow's tracing this runs the
function's Python side effects, once or twice, when the spec is first asked for.
"""
from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Mapping
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Set, Tuple

import numpy as np

from .. import _core
from .. import random as _random
from ..dtypes import as_dtype, bool as _bool, float32, float64, int32, int64
from ..tensor_shape import TensorShape
from .tensor_spec import TensorSpec, string

__all__ = ["Dataset", "AUTOTUNE", "INFINITE_CARDINALITY", "UNKNOWN_CARDINALITY", "Options", "OwnedIterator"]

AUTOTUNE = -1
INFINITE_CARDINALITY = -1
UNKNOWN_CARDINALITY = -2
INFINITE = INFINITE_CARDINALITY
UNKNOWN = UNKNOWN_CARDINALITY

InvalidArgumentError = _core.InvalidArgumentError


from ..errors import OutOfRangeError  # noqa: E402  (tf.errors.OutOfRangeError: get_next() past the end)


# ---- nested structures (tf.data's nest: tuples, namedtuples and mappings are structure; lists are values) ---
def _is_struct(x: Any) -> bool:
    return isinstance(x, (tuple, Mapping))


def _flatten(x: Any) -> List[Any]:
    if isinstance(x, Mapping):
        out: List[Any] = []
        for k in _sorted(x):
            out.extend(_flatten(x[k]))
        return out
    if isinstance(x, tuple):
        out = []
        for v in x:
            out.extend(_flatten(v))
        return out
    return [x]


def _sorted(d: Mapping[Any, Any]) -> List[Any]:
    try:
        return sorted(d)
    except TypeError:
        raise TypeError("nest only supports dicts with sortable keys.") from None


def _pack(structure: Any, flat: Sequence[Any]) -> Any:
    it = iter(flat)
    out = _pack_it(structure, it)
    return out


def _pack_it(s: Any, it: Iterator[Any]) -> Any:
    ctor: Any = type(s)
    if isinstance(s, Mapping):
        vals = {k: _pack_it(s[k], it) for k in _sorted(s)}
        return ctor((k, vals[k]) for k in s) if ctor is not dict else {k: vals[k] for k in s}
    if isinstance(s, tuple):
        items = [_pack_it(v, it) for v in s]
        return ctor(*items) if hasattr(s, "_fields") else tuple(items)
    return next(it)


def _map(fn: Callable[..., Any], s: Any) -> Any:
    return _pack(s, [fn(x) for x in _flatten(s)])


def _same_structure(a: Any, b: Any) -> bool:
    if isinstance(a, Mapping):
        return isinstance(b, Mapping) and sorted(map(repr, a)) == sorted(map(repr, b)) and all(
            _same_structure(a[k], b[k]) for k in a)
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(_same_structure(x, y) for x, y in zip(a, b))
    return not _is_struct(b)


# ---- values ----------------------------------------------------------------------------------------------
_WIDEN = {np.dtype(np.uint8): int32, np.dtype(np.int8): int32, np.dtype(np.int16): int32,
          np.dtype(np.uint16): int32, np.dtype(np.uint32): int64, np.dtype(np.float16): float32}
_NATIVE = {np.dtype(np.float32): float32, np.dtype(np.float64): float64, np.dtype(np.int32): int32,
           np.dtype(np.int64): int64, np.dtype(np.bool_): _bool}


def _dtype_of(a: np.ndarray) -> Any:
    """The tf dtype an array becomes: its own, the small integer and float types widened as the core
    widens them (uint8 -> int32), object arrays of bytes as tf.string."""
    dt = a.dtype
    d = _NATIVE.get(dt) or _WIDEN.get(dt)
    if d is not None:
        return d
    if dt.kind == "O":
        return string
    raise TypeError(f"tf.data: unsupported element dtype {dt} (supported: float32, float64, int32, int64, bool, "
                    "strings, and the smaller integer and float types, which are widened)")


def _bytes_array(a: np.ndarray) -> np.ndarray:
    flat = [x if isinstance(x, bytes) else str(x).encode("utf-8") for x in a.ravel().tolist()]
    out = np.empty(len(flat), dtype=object)
    out[:] = flat
    return out.reshape(a.shape)


def _to_array(x: Any, dtype: Any = None) -> np.ndarray:
    """A pipeline value from anything ``tf.constant`` takes (Python numbers and lists follow TF's dtype
    rules: int -> int32, float -> float32), strings as object arrays of bytes."""
    if isinstance(x, np.ndarray):
        if x.dtype.kind in "SUO":
            return _bytes_array(x)
        a = x
    elif isinstance(x, _core.VariableBase):
        a = np.array(x)  # a copy: the variable may change later
    elif isinstance(x, _core.Tensor):
        a = np.asarray(x)
    elif isinstance(x, StringTensor):
        a = x._value
    elif isinstance(x, (str, bytes)):
        return _bytes_array(np.array(x, dtype=object))
    elif isinstance(x, np.generic):
        a = np.asarray(x)
        if a.dtype.kind in "SU":
            return _bytes_array(a.astype(object))
    elif hasattr(x, "__array__") and not isinstance(x, (list, tuple)):  # pandas Series and the like
        a = np.asarray(x)
        if a.dtype.kind in "SUO":
            return _bytes_array(a)
    else:
        try:
            a = np.asarray(_core.convert(x, dtype if dtype is not None and dtype is not string else None))
        except (TypeError, ValueError):
            a = np.asarray(x)
            if a.dtype.kind in "SUO":
                return _bytes_array(a)
            raise
    if dtype is not None:
        if dtype is string:
            if a.dtype != object:
                raise TypeError(f"expected a string value, got a {a.dtype} one")
        elif a.dtype != dtype.as_numpy_dtype:
            a = np.asarray(_core.convert(a, dtype))
    return a


def _to_output(a: np.ndarray) -> Any:
    if a.dtype == object:
        return StringTensor(a)
    return _core.convert(a)


def _outputs(element: Any) -> Any:
    return _map(_to_output, element)


def _to_numpy(a: np.ndarray) -> Any:
    d = _WIDEN.get(a.dtype)
    if d is not None:
        a = a.astype(d.as_numpy_dtype)
    return a[()] if a.ndim == 0 else a


def _normalize(value: Any) -> Any:
    """A user function's return value as a pipeline element: lists become tuples (as TF's map does),
    leaves arrays."""
    if isinstance(value, list):
        value = tuple(value)
    ctor: Any = type(value)
    if isinstance(value, Mapping):
        vals = {k: _normalize_leafy(value[k]) for k in value}
        return ctor((k, vals[k]) for k in value) if ctor is not dict else vals
    if isinstance(value, tuple):
        items = [_normalize_leafy(v) for v in value]
        return ctor(*items) if hasattr(value, "_fields") else tuple(items)
    return _to_array(value)


def _normalize_leafy(v: Any) -> Any:
    if isinstance(v, (tuple, Mapping)):
        return _normalize(v)
    return _to_array(v)


def _spec_of(element: Any) -> Any:
    return _map(lambda a: TensorSpec(a.shape, _dtype_of(a)), element)


def _call(fn: Callable[..., Any], element: Any) -> Any:
    """TF's calling convention: a (plain) tuple element is unpacked into arguments."""
    args = _outputs(element)
    if type(args) is tuple:
        return fn(*args)
    return fn(args)


class StringTensor:
    """A string value from a pipeline (the native core has no string tensors): ``numpy()`` gives ``bytes``
    for a scalar and an object array of bytes otherwise, as TensorFlow's string tensors do."""

    __slots__ = ("_value",)

    def __init__(self, value: np.ndarray) -> None:
        self._value = value

    def numpy(self) -> Any:
        return self._value[()] if self._value.ndim == 0 else self._value

    @property
    def shape(self) -> TensorShape:
        return TensorShape(self._value.shape)

    @property
    def dtype(self) -> Any:
        return string

    @property
    def ndim(self) -> int:
        return self._value.ndim

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._value if dtype is None else self._value.astype(dtype)

    def __len__(self) -> int:
        return len(self._value)

    def __getitem__(self, key: Any) -> "StringTensor":
        return StringTensor(np.asarray(self._value[key], dtype=object))

    def __iter__(self) -> Iterator["StringTensor"]:
        for i in range(len(self._value)):
            yield self[i]

    def __eq__(self, other: Any) -> Any:
        o = other._value if isinstance(other, StringTensor) else _to_array(other)
        return np.equal(self._value, o)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<tf.Tensor: shape={self.shape}, dtype=string, numpy={self.numpy()!r}>"


# ---- seeds -----------------------------------------------------------------------------------------------
def _mix(a: int, b: int) -> int:
    z = (a * 0x9E3779B97F4A7C15 + b + 0x632BE59BD9B4E019) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return z ^ (z >> 31)


def _dataset_seed(seed: Optional[int]) -> int:
    """TF's ``random_seed.get_seed`` for a dataset op: the op seed with the global seed (or TF's default
    when only the op seed is set); with no op seed the global seed's op counter; neither: fresh entropy.
    Two datasets made with one op seed shuffle alike (their kernels do not share state, unlike random ops)."""
    g = _random._global_seed
    if seed is None:
        if g is None:
            return int.from_bytes(os.urandom(8), "little")
        return _random._next_seed(None)
    return _mix(_random._DEFAULT_GLOBAL_SEED if g is None else int(g), int(seed) & 0xFFFFFFFFFFFFFFFF)


_SHUFFLE_BLOCK = 1024  # arrivals processed together once the shuffle buffer is full


class _Pull:
    """Takes exact numbers of ids from a stream of index chunks (``range``s or int arrays)."""

    def __init__(self, chunks: Iterator[Any]) -> None:
        self._it = iter(chunks)
        self._cur = np.empty(0, dtype=np.int64)
        self._pos = 0

    def take(self, n: int) -> np.ndarray:
        parts = []
        need = n
        while need > 0:
            if self._pos >= len(self._cur):
                nxt = next(self._it, None)
                if nxt is None:
                    break
                self._cur = np.arange(nxt.start, nxt.stop, dtype=np.int64) if isinstance(nxt, range) else \
                    np.asarray(nxt, dtype=np.int64)
                self._pos = 0
                continue
            piece = self._cur[self._pos:self._pos + need]
            self._pos += len(piece)
            need -= len(piece)
            parts.append(piece)
        if not parts:
            return np.empty(0, dtype=np.int64)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _shuffle_block(buf: np.ndarray, incoming: np.ndarray, slots: np.ndarray) -> np.ndarray:
    """`len(incoming)` steps of the shuffle buffer at once: step t emits ``buf[slots[t]]`` and puts
    ``incoming[t]`` in its place. The value emitted is the last one written to that slot before step t (or
    the slot's value at the start); `buf` is left as after the last step."""
    order = np.argsort(slots, kind="stable")
    grouped = slots[order]
    n = len(slots)
    same = np.zeros(n, dtype=bool)
    same[1:] = grouped[1:] == grouped[:-1]
    prev = np.full(n, -1, dtype=np.int64)
    pos = np.nonzero(same)[0]
    prev[order[pos]] = order[pos - 1]
    out: np.ndarray = buf[slots]
    has_prev = prev >= 0
    out[has_prev] = incoming[prev[has_prev]]
    last = np.ones(n, dtype=bool)
    last[:-1] = grouped[1:] != grouped[:-1]
    buf[grouped[last]] = incoming[order[last]]
    return out


def _shuffle_ids(chunks: Iterator[Any], buffer_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """TF's shuffle buffer over a stream of ids: fill `buffer_size` ids, then for each new id emit a random
    one of the buffer and put the new one in its place; when the input ends, emit the rest in random order.
    Vectorised: blocks of arrivals at a time, the same stream whatever the input's chunking."""
    pull = _Pull(chunks)
    fill = pull.take(buffer_size)
    if len(fill) < buffer_size:
        if len(fill):
            yield fill[rng.permutation(len(fill))]
        return
    buf = fill.copy()
    while True:
        incoming = pull.take(_SHUFFLE_BLOCK)
        if len(incoming):
            yield _shuffle_block(buf, incoming, rng.integers(0, buffer_size, size=len(incoming)))
        if len(incoming) < _SHUFFLE_BLOCK:
            yield buf[rng.permutation(len(buf))]
            return


def _shuffle_stream(items: Iterator[Any], buffer_size: int, rng: np.random.Generator) -> Iterator[Any]:
    """``_shuffle_ids`` over arbitrary elements (ids: their arrival numbers), the same order as the index
    plan gets for the same seed."""
    store: Dict[int, Any] = {}

    def arrivals() -> Iterator[Any]:
        n0 = 0
        while True:
            block = list(itertools.islice(items, _SHUFFLE_BLOCK))
            if not block:
                return
            for k, e in enumerate(block, n0):
                store[k] = e
            yield range(n0, n0 + len(block))
            n0 += len(block)

    pop = store.pop
    for out in _shuffle_ids(arrivals(), buffer_size, rng):
        for i in out.tolist():
            yield pop(i)


# ---- index plans (the fast path) -------------------------------------------------------------------------
class _Plan:
    """Rows of `source` (a structure of arrays sharing their first dimension) in the order of the index
    chunks that ``chunks()`` yields (``range`` objects of step 1, or int64 arrays)."""

    __slots__ = ("source", "flat", "chunks")

    def __init__(self, source: Any, chunks: Callable[[], Iterator[Any]]) -> None:
        self.source = source
        self.flat = _flatten(source)
        self.chunks = chunks

    def with_chunks(self, chunks: Callable[[], Iterator[Any]]) -> "_Plan":
        return _Plan(self.source, chunks)


def _plan_elements(plan: _Plan) -> Iterator[Any]:
    flat, structure = plan.flat, plan.source
    if not _is_struct(structure):
        a = flat[0]
        for chunk in plan.chunks():
            for i in chunk:
                yield a[i, ...]
        return
    for chunk in plan.chunks():
        for i in chunk:
            yield _pack(structure, [a[i, ...] for a in flat])


def _plan_indices(plan: _Plan) -> Iterator[int]:
    for chunk in plan.chunks():
        if isinstance(chunk, range):
            yield from chunk
        else:
            yield from chunk.tolist()


def _chunked(ints: Iterator[int], size: int = 4096) -> Iterator[np.ndarray]:
    while True:
        block = list(itertools.islice(ints, size))
        if not block:
            return
        yield np.asarray(block, dtype=np.int64)


def _limit_chunks(chunks: Iterator[Any], skip: int, take: int) -> Iterator[Any]:
    """Drops the first `skip` indices and stops after `take` more (take < 0: all)."""
    for chunk in chunks:
        n = len(chunk)
        if skip:
            if n <= skip:
                skip -= n
                continue
            chunk, n, skip = chunk[skip:], n - skip, 0
        if take >= 0:
            if take == 0:
                return
            if n >= take:
                yield chunk[:take]
                return
            take -= n
        yield chunk


def _gather(flat: List[np.ndarray], pieces: List[Any]) -> List[np.ndarray]:
    if len(pieces) == 1 and isinstance(pieces[0], range):
        r = pieces[0]
        return [a[r.start:r.stop] for a in flat]
    idx = np.concatenate([np.arange(p.start, p.stop, dtype=np.int64) if isinstance(p, range) else p
                          for p in pieces])
    return [a[idx] for a in flat]


def _plan_batches(plan: _Plan, batch_size: int, drop_remainder: bool) -> Iterator[Any]:
    """Batches of `plan`'s rows: slices of the source arrays where the rows are contiguous, a NumPy
    gather per batch otherwise; no Python work per element."""
    flat, structure = plan.flat, plan.source
    pieces: List[Any] = []
    count = 0
    for chunk in plan.chunks():
        n = len(chunk)
        pos = 0
        while pos < n:
            if count == 0 and isinstance(chunk, range) and n - pos >= batch_size:
                start = chunk.start + pos
                yield _pack(structure, [a[start:start + batch_size] for a in flat])
                pos += batch_size
                continue
            take = min(batch_size - count, n - pos)
            pieces.append(chunk[pos:pos + take])
            count += take
            pos += take
            if count == batch_size:
                yield _pack(structure, _gather(flat, pieces))
                pieces, count = [], 0
    if count and not drop_remainder:
        yield _pack(structure, _gather(flat, pieces))


# ---- probing user functions for element_spec -------------------------------------------------------------
def _probe_value(spec: TensorSpec, fill: int, unknown: int) -> np.ndarray:
    shape = (unknown,) if spec.shape.rank is None else tuple(unknown if d is None else d for d in spec.shape)
    if spec.dtype is string:
        out = np.empty(shape, dtype=object)
        out.fill(b"" if fill == 0 else b"a")
        return out
    return np.full(shape, fill, dtype=spec.dtype.as_numpy_dtype)


def _merge_specs(a: Any, b: Any) -> Any:
    fa, fb = _flatten(a), _flatten(b)
    out = []
    for x, y in zip(fa, fb):
        if x.shape.rank is None or y.shape.rank is None or len(x.shape) != len(y.shape):
            out.append(TensorSpec(None, x.dtype))
        else:
            out.append(TensorSpec([d if d == e else None for d, e in zip(x.shape, y.shape)], x.dtype))
    return _pack(a, out)


def _probe_function(fn: Callable[[Any], Any], input_spec: Any, real: Callable[[], Any]) -> Any:
    """The structure of specs `fn` returns for elements of `input_spec` (see the module docstring); `real`
    gives a real input element when the probes fail."""
    try:
        first = fn(_map(lambda s: _probe_value(s, 0, 2), input_spec))
        second = fn(_map(lambda s: _probe_value(s, 1, 3), input_spec))
        if not _same_structure(first, second):
            return first
        return _merge_specs(first, second)
    except Exception:
        element = real()
        if element is None:
            raise
        return fn(element)


# ---- iterators -------------------------------------------------------------------------------------------
class OwnedIterator:
    """The iterator ``iter(dataset)`` returns: ``next()`` gives the next element as Tensors;
    ``get_next()`` raises ``OutOfRangeError`` at the end."""

    def __init__(self, dataset: "Dataset") -> None:
        self._dataset = dataset
        self._it = dataset._iter()

    def __iter__(self) -> "OwnedIterator":
        return self

    def __next__(self) -> Any:
        return _outputs(next(self._it))

    next = __next__

    def get_next(self) -> Any:
        try:
            return self.__next__()
        except StopIteration:
            raise OutOfRangeError("End of sequence") from None

    @property
    def element_spec(self) -> Any:
        return self._dataset.element_spec


class _NumpyIterator:
    def __init__(self, dataset: "Dataset") -> None:
        self._it = dataset._iter()

    def __iter__(self) -> "_NumpyIterator":
        return self

    def __next__(self) -> Any:
        return _map(_to_numpy, next(self._it))

    next = __next__


class Options:
    """``tf.data.Options``: accepted and kept (any attribute, nested ones included); nothing here is tuned."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        value = Options()
        object.__setattr__(self, name, value)
        return value


# ---- Dataset ---------------------------------------------------------------------------------------------
class Dataset:
    """A sequence of elements (nested structures of tensors) with TensorFlow's ``tf.data.Dataset`` API."""

    _spec_cache: Any = None

    # -- what subclasses provide
    def _iter(self) -> Iterator[Any]:
        """The elements as nested structures of NumPy arrays."""
        plan = self._plan()
        if plan is None:
            raise NotImplementedError
        return _plan_elements(plan)

    def _plan(self) -> Optional[_Plan]:
        return None

    def _card(self) -> int:
        return UNKNOWN

    def _spec(self) -> Any:
        raise NotImplementedError

    def _real_first(self) -> Any:
        return next(iter(self._iter()), None)

    # -- inspection
    @property
    def element_spec(self) -> Any:
        """The structure of ``tf.TensorSpec``s of an element."""
        spec = self.__dict__.get("_spec_cache")
        if spec is None:
            spec = self._spec()
            self.__dict__["_spec_cache"] = spec
        return spec

    def cardinality(self) -> Any:
        """The number of elements as an int64 scalar tensor: ``tf.data.INFINITE_CARDINALITY`` (-1) for an
        infinite dataset, ``tf.data.UNKNOWN_CARDINALITY`` (-2) where it cannot be known without running it."""
        return _core.convert(np.asarray(self._card(), dtype=np.int64))

    def __len__(self) -> int:
        n = self._card()
        if n == INFINITE:
            raise TypeError("The dataset is infinite.")
        if n == UNKNOWN:
            raise TypeError("The dataset length is unknown.")
        return n

    def __bool__(self) -> bool:
        return True  # __len__ is defined: keep `if dataset:` from asking for it

    def __iter__(self) -> OwnedIterator:
        return OwnedIterator(self)

    def as_numpy_iterator(self) -> _NumpyIterator:
        """An iterator over the elements as NumPy values (scalars as NumPy scalars, strings as bytes)."""
        for spec in _flatten(self.element_spec):
            if not isinstance(spec, TensorSpec):
                raise TypeError(f"Dataset.as_numpy_iterator() is not supported for datasets that produce values "
                                f"of type {type(spec)}")
        return _NumpyIterator(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} element_spec={_spec_repr(self.element_spec)}>"

    def options(self) -> Any:
        return self.__dict__.setdefault("_options", Options())

    def with_options(self, options: Any, name: Optional[str] = None) -> "Dataset":
        self.__dict__["_options"] = options
        return self

    # -- sources
    @staticmethod
    def from_tensor_slices(tensors: Any, name: Optional[str] = None) -> "Dataset":
        """One element per row of `tensors` (sliced along the first dimension of every component)."""
        return _TensorSliceDataset(tensors)

    @staticmethod
    def from_tensors(tensors: Any, name: Optional[str] = None) -> "Dataset":
        """A dataset of one element, `tensors`."""
        return _TensorDataset(tensors)

    @staticmethod
    def range(*args: Any, **kwargs: Any) -> "Dataset":
        """``range(stop)``, ``range(start, stop[, step])`` as int64 scalars (``dtype=`` to change)."""
        return _RangeDataset(*args, **kwargs)

    @staticmethod
    def counter(start: int = 0, step: int = 1, dtype: Any = int64, name: Optional[str] = None) -> "Dataset":
        return _RangeDataset(start, None, step, dtype=dtype)

    @staticmethod
    def zip(*args: Any, datasets: Any = None, name: Optional[str] = None) -> "Dataset":
        """Elements of several datasets together (a structure of datasets gives that structure of elements);
        ends with the shortest."""
        if not args and datasets is None:
            raise TypeError("Must pass at least one dataset to `zip`.")
        if args and datasets is not None:
            raise TypeError("Both `*args` and `datasets` cannot be set.")
        if len(args) == 1:
            datasets = args[0]
        elif len(args) > 1:
            datasets = args
        return _ZipDataset(datasets)

    @staticmethod
    def from_generator(generator: Callable[..., Any], output_types: Any = None, output_shapes: Any = None,
                       args: Any = None, output_signature: Any = None, name: Optional[str] = None) -> "Dataset":
        """The elements a Python generator yields (``generator(*args)`` is called anew for each iteration),
        converted and checked against `output_signature` (or `output_types`/`output_shapes`)."""
        return _GeneratorDataset(generator, output_types, output_shapes, args, output_signature)

    # -- transformations
    def batch(self, batch_size: int, drop_remainder: bool = False, num_parallel_calls: Any = None,
              deterministic: Any = None, name: Optional[str] = None) -> "Dataset":
        """Consecutive elements stacked into batches of `batch_size` (the last one smaller unless
        `drop_remainder`)."""
        return _BatchDataset(self, batch_size, drop_remainder)

    def padded_batch(self, batch_size: int, padded_shapes: Any = None, padding_values: Any = None,
                     drop_remainder: bool = False, name: Optional[str] = None) -> "Dataset":
        """Like ``batch``, each component padded (with `padding_values`, default 0 or b'') to
        `padded_shapes` (unknown dimensions: the largest in the batch)."""
        return _PaddedBatchDataset(self, batch_size, padded_shapes, padding_values, drop_remainder)

    def unbatch(self, name: Optional[str] = None) -> "Dataset":
        """Splits each element along its first dimension into consecutive elements."""
        return _UnbatchDataset(self)

    def shuffle(self, buffer_size: int, seed: Optional[int] = None, reshuffle_each_iteration: bool = True,
                name: Optional[str] = None) -> "Dataset":
        """Randomly shuffles the elements through a buffer of `buffer_size` elements; each iteration
        reshuffles unless ``reshuffle_each_iteration=False``."""
        return _ShuffleDataset(self, buffer_size, seed, reshuffle_each_iteration)

    def map(self, map_func: Callable[..., Any], num_parallel_calls: Any = None, deterministic: Any = None,
            synchronous: Any = None, use_unbounded_threadpool: Any = None, name: Optional[str] = None) -> "Dataset":
        """`map_func` applied to each element (a tuple element is unpacked into arguments, a dict passed as
        one); a list it returns becomes a tuple."""
        return _MapDataset(self, map_func, parallel=num_parallel_calls is not None)

    def filter(self, predicate: Callable[..., Any], name: Optional[str] = None) -> "Dataset":
        """The elements for which `predicate` returns a true ``tf.bool`` scalar."""
        return _FilterDataset(self, predicate)

    def repeat(self, count: Optional[int] = None, name: Optional[str] = None) -> "Dataset":
        """The dataset `count` times (None or -1: forever); each repetition iterates the input anew."""
        return _RepeatDataset(self, count)

    def take(self, count: int, name: Optional[str] = None) -> "Dataset":
        return _TakeDataset(self, count)

    def skip(self, count: int, name: Optional[str] = None) -> "Dataset":
        return _SkipDataset(self, count)

    def take_while(self, predicate: Callable[..., Any], name: Optional[str] = None) -> "Dataset":
        return _TakeWhileDataset(self, predicate)

    def shard(self, num_shards: int, index: int, name: Optional[str] = None) -> "Dataset":
        """Every `num_shards`-th element, starting at `index`."""
        return _ShardDataset(self, num_shards, index)

    def prefetch(self, buffer_size: int, name: Optional[str] = None) -> "Dataset":
        """The same elements (iteration here is synchronous: nothing to prefetch)."""
        return _PrefetchDataset(self)

    def cache(self, filename: str = "", name: Optional[str] = None) -> "Dataset":
        """The elements of the first complete iteration, kept in memory and replayed by later ones."""
        return _CacheDataset(self)

    def enumerate(self, start: int = 0, name: Optional[str] = None) -> "Dataset":
        """``(index, element)`` pairs, the index an int64 counting from `start`."""
        return _EnumerateDataset(self, start)

    def concatenate(self, dataset: "Dataset", name: Optional[str] = None) -> "Dataset":
        return _ConcatenateDataset(self, dataset)

    def flat_map(self, map_func: Callable[..., "Dataset"], name: Optional[str] = None) -> "Dataset":
        """The elements of the datasets `map_func` returns for each element, one dataset after another."""
        return _InterleaveDataset(self, map_func, 1, 1, flat=True)

    def interleave(self, map_func: Callable[..., "Dataset"], cycle_length: Optional[int] = None,
                   block_length: Optional[int] = None, num_parallel_calls: Any = None, deterministic: Any = None,
                   name: Optional[str] = None) -> "Dataset":
        """TF's deterministic interleave: `cycle_length` of the mapped datasets open at once, `block_length`
        consecutive elements taken from each in turn."""
        if cycle_length is None or cycle_length == AUTOTUNE:
            cycle_length = os.cpu_count() or 1
        return _InterleaveDataset(self, map_func, int(cycle_length), int(block_length or 1))

    def apply(self, transformation_func: Callable[["Dataset"], "Dataset"]) -> "Dataset":
        ds = transformation_func(self)
        if not isinstance(ds, Dataset):
            raise TypeError(f"`transformation_func` must return a `tf.data.Dataset` object. Got {type(ds)}.")
        return ds

    def reduce(self, initial_state: Any, reduce_func: Callable[[Any, Any], Any], name: Optional[str] = None) -> Any:
        """Folds the elements into `initial_state` with ``reduce_func(state, element)``."""
        state = _outputs(_normalize(initial_state))
        for element in self._iter():
            state = _outputs(_normalize(reduce_func(state, _outputs(element))))
        return state

    def get_single_element(self, name: Optional[str] = None) -> Any:
        it = iter(self._iter())
        first = next(it, None)
        if first is None:
            raise InvalidArgumentError("Dataset was empty.")
        if next(it, None) is not None:
            raise InvalidArgumentError("Dataset had more than one element.")
        return _outputs(first)


def _spec_repr(spec: Any) -> str:
    if isinstance(spec, Mapping):
        return "{" + ", ".join(f"{k!r}: {_spec_repr(v)}" for k, v in spec.items()) + "}"
    if isinstance(spec, tuple):
        inner = ", ".join(_spec_repr(v) for v in spec)
        return f"({inner},)" if len(spec) == 1 else f"({inner})"
    return repr(spec)


def _check_count(value: Any, what: str) -> int:
    if isinstance(value, (_core.Tensor, _core.VariableBase, np.ndarray, np.generic)):
        value = np.asarray(value).item()
    return int(value)


def _batch_size_arg(batch_size: Any) -> int:
    bs = _check_count(batch_size, "batch_size")
    if bs <= 0:
        raise InvalidArgumentError(f"Batch size must be greater than zero, but was {bs}.")
    return bs


class _UnaryDataset(Dataset):
    def __init__(self, input_dataset: Dataset) -> None:
        if not isinstance(input_dataset, Dataset):
            raise TypeError(f"expected a tf.data.Dataset, got {type(input_dataset).__name__}")
        self._input = input_dataset

    def _spec(self) -> Any:
        return self._input.element_spec

    def _card(self) -> int:
        return self._input._card()


class _TensorSliceDataset(Dataset):
    def __init__(self, tensors: Any) -> None:
        structure = _normalize_source(tensors)
        flat = _flatten(structure)
        if not flat:
            raise ValueError("Invalid `tensors`: an empty structure has no elements to slice.")
        n = None
        for a in flat:
            if a.ndim < 1:
                raise ValueError("Unbatching a tensor is only supported for rank >= 1")
            if n is None:
                n = a.shape[0]
            elif a.shape[0] != n:
                raise ValueError(f"Dimensions {n} and {a.shape[0]} are not compatible")
        self._source = structure
        self._n = int(n or 0)

    def _plan(self) -> _Plan:
        n = self._n
        return _Plan(self._source, lambda: iter((range(0, n),)))

    def _card(self) -> int:
        return self._n

    def _spec(self) -> Any:
        return _map(lambda a: TensorSpec(a.shape[1:], _dtype_of(a)), self._source)


def _normalize_source(tensors: Any) -> Any:
    """A user structure as pipeline arrays: NumPy arrays copied once (as TF copies them into a tensor) and
    made read-only, so batches can be views of them."""
    def leaf(x: Any) -> np.ndarray:
        a = _to_array(x)
        if a.flags.writeable:  # user memory (Tensors' is read-only already): copy it once
            a = a.copy()
            a.setflags(write=False)
        return a
    if isinstance(tensors, list):
        return leaf(tensors)
    return _map(leaf, _normalize(tensors) if not isinstance(tensors, np.ndarray) and _is_struct(tensors)
                else tensors)


class _TensorDataset(Dataset):
    def __init__(self, tensors: Any) -> None:
        self._element = _normalize_source(tensors)

    def _iter(self) -> Iterator[Any]:
        yield self._element

    def _card(self) -> int:
        return 1

    def _spec(self) -> Any:
        return _spec_of(self._element)


class _RangeDataset(Dataset):
    _PLAN_MAX = 1 << 20  # ranges up to this length get an index plan (their values as one array)

    def __init__(self, *args: Any, dtype: Any = int64, name: Optional[str] = None) -> None:
        vals: List[Any] = [None if a is None else _check_count(a, "range") for a in args]
        if len(vals) == 1:
            start, stop, step = 0, vals[0], 1
        elif len(vals) == 2:
            start, stop, step = vals[0], vals[1], 1
        elif len(vals) == 3:
            start, stop, step = vals
        else:
            raise ValueError(f"Invalid arguments to RangeDataset: {args}")
        if step == 0:
            raise InvalidArgumentError("step must be a non-zero integer.")
        self._start, self._stop, self._step = start, stop, step
        self._dtype = as_dtype(dtype)
        self._values: Optional[np.ndarray] = None

    def _card(self) -> int:
        if self._stop is None:
            return INFINITE
        return len(range(self._start, self._stop, self._step))

    def _plan(self) -> Optional[_Plan]:
        n = self._card()
        if n < 0 or n > self._PLAN_MAX:
            return None
        if self._values is None:
            v: np.ndarray = np.arange(self._start, self._stop, self._step, dtype=np.int64)
            v = v.astype(self._dtype.as_numpy_dtype)
            v.setflags(write=False)
            self._values = v
        return _Plan(self._values, lambda: iter((range(0, n),)))

    def _iter(self) -> Iterator[Any]:
        plan = self._plan()
        if plan is not None:
            return _plan_elements(plan)
        npd = self._dtype.as_numpy_dtype
        r = itertools.count(self._start, self._step) if self._stop is None else range(self._start, self._stop,
                                                                                         self._step)
        return (np.asarray(v, dtype=npd) for v in r)

    def _spec(self) -> Any:
        return TensorSpec((), self._dtype)


class _BatchDataset(_UnaryDataset):
    def __init__(self, input_dataset: Dataset, batch_size: Any, drop_remainder: bool) -> None:
        super().__init__(input_dataset)
        self._bs = _batch_size_arg(batch_size)
        self._drop = bool(drop_remainder)

    def _card(self) -> int:
        n = self._input._card()
        if n < 0:
            return n
        return n // self._bs + (0 if n % self._bs == 0 or self._drop else 1)

    def _spec(self) -> Any:
        lead = self._bs if self._drop else None
        return _map(lambda s: TensorSpec(None if s.shape.rank is None else (lead,) + tuple(s.shape), s.dtype),
                    self._input.element_spec)

    def _iter(self) -> Iterator[Any]:
        plan = self._input._plan()
        if plan is not None:
            return _plan_batches(plan, self._bs, self._drop)
        return self._iter_generic()

    def _iter_generic(self) -> Iterator[Any]:
        bs = self._bs
        it = iter(self._input._iter())
        while True:
            elems = list(itertools.islice(it, bs))
            if not elems or (len(elems) < bs and self._drop):
                return
            yield _stack(elems)
            if len(elems) < bs:
                return


def _stack(elems: List[Any]) -> Any:
    flats = [_flatten(e) for e in elems]
    out = []
    for k in range(len(flats[0])):
        comps = [f[k] for f in flats]
        shape0 = comps[0].shape
        for i, c in enumerate(comps):
            if c.shape != shape0:
                raise InvalidArgumentError(
                    f"Cannot batch tensors with different shapes in component {k}. First element had shape "
                    f"{list(shape0)} and element {i} had shape {list(c.shape)}.")
        out.append(np.stack(comps))
    return _pack(elems[0], out)


class _PaddedBatchDataset(_UnaryDataset):
    def __init__(self, input_dataset: Dataset, batch_size: Any, padded_shapes: Any, padding_values: Any,
                 drop_remainder: bool) -> None:
        super().__init__(input_dataset)
        self._bs = _batch_size_arg(batch_size)
        self._drop = bool(drop_remainder)
        self._padded_shapes = padded_shapes
        self._padding_values = padding_values

    _card = _BatchDataset._card

    def _shapes(self) -> List[Optional[Tuple[Optional[int], ...]]]:
        spec = self._input.element_spec
        n = len(_flatten(spec))
        if self._padded_shapes is None:
            return [None] * n
        ps = self._padded_shapes
        flat = [ps] if not _is_struct(ps) else _flatten(ps) if not _is_struct(spec) or _same_structure(spec, ps) \
            else None
        if flat is None or len(flat) != n:
            raise ValueError("The padded shape structure does not match the structure of the input elements.")
        out = []
        for s in flat:
            if isinstance(s, (_core.Tensor, np.ndarray)):
                s = np.asarray(s).tolist()
            if isinstance(s, (int, np.integer)):
                s = (int(s),)
            if isinstance(s, TensorShape) and s.rank is None:
                s = None
            out.append(None if s is None else tuple(None if d is None or int(d) < 0 else int(d) for d in s))
        return out

    def _pads(self, spec: Any) -> List[Any]:
        flat_spec = _flatten(spec)
        if self._padding_values is None:
            return [b"" if s.dtype is string else 0 for s in flat_spec]
        pv = self._padding_values
        flat = [pv] * len(flat_spec) if not _is_struct(pv) else _flatten(pv)
        if len(flat) != len(flat_spec):
            raise ValueError("The padding values structure does not match the structure of the input elements.")
        return [np.asarray(_to_array(v)).item() if not isinstance(v, bytes) else v for v in flat]

    def _spec(self) -> Any:
        spec = self._input.element_spec
        lead = self._bs if self._drop else None
        shapes = self._shapes()
        out = []
        for s, p in zip(_flatten(spec), shapes):
            if p is None:
                out.append(TensorSpec(None if s.shape.rank is None else (lead,) + tuple(s.shape), s.dtype))
            else:
                out.append(TensorSpec((lead,) + p, s.dtype))
        return _pack(spec, out)

    def _iter(self) -> Iterator[Any]:
        bs = self._bs
        shapes = self._shapes()
        pads = self._pads(self._input.element_spec)
        it = iter(self._input._iter())
        while True:
            elems = list(itertools.islice(it, bs))
            if not elems or (len(elems) < bs and self._drop):
                return
            flats = [_flatten(e) for e in elems]
            out = []
            for k in range(len(flats[0])):
                comps = [f[k] for f in flats]
                rank = comps[0].ndim
                if any(c.ndim != rank for c in comps):
                    raise InvalidArgumentError(f"padded_batch: the elements of component {k} differ in rank")
                target = [max(c.shape[d] for c in comps) for d in range(rank)]
                fixed = shapes[k]
                if fixed is not None:
                    if len(fixed) != rank:
                        raise ValueError(f"The padded shape {fixed} is not compatible with the shape "
                                         f"{list(comps[0].shape)} of the corresponding input component.")
                    for d, want in enumerate(fixed):
                        if want is not None:
                            if target[d] > want:
                                raise InvalidArgumentError(
                                    "Attempted to pad to a smaller size than the input element.")
                            target[d] = want
                dtype = comps[0].dtype
                batch = np.full([len(comps)] + target, pads[k], dtype=dtype) if dtype != object else \
                    _object_full([len(comps)] + target, pads[k])
                for i, c in enumerate(comps):
                    batch[(i,) + tuple(slice(0, n) for n in c.shape)] = c
                out.append(batch)
            yield _pack(elems[0], out)
            if len(elems) < bs:
                return


def _object_full(shape: List[int], value: Any) -> np.ndarray:
    a = np.empty(shape, dtype=object)
    a.fill(value)
    return a


class _UnbatchDataset(_UnaryDataset):
    def _spec(self) -> Any:
        def one(s: TensorSpec) -> TensorSpec:
            if s.shape.rank == 0:
                raise ValueError("Cannot unbatch an input with scalar components.")
            return TensorSpec(None if s.shape.rank is None else tuple(s.shape)[1:], s.dtype)
        return _map(one, self._input.element_spec)

    def _card(self) -> int:
        n = self._input._card()
        if n < 0:
            return n
        leads: Set[Any] = {s.shape[0] if s.shape.rank else None for s in _flatten(self._input.element_spec)}
        if len(leads) == 1 and None not in leads:
            return n * int(next(iter(leads)))
        return UNKNOWN

    def _iter(self) -> Iterator[Any]:
        self.element_spec  # scalar components are an error before any element
        for element in self._input._iter():
            flat = _flatten(element)
            n = flat[0].shape[0]
            for a in flat:
                if a.shape[0] != n:
                    raise InvalidArgumentError("Input element must have the same batch size in each component. "
                                               f"Component 0 had size {n} but component had size {a.shape[0]}.")
            if not _is_struct(element):
                for i in range(n):
                    yield flat[0][i, ...]
            else:
                for i in range(n):
                    yield _pack(element, [a[i, ...] for a in flat])


class _ShuffleDataset(_UnaryDataset):
    def __init__(self, input_dataset: Dataset, buffer_size: Any, seed: Optional[int],
                 reshuffle_each_iteration: bool) -> None:
        super().__init__(input_dataset)
        bs = _check_count(buffer_size, "buffer_size")
        if bs == AUTOTUNE:
            bs = 1 << 62
        if bs <= 0:
            raise InvalidArgumentError(f"buffer_size must be greater than zero or tf.data.AUTOTUNE, got {bs}.")
        self._buffer = bs
        self._seed = _dataset_seed(None if seed is None else _check_count(seed, "seed"))
        self._reshuffle = bool(reshuffle_each_iteration)
        self._epochs = itertools.count()
        self._lock = threading.Lock()

    def _rng(self) -> np.random.Generator:
        with self._lock:
            epoch = next(self._epochs) if self._reshuffle else 0
        return np.random.default_rng([self._seed & 0xFFFFFFFFFFFFFFFF, epoch])

    def _plan(self) -> Optional[_Plan]:
        inner = self._input._plan()
        if inner is None:
            return None
        def chunks() -> Iterator[Any]:
            return _shuffle_ids(inner.chunks(), self._buffer, self._rng())
        return inner.with_chunks(chunks)

    def _iter(self) -> Iterator[Any]:
        plan = self._plan()
        if plan is not None:
            return _plan_elements(plan)
        return _shuffle_stream(iter(self._input._iter()), self._buffer, self._rng())


class _RepeatDataset(_UnaryDataset):
    def __init__(self, input_dataset: Dataset, count: Any) -> None:
        super().__init__(input_dataset)
        self._count = -1 if count is None else _check_count(count, "count")

    def _card(self) -> int:
        n = self._input._card()
        if self._count < 0:
            return 0 if n == 0 else INFINITE if n != UNKNOWN else UNKNOWN
        if self._count == 0:
            return 0
        if n < 0:
            return n
        return n * self._count

    def _plan(self) -> Optional[_Plan]:
        inner = self._input._plan()
        if inner is None:
            return None
        count = self._count
        def chunks() -> Iterator[Any]:
            k = 0
            while count < 0 or k < count:
                got = False
                for c in inner.chunks():
                    if len(c):
                        got = True
                        yield c
                if not got:
                    return
                k += 1
        return inner.with_chunks(chunks)

    def _iter(self) -> Iterator[Any]:
        plan = self._plan()
        if plan is not None:
            yield from _plan_elements(plan)
            return
        k = 0
        while self._count < 0 or k < self._count:
            got = False
            for e in self._input._iter():
                got = True
                yield e
            if not got:
                return
            k += 1


class _TakeDataset(_UnaryDataset):
    def __init__(self, input_dataset: Dataset, count: Any) -> None:
        super().__init__(input_dataset)
        self._count = _check_count(count, "count")

    def _card(self) -> int:
        n = self._input._card()
        if n == UNKNOWN:
            return UNKNOWN
        if n == INFINITE:
            return self._count
        if self._count < 0:
            return n
        return min(n, self._count)

    def _plan(self) -> Optional[_Plan]:
        inner = self._input._plan()
        if inner is None:
            return None
        return inner.with_chunks(lambda: _limit_chunks(inner.chunks(), 0, self._count))

    def _iter(self) -> Iterator[Any]:
        plan = self._plan()
        if plan is not None:
            return _plan_elements(plan)
        if self._count < 0:
            return iter(self._input._iter())
        return itertools.islice(self._input._iter(), self._count)


class _SkipDataset(_UnaryDataset):
    def __init__(self, input_dataset: Dataset, count: Any) -> None:
        super().__init__(input_dataset)
        self._count = _check_count(count, "count")

    def _card(self) -> int:
        n = self._input._card()
        if n < 0:
            return n
        return 0 if self._count < 0 else max(0, n - self._count)

    def _plan(self) -> Optional[_Plan]:
        inner = self._input._plan()
        if inner is None:
            return None
        if self._count < 0:
            return inner.with_chunks(lambda: iter(()))
        return inner.with_chunks(lambda: _limit_chunks(inner.chunks(), self._count, -1))

    def _iter(self) -> Iterator[Any]:
        plan = self._plan()
        if plan is not None:
            return _plan_elements(plan)
        if self._count < 0:
            return iter(())
        return itertools.islice(self._input._iter(), self._count, None)


class _ShardDataset(_UnaryDataset):
    def __init__(self, input_dataset: Dataset, num_shards: Any, index: Any) -> None:
        super().__init__(input_dataset)
        self._n = _check_count(num_shards, "num_shards")
        self._i = _check_count(index, "index")
        if self._n <= 0:
            raise InvalidArgumentError("Number of shards must be greater than zero (currently num_shards = "
                                       f"{self._n}).")
        if not 0 <= self._i < self._n:
            raise InvalidArgumentError(f"Index must be between 0 and {self._n - 1} (currently index = {self._i}).")

    def _card(self) -> int:
        n = self._input._card()
        if n < 0:
            return n
        return n // self._n + (1 if n % self._n > self._i else 0)

    def _plan(self) -> Optional[_Plan]:
        inner = self._input._plan()
        if inner is None:
            return None
        return inner.with_chunks(
            lambda: _chunked(itertools.islice(_plan_indices(inner), self._i, None, self._n)))

    def _iter(self) -> Iterator[Any]:
        plan = self._plan()
        if plan is not None:
            return _plan_elements(plan)
        return itertools.islice(self._input._iter(), self._i, None, self._n)


class _PrefetchDataset(_UnaryDataset):
    def _plan(self) -> Optional[_Plan]:
        return self._input._plan()

    def _iter(self) -> Iterator[Any]:
        return iter(self._input._iter())


class _CacheDataset(_UnaryDataset):
    def __init__(self, input_dataset: Dataset) -> None:
        super().__init__(input_dataset)
        self._cached: Optional[List[Any]] = None

    def _plan(self) -> Optional[_Plan]:
        inner = self._input._plan()
        if inner is None:
            return None
        def chunks() -> Iterator[Any]:
            if self._cached is not None:
                yield from self._cached
                return
            seen: List[Any] = []
            for c in inner.chunks():
                seen.append(c)
                yield c
            self._cached = seen  # only a complete iteration fills the cache
        return inner.with_chunks(chunks)

    def _iter(self) -> Iterator[Any]:
        plan = self._plan()
        if plan is not None:
            yield from _plan_elements(plan)
            return
        if self._cached is not None:
            yield from self._cached
            return
        seen = []
        for e in self._input._iter():
            seen.append(e)
            yield e
        self._cached = seen


class _MapDataset(_UnaryDataset):
    def __init__(self, input_dataset: Dataset, fn: Callable[..., Any], parallel: bool = False) -> None:
        super().__init__(input_dataset)
        if not callable(fn):
            raise TypeError(f"`map_func` must be callable, got {fn!r}")
        self._fn = fn
        if parallel:
            self.__class__ = _ParallelMapDataset

    def _apply(self, element: Any) -> Any:
        return _normalize(_call(self._fn, element))

    def _spec(self) -> Any:
        return _probe_function(lambda e: _spec_of(self._apply(e)), self._input.element_spec,
                               self._input._real_first)

    def _iter(self) -> Iterator[Any]:
        apply = self._apply
        for element in self._input._iter():
            yield apply(element)


class _ParallelMapDataset(_MapDataset):
    pass


def _predicate_result(value: Any) -> bool:
    a = _to_array(value)
    if a.dtype != np.bool_ or a.ndim != 0:
        raise ValueError(f"Invalid `predicate`. `predicate` must return a `tf.bool` scalar tensor, but its return "
                         f"type is {TensorSpec(a.shape, _dtype_of(a))}.")
    return bool(a)


class _FilterDataset(_UnaryDataset):
    def __init__(self, input_dataset: Dataset, predicate: Callable[..., Any]) -> None:
        super().__init__(input_dataset)
        self._pred = predicate

    def _card(self) -> int:
        return UNKNOWN

    def _iter(self) -> Iterator[Any]:
        pred = self._pred
        for element in self._input._iter():
            if _predicate_result(_call(pred, element)):
                yield element


class _TakeWhileDataset(_FilterDataset):
    def _iter(self) -> Iterator[Any]:
        pred = self._pred
        for element in self._input._iter():
            if not _predicate_result(_call(pred, element)):
                return
            yield element


class _EnumerateDataset(_UnaryDataset):
    def __init__(self, input_dataset: Dataset, start: Any) -> None:
        super().__init__(input_dataset)
        self._start = _check_count(start, "start")

    def _spec(self) -> Any:
        return (TensorSpec((), int64), self._input.element_spec)

    def _iter(self) -> Iterator[Any]:
        for i, element in enumerate(self._input._iter(), self._start):
            yield (np.asarray(i, dtype=np.int64), element)


class _ZipDataset(Dataset):
    def __init__(self, datasets: Any) -> None:
        flat = _flatten(datasets)
        for d in flat:
            if not isinstance(d, Dataset):
                raise TypeError(f"Invalid input to `zip`. Inputs are expected to be (nested) structures of "
                                f"`tf.data.Dataset` objects. Python `list` is not supported and you should use "
                                f"`tuple` instead. Got {type(d).__name__}.")
        self._structure = datasets
        self._datasets = flat

    def _spec(self) -> Any:
        return _pack(self._structure, [d.element_spec for d in self._datasets])

    def _card(self) -> int:
        result = INFINITE
        for d in self._datasets:
            n = d._card()
            if n == UNKNOWN:
                return UNKNOWN
            if n != INFINITE and (result == INFINITE or n < result):
                result = n
        return result

    def _iter(self) -> Iterator[Any]:
        for elements in zip(*[d._iter() for d in self._datasets]):
            yield _pack(self._structure, list(elements))


def _most_specific_compatible(a: Any, b: Any) -> Any:
    if not _same_structure(a, b):
        raise TypeError(f"Incompatible dataset elements:\n  {_spec_repr(a)} vs.  {_spec_repr(b)}")
    out = []
    for x, y in zip(_flatten(a), _flatten(b)):
        if x.dtype != y.dtype:
            raise TypeError(f"Incompatible dataset elements:\n  {_spec_repr(a)} vs.  {_spec_repr(b)}")
        if x.shape.rank is None or y.shape.rank is None or len(x.shape) != len(y.shape):
            out.append(TensorSpec(None, x.dtype))
        else:
            out.append(TensorSpec([d if d == e else None for d, e in zip(x.shape, y.shape)], x.dtype))
    return _pack(a, out)


class _ConcatenateDataset(Dataset):
    def __init__(self, first: Dataset, second: Dataset) -> None:
        if not isinstance(second, Dataset):
            raise TypeError(f"concatenate: expected a tf.data.Dataset, got {type(second).__name__}")
        self._first, self._second = first, second
        _most_specific_compatible(first.element_spec, second.element_spec)

    def _spec(self) -> Any:
        return _most_specific_compatible(self._first.element_spec, self._second.element_spec)

    def _card(self) -> int:
        a, b = self._first._card(), self._second._card()
        if a == INFINITE or b == INFINITE:
            return INFINITE
        if a == UNKNOWN or b == UNKNOWN:
            return UNKNOWN
        return a + b

    def _iter(self) -> Iterator[Any]:
        yield from self._first._iter()
        yield from self._second._iter()


class _InterleaveDataset(_UnaryDataset):
    def __init__(self, input_dataset: Dataset, fn: Callable[..., Dataset], cycle_length: int, block_length: int,
                 flat: bool = False) -> None:
        super().__init__(input_dataset)
        if cycle_length <= 0:
            raise InvalidArgumentError("cycle_length must be greater than zero.")
        if block_length <= 0:
            raise InvalidArgumentError("block_length must be greater than zero.")
        self._fn = fn
        self._cycle = cycle_length
        self._block = block_length
        if flat:
            self.__class__ = _FlatMapDataset

    def _card(self) -> int:
        return UNKNOWN

    def _dataset_for(self, element: Any) -> Dataset:
        ds = _call(self._fn, element)
        if not isinstance(ds, Dataset):
            raise TypeError(f"The `map_func` argument must return a `Dataset` object. Got {type(ds).__name__}.")
        return ds

    def _spec(self) -> Any:
        return _probe_function(lambda e: self._dataset_for(e).element_spec, self._input.element_spec,
                               self._input._real_first)

    def _iter(self) -> Iterator[Any]:
        """TF's interleave loop: the open iterators in a cycle, `block_length` elements from each in turn,
        an exhausted one replaced by the dataset of the next input element."""
        cycle, block = self._cycle, self._block
        inputs = iter(self._input._iter())
        current: List[Optional[Iterator[Any]]] = [None] * cycle
        end_of_input = False
        num_open = 0
        index = 0
        block_index = 0
        while not end_of_input or num_open > 0:
            it = current[index]
            if it is not None:
                element = next(it, _END)
                if element is not _END:
                    yield element
                    block_index += 1
                    if block_index == block:
                        index, block_index = (index + 1) % cycle, 0
                    continue
                current[index] = None
                num_open -= 1
                index, block_index = (index + 1) % cycle, 0
            elif not end_of_input:
                element = next(inputs, _END)
                if element is _END:
                    end_of_input = True
                else:
                    current[index] = iter(self._dataset_for(element)._iter())
                    num_open += 1
            else:
                index, block_index = (index + 1) % cycle, 0


class _FlatMapDataset(_InterleaveDataset):
    pass


_END = object()


def _spec_from_types(output_types: Any, output_shapes: Any) -> Any:
    if output_shapes is None:
        return _map(lambda t: TensorSpec(None, t), output_types)
    if not _is_struct(output_types):
        return TensorSpec(output_shapes, output_types)
    flat_t = _flatten(output_types)
    flat_s = _flatten_shapes(output_shapes, output_types)
    return _pack(output_types, [TensorSpec(s, t) for t, s in zip(flat_t, flat_s)])


def _flatten_shapes(shapes: Any, types: Any) -> List[Any]:
    if isinstance(types, Mapping):
        out: List[Any] = []
        for k in _sorted(types):
            out.extend(_flatten_shapes(shapes[k], types[k]))
        return out
    if isinstance(types, tuple):
        out = []
        for s, t in zip(shapes, types):
            out.extend(_flatten_shapes(s, t))
        return out
    return [shapes]


class _GeneratorDataset(Dataset):
    def __init__(self, generator: Callable[..., Any], output_types: Any, output_shapes: Any, args: Any,
                 output_signature: Any) -> None:
        if not callable(generator):
            raise TypeError("`generator` must be a Python callable.")
        if output_signature is not None:
            if output_types is not None:
                raise TypeError("The `output_types` argument can not be used together with the `output_signature` "
                                "argument.")
            if output_shapes is not None:
                raise TypeError("The `output_shapes` argument can not be used together with the "
                                "`output_signature` argument.")
            for s in _flatten(output_signature):
                if not isinstance(s, TensorSpec):
                    raise TypeError(f"`output_signature` must contain objects that are subclass of "
                                    f"`tf.TypeSpec` but found {type(s)} which is not.")
            spec = output_signature
        else:
            if output_types is None:
                raise TypeError("To specify the output signature you need to provide either the "
                                "`output_signature` argument or the `output_types` argument.")
            spec = _spec_from_types(output_types, output_shapes)
        self._generator = generator
        self._args = tuple(_to_numpy(_to_array(a)) for a in (args or ()))
        self._signature = spec

    def _spec(self) -> Any:
        return self._signature

    def _iter(self) -> Iterator[Any]:
        spec = self._signature
        flat_spec = _flatten(spec)
        for value in self._generator(*self._args):
            if isinstance(spec, tuple) and isinstance(value, list):
                value = tuple(value)
            if _is_struct(spec):
                if not _same_structure(spec, value):
                    raise TypeError(f"`generator` yielded an element that did not match the expected structure. "
                                    f"The expected structure was {_spec_repr(spec)}, but the yielded element was "
                                    f"{value!r}.")
                flat = _flatten(value)
            else:
                flat = [value]
            out = []
            for v, s in zip(flat, flat_spec):
                try:
                    a = _to_array(v, s.dtype)
                except (TypeError, ValueError) as e:
                    raise TypeError(f"`generator` yielded an element that could not be converted to the expected "
                                    f"type. The expected type was {s.dtype.name}, but the yielded element was "
                                    f"{v!r}.") from e
                if not _shape_fits(a.shape, s.shape):
                    raise InvalidArgumentError(
                        f"`generator` yielded an element of shape {a.shape} where an element of shape "
                        f"{_shape_str(s.shape)} was expected.")
                out.append(a)
            yield _pack(spec, out) if _is_struct(spec) else out[0]


def _shape_fits(shape: Tuple[int, ...], want: TensorShape) -> bool:
    if want.rank is None:
        return True
    return len(shape) == len(want) and all(w is None or w == d for d, w in zip(shape, want))


def _shape_str(shape: TensorShape) -> str:
    return "<unknown>" if shape.rank is None else str(shape)
