"""TensorFlow-style dtype objects: ``tf.float32`` and friends."""
from __future__ import annotations

import builtins

import numpy as np


class DType:
    """A tensor element type (TensorFlow's ``tf.dtypes.DType``)."""

    __slots__ = ("_code", "name", "_np")

    def __init__(self, code: int, name: str, np_dtype: type) -> None:
        self._code = code
        self.name = name
        self._np = np.dtype(np_dtype)

    @property
    def as_numpy_dtype(self) -> type:
        return self._np.type

    @property
    def is_floating(self) -> bool:
        return self._code in (0, 1)

    @property
    def is_integer(self) -> bool:
        return self._code in (2, 3)

    @property
    def is_bool(self) -> bool:
        return self._code == 4

    @property
    def size(self) -> int:
        return self._np.itemsize

    @property
    def base_dtype(self) -> "DType":
        return self

    @property
    def real_dtype(self) -> "DType":
        return self

    @property
    def is_complex(self) -> bool:
        return False

    @property
    def is_quantized(self) -> bool:
        return False

    @property
    def is_unsigned(self) -> bool:
        return False

    @property
    def is_numpy_compatible(self) -> bool:
        return True

    @property
    def min(self) -> "builtins.float | builtins.int | builtins.bool":
        """The lowest value of the type (TF: the most negative finite float; False for bool)."""
        if self._code == 4:
            return False
        if self.is_floating:
            return builtins.float(np.finfo(self._np).min)
        return builtins.int(np.iinfo(self._np).min)

    @property
    def max(self) -> "builtins.float | builtins.int | builtins.bool":
        """The highest value of the type (the largest finite float; True for bool)."""
        if self._code == 4:
            return True
        if self.is_floating:
            return builtins.float(np.finfo(self._np).max)
        return builtins.int(np.iinfo(self._np).max)

    @property
    def limits(self) -> tuple:
        return (self.min, self.max)

    def is_compatible_with(self, other: object) -> bool:
        try:
            return as_dtype(other) == self
        except TypeError:
            return False

    def __repr__(self) -> str:
        return f"tf.{self.name}"

    def __str__(self) -> str:  # TF: str(tf.float32) == "<dtype: 'float32'>", repr is "tf.float32"
        return f"<dtype: '{self.name}'>"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DType):
            return self._code == other._code
        try:
            return self._code == as_dtype(other)._code
        except (TypeError, ValueError):
            return False

    def __hash__(self) -> int:
        return hash(self._code)

    def __reduce__(self):  # pickles as the module-level singleton
        return (as_dtype, (self.name,))


float32 = DType(0, "float32", np.float32)
float64 = DType(1, "float64", np.float64)
int32 = DType(2, "int32", np.int32)
int64 = DType(3, "int64", np.int64)
bool = DType(4, "bool", np.bool_)  # noqa: A001  (TF's name)
double = float64

_ALL = (float32, float64, int32, int64, bool)
_BY_NAME = {d.name: d for d in _ALL}
_BY_NAME.update({"float": float32, "double": float64, "bool_": bool})
_PY = {float: float32, int: int32}


def as_dtype(value: object) -> DType:
    """Converts a DType, a NumPy dtype, a Python type or a name to a DType."""
    if isinstance(value, DType):
        return value
    if value is None:
        raise TypeError("Cannot convert None to a pyfast_tape DType (pass tf.float32, tf.int32, ...)")
    if value is builtins.bool:
        return bool
    if isinstance(value, str) and value in _BY_NAME:
        return _BY_NAME[value]
    if value in _PY:
        return _PY[value]  # type: ignore[index]
    try:
        npd = np.dtype(value)  # type: ignore[call-overload]
    except TypeError:
        raise TypeError(f"Cannot convert {value!r} to a pyfast_tape DType") from None
    for d in _ALL:
        if d._np == npd:
            return d
    raise TypeError(f"Unsupported dtype {value!r}: pyfast_tape supports float32, float64, int32, int64 and bool")


def _code(value: object) -> int:
    return as_dtype(value)._code
