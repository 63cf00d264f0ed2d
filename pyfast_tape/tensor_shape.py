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
        return super().__new__(cls, tuple(dims))

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

    def num_elements(self) -> int:
        n = 1
        for d in self:
            n *= d
        return n

    def is_fully_defined(self) -> bool:
        return not self._unknown_rank

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
        if len(self) == 1:
            return f"({self[0]},)"
        return "(" + ", ".join(str(d) for d in self) + ")"
