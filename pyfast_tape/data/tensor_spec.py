"""A minimal ``tf.TensorSpec``: the shape (a ``TensorShape``, ``None`` for unknown dimensions), dtype and
name of a tensor, as ``Dataset.element_spec`` reports them."""
from __future__ import annotations

from typing import Any, List, Optional, Tuple

import numpy as np

from .. import _core
from ..dtypes import DType, as_dtype, float32
from ..tensor_shape import TensorShape

class _StringDType:
    """tf.string: the dtype of the text a TextLineDataset or a CSV column yields. The native core has no string
    tensors (so this is no ``DType`` the core would accept); string values travel as NumPy object arrays of
    bytes, what TF's ``.numpy()`` gives for them."""

    name = "string"
    is_floating = is_integer = is_bool = False
    as_numpy_dtype = np.object_

    def __repr__(self) -> str:
        return "tf.string"

    def __str__(self) -> str:
        return "<dtype: 'string'>"

    def __reduce__(self) -> str:
        return "string"


string = _StringDType()


def _dims(shape: Any) -> Optional[Tuple[Optional[int], ...]]:
    if shape is None:
        return None
    if isinstance(shape, TensorShape) and shape.rank is None:
        return None
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    out: List[Optional[int]] = []
    for d in shape:
        if d is None or (isinstance(d, (int, np.integer)) and int(d) < 0):
            out.append(None)
        else:
            out.append(int(d))
    return tuple(out)


def _as_dtype(dtype: Any) -> Any:
    if dtype is string or (isinstance(dtype, str) and dtype == "string") or dtype in (str, bytes):
        return string
    if isinstance(dtype, DType):
        return dtype
    try:
        if np.dtype(dtype).kind in "SUO":
            return string
    except TypeError:
        pass
    return as_dtype(dtype)


class TensorSpec:
    """Describes a tensor: ``TensorSpec(shape, dtype=tf.float32, name=None)``; ``None`` (or -1) in `shape`
    is a dimension of unknown size, ``shape=None`` an unknown rank."""

    __slots__ = ("_shape", "_dtype", "_name")

    def __init__(self, shape: Any, dtype: Any = float32, name: Optional[str] = None) -> None:
        dims = _dims(shape)
        self._shape = TensorShape(dims)
        self._dtype = _as_dtype(dtype)
        self._name = name

    @classmethod
    def from_tensor(cls, tensor: Any, name: Optional[str] = None) -> "TensorSpec":
        if isinstance(tensor, (_core.Tensor, _core.VariableBase)):
            return cls(tuple(tensor.shape), tensor.dtype, name)
        a = np.asarray(tensor)
        return cls(a.shape, a.dtype, name)

    @classmethod
    def from_spec(cls, spec: "TensorSpec", name: Optional[str] = None) -> "TensorSpec":
        return cls(spec.shape, spec.dtype, name if name is not None else spec.name)

    @property
    def shape(self) -> TensorShape:
        return self._shape

    @property
    def dtype(self) -> Any:
        return self._dtype

    @property
    def name(self) -> Optional[str]:
        return self._name

    def is_compatible_with(self, spec_or_tensor: Any) -> bool:
        """True when `spec_or_tensor` (a TensorSpec or a tensor) has this dtype and a shape that fits this
        one (unknown dimensions match anything)."""
        if isinstance(spec_or_tensor, TensorSpec):
            other_shape, other_dtype = spec_or_tensor.shape, spec_or_tensor.dtype
        else:
            t = spec_or_tensor if isinstance(spec_or_tensor, (_core.Tensor, _core.VariableBase)) else \
                _core.convert(spec_or_tensor)
            other_shape, other_dtype = TensorShape(tuple(t.shape)), t.dtype
        if other_dtype != self._dtype:
            return False
        return _shapes_compatible(self._shape, other_shape)

    def __eq__(self, other: Any) -> bool:
        return (type(other) is type(self) and self._dtype == other._dtype and self._name == other._name
                and self._shape.rank == other._shape.rank and tuple(self._shape) == tuple(other._shape))

    def __ne__(self, other: Any) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash((None if self._shape.rank is None else tuple(self._shape), self._dtype, self._name))

    def __repr__(self) -> str:
        shape = "<unknown>" if self._shape.rank is None else str(self._shape)
        name = None if self._name is None else repr(self._name)
        return f"TensorSpec(shape={shape}, dtype={self._dtype!r}, name={name})"


def _shapes_compatible(a: TensorShape, b: TensorShape) -> bool:
    if a.rank is None or b.rank is None:
        return True
    if len(a) != len(b):
        return False
    return all(x is None or y is None or x == y for x, y in zip(a, b))
