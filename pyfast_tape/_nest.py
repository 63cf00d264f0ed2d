"""Minimal ``tf.nest``: flatten and re-pack nested lists, tuples, namedtuples and dicts (sorted keys)."""
from __future__ import annotations

from typing import Any, Iterator, List


def _is_seq(x: Any) -> bool:
    return isinstance(x, (list, tuple, dict))


def _children(x: Any) -> List[Any]:
    if isinstance(x, dict):
        return [x[k] for k in sorted(x)]
    return list(x)


def flatten(structure: Any) -> List[Any]:
    if not _is_seq(structure):
        return [structure]
    out: List[Any] = []
    for c in _children(structure):
        out.extend(flatten(c))
    return out


def pack_sequence_as(structure: Any, flat: List[Any]) -> Any:
    it = iter(flat)
    return _pack(structure, it)


def _pack(structure: Any, it: Iterator[Any]) -> Any:
    if not _is_seq(structure):
        return next(it)
    if isinstance(structure, dict):
        packed = {k: _pack(structure[k], it) for k in sorted(structure)}
        return type(structure)((k, packed[k]) for k in structure) if type(structure) is not dict else {
            k: packed[k] for k in structure}
    items = [_pack(c, it) for c in structure]
    if isinstance(structure, tuple) and hasattr(structure, "_fields"):
        return type(structure)(*items)
    return type(structure)(items)


def map_structure(fn, structure: Any) -> Any:
    return pack_sequence_as(structure, [fn(x) for x in flatten(structure)])
