"""``tf.saved_model.save`` / ``tf.saved_model.load`` for ``tf.Module`` objects (Keras layers and models
included) — within one Python program.

**What is written.** ``save(obj, export_dir)`` writes the object's variables as a pyfast_tape checkpoint at
``export_dir/variables/variables`` (``.index`` + ``.data-00000-of-00001``, as TF lays a SavedModel out;
``tf.train.Checkpoint(...).restore(export_dir)`` reads them) and a small JSON manifest,
``export_dir/pyfast_tape_saved_model.json`` (the class, the names of its ``tf.function`` methods, the
signatures). This is NOT TensorFlow's SavedModel format: there is no ``saved_model.pb``, no serialized
graph, and TensorFlow cannot load it; loading a real TensorFlow SavedModel (a ``saved_model.pb``) raises
``NotImplementedError``.

**How load rebuilds the object (the limits).** Python code cannot be serialized portably, and pyfast_tape
has no graphs to trace into, so functions are not saved. Instead ``save`` keeps, in this process, a deep
copy of the object (its variables copied) in a registry keyed by the export directory. ``load`` then deep
copies that snapshot once more and restores every variable from the files on disk, so the loaded object is
independent of the original (changes to either after ``save`` do not reach the other), holds the saved
values bit for bit, and its methods — ``tf.function``-decorated or not — and ``signatures`` can be called.
Consequences:

* Only in the same program: in another process (or once the directory was saved again by another
  program), ``load`` returns a ``_UserObject`` tree mirroring the saved objects (attributes, lists and dicts
  by their saved names) whose variables hold the saved values — usable to read weights — but whose
  functions and signatures raise ``NotImplementedError`` when called. The same happens when the object
  could not be deep-copied at save time (e.g. it holds a lock or an open file).
* The loaded object is an instance of the original class (TF gives a ``_UserObject``), so undecorated
  methods work too; a function stored on the object that closes over the original's variables (a lambda in
  an attribute) still reads the original's variables.
* The registry holds one snapshot per export directory for the life of the process (re-saving replaces it).
* ``signatures``: a callable (``serving_default``) or a dict of them; a method of an object saved here is
  re-bound to the loaded copy, any other callable is called as it is. Signature functions are called with
  keyword arguments and return a dict (``output_0``, ... for non-dict results), as TF's.
"""
from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Mapping
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from . import checkpoint as _ckpt
from .module import Module
from .variables import Variable

__all__ = ["save", "load", "contains_saved_model", "SaveOptions", "LoadOptions", "SERVING",
           "DEFAULT_SERVING_SIGNATURE_DEF_KEY"]

SERVING = "serve"
DEFAULT_SERVING_SIGNATURE_DEF_KEY = "serving_default"
MANIFEST = _ckpt.SAVED_MODEL_MANIFEST
_FORMAT = "pyfast_tape.saved_model"
_VERSION = 1
_FORMAT_NOTE = ("pyfast_tape SavedModel: variables in pyfast_tape's checkpoint format plus this manifest. This is "
                "NOT TensorFlow's SavedModel format (there is no saved_model.pb); TensorFlow cannot load it, and "
                "pyfast_tape rebuilds the object only in the program that saved it.")
_VARIABLES = os.path.join("variables", "variables")


class SaveOptions:
    """``tf.saved_model.SaveOptions``: accepted; nothing in it changes what is written."""

    def __init__(self, namespace_whitelist: Any = None, save_debug_info: bool = False, function_aliases: Any = None,
                 experimental_debug_stripper: bool = False, experimental_io_device: Any = None,
                 experimental_variable_policy: Any = None, experimental_custom_gradients: bool = True,
                 experimental_image_format: bool = False, experimental_skip_saver: bool = False,
                 experimental_sharding_callback: Any = None, extra_tags: Any = None) -> None:
        self.namespace_whitelist = namespace_whitelist
        self.save_debug_info = save_debug_info
        self.function_aliases = function_aliases
        self.experimental_io_device = experimental_io_device


class LoadOptions:
    """``tf.saved_model.LoadOptions``: accepted; nothing in it changes what is loaded."""

    def __init__(self, allow_partial_checkpoint: bool = False, experimental_io_device: Any = None,
                 experimental_skip_checkpoint: bool = False, experimental_variable_policy: Any = None,
                 experimental_load_function_aliases: bool = False) -> None:
        self.allow_partial_checkpoint = allow_partial_checkpoint
        self.experimental_io_device = experimental_io_device
        self.experimental_skip_checkpoint = experimental_skip_checkpoint


class _Entry:
    __slots__ = ("uid", "snapshot", "error", "free_functions")

    def __init__(self, uid: str, snapshot: Any, error: Optional[str], free_functions: Dict[str, Callable[..., Any]]):
        self.uid = uid
        self.snapshot = snapshot
        self.error = error
        self.free_functions = free_functions


_REGISTRY: Dict[str, _Entry] = {}
_REGISTRY_LOCK = threading.Lock()


def _key(export_dir: str) -> str:
    return os.path.realpath(export_dir)


def _object_paths(root: Any) -> Iterator[Tuple[Any, List[str]]]:
    """Every trackable object (not variables) reachable from `root`, with its first path, breadth first."""
    seen = {id(root)}
    queue: List[Tuple[Any, List[str]]] = [(root, [])]
    i = 0
    while i < len(queue):
        obj, path = queue[i]
        i += 1
        kind = _ckpt._kind(obj)
        if kind == "variable":
            continue
        yield obj, path
        for name, child in _ckpt._children(obj, kind):
            if id(child) not in seen:
                seen.add(id(child))
                queue.append((child, path + [name]))


def _resolve_path(root: Any, path: List[str]) -> Any:
    obj = root
    for name in path:
        obj = dict(_ckpt._children(obj))[name]
    return obj


def _method_name(owner: Any, fn: Any) -> str:
    func = getattr(fn, "__func__", None)
    for klass in type(owner).__mro__:
        for k, v in vars(klass).items():
            if v is func:
                return str(k)
    for k, v in vars(owner).items():
        if v is fn:
            return str(k)
    return str(fn.__name__)


def _tf_function_names(obj: Any) -> List[str]:
    """The names of `obj`'s ``tf.function``-decorated methods and attributes."""
    names = set()
    for klass in type(obj).__mro__:
        for k, v in list(vars(klass).items()):
            if getattr(v, "python_function", None) is not None:
                names.add(k)
    try:
        attrs = dict(vars(obj))
    except TypeError:
        attrs = {}
    for k, v in attrs.items():
        if getattr(v, "python_function", None) is not None:
            names.add(k)
    return sorted(names)


def _signature_specs(obj: Any, signatures: Any) -> Tuple[Dict[str, Dict[str, Any]], Dict[str, Callable[..., Any]]]:
    if signatures is None:
        return {}, {}
    if not isinstance(signatures, Mapping):
        signatures = {DEFAULT_SERVING_SIGNATURE_DEF_KEY: signatures}
    paths = {id(o): p for o, p in _object_paths(obj)}
    specs: Dict[str, Dict[str, Any]] = {}
    free: Dict[str, Callable[..., Any]] = {}
    for name, fn in signatures.items():
        if not isinstance(name, str):
            raise ValueError(f"Signature keys must be strings, got {name!r}")
        if not callable(fn):
            raise ValueError(f"Expected a tf.function or another callable for the signature {name!r}, got {fn!r}")
        owner = getattr(fn, "__self__", None)
        if owner is not None and id(owner) in paths:
            specs[name] = {"owner": paths[id(owner)], "method": _method_name(owner, fn)}
        else:
            specs[name] = {"owner": None, "function": str(getattr(fn, "__qualname__", repr(fn)))}
            free[name] = fn
    return specs, free


def save(obj: Any, export_dir: Any, signatures: Any = None, options: Optional[SaveOptions] = None) -> None:
    """Writes `obj`'s variables and a manifest to `export_dir` (pyfast_tape's format, not TensorFlow's) and
    keeps a snapshot of `obj` so that ``load(export_dir)`` in this program can give back a working copy;
    see the module docstring for the limits."""
    kind = _ckpt._kind(obj)
    if kind not in ("module", "object", "checkpoint"):
        raise ValueError("Expected an object of type `Trackable`, such as `tf.Module` or a subclass of the "
                         f"`Trackable` class, for export. Got {obj!r} with type {type(obj)}.")
    export_dir = os.fspath(export_dir)
    specs, free = _signature_specs(obj, signatures)
    functions = _tf_function_names(obj)
    os.makedirs(os.path.join(export_dir, "variables"), exist_ok=True)
    _ckpt._write_checkpoint(obj, os.path.join(export_dir, _VARIABLES))
    try:
        snapshot, error = _ckpt._copy_object(obj), None
    except Exception as e:  # noqa: BLE001  (anything deepcopy raises: the object stays loadable as variables)
        snapshot, error = None, f"{type(e).__name__}: {e}"
    uid = uuid.uuid4().hex
    manifest = {
        "format": _FORMAT, "version": _VERSION, "note": _FORMAT_NOTE, "uuid": uid,
        "class": f"{type(obj).__module__}.{type(obj).__qualname__}", "variables": "variables/variables",
        "functions": functions, "signatures": specs,
    }
    payload = json.dumps(manifest, indent=1).encode("utf-8")
    _ckpt._atomic_write(os.path.join(export_dir, MANIFEST), lambda f: f.write(payload))
    with _REGISTRY_LOCK:
        _REGISTRY[_key(export_dir)] = _Entry(uid, snapshot, error, free)


def contains_saved_model(export_dir: Any) -> bool:
    """Whether `export_dir` holds a SavedModel (pyfast_tape's manifest, or TensorFlow's saved_model.pb)."""
    export_dir = os.fspath(export_dir)
    return os.path.isfile(os.path.join(export_dir, MANIFEST)) or any(
        os.path.isfile(os.path.join(export_dir, f)) for f in _ckpt._TF_SAVED_MODEL_FILES)


def _as_output_dict(out: Any) -> Dict[str, Any]:
    if isinstance(out, Mapping):
        return dict(out)
    if isinstance(out, (list, tuple)):
        return {f"output_{i}": v for i, v in enumerate(out)}
    return {"output_0": out}


class _SignatureFunction:
    """A loaded signature: called with keyword arguments, returns a dict of outputs (TF's convention)."""

    def __init__(self, name: str, fn: Callable[..., Any]) -> None:
        self._name = name
        self._fn = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Dict[str, Any]:
        if args:
            raise TypeError(f"The signature function {self._name!r} takes keyword arguments only (as TensorFlow's "
                            f"signatures do); got {len(args)} positional argument(s).")
        return _as_output_dict(self._fn(**kwargs))

    def __repr__(self) -> str:
        return f"<signature {self._name!r}>"


class _SignatureMap(Mapping):  # type: ignore[type-arg]
    """``loaded.signatures``: the signature functions by name."""

    def __init__(self, functions: Dict[str, Any]) -> None:
        self._functions = dict(functions)

    def __getitem__(self, key: str) -> Any:
        return self._functions[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._functions)

    def __len__(self) -> int:
        return len(self._functions)

    def __repr__(self) -> str:
        return f"_SignatureMap({sorted(self._functions)})"


class _UnavailableFunction:
    def __init__(self, name: str, reason: str) -> None:
        self._name = name
        self._reason = reason

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            f"The function {self._name!r} of this SavedModel cannot be called: pyfast_tape cannot serialize Python "
            "code, so tf.saved_model.load gives back callable functions only for an object saved by "
            f"tf.saved_model.save earlier in this same program ({self._reason}). The variables were restored.")

    def __repr__(self) -> str:
        return f"<unavailable function {self._name!r}>"


class _UserObject(Module):
    """What ``tf.saved_model.load`` returns when it cannot copy the saved object (another program saved it):
    the saved objects' structure with their variables holding the saved values; functions not callable."""

    def __init__(self, saved_class: Optional[str] = None) -> None:
        super().__init__(name="user_object")
        self._saved_class = saved_class

    def __repr__(self) -> str:
        return f"<_UserObject saved from {self._saved_class}>"


def _skeleton(ck: "_ckpt._CheckpointFile") -> Any:
    objs: List[Any] = []
    for node in ck.nodes:
        kind = node["kind"]
        if kind == "variable":
            key = node["tensor"]
            meta = ck.tensors[key]
            name = str(meta.get("name") or "Variable")
            objs.append(Variable(ck.tensor(key), trainable=bool(meta.get("trainable", True)),
                                 name=name if ":" in name else name.split("/")[-1]))
        elif kind in ("list", "tuple"):
            objs.append([])
        elif kind == "dict":
            objs.append({})
        else:
            objs.append(_UserObject(node.get("class")))
    for node, obj in zip(ck.nodes, objs):
        for name, cid in node.get("children", ()):
            child = objs[cid]
            if isinstance(obj, list):
                obj.append(child)
            elif isinstance(obj, dict):
                obj[name] = child
            elif isinstance(obj, _UserObject):
                obj.__dict__[name] = child
    ck.close()
    return objs[0]


def load(export_dir: Any, tags: Any = None, options: Optional[LoadOptions] = None) -> Any:
    """Loads what ``save`` wrote to `export_dir`: in the program that saved it, a copy of the saved object
    with its variables restored from disk and its methods and ``signatures`` callable; otherwise a
    ``_UserObject`` holding the saved variables (see the module docstring)."""
    export_dir = os.fspath(export_dir)
    manifest_path = os.path.join(export_dir, MANIFEST)
    if not os.path.isfile(manifest_path):
        tf_files = [f for f in _ckpt._TF_SAVED_MODEL_FILES if os.path.isfile(os.path.join(export_dir, f))]
        if tf_files:
            raise NotImplementedError(
                f"{export_dir} is a TensorFlow SavedModel ({tf_files[0]}): its protobuf format (a serialized "
                "TensorFlow graph) is not supported by pyfast_tape, which cannot run TensorFlow graphs. "
                "tf.saved_model.load here loads only directories written by pyfast_tape's tf.saved_model.save.")
        raise OSError(f"SavedModel file does not exist at: {export_dir}{os.sep}{{saved_model.pbtxt|saved_model.pb}} "
                      f"(nor pyfast_tape's {MANIFEST})")
    with open(manifest_path, "rb") as f:
        manifest = json.loads(f.read().decode("utf-8"))
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
        raise ValueError(f"{manifest_path} is not a pyfast_tape SavedModel manifest")
    variables_path = os.path.join(export_dir, _VARIABLES)
    with _REGISTRY_LOCK:
        entry = _REGISTRY.get(_key(export_dir))
    if entry is not None and entry.uid == manifest.get("uuid") and entry.snapshot is not None:
        obj = _ckpt._copy_object(entry.snapshot)
        status = _ckpt._restore(obj, variables_path)
        status.assert_consumed()
        signatures: Dict[str, Any] = {}
        for name, spec in manifest.get("signatures", {}).items():
            if spec.get("owner") is not None:
                fn = getattr(_resolve_path(obj, spec["owner"]), spec["method"])
            else:
                fn = entry.free_functions[name]
            signatures[name] = _SignatureFunction(name, fn)
        _set_signatures(obj, _SignatureMap(signatures))
        return obj
    if entry is not None and entry.uid == manifest.get("uuid"):
        reason = f"the object could not be copied when it was saved: {entry.error}"
    else:
        reason = "this directory was written by another program, or by another save since"
    obj = _skeleton(_ckpt._CheckpointFile(variables_path))
    if isinstance(obj, _UserObject):
        for name in manifest.get("functions", ()):
            obj.__dict__[name] = _UnavailableFunction(name, reason)
    _set_signatures(obj, _SignatureMap({name: _UnavailableFunction(name, reason)
                                        for name in manifest.get("signatures", {})}))
    return obj


def _set_signatures(obj: Any, signatures: _SignatureMap) -> None:
    try:
        setattr(obj, "signatures", signatures)
    except AttributeError:  # a read-only property or __slots__: TF's attribute cannot be added
        try:
            obj.__dict__["signatures"] = signatures
        except (AttributeError, TypeError):
            pass
