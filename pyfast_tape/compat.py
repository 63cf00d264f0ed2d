"""Serve ``tensorflow``, ``keras`` and ``tf_keras`` imports from pyfast_tape, one copy of each module.

``pyfast_tape.compat.enable()`` installs an import hook (a meta-path finder): ``import tensorflow as tf``
gives the ``pyfast_tape`` module itself, ``from tensorflow.keras.layers import Dense`` gives
``pyfast_tape.keras.layers.Dense``, ``import keras`` gives ``pyfast_tape.keras``. Each alias is the very
module object pyfast_tape imported (a plain ``sys.modules`` alias of a package whose submodules are not yet
imported would load second copies of them, with their own classes, and break ``isinstance`` and dtype
checks). ``python -m pyfast_tape prog.py [args]`` runs a program with the hook installed.

A name pyfast_tape does not provide raises ``ModuleNotFoundError`` naming the pyfast_tape module that was
looked for, so a program stops at its first unsupported import with a message that says so.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from typing import Optional, Sequence

# The top-level names served, and the pyfast_tape module each stands for.
ALIASES = {
    "tensorflow": "pyfast_tape",
    "keras": "pyfast_tape.keras",
    "tf_keras": "pyfast_tape.keras",
}


def _resolve(real: str, alias: str) -> types.ModuleType:
    """The pyfast_tape module `real` (a dotted name): imported, or found as a module attribute of its parent
    (``tensorflow.keras.optimizers.schedules`` may be a namespace object rather than a file)."""
    try:
        return importlib.import_module(real)
    except ModuleNotFoundError as e:
        if e.name is not None and e.name != real and not real.startswith(e.name + "."):
            raise  # a missing dependency inside a module that does exist
    parent, _, attr = real.rpartition(".")
    if parent:
        try:
            obj = getattr(_resolve(parent, alias.rpartition(".")[0]), attr)
        except (ModuleNotFoundError, AttributeError):
            obj = None
        if isinstance(obj, types.ModuleType):
            return obj
    raise ModuleNotFoundError(f"No module named '{alias}': pyfast_tape serves {alias.split('.')[0]} imports and "
                              f"has no '{real}'", name=alias)


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, real: str) -> None:
        self.real = real
        self._saved_spec: Optional[importlib.machinery.ModuleSpec] = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = _resolve(self.real, spec.name)
        self._saved_spec = getattr(module, "__spec__", None)
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        # The import system stamped the alias's spec on the module: give it its own back (reloads, pickling
        # and relative imports inside pyfast_tape go by the real name).
        if self._saved_spec is not None:
            module.__spec__ = self._saved_spec


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Optional[Sequence[str]] = None,
                  target: Optional[types.ModuleType] = None) -> Optional[importlib.machinery.ModuleSpec]:
        head, _, rest = fullname.partition(".")
        base = ALIASES.get(head)
        if base is None:
            return None
        real = base + ("." + rest if rest else "")
        # Already imported under its own name: the spec only points at it (no second copy).
        return importlib.util.spec_from_loader(fullname, _AliasLoader(real), is_package=True)


_FINDER = _AliasFinder()


def enable() -> None:
    """Install the hook (idempotent). Modules already imported under an alias name stay as they are."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def disable() -> None:
    """Remove the hook and the aliases it created."""
    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
    for name in [n for n in sys.modules if n.partition(".")[0] in ALIASES]:
        mod = sys.modules[name]
        if getattr(mod, "__name__", "").startswith("pyfast_tape"):
            del sys.modules[name]


def is_enabled() -> bool:
    return _FINDER in sys.meta_path
