"""``TensorShape``: a tuple of ints with TensorFlow's helper methods."""
from __future__ import annotations

from typing import Any, List, Optional


class TensorShape(tuple):
    """The shape of a tensor: a tuple of ints (compares equal to lists and tuples of the same ints)."""

    _unknown_rank = False

    def __new__(cls, dims: Any = ()) -> "TensorShape":
        if dims is None:  # TF's TensorShape(None): a shape of unknown rank (used as "any shape")
            s = super().__new__(cls, ())
            s._unknown_rank = True
            return s
        if type(dims) is tuple:  # the native .shape getter's path: a tuple of ints, taken as it is
            return super().__new__(cls, dims)
        if isinstance(dims, TensorShape):
            return dims
        if isinstance(dims, int):
            raise TypeError(f"TensorShape: dims must be a list or tuple of ints or None, got the int {dims} "
                            "(did you mean TensorShape([dims])?)")
        return super().__new__(cls, tuple(None if d is None else int(getattr(d, "value", d)) for d in dims))

    def as_list(self) -> List[int]:
        if self._unknown_rank:
            raise ValueError("as_list() is not defined on an unknown TensorShape.")
        return list(self)

    @property
    def rank(self) -> Optional[int]:  # type: ignore[override]
        return None if self._unknown_rank else len(self)

    @property
    def ndims(self) -> Optional[int]:
        return self.rank

    @property
    def dims(self) -> List[int]:
        return list(self)

    def num_elements(self) -> Optional[int]:
        """The number of elements, or None where a dimension (or the rank) is unknown."""
        if not self.is_fully_defined():
            return None
        n = 1
        for d in self:
            n *= d
        return n

    def is_fully_defined(self) -> bool:
        return not self._unknown_rank and all(d is not None for d in self)

    # ---- compatibility (TF's rules: None, and an unknown rank, are compatible with anything) ----
    def is_compatible_with(self, other: Any) -> bool:
        o = as_shape(other)
        if self._unknown_rank or o._unknown_rank:
            return True
        return len(self) == len(o) and all(a is None or b is None or a == b for a, b in zip(self, o))

    def assert_is_compatible_with(self, other: Any) -> None:
        if not self.is_compatible_with(other):
            raise ValueError(f"Shapes {self} and {as_shape(other)} are incompatible")

    def merge_with(self, other: Any) -> "TensorShape":
        """The most specific shape compatible with both (ValueError if they are incompatible)."""
        o = as_shape(other)
        if self._unknown_rank:
            return o
        if o._unknown_rank:
            return self
        if not self.is_compatible_with(o):
            raise ValueError(f"Shapes {self} and {o} are not compatible")
        return TensorShape([a if a is not None else b for a, b in zip(self, o)])

    def most_specific_compatible_shape(self, other: Any) -> "TensorShape":
        o = as_shape(other)
        if self._unknown_rank or o._unknown_rank or len(self) != len(o):
            return TensorShape(None)
        return TensorShape([a if a == b else None for a, b in zip(self, o)])

    def concatenate(self, other: Any) -> "TensorShape":
        o = as_shape(other)
        if self._unknown_rank or o._unknown_rank:
            return TensorShape(None)
        return TensorShape(list(self) + list(o))

    def with_rank(self, rank: int) -> "TensorShape":
        if self._unknown_rank:
            return TensorShape([None] * rank)
        if len(self) != rank:
            raise ValueError(f"Shape {self} must have rank {rank}")
        return self

    def with_rank_at_least(self, rank: int) -> "TensorShape":
        if not self._unknown_rank and len(self) < rank:
            raise ValueError(f"Shape {self} must have rank at least {rank}")
        return self

    def assert_has_rank(self, rank: int) -> None:
        if not self._unknown_rank and len(self) != rank:
            raise ValueError(f"Shape {self} must have rank {rank}")

    def assert_is_fully_defined(self) -> None:
        if not self.is_fully_defined():
            raise ValueError(f"Shape {self} is not fully defined")

    def as_proto(self) -> Any:
        raise NotImplementedError("TensorShape.as_proto: protocol buffers are not part of pyfast_tape")

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, (list, tuple)):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __ne__(self, other: Any) -> bool:
        r = self.__eq__(other)
        return r if r is NotImplemented else not r

    __hash__ = tuple.__hash__

    def __getitem__(self, key):  # type: ignore[override]
        r = tuple.__getitem__(self, key)
        return TensorShape(r) if isinstance(key, slice) else r

    def __repr__(self) -> str:
        return "TensorShape(None)" if self._unknown_rank else f"TensorShape({list(self)})"

    def __str__(self) -> str:
        if self._unknown_rank:
            return "<unknown>"
        if len(self) == 1:
            return f"({self[0]},)"
        return "(" + ", ".join(str(d) for d in self) + ")"


def as_shape(shape: Any) -> TensorShape:
    """tf.TensorShape of a list, tuple, TensorShape or None (unknown rank)."""
    return shape if isinstance(shape, TensorShape) else TensorShape(shape)
