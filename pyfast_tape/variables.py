"""``tf.Variable``: mutable state that ops read and tapes watch."""
from __future__ import annotations

import os
import sys
from typing import Any, Optional

from . import _core
from .dtypes import as_dtype
from .module import _scoped_variable_name


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _caller_location() -> Optional[str]:
    """file:line of the innermost frame outside this package (where the user created the object)."""
    f = sys._getframe(1)
    while f is not None and f.f_code.co_filename.startswith(_PACKAGE_DIR):
        f = f.f_back
    return None if f is None else f"{f.f_code.co_filename}:{f.f_lineno}"


class Variable(_core.VariableBase):
    """A mutable tensor. Trainable variables are watched automatically when an op reads them inside a
    ``GradientTape``. ``assign``/``assign_add``/``assign_sub`` write in place (not differentiable); a
    value already recorded on a tape is never changed by a later assignment (copy-on-write)."""

    def __init__(self, initial_value: Any = None, trainable: bool = True, validate_shape: bool = True,
                 caching_device: Any = None, name: Optional[str] = None, variable_def: Any = None,
                 dtype: Any = None, import_scope: Any = None, constraint: Any = None,
                 synchronization: Any = None, aggregation: Any = None, shape: Any = None,
                 experimental_enable_variable_lifting: Any = None) -> None:
        if initial_value is None:
            raise ValueError("Variable: initial_value must be specified")
        if callable(initial_value):
            initial_value = initial_value()
        value = _core.convert(initial_value, None if dtype is None else as_dtype(dtype))
        if shape is not None and getattr(shape, "rank", 0) is not None:  # TensorShape(None): any shape
            want = list(shape)
            got = list(value.shape)
            if len(want) != len(got) or any(w is not None and int(w) != g for w, g in zip(want, got)):
                raise ValueError(f"The initial value's shape ({tuple(got)}) is not compatible with the explicitly "
                                 f"supplied `shape` argument ({tuple(want)}).")
        if trainable is None:
            trainable = True
        super().__init__(value, bool(trainable))
        self._name = _scoped_variable_name(name) if not (name and ":" in name) else name  # 'scope/name:0'
        self._constraint = constraint
        self._created_at = _caller_location()

    @property
    def name(self) -> str:
        return self._name

    def ref(self) -> "_Ref":
        """A hashable reference to this variable (TF's ``Variable.ref()``)."""
        return _Ref(self)

    def get_shape(self):
        return self.shape

    def __repr__(self) -> str:
        return (f"<tf.Variable '{self._name}' shape={self.shape} dtype={self.dtype.name}, "
                f"numpy={_core.numpy_text(self, True)}>")

    def __str__(self) -> str:
        return self.__repr__()



class _Ref:
    __slots__ = ("_obj",)

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def deref(self) -> Any:
        return self._obj

    def __hash__(self) -> int:
        return id(self._obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Ref) and other._obj is self._obj
