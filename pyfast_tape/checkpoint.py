"""Object-based checkpoints: ``tf.train.Checkpoint``, its load-status objects, the ``checkpoint`` state file
that ``tf.train.latest_checkpoint`` reads, ``tf.train.load_checkpoint`` and Keras's ``save_weights`` /
``load_weights``, with TensorFlow 2's semantics (tensorflow/python/checkpoint/checkpoint.py).

**The object graph.** As in TF, what is saved is the graph of objects reachable from the root: a
``tf.train.Checkpoint``'s keyword arguments (in sorted order) and its ``save_counter``; the attributes of a
``tf.Module`` / Keras layer or model / Keras optimizer / any other Python object holding trackable values
(in the order they were set); the items of lists, tuples and dicts (named by index / key). Each variable
is saved once, under the first path breadth-first search finds to it, as TF names it:
``model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE`` (a Sequential's layers are its ``_layers`` list:
``model/_layers/0/kernel/...``; an optimizer's slots its ``_momentums``/``_velocities`` lists in build
order, its step count ``iterations``). Every edge of the graph is recorded, so a restore matches objects
by walking the saved graph and the live one side by side from the root, exactly as TF does: shared objects
(``Checkpoint(model=m, optimizer=o)`` with ``m.optimizer is o``) restore through any of their paths.
Values are restored bit for bit (dtype and shape must match the variable's).

**Deferred restoration.** When ``restore()`` reaches an object that does not have the saved child yet (a
Keras layer or model not built, an optimizer whose slots are made by its first ``apply_gradients``), the
value waits and is assigned as soon as the variable is created: the Keras build paths (``Layer.add_weight``,
the first ``Layer.__call__``, ``Optimizer.build``) call :func:`_restore_deferred`. Other code that creates
variables later gets them restored at the next such call or at the next ``assert_*`` of the status.

**File format — NOT TensorFlow's.** A checkpoint with prefix ``P`` is the two files TF names
``P.index`` and ``P.data-00000-of-00001``, but their contents are pyfast_tape's own: ``P.index`` is JSON
(``{"format": "pyfast_tape.checkpoint", "object_graph": [...], "tensors": {...}}``) and the data file an
uncompressed NumPy ``.npz`` archive. TensorFlow cannot read these files and pyfast_tape cannot read
TensorFlow's (whose ``.index`` is a binary SSTable): restoring one raises ``NotImplementedError`` saying so.
The ``checkpoint`` state file *is* TF's text format (``model_checkpoint_path: "ckpt-2"``).
"""
from __future__ import annotations

import collections
import copy
import functools
import glob
import json
import logging
import os
import re
import tempfile
import threading
import types
import weakref
from collections.abc import Mapping
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Optional, Sequence, Set, Tuple

import numpy as np

from . import _core
from . import errors as _errors
from .dtypes import as_dtype, int64
from .module import Module
from .variables import Variable

__all__ = [
    "Checkpoint", "CheckpointOptions", "CheckpointLoadStatus", "InitializationOnlyStatus", "CheckpointReader",
    "CheckpointState", "NotFoundError", "latest_checkpoint", "get_checkpoint_state", "list_variables",
    "load_checkpoint", "load_variable", "save_weights", "load_weights",
]

_FORMAT = "pyfast_tape.checkpoint"
_VERSION = 1
_FORMAT_NOTE = ("pyfast_tape checkpoint: a JSON index and an .npz data file. This is NOT TensorFlow's checkpoint "
                "format; TensorFlow cannot read it.")
_INDEX_SUFFIX = ".index"
_DATA_SUFFIX = ".data-00000-of-00001"
_VALUE_SUFFIX = ".ATTRIBUTES/VARIABLE_VALUE"
_OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
# The last 8 bytes of every LevelDB/TensorFlow table (a TF checkpoint's .index): kTableMagicNumber,
# 0xdb4775248b80fb57, little-endian.
_TF_TABLE_MAGIC = bytes.fromhex("57fb808b247547db")
# The files tf.saved_model.save writes (ours) and TensorFlow's SavedModel protobuf.
SAVED_MODEL_MANIFEST = "pyfast_tape_saved_model.json"
_TF_SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")

_logger = logging.getLogger("pyfast_tape")


if hasattr(_errors, "NotFoundError"):  # pragma: no cover  (tf.errors may define it one day)
    NotFoundError = getattr(_errors, "NotFoundError")
else:
    class NotFoundError(Exception):  # type: ignore[no-redef]
        """``tf.errors.NotFoundError``: a file, checkpoint or key that does not exist. Takes TF's
        ``(node_def, op, message)`` or just a message."""

        def __init__(self, *args: Any) -> None:
            message = args[2] if len(args) == 3 else (args[0] if args else "")
            super().__init__(message)
            self.message = message


# ---- what is trackable -----------------------------------------------------------------------------------
# Objects of these packages are never walked for variables (they hold none, and can be large).
_FOREIGN_PACKAGES = frozenset({
    "builtins", "numpy", "threading", "logging", "io", "_io", "socket", "ssl", "subprocess", "multiprocessing",
    "concurrent", "asyncio", "queue", "weakref", "zipfile", "tempfile", "pathlib", "re", "enum", "typing",
    "inspect", "ast", "types", "random", "datetime", "decimal", "fractions", "argparse", "pandas", "scipy",
    "matplotlib", "h5py", "torch", "jax", "jaxlib", "tensorflow", "keras", "sklearn", "pytest", "_pytest",
})
_ATOMIC = (str, bytes, bytearray, int, float, complex, type(None), np.ndarray, np.generic, _core.Tensor,
           types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.ModuleType, type,
           functools.partial, property, range, slice, set, frozenset)
# Attributes of a Keras optimizer that are not its state: the model's variables it updates (Keras 3 does
# not track them either) and their positions.
_OPTIMIZER_SKIP = frozenset({"_trainable_variables", "_index"})


@functools.lru_cache(maxsize=None)
def _keras_optimizer_class() -> Optional[type]:
    try:
        from .keras.optimizers import Optimizer
    except ImportError:  # pragma: no cover
        return None
    return Optimizer


def _kind(value: Any) -> Optional[str]:
    """The node kind of `value` in the object graph, or None when it is not trackable."""
    if isinstance(value, _core.VariableBase):
        return "variable"
    if isinstance(value, Checkpoint):
        return "checkpoint"
    if isinstance(value, Module):
        return "module"
    if isinstance(value, _ATOMIC):
        return None
    if isinstance(value, list):
        return "list"
    if isinstance(value, tuple):
        return "tuple"
    if isinstance(value, Mapping):
        return "dict"
    if not hasattr(value, "__dict__"):
        return None
    package = (getattr(type(value), "__module__", "") or "").split(".", 1)[0]
    if package in _FOREIGN_PACKAGES:
        return None
    return "object"


def _assert_trackable(value: Any, name: str) -> None:
    if _kind(value) is None:
        raise ValueError(f"`Checkpoint` was expecting {name} to be a trackable object (a tf.Variable, tf.Module, "
                         f"Keras layer, model or optimizer, tf.train.Checkpoint, a list/tuple/dict of them, or an "
                         f"object whose attributes hold them), got {value!r}.")


def _skipped_attributes(obj: Any) -> FrozenSet[str]:
    skip: FrozenSet[str] = frozenset(getattr(type(obj), "_TF_MODULE_IGNORED_PROPERTIES", ()))
    opt = _keras_optimizer_class()
    if opt is not None and isinstance(obj, opt):
        skip = skip | _OPTIMIZER_SKIP
    return skip


def _children(obj: Any, kind: Optional[str] = None) -> List[Tuple[str, Any]]:
    """The named trackable children of `obj` (TF's ``_trackable_children``), in order."""
    if kind is None:
        kind = _kind(obj)
    if kind == "checkpoint":
        children: List[Tuple[str, Any]] = obj._checkpoint_children()
        return children
    if kind in ("list", "tuple"):
        return [(str(i), v) for i, v in enumerate(list(obj)) if _kind(v) is not None]
    if kind == "dict":
        out: List[Tuple[str, Any]] = []
        names = set()
        for k, v in list(obj.items()):
            if _kind(v) is None:
                continue
            name = k if isinstance(k, str) else str(k)
            if name in names:
                raise ValueError(f"Unable to checkpoint the dictionary {obj!r}: two of its keys map to the name "
                                 f"{name!r}.")
            names.add(name)
            out.append((name, v))
        return out
    if kind in ("module", "object"):
        try:
            attrs = dict(vars(obj))
        except TypeError:
            return []
        skip = _skipped_attributes(obj)
        return [(k, v) for k, v in attrs.items() if k not in skip and _kind(v) is not None]
    return []


def _escape(name: str) -> str:
    """TF's ``escape_local_name``: ``.`` and ``/`` in names cannot be confused with the separators."""
    return name.replace(".", "..").replace("/", ".S")


def _reachable(root: Any, optimizer_lists: bool = False) -> List[Tuple[Any, str]]:
    """Every object reachable from `root` with its kind, breadth first, once each (variables are leaves).
    With `optimizer_lists`, a Keras optimizer's own slot lists (_OPTIMIZER_SKIP) are followed too."""
    seen = {id(root)}
    queue = collections.deque([root])
    out = []
    opt = _keras_optimizer_class() if optimizer_lists else None
    while queue:
        obj = queue.popleft()
        kind = _kind(obj)
        out.append((obj, kind))
        if kind == "variable":
            continue
        children: List[Tuple[str, Any]] = list(_children(obj, kind))
        if opt is not None and isinstance(obj, opt):
            children += [(k, v) for k, v in vars(obj).items() if k in _OPTIMIZER_SKIP and _kind(v)]
        for _, child in children:
            if id(child) not in seen:
                seen.add(id(child))
                queue.append(child)
    return out


def _live_variables(root: Any) -> List[Any]:
    """Every variable reachable from `root`, breadth first, once each."""
    return [obj for obj, kind in _reachable(root) if kind == "variable"]


# ---- saving ----------------------------------------------------------------------------------------------
def _serialize_graph(root: Any) -> Tuple[List[Dict[str, Any]], List[Tuple[str, Any, int]]]:
    """The object graph from `root`: its nodes (kind, class, children as ``[name, node_id]``, and for a
    variable the key of its value) and the variables as ``(key, variable, node_id)``.

    Nodes are numbered breadth first; nodes with no variable under them in the search tree are dropped (a
    metric, a loss, a callback's back-reference to its model); every edge between kept nodes is kept."""
    objs = [root]
    kinds = [_kind(root)]
    ids = {id(root): 0}
    parent = [-1]
    pname = [""]
    edges: List[List[Tuple[str, int]]] = [[]]
    i = 0
    while i < len(objs):
        obj, kind = objs[i], kinds[i]
        if kind != "variable":
            for name, child in _children(obj, kind):
                cid = ids.get(id(child))
                if cid is None:
                    cid = len(objs)
                    ids[id(child)] = cid
                    objs.append(child)
                    kinds.append(_kind(child))
                    parent.append(i)
                    pname.append(name)
                    edges.append([])
                edges[i].append((name, cid))
        i += 1
    # Keep the variables, and every node with an edge to a kept node that is not one of its own ancestors in
    # the search tree (a holder of a shared variable stays; a callback whose only way to variables is back
    # through its model does not).
    keep = [kind == "variable" for kind in kinds]
    keep[0] = True
    ancestors: Dict[int, FrozenSet[int]] = {0: frozenset()}

    def ancestors_of(n: int) -> FrozenSet[int]:
        got = ancestors.get(n)
        if got is None:
            got = ancestors_of(parent[n]) | {parent[n]}
            ancestors[n] = got
        return got

    changed = True
    while changed:
        changed = False
        for n in range(len(objs) - 1, 0, -1):
            if keep[n]:
                continue
            anc = ancestors_of(n)
            if any(keep[c] and c != n and c not in anc for _, c in edges[n]):
                keep[n] = True
                changed = True
    new_id: Dict[int, int] = {}
    for n in range(len(objs)):
        if keep[n]:
            new_id[n] = len(new_id)
    paths: Dict[int, List[str]] = {0: []}
    nodes: List[Dict[str, Any]] = []
    variables: List[Tuple[str, Any, int]] = []
    for n in range(len(objs)):
        if not keep[n]:
            continue
        if n:
            paths[n] = paths[parent[n]] + [pname[n]]
        obj, kind = objs[n], kinds[n]
        node: Dict[str, Any] = {"kind": kind}
        if kind in ("module", "object", "checkpoint"):
            node["class"] = f"{type(obj).__module__}.{type(obj).__qualname__}"
        node["children"] = [[name, new_id[c]] for name, c in edges[n] if keep[c]]
        if kind == "variable":
            key = "/".join(_escape(p) for p in paths[n])
            key = (key + "/" if key else "") + _VALUE_SUFFIX
            node["tensor"] = key
            variables.append((key, obj, new_id[n]))
        nodes.append(node)
    return nodes, variables


def _atomic_write(path: str, write: Callable[[Any], None]) -> None:
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _write_checkpoint(root: Any, file_prefix: str) -> str:
    """Writes the object graph of `root` and every variable's value under `file_prefix`; returns it."""
    nodes, variables = _serialize_graph(root)
    arrays: Dict[str, np.ndarray] = {}
    tensors: Dict[str, Dict[str, Any]] = {}
    for i, (key, var, node_id) in enumerate(variables):
        value = np.array(var.numpy(), order="C")  # a C-ordered copy, 0-d kept 0-d
        entry = f"t{i}"
        arrays[entry] = value
        tensors[key] = {"entry": entry, "dtype": value.dtype.name, "shape": list(value.shape),
                        "name": str(getattr(var, "name", "")), "trainable": bool(getattr(var, "trainable", False)),
                        "node": node_id}
    directory = os.path.dirname(file_prefix)
    if directory:
        os.makedirs(directory, exist_ok=True)
    # the data first: the index is what identifies a checkpoint (as in TF)
    _atomic_write(file_prefix + _DATA_SUFFIX, lambda f: np.savez(f, **arrays))  # type: ignore[arg-type]
    index = {"format": _FORMAT, "version": _VERSION, "note": _FORMAT_NOTE, "data_file": os.path.basename(
        file_prefix) + _DATA_SUFFIX, "tensors": tensors, "object_graph": nodes}
    payload = json.dumps(index, indent=1, sort_keys=False).encode("utf-8")
    _atomic_write(file_prefix + _INDEX_SUFFIX, lambda f: f.write(payload))
    return file_prefix


# ---- reading ---------------------------------------------------------------------------------------------
def _not_ours_error(prefix: str, raw: bytes) -> Exception:
    if raw.endswith(_TF_TABLE_MAGIC):
        return NotImplementedError(
            f"{prefix}{_INDEX_SUFFIX} is a TensorFlow checkpoint (its .index file is TensorFlow's binary SSTable "
            "table). pyfast_tape reads and writes only its own checkpoint format (a JSON .index and an .npz "
            ".data-00000-of-00001 file, named as TensorFlow names them), not TensorFlow's. To move weights over, "
            "read them in TensorFlow (tf.train.load_checkpoint(path).get_tensor(key)), save them with numpy, and "
            "assign them to the pyfast_tape variables.")
    return ValueError(f"{prefix}{_INDEX_SUFFIX} is not a pyfast_tape checkpoint index (pyfast_tape checkpoints "
                      "have a JSON .index file), nor a TensorFlow one.")


class _CheckpointFile:
    """One checkpoint on disk: the parsed index and (lazily) its arrays."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        index_path = prefix + _INDEX_SUFFIX
        if not os.path.isfile(index_path):
            hint = ""
            if os.path.isdir(prefix):
                hint = (" (that is a directory: pass a checkpoint prefix such as 'dir/ckpt-1', or "
                        "tf.train.latest_checkpoint(dir))")
            raise NotFoundError(None, None, f"Failed to find any matching files for {prefix}{hint}")
        with open(index_path, "rb") as f:
            raw = f.read()
        index = None
        try:
            index = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            pass
        if not isinstance(index, dict) or index.get("format") != _FORMAT:
            raise _not_ours_error(prefix, raw)
        if int(index.get("version", 0)) > _VERSION:
            raise ValueError(f"{index_path} was written by a newer pyfast_tape (checkpoint format version "
                             f"{index.get('version')}; this one reads up to {_VERSION})")
        self.tensors: Dict[str, Dict[str, Any]] = index["tensors"]
        self.nodes: List[Dict[str, Any]] = index["object_graph"]
        self.index = index
        self._npz: Any = None

    def _data(self) -> Any:
        if self._npz is None:
            path = self.prefix + _DATA_SUFFIX
            if not os.path.isfile(path):
                raise NotFoundError(None, None, f"Failed to find the data file {path} of checkpoint {self.prefix}")
            self._npz = np.load(path, allow_pickle=False)
        return self._npz

    def tensor(self, key: str) -> np.ndarray:
        meta = self.tensors.get(key)
        if meta is None:
            raise NotFoundError(None, None, f"Key {key} not found in checkpoint")
        return np.asarray(self._data()[meta["entry"]])

    def all_tensors(self) -> Dict[str, np.ndarray]:
        out = {key: self.tensor(key) for key in self.tensors}
        self.close()
        return out

    def close(self) -> None:
        if self._npz is not None:
            self._npz.close()
            self._npz = None


def _node_names(nodes: List[Dict[str, Any]]) -> Dict[int, str]:
    """TF's pretty names of the saved nodes: ``(root).model.dense.kernel``, by breadth-first paths."""
    names = {0: "(root)"}
    queue = collections.deque([0])
    while queue:
        n = queue.popleft()
        for name, c in nodes[n].get("children", ()):
            if c not in names:
                names[c] = f"{names[n]}.{name}"
                queue.append(c)
    return names


# ---- restoring -------------------------------------------------------------------------------------------
_LOCK = threading.RLock()
# Restorations some of whose values wait for objects that do not exist yet (deferred restoration). The Keras
# build paths test this list and call _restore_deferred() after they create variables.
_PENDING: List["_Restoration"] = []


def _restore_deferred() -> None:
    """Applies the checkpoint values waiting for variables that now exist (called after variables are made)."""
    if not _PENDING:
        return
    with _LOCK:
        for r in list(_PENDING):
            r._retry()


class _Pending:
    """A matched object some of whose saved children it does not have (yet). Lists and dicts cannot be
    weakly referenced: they are held with a weak reference to their owner, and dropped with it."""

    __slots__ = ("nid", "_ref", "_obj", "_owner")

    def __init__(self, nid: int, obj: Any, owner: Optional["weakref.ref[Any]"]) -> None:
        self.nid = nid
        try:
            self._ref: Optional["weakref.ref[Any]"] = weakref.ref(obj)
            self._obj = None
            self._owner = None
        except TypeError:
            self._ref = None
            self._obj = obj
            self._owner = owner

    def get(self) -> Any:
        if self._ref is not None:
            return self._ref()
        if self._owner is not None and self._owner() is None:
            return None
        return self._obj


def _weak(obj: Any, fallback: Optional["weakref.ref[Any]"]) -> Optional["weakref.ref[Any]"]:
    try:
        return weakref.ref(obj)
    except TypeError:
        return fallback


class _Restoration:
    """One restore: the saved graph, its values and which saved nodes the live objects matched (TF's
    ``_CheckpointRestoreCoordinator``)."""

    def __init__(self, ckpt: _CheckpointFile, save_path: str) -> None:
        self.save_path = save_path
        self.nodes = ckpt.nodes
        self.tensor_meta = ckpt.tensors
        self.values = ckpt.all_tensors()
        self.matched: Dict[int, Any] = {}
        self.pending: List[_Pending] = []
        self.expect_partial = False

    # matching: the saved graph and the live objects side by side, breadth first
    def match(self, nid: int, obj: Any, owner: Optional["weakref.ref[Any]"]) -> None:
        queue = collections.deque([(nid, obj, owner)])
        while queue:
            nid, obj, owner = queue.popleft()
            if nid in self.matched:
                continue
            node = self.nodes[nid]
            key = node.get("tensor")
            if key is not None:
                if isinstance(obj, _core.VariableBase):
                    self._assign(obj, key)
                    self.matched[nid] = obj
                continue
            kind = _kind(obj)
            if kind is None or kind == "variable":
                continue
            self.matched[nid] = obj
            child_owner = _weak(obj, owner)
            self._match_children(nid, obj, kind, child_owner, queue)

    def _match_children(self, nid: int, obj: Any, kind: Optional[str], owner: Optional["weakref.ref[Any]"],
                        queue: Any) -> None:
        saved = self.nodes[nid].get("children", ())
        if not saved:
            return
        live = dict(_children(obj, kind))
        missing = False
        for name, cid in saved:
            if cid in self.matched:
                continue
            child = live.get(name)
            if child is None:
                missing = True
                continue
            queue.append((cid, child, owner))
        if missing:
            self.pending.append(_Pending(nid, obj, owner))

    def _assign(self, var: Any, key: str) -> None:
        value = self.values.get(key)
        if value is None:  # pragma: no cover  (each key belongs to one node, matched once)
            return
        want_shape = tuple(int(d) for d in var.shape)
        if tuple(value.shape) != want_shape:
            raise ValueError(f"Received incompatible tensor with shape {tuple(value.shape)} when attempting to "
                             f"restore variable with shape {want_shape} and name {key}.")
        want_dtype = np.dtype(var.dtype.as_numpy_dtype)
        if value.dtype != want_dtype:
            raise ValueError(f"Received a tensor of dtype {value.dtype.name} when attempting to restore variable "
                             f"{key} of dtype {want_dtype.name} (a checkpoint restores values bit for bit; cast "
                             "the variable or the saved value explicitly).")
        var.assign(value)
        del self.values[key]

    def register(self) -> None:
        with _LOCK:
            if self.pending and self not in _PENDING:
                _PENDING.append(self)
            _prune()

    def _retry(self) -> None:
        with _LOCK:
            pending, self.pending = self.pending, []
            queue: Any = collections.deque()
            for p in pending:
                obj = p.get()
                if obj is None:
                    continue
                self._match_children(p.nid, obj, _kind(obj), _weak(obj, p._owner), queue)
                while queue:
                    self.match(*queue.popleft())
            if not self.pending and self in _PENDING:
                _PENDING.remove(self)

    # the status checks
    def unresolved(self) -> List[int]:
        return [n for n, node in enumerate(self.nodes) if node.get("tensor") is not None and n not in self.matched]

    def __del__(self) -> None:
        try:
            if self.expect_partial:
                return
            unresolved = self.unresolved()
            if not unresolved:
                return
            names = _node_names(self.nodes)
            _logger.warning("Detecting that an object or model or tf.train.Checkpoint is being deleted with "
                            "unrestored values. See the following logs for the specific values in question. To "
                            "silence these warnings, use `status.expect_partial()`.")
            for n in unresolved:
                _logger.warning("Value in checkpoint could not be found in the restored object: %s",
                                names.get(n, f"node {n}"))
        except Exception:  # pragma: no cover  (interpreter shutdown)
            pass


def _prune() -> None:
    """Drops the deferred restorations whose objects are all gone."""
    for r in list(_PENDING):
        r.pending = [p for p in r.pending if p.get() is not None]
        if not r.pending:
            _PENDING.remove(r)


def _restore(root: Any, save_path: str) -> "CheckpointLoadStatus":
    ckpt = _CheckpointFile(save_path)
    restoration = _Restoration(ckpt, save_path)
    with _LOCK:
        try:
            restoration.match(0, root, None)
        except BaseException:
            restoration.expect_partial = True  # the error says it: no warnings about unrestored values
            raise
        restoration.register()
    return CheckpointLoadStatus(restoration, root)


class CheckpointLoadStatus:
    """What ``Checkpoint.restore`` returns: assertions on how the checkpoint matched the Python objects.
    Values still waiting for their variables (deferred restoration) count as unmatched until those
    variables exist; each assertion first applies any that can be applied now."""

    def __init__(self, restoration: _Restoration, root: Any) -> None:
        self._restoration = restoration
        self._root = root  # the status keeps the root alive, as TF's does

    def _refresh(self) -> None:
        if self._restoration.pending:
            self._restoration._retry()

    def assert_consumed(self) -> "CheckpointLoadStatus":
        """Raises ``AssertionError`` unless every value in the checkpoint was restored into a Python object
        and every variable reachable from the root got a value."""
        self.assert_existing_objects_matched()
        r = self._restoration
        unresolved = r.unresolved()
        if unresolved:
            names = _node_names(r.nodes)
            n = unresolved[0]
            raise AssertionError(f"Unresolved object in checkpoint {names.get(n, n)}: the value "
                                 f"{r.nodes[n]['tensor']!r} was not restored into any Python variable "
                                 f"({len(unresolved)} unresolved in all: "
                                 f"{[names.get(u, u) for u in unresolved[:10]]}).")
        return self

    def assert_existing_objects_matched(self) -> "CheckpointLoadStatus":
        """Raises ``AssertionError`` if a variable reachable from the root has no value in the checkpoint.
        Values in the checkpoint without a Python object (a layer not built yet) are allowed."""
        self._refresh()
        matched = {id(o) for o in self._restoration.matched.values()}
        unused = [v for v in _live_variables(self._root) if id(v) not in matched]
        if unused:
            shown = min(10, len(unused))
            raise AssertionError(f"Found {len(unused)} Python objects that were not bound to checkpointed values, "
                                 f"likely due to changes in the Python program. Showing {shown} of {len(unused)} "
                                 f"unmatched objects: {unused[:shown]}")
        return self

    def assert_nontrivial_match(self) -> "CheckpointLoadStatus":
        """Raises ``AssertionError`` if nothing but the root object matched."""
        self._refresh()
        if len(self._restoration.matched) <= 1:
            unused = _live_variables(self._root)
            if unused:
                raise AssertionError("Nothing except the root object matched a checkpointed value. Typically this "
                                     "means that the checkpoint does not match the Python program. The following "
                                     f"objects have no matching checkpointed value: {unused}")
            raise AssertionError(f"Nothing to load. No dependencies have been added to {self._root!r} yet.")
        return self

    def expect_partial(self) -> "CheckpointLoadStatus":
        """Silences the warnings about values left unrestored when the restore is garbage collected."""
        self._restoration.expect_partial = True
        return self

    def run_restore_ops(self, session: Any = None) -> None:
        """Nothing to run: values are assigned eagerly."""

    def initialize_or_restore(self, session: Any = None) -> None:
        """Nothing to run: values are assigned eagerly, variables initialised at creation."""


class InitializationOnlyStatus:
    """What ``Checkpoint.restore(None)`` returns: nothing is restored."""

    def __init__(self, root: Any = None) -> None:
        self._root = root

    def assert_consumed(self) -> "InitializationOnlyStatus":
        raise AssertionError("No checkpoint specified (save_path=None); nothing is being restored.")

    assert_existing_objects_matched = assert_consumed
    assert_nontrivial_match = assert_consumed

    def expect_partial(self) -> "InitializationOnlyStatus":
        return self

    def run_restore_ops(self, session: Any = None) -> None:
        pass

    def initialize_or_restore(self, session: Any = None) -> None:
        pass


# ---- tf.train.Checkpoint ---------------------------------------------------------------------------------
class CheckpointOptions:
    """``tf.train.CheckpointOptions``: accepted for compatibility. ``experimental_write_callbacks`` are
    called after each write with the checkpoint's path; the I/O device, async and sharding options change
    nothing here (writes are synchronous, one file)."""

    def __init__(self, experimental_io_device: Any = None, experimental_enable_async_checkpoint: bool = False,
                 experimental_write_callbacks: Optional[List[Callable[..., Any]]] = None,
                 enable_async: bool = False, experimental_sharding_callback: Any = None,
                 experimental_skip_slot_variables: bool = False) -> None:
        self.experimental_io_device = experimental_io_device
        self.experimental_enable_async_checkpoint = experimental_enable_async_checkpoint or enable_async
        self.enable_async = self.experimental_enable_async_checkpoint
        self.experimental_write_callbacks = experimental_write_callbacks
        self.experimental_sharding_callback = experimental_sharding_callback
        self.experimental_skip_slot_variables = experimental_skip_slot_variables


def _run_callbacks(callbacks: Optional[Iterable[Callable[..., Any]]], save_path: str) -> None:
    import inspect
    for cb in callbacks or ():
        try:
            takes_path = bool(inspect.signature(cb).parameters)
        except (TypeError, ValueError):
            takes_path = True
        cb(save_path) if takes_path else cb()


_CHECKPOINT_PRIVATE = frozenset({"_root", "_save_counter"})


class Checkpoint:
    """``tf.train.Checkpoint(root=None, **kwargs)``: groups trackable objects and saves/restores their
    variables (see the module docstring for the object graph, deferred restoration and the file format —
    which is pyfast_tape's own, not TensorFlow's).

    >>> ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer)
    >>> path = ckpt.save('/tmp/training/ckpt')        # '/tmp/training/ckpt-1'
    >>> ckpt.restore(tf.train.latest_checkpoint('/tmp/training')).assert_consumed()

    The keyword arguments become attributes (``ckpt.model``); attributes set later are tracked too.
    ``save_counter`` (an int64 variable, created by the first ``save`` or ``restore``) numbers ``save``'s
    checkpoints and is itself saved."""

    def __init__(self, root: Any = None, **kwargs: Any) -> None:
        if root is not None:
            _assert_trackable(root, "root")
        existing = dict(_children(root)) if root is not None else {}
        for k, v in sorted(kwargs.items(), key=lambda item: item[0]):
            _assert_trackable(v, k)
            if k in existing and existing[k] is not v:
                raise ValueError(f"Cannot create a Checkpoint with keyword argument {k} if root.{k} already exists.")
        self._root = root
        self._save_counter: Optional[Variable] = None
        for k, v in sorted(kwargs.items(), key=lambda item: item[0]):
            setattr(self, k, v)

    @property
    def root(self) -> Any:
        return self if self._root is None else self._root

    def _checkpoint_children(self) -> List[Tuple[str, Any]]:
        out: List[Tuple[str, Any]] = []
        names: Dict[str, Any] = {}
        if self._root is not None:
            for name, child in _children(self._root):
                names[name] = child
                out.append((name, child))
        for k, v in list(vars(self).items()):
            if k in _CHECKPOINT_PRIVATE or _kind(v) is None:
                continue
            if k in names:
                continue  # root.k is the same object (checked in __init__)
            names[k] = v
            out.append((k, v))
        if self._save_counter is not None and "save_counter" not in names:
            out.append(("save_counter", self._save_counter))
        return out

    def _maybe_create_save_counter(self) -> None:
        if self._save_counter is None:
            self._save_counter = Variable(np.int64(0), trainable=False, dtype=int64, name="save_counter")

    @property
    def save_counter(self) -> Variable:
        """An int64 variable, 0 at first and incremented by each ``save`` (it numbers the checkpoints)."""
        self._maybe_create_save_counter()
        assert self._save_counter is not None
        return self._save_counter

    def _write(self, file_prefix: Any, options: Optional[CheckpointOptions] = None,
               write_done_callback: Optional[Callable[[str], None]] = None) -> str:
        path = _write_checkpoint(self, os.fspath(file_prefix))
        if options is not None:
            _run_callbacks(options.experimental_write_callbacks, path)
        if write_done_callback is not None:
            write_done_callback(path)
        return path

    def write(self, file_prefix: Any, options: Optional[CheckpointOptions] = None) -> str:
        """Writes a checkpoint at exactly `file_prefix` (no counter, no ``checkpoint`` state file); returns
        `file_prefix`. Read it back with ``read``."""
        return self._write(file_prefix, options)

    def save(self, file_prefix: Any, options: Optional[CheckpointOptions] = None) -> str:
        """Increments ``save_counter``, writes ``f'{file_prefix}-{save_counter}'`` and records it in the
        directory's ``checkpoint`` state file (for ``tf.train.latest_checkpoint``); returns that path."""
        file_prefix = os.fspath(file_prefix)
        counter = self.save_counter
        counter.assign_add(np.int64(1))
        number = int(counter.numpy())
        return self._write(f"{file_prefix}-{number}", options, write_done_callback=_update_checkpoint_state_internal)

    def read(self, save_path: Any, options: Optional[CheckpointOptions] = None) -> CheckpointLoadStatus:
        """Restores a checkpoint written by ``write`` (like ``restore``, without creating ``save_counter``)."""
        return _restore(self, os.fspath(save_path))

    def restore(self, save_path: Any, options: Optional[CheckpointOptions] = None) -> Any:
        """Restores the checkpoint at `save_path` (a prefix as ``save`` returns it, or a
        ``tf.saved_model.save`` directory): values are assigned now to the variables that exist and, for
        those not created yet, when they are (deferred restoration). Returns a status object with
        ``assert_consumed()``, ``assert_existing_objects_matched()``, ``assert_nontrivial_match()`` and
        ``expect_partial()``; ``restore(None)`` restores nothing."""
        if save_path is None:
            return InitializationOnlyStatus(self.root)
        orig = save_path
        save_path = os.fspath(save_path)
        if os.path.isdir(save_path) and (os.path.isfile(os.path.join(save_path, SAVED_MODEL_MANIFEST)) or any(
                os.path.isfile(os.path.join(save_path, f)) for f in _TF_SAVED_MODEL_FILES)):
            save_path = os.path.join(save_path, "variables", "variables")
        self._maybe_create_save_counter()
        try:
            return self.read(save_path, options)
        except NotFoundError as e:
            raise NotFoundError(None, None, f"Error when restoring from checkpoint or SavedModel at {orig}: {e}\n"
                                "Please double-check that the path is correct. You may be missing the checkpoint "
                                "suffix (e.g. the '-1' in 'path/to/ckpt-1').") from None

    def sync(self) -> None:
        """Nothing to wait for: writes are synchronous."""

    def __repr__(self) -> str:
        names = [n for n, _ in self._checkpoint_children()]
        return f"<tf.train.Checkpoint {names}>"


# ---- the "checkpoint" state file (TF's CheckpointState text proto) ---------------------------------------
class CheckpointState:
    """``tf.train.CheckpointState``: what the directory's ``checkpoint`` file says."""

    def __init__(self, model_checkpoint_path: str = "", all_model_checkpoint_paths: Sequence[str] = (),
                 all_model_checkpoint_timestamps: Sequence[float] = (), last_preserved_timestamp: float = 0.0) -> None:
        self.model_checkpoint_path = model_checkpoint_path
        self.all_model_checkpoint_paths = list(all_model_checkpoint_paths)
        self.all_model_checkpoint_timestamps = list(all_model_checkpoint_timestamps)
        self.last_preserved_timestamp = float(last_preserved_timestamp)

    def to_text(self) -> str:
        """TF's ``text_format.MessageToString``: fields in number order, defaults omitted."""
        lines = []
        if self.model_checkpoint_path:
            lines.append(f"model_checkpoint_path: {_quote(self.model_checkpoint_path)}")
        lines += [f"all_model_checkpoint_paths: {_quote(p)}" for p in self.all_model_checkpoint_paths]
        lines += [f"all_model_checkpoint_timestamps: {float(t)!r}" for t in self.all_model_checkpoint_timestamps]
        if self.last_preserved_timestamp:
            lines.append(f"last_preserved_timestamp: {float(self.last_preserved_timestamp)!r}")
        return "".join(line + "\n" for line in lines)

    __str__ = to_text

    def __repr__(self) -> str:
        return self.to_text()


_ESCAPES = {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t", ord('"'): '\\"', ord("'"): "\\'",
            ord("\\"): "\\\\"}


def _quote(s: str) -> str:
    """A protobuf text-format string literal (C escapes; bytes outside printable ASCII as octal)."""
    out = []
    for b in s.encode("utf-8"):
        if b in _ESCAPES:
            out.append(_ESCAPES[b])
        elif b < 0x20 or b >= 0x7F:
            out.append(f"\\{b:03o}")
        else:
            out.append(chr(b))
    return '"' + "".join(out) + '"'


_UNESCAPES = {"n": b"\n", "r": b"\r", "t": b"\t", '"': b'"', "'": b"'", "\\": b"\\", "a": b"\a", "b": b"\b",
              "f": b"\f", "v": b"\v", "?": b"?"}


def _unquote(literal: str) -> str:
    literal = literal.strip()
    if len(literal) < 2 or literal[0] not in "\"'" or literal[-1] != literal[0]:
        raise ValueError(f"expected a quoted string, got {literal!r}")
    body = literal[1:-1]
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        i += 1
        if i >= len(body):
            raise ValueError("dangling backslash")
        c = body[i]
        if c in "01234567":
            j = i
            while j < len(body) and j < i + 3 and body[j] in "01234567":
                j += 1
            out.append(int(body[i:j], 8) & 0xFF)
            i = j
        elif c in "xX":
            j = i + 1
            while j < len(body) and j < i + 3 and body[j] in "0123456789abcdefABCDEF":
                j += 1
            out.append(int(body[i + 1:j], 16))
            i = j
        elif c in _UNESCAPES:
            out += _UNESCAPES[c]
            i += 1
        else:
            raise ValueError(f"unknown escape \\{c}")
    return out.decode("utf-8")


_STATE_LINE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.*?)\s*$")


def _parse_state(text: str) -> CheckpointState:
    state = CheckpointState()
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _STATE_LINE.match(line)
        if m is None:
            raise ValueError(f"cannot parse {line!r}")
        field, value = m.groups()
        if field == "model_checkpoint_path":
            state.model_checkpoint_path = _unquote(value)
        elif field == "all_model_checkpoint_paths":
            state.all_model_checkpoint_paths.append(_unquote(value))
        elif field == "all_model_checkpoint_timestamps":
            state.all_model_checkpoint_timestamps.append(float(value))
        elif field == "last_preserved_timestamp":
            state.last_preserved_timestamp = float(value)
        else:
            raise ValueError(f"unknown field {field!r}")
    return state


def _checkpoint_filename(save_dir: str, latest_filename: Optional[str]) -> str:
    return os.path.join(save_dir, latest_filename or "checkpoint")


def generate_checkpoint_state_proto(save_dir: str, model_checkpoint_path: str,
                                    all_model_checkpoint_paths: Optional[Sequence[str]] = None,
                                    all_model_checkpoint_timestamps: Optional[Sequence[float]] = None,
                                    last_preserved_timestamp: Optional[float] = None) -> CheckpointState:
    """TF's ``generate_checkpoint_state_proto``: the newest path last; relative paths made relative to
    `save_dir` when it is relative itself."""
    paths = list(all_model_checkpoint_paths or [])
    if not paths or paths[-1] != model_checkpoint_path:
        paths.append(model_checkpoint_path)
    timestamps = list(all_model_checkpoint_timestamps or [])
    if timestamps and len(timestamps) != len(paths):
        raise ValueError(f"Checkpoint timestamps, if provided, must match checkpoint paths (got paths {paths} and "
                         f"timestamps {timestamps})")
    if not os.path.isabs(save_dir):
        if not os.path.isabs(model_checkpoint_path):
            model_checkpoint_path = os.path.relpath(model_checkpoint_path, save_dir)
        paths = [p if os.path.isabs(p) else os.path.relpath(p, save_dir) for p in paths]
    return CheckpointState(model_checkpoint_path, paths, timestamps, last_preserved_timestamp or 0.0)


def update_checkpoint_state_internal(save_dir: str, model_checkpoint_path: str,
                                     all_model_checkpoint_paths: Optional[Sequence[str]] = None,
                                     latest_filename: Optional[str] = None, save_relative_paths: bool = False,
                                     all_model_checkpoint_timestamps: Optional[Sequence[float]] = None,
                                     last_preserved_timestamp: Optional[float] = None) -> None:
    """Writes the directory's ``checkpoint`` file (atomically), as TF's function of that name."""
    save_dir = os.fspath(save_dir)
    filename = _checkpoint_filename(save_dir, latest_filename)
    paths = list(all_model_checkpoint_paths or [])
    if save_relative_paths:
        if os.path.isabs(model_checkpoint_path):
            model_checkpoint_path = os.path.relpath(model_checkpoint_path, save_dir)
        paths = [os.path.relpath(p, save_dir) if os.path.isabs(p) else p for p in paths]
    state = generate_checkpoint_state_proto(save_dir, model_checkpoint_path, paths, all_model_checkpoint_timestamps,
                                            last_preserved_timestamp)
    if filename == state.model_checkpoint_path:
        raise RuntimeError(f"Save path '{model_checkpoint_path}' conflicts with path used for checkpoint state.  "
                           "Please use a different save path.")
    if save_dir:
        os.makedirs(save_dir, exist_ok=True)
    text = state.to_text().encode("utf-8")
    _atomic_write(filename, lambda f: f.write(text))


def _update_checkpoint_state_internal(file_path: str) -> None:
    """What ``Checkpoint.save`` records: this checkpoint as the latest (and only) one of its directory."""
    update_checkpoint_state_internal(save_dir=os.path.dirname(file_path), model_checkpoint_path=file_path,
                                     all_model_checkpoint_paths=[file_path], save_relative_paths=True)


def get_checkpoint_state(checkpoint_dir: Any, latest_filename: Optional[str] = None) -> Optional[CheckpointState]:
    """``tf.train.get_checkpoint_state``: the directory's ``checkpoint`` file, relative paths joined to
    `checkpoint_dir`; None when there is no such file (or it cannot be parsed)."""
    checkpoint_dir = os.fspath(checkpoint_dir)
    filename = _checkpoint_filename(checkpoint_dir, latest_filename)
    if not os.path.isfile(filename):
        return None
    try:
        with open(filename, "r", encoding="utf-8") as f:
            state = _parse_state(f.read())
    except (OSError, ValueError, UnicodeDecodeError) as e:
        _logger.warning("%s: %s", type(e).__name__, e)
        _logger.warning("%s: Checkpoint ignored", filename)
        return None
    if not state.model_checkpoint_path:
        raise ValueError("Invalid checkpoint state loaded from " + checkpoint_dir)
    if not os.path.isabs(state.model_checkpoint_path):
        state.model_checkpoint_path = os.path.join(checkpoint_dir, state.model_checkpoint_path)
    state.all_model_checkpoint_paths = [p if os.path.isabs(p) else os.path.join(checkpoint_dir, p)
                                        for p in state.all_model_checkpoint_paths]
    return state


def _checkpoint_exists(prefix: str) -> bool:
    return bool(glob.glob(glob.escape(prefix) + _INDEX_SUFFIX)) or os.path.exists(prefix)


def latest_checkpoint(checkpoint_dir: Any, latest_filename: Optional[str] = None) -> Optional[str]:
    """``tf.train.latest_checkpoint``: the prefix of the newest checkpoint the directory's ``checkpoint``
    file names, if its files exist; None otherwise."""
    state = get_checkpoint_state(checkpoint_dir, latest_filename)
    if state and state.model_checkpoint_path:
        if _checkpoint_exists(state.model_checkpoint_path):
            return state.model_checkpoint_path
        _logger.error("Couldn't match files for checkpoint %s", state.model_checkpoint_path)
    return None


# ---- reading values: tf.train.load_checkpoint / list_variables / load_variable ---------------------------
def _resolve_checkpoint(ckpt_dir_or_file: Any) -> str:
    path = os.fspath(ckpt_dir_or_file)
    if os.path.isdir(path):
        latest = latest_checkpoint(path)
        if latest is None:
            raise ValueError(f"Couldn't find 'checkpoint' file or checkpoints in given directory {path}")
        return latest
    return str(path)


class CheckpointReader:
    """``tf.train.load_checkpoint``'s reader: the values of a checkpoint by key."""

    def __init__(self, prefix: str) -> None:
        self._file = _CheckpointFile(prefix)

    def get_variable_to_shape_map(self) -> Dict[str, List[int]]:
        out = {k: list(m["shape"]) for k, m in self._file.tensors.items()}
        out[_OBJECT_GRAPH_KEY] = []
        return out

    def get_variable_to_dtype_map(self) -> Dict[str, Any]:
        import sys
        out: Dict[str, Any] = {k: as_dtype(m["dtype"]) for k, m in self._file.tensors.items()}
        out[_OBJECT_GRAPH_KEY] = getattr(sys.modules[__package__], "string", "string")  # tf.string
        return out

    def has_tensor(self, name: str) -> bool:
        return name in self._file.tensors or name == _OBJECT_GRAPH_KEY

    def get_tensor(self, name: str) -> Any:
        """The saved value (a NumPy array); for ``_CHECKPOINTABLE_OBJECT_GRAPH`` the object graph (as
        JSON bytes, where TF has a serialized protobuf)."""
        if name == _OBJECT_GRAPH_KEY:
            return json.dumps(self._file.nodes).encode("utf-8")
        return self._file.tensor(name)

    def debug_string(self) -> bytes:
        return "".join(f"{k} ({m['dtype']}) {m['shape']}\n" for k, m in sorted(self._file.tensors.items())).encode()


def load_checkpoint(ckpt_dir_or_file: Any) -> CheckpointReader:
    """``tf.train.load_checkpoint``: a reader of the checkpoint (a prefix, or a directory's latest)."""
    return CheckpointReader(_resolve_checkpoint(ckpt_dir_or_file))


def list_variables(ckpt_dir_or_file: Any) -> List[Tuple[str, List[int]]]:
    """``tf.train.list_variables``: ``(key, shape)`` of every value in the checkpoint, sorted by key."""
    shapes = load_checkpoint(ckpt_dir_or_file).get_variable_to_shape_map()
    return [(k, shapes[k]) for k in sorted(shapes)]


def load_variable(ckpt_dir_or_file: Any, name: str) -> Any:
    """``tf.train.load_variable``: the saved value of key `name` (a NumPy array)."""
    if name.endswith(":0"):
        name = name[:-2]
    return load_checkpoint(ckpt_dir_or_file).get_tensor(name)


# ---- Keras: Model.save_weights / load_weights ------------------------------------------------------------
def _h5py() -> Any:
    try:
        import h5py  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError as e:
        raise ImportError("Saving or loading `.weights.h5` files needs the `h5py` package, which is not installed: "
                          "`pip install h5py` (or save to a checkpoint prefix such as 'weights/ckpt', which needs "
                          "nothing more).") from e
    return h5py


def save_weights(model: Any, filepath: Any, overwrite: bool = True, max_shard_size: Any = None) -> None:
    """``Model.save_weights``: a ``.weights.h5`` path is written with h5py in Keras 3's layout; any other
    path is taken as a checkpoint prefix and written in pyfast_tape's checkpoint format (as tf.keras's
    TensorFlow format did), with the directory's ``checkpoint`` state file."""
    path = os.fspath(filepath)
    if max_shard_size is not None:
        raise NotImplementedError("save_weights: max_shard_size is not supported by pyfast_tape")
    if path.endswith(".weights.h5"):
        h5py = _h5py()
        if not getattr(model, "built", True):
            raise ValueError("You are saving a model that has not yet been built. Try building the model first by "
                             "calling it on some data or by using `build()`.")
        if not overwrite and os.path.exists(path):
            raise FileExistsError(f"save_weights: {path} exists and overwrite=False")
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        with h5py.File(path, "w") as f:
            _h5_save(model, f, "", set())
        return
    if path.endswith((".h5", ".hdf5", ".keras", ".weights.json")):
        raise ValueError("The filename must end in `.weights.h5` (Keras 3's weights file), or be a checkpoint prefix "
                         f"(e.g. 'weights/ckpt'). Received: filepath={path}")
    if not overwrite and os.path.exists(path + _INDEX_SUFFIX):
        raise FileExistsError(f"save_weights: a checkpoint {path} exists and overwrite=False")
    _write_checkpoint(model, path)
    _update_checkpoint_state_internal(path)


def load_weights(model: Any, filepath: Any, skip_mismatch: bool = False) -> Any:
    """``Model.load_weights``: from a ``.weights.h5`` file (h5py; the model must be built, as in Keras 3) or
    from a checkpoint prefix (or a directory, its latest checkpoint), which may restore into a model not
    built yet (deferred restoration); returns the checkpoint's load status (None for ``.weights.h5``)."""
    path = os.fspath(filepath)
    if path.endswith(".weights.h5"):
        h5py = _h5py()
        if not getattr(model, "built", True):
            raise ValueError("You are loading weights into a model that has not yet been built. Try building the "
                             "model first by calling it on some data or by using `build()`.")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"load_weights: no such file {path}")
        with h5py.File(path, "r") as f:
            _h5_load(model, f, "", set(), skip_mismatch)
        return None
    if path.endswith((".h5", ".hdf5", ".keras")):
        raise ValueError(f"File format not supported: filepath={path}. pyfast_tape loads `.weights.h5` files and "
                         "its own checkpoints.")
    if os.path.isdir(path):
        latest = latest_checkpoint(path)
        if latest is not None:
            path = latest
    status = _restore(model, path)
    status.assert_nontrivial_match()
    return status


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _h5_kind(obj: Any) -> Optional[str]:
    from .keras.layers import Layer
    opt = _keras_optimizer_class()
    if isinstance(obj, Layer):
        return "layer"
    if opt is not None and isinstance(obj, opt):
        return "optimizer"
    return None


def _h5_own_variables(obj: Any, kind: str) -> List[Any]:
    """Keras 3's ``save_own_variables`` order: a layer's trainable weights, then its non-trainable ones
    (variables held directly as attributes after those made by ``add_weight``); an optimizer's
    ``variables`` (``iterations``, then its slots)."""
    if kind == "optimizer":
        return list(obj.variables)
    weights = list(obj.__dict__.get("_weights", ()))
    seen = {id(w) for w in weights}
    for k, v in vars(obj).items():
        if isinstance(v, _core.VariableBase) and id(v) not in seen:
            seen.add(id(v))
            weights.append(v)
    return [w for w in weights if w.trainable] + [w for w in weights if not w.trainable]


def _h5_walk(obj: Any) -> Iterable[Tuple[str, Any]]:
    """Keras 3's ``_walk_saveable``: a Sequential's ``layers`` first, then the attributes by name, the
    private ones last."""
    from .keras.models import Sequential
    if isinstance(obj, Sequential):
        yield "layers", list(obj._layers)
    skip = {"_layers", "_weights", "_trainable_flags"} | set(_skipped_attributes(obj))
    for k in sorted(vars(obj), key=lambda a: ("~" + a) if a.startswith("_") else a):
        if k.startswith("__") or k in skip:
            continue
        yield k, vars(obj)[k]


def _h5_join(*parts: str) -> str:
    return "/".join(p for p in parts if p)


def _h5_children(obj: Any) -> Iterable[Tuple[str, Any]]:
    for attr, child in _h5_walk(obj):
        if _h5_kind(child) is not None:
            yield attr, child
        elif isinstance(child, (list, tuple, dict)):
            used: Dict[str, int] = {}
            for item in (child.values() if isinstance(child, dict) else child):
                if _h5_kind(item) is None:
                    continue
                name = _snake(type(item).__name__)
                if name in used:
                    used[name] += 1
                    name = f"{name}_{used[name]}"
                else:
                    used[name] = 0
                yield _h5_join(attr, name), item


def _h5_save(obj: Any, f: Any, path: str, visited: Set[int]) -> None:
    if id(obj) in visited:
        return
    kind = _h5_kind(obj)
    if kind is not None:
        group = f.create_group(_h5_join(path, "vars"))
        if isinstance(getattr(obj, "name", None), str):
            group.attrs["name"] = obj.name
        for i, v in enumerate(_h5_own_variables(obj, kind)):
            group[str(i)] = np.asarray(v.numpy())
    visited.add(id(obj))
    for sub, child in _h5_children(obj):
        _h5_save(child, f, _h5_join(path, sub), visited)


def _h5_load(obj: Any, f: Any, path: str, visited: Set[int], skip_mismatch: bool) -> None:
    import warnings
    if id(obj) in visited:
        return
    kind = _h5_kind(obj)
    if kind is not None:
        gpath = _h5_join(path, "vars")
        store = f[gpath] if gpath in f else {}
        keys = list(store.keys())
        own = _h5_own_variables(obj, kind)
        name = getattr(obj, "name", type(obj).__name__)
        if len(keys) != len(own):
            if kind == "optimizer":
                msg = (f"Skipping variable loading for optimizer '{name}', because it has {len(own)} variables "
                       f"whereas the saved optimizer has {len(keys)} variables. ")
                if not getattr(obj, "built", True):
                    msg += "This is likely because the optimizer has not been called/built yet."
                warnings.warn(msg, stacklevel=3)
            else:
                msg = (f"Layer '{name}' expected {len(own)} variables, but received {len(keys)} variables during "
                       f"loading. Expected: {[v.name for v in own]}")
                if skip_mismatch:
                    warnings.warn(msg, stacklevel=3)
                else:
                    raise ValueError(msg)
        else:
            for i, v in enumerate(own):
                value = np.asarray(store[str(i)])
                want = np.dtype(v.dtype.as_numpy_dtype)
                if tuple(value.shape) != tuple(int(d) for d in v.shape) or value.dtype != want:
                    msg = (f"Layer '{name}': the weight {v.name} has shape {tuple(v.shape)} and dtype {want.name}, "
                           f"the file has {tuple(value.shape)} {value.dtype.name} at {gpath}/{i}")
                    if skip_mismatch:
                        warnings.warn(msg, stacklevel=3)
                        continue
                    raise ValueError(msg)
                v.assign(value)
    visited.add(id(obj))
    for sub, child in _h5_children(obj):
        _h5_load(child, f, _h5_join(path, sub), visited, skip_mismatch)


# ---- helpers for tf.saved_model --------------------------------------------------------------------------
def _copy_object(obj: Any) -> Any:
    """A deep copy of `obj` whose variables are new variables with the same values (Variables and Tensors
    cannot be pickled, so they are copied / shared through the memo). Keras optimizers' variable index is
    rebuilt for the copied variables."""
    memo: Dict[int, Any] = {}
    seen = set()
    stack = [obj]
    while stack:
        x = stack.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        if isinstance(x, _core.VariableBase):
            v = Variable(np.asarray(x.numpy()), trainable=bool(x.trainable), name=str(getattr(x, "name", "Variable")))
            constraint = getattr(x, "_constraint", None)
            if constraint is not None:
                v._constraint = constraint
            memo[id(x)] = v
            continue
        if isinstance(x, _core.Tensor):
            memo[id(x)] = x  # immutable: shared
            continue
        if isinstance(x, (str, bytes, int, float, complex, type(None), np.ndarray, np.generic, type,
                          types.ModuleType, types.FunctionType, types.BuiltinFunctionType)):
            continue
        if isinstance(x, Mapping):
            stack.extend(x.keys())
            stack.extend(x.values())
        elif isinstance(x, (list, tuple, set, frozenset)):
            stack.extend(x)
        elif isinstance(x, types.MethodType):
            stack.append(x.__self__)
        elif hasattr(x, "__dict__"):
            package = (getattr(type(x), "__module__", "") or "").split(".", 1)[0]
            if package not in _FOREIGN_PACKAGES:
                stack.extend(vars(x).values())
    keep_alive = list(memo.values())
    result = copy.deepcopy(obj, memo)
    del keep_alive
    opt = _keras_optimizer_class()
    if opt is not None:
        for x in _all_objects(result):
            if isinstance(x, opt) and isinstance(getattr(x, "_index", None), dict):
                setattr(x, "_index", {v._id: i for i, v in enumerate(getattr(x, "_trainable_variables"))})
    return result


def _all_objects(root: Any) -> List[Any]:
    """Every trackable object reachable from `root` (not variables), breadth first."""
    return [obj for obj, kind in _reachable(root, optimizer_lists=True) if kind != "variable"]
