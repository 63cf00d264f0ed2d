"""``tf.Module`` and ``tf.name_scope``, as TensorFlow's (tensorflow/python/module/module.py and the eager
branch of ``ops.name_scope_v2``).

A ``tf.Module`` is a named container: its ``variables``, ``trainable_variables``,
``non_trainable_variables`` and ``submodules`` are found by walking its attributes in sorted order of
name (each value flattened as ``tf.nest`` does: lists, tuples, namedtuples and dicts by sorted key),
leaves deduplicated by identity, the module's own leaves first, then each submodule's, recursively.
Keras layers are modules too (as in tf.keras), so a Module holding a ``keras.layers.Dense`` finds its
kernel and bias.

Name scopes are per thread, as TensorFlow's eager context is: ``with tf.name_scope('dense'):`` makes
``tf.Variable(..., name='w').name == 'dense/w:0'``; a name ending in ``/`` is absolute; eager scopes are
never made unique (two ``tf.name_scope('a')`` both give ``'a/'``).
"""
from __future__ import annotations

import functools
import re
import threading
from typing import Any, Callable, Iterator, List, Optional, Sequence, Set, Tuple

from . import _core

__all__ = ["Module", "name_scope", "get_current_name_scope"]


# ---- name scopes -----------------------------------------------------------------------------------------
class _ScopeState(threading.local):
    scope_name = ""  # the current scope with its trailing '/', "" at the top


_state = _ScopeState()


class name_scope:  # noqa: N801  (TF's name)
    """A context manager that prefixes the names of variables created inside it (TF2 ``tf.name_scope``).

    ``__enter__`` returns the full scope name with a trailing ``/``; a `name` ending in ``/`` is taken as the
    full scope (it breaks out of the enclosing scopes); ``''`` resets to the top. The object can be
    entered again (also while entered), each exit restoring the scope its own entry replaced."""

    __slots__ = ("_name", "_exit_fns")

    def __init__(self, name: str) -> None:
        if not isinstance(name, str):
            raise ValueError("name for name_scope must be a string.")
        self._name = name
        self._exit_fns: List[str] = []

    @property
    def name(self) -> str:
        return self._name

    def __enter__(self) -> str:
        old = _state.scope_name
        name = self._name
        if not name:
            scope = ""
        elif name[-1] == "/":
            scope = name
        elif old:
            scope = old + name + "/"
        else:
            scope = name + "/"
        _state.scope_name = scope
        self._exit_fns.append(old)
        return scope

    def __exit__(self, *exc: Any) -> None:
        _state.scope_name = self._exit_fns.pop()

    def __repr__(self) -> str:
        return f"<tf.name_scope {self._name!r}>"


def get_current_name_scope() -> str:
    """The current full name scope, without the trailing ``/`` (``''`` at the top)."""
    return _state.scope_name.rstrip("/")


def _scoped_variable_name(name: Optional[str]) -> str:
    """A variable's name as TF gives it in eager mode: ``scope/name:0`` (``Variable`` when unnamed)."""
    name = name or "Variable"
    scope = name if name[-1] == "/" else _state.scope_name + name + "/"
    return scope[:-1] + ":0"


# ---- Module ----------------------------------------------------------------------------------------------
_CAMEL_TO_SNAKE_R = re.compile(r"((?<=[a-z0-9])[A-Z]|(?!^)[A-Z](?=[a-z]))")
_VALID_IDENTIFIER = re.compile(r"^[a-zA-Z_]([a-zA-Z0-9_])*$")


def valid_identifier(name: str) -> bool:
    return bool(_VALID_IDENTIFIER.match(name))


def camel_to_snake(value: str) -> str:
    return _CAMEL_TO_SNAKE_R.sub(r"_\1", value).lower()


class Module:
    """Base neural network module class: a named container for ``tf.Variable``s, other ``tf.Module``s
    and the functions that apply them to inputs.

    >>> class Dense(tf.Module):
    ...   def __init__(self, input_dim, output_size, name=None):
    ...     super().__init__(name=name)
    ...     self.w = tf.Variable(tf.random.normal([input_dim, output_size]), name='w')
    ...     self.b = tf.Variable(tf.zeros([output_size]), name='b')
    ...   def __call__(self, x):
    ...     return tf.nn.relu(tf.matmul(x, self.w) + self.b)

    ``d.variables`` is ``(d.b, d.w)``: attributes in sorted order of name."""

    # TF ignores these AutoTrackable bookkeeping attributes when flattening
    _TF_MODULE_IGNORED_PROPERTIES = frozenset((
        "_self_unconditional_checkpoint_dependencies",
        "_self_unconditional_dependency_names",
    ))

    def __init__(self, name: Optional[str] = None) -> None:
        if name is None:
            name = camel_to_snake(type(self).__name__)
        elif not isinstance(name, str) or not valid_identifier(name):
            raise ValueError(f"{name!r} is not a valid module name. Module names must be valid Python "
                             "identifiers (e.g. a valid class name).")
        self._name = name
        with name_scope(name) as scope_name:
            self._name_scope = name_scope(scope_name)

    @property
    def name(self) -> str:
        """The name of this module as passed or determined in the constructor (not the full scope)."""
        return self._name

    @property
    def name_scope(self) -> name_scope:
        """The ``tf.name_scope`` of this module: its full scope when it was created."""
        scope = self.__dict__.get("_name_scope")
        if scope is None:  # a Keras layer (a Module that does not run Module.__init__): scoped by its name
            with name_scope(str(getattr(self, "name", None) or camel_to_snake(type(self).__name__))) as s:
                scope = name_scope(s)
            self.__dict__["_name_scope"] = scope
        return scope

    @property
    def variables(self) -> Sequence[Any]:
        """The variables of this module (its attributes in sorted order of name), then those of its
        submodules, recursively."""
        return tuple(self._flatten(predicate=_is_variable))

    @property
    def trainable_variables(self) -> Sequence[Any]:
        return tuple(self._flatten(predicate=_is_trainable_variable))

    @property
    def non_trainable_variables(self) -> Sequence[Any]:
        return tuple(self._flatten(predicate=_is_non_trainable_variable))

    @property
    def submodules(self) -> Sequence["Module"]:
        """Every module reachable from this one's attributes (not this one), its own first."""
        return tuple(self._flatten(predicate=_is_module))

    def _flatten(self, recursive: bool = True, predicate: Optional[Callable[[Any], bool]] = None,
                 attribute_traversal_key: Optional[Callable[[str], Any]] = None, with_path: bool = False,
                 expand_composites: bool = False) -> Iterator[Any]:
        """The attribute values of this module (and, `recursive`ly, of its submodules) that `predicate`
        accepts: attributes in sorted order of name (or of `attribute_traversal_key`), each flattened as
        ``tf.nest`` does. With `with_path`, ``(path, leaf)`` pairs, not deduplicated."""
        if predicate is None:
            predicate = lambda _: True  # noqa: E731
        return _flatten_module(self, recursive=recursive, predicate=predicate,
                               attributes_to_ignore=self._TF_MODULE_IGNORED_PROPERTIES,
                               attribute_traversal_key=attribute_traversal_key, with_path=with_path)

    @classmethod
    def with_name_scope(cls, method: Callable[..., Any]) -> Callable[..., Any]:
        """Decorator: the method runs inside the module's name scope."""
        @functools.wraps(method)
        def method_with_name_scope(self: "Module", *args: Any, **kwargs: Any) -> Any:
            with self.name_scope:
                return method(self, *args, **kwargs)
        return method_with_name_scope


def _is_variable(obj: Any) -> bool:
    return isinstance(obj, _core.VariableBase)


def _is_trainable_variable(obj: Any) -> bool:
    return isinstance(obj, _core.VariableBase) and bool(getattr(obj, "trainable", False))


def _is_non_trainable_variable(obj: Any) -> bool:
    return isinstance(obj, _core.VariableBase) and not getattr(obj, "trainable", False)


def _is_module(obj: Any) -> bool:
    return isinstance(obj, Module)


def _sorted_keys(d: Any) -> List[Any]:
    try:
        return sorted(d)
    except TypeError:
        raise TypeError("nest only supports dicts with sortable keys.") from None


def _flatten_with_tuple_paths(value: Any, path: Tuple[Any, ...] = ()) -> Iterator[Tuple[Tuple[Any, ...], Any]]:
    """``tf.nest.flatten_with_tuple_paths``: lists, tuples (namedtuples by field name) and mappings (by
    sorted key) are structure; everything else is a leaf."""
    from collections.abc import Mapping
    if isinstance(value, Mapping):
        for k in _sorted_keys(value):
            yield from _flatten_with_tuple_paths(value[k], path + (k,))
    elif isinstance(value, tuple) and hasattr(value, "_fields"):
        for k in value._fields:
            yield from _flatten_with_tuple_paths(getattr(value, k), path + (k,))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _flatten_with_tuple_paths(v, path + (i,))
    else:
        yield path, value


def _flatten_module(module: Any, recursive: bool, predicate: Callable[[Any], bool],
                    attribute_traversal_key: Optional[Callable[[str], Any]], attributes_to_ignore: Any,
                    with_path: bool, module_path: Tuple[Any, ...] = (), seen: Optional[Set[int]] = None,
                    recursion_stack: Optional[List[int]] = None) -> Iterator[Any]:
    """TF's ``_flatten_module``: the module's own attributes first, then each submodule in the order
    found; `seen` (ids) deduplicates without paths, `recursion_stack` breaks cycles with paths."""
    module_id = id(module)
    if seen is None:
        seen = {module_id}
    if recursion_stack is None:
        recursion_stack = []
    if module_id in recursion_stack:
        recursive = False
    module_dict = vars(module)
    submodules = []
    for key in sorted(module_dict, key=attribute_traversal_key):
        if key in attributes_to_ignore:
            continue
        prop = module_dict[key]
        try:
            leaves = list(_flatten_with_tuple_paths(prop))
        except Exception as cause:
            raise ValueError(f"Error processing property {key!r} of {prop!r}") from cause
        for leaf_path, leaf in leaves:
            leaf_path = (key,) + leaf_path
            if not with_path:
                leaf_id = id(leaf)
                if leaf_id in seen:
                    continue
                seen.add(leaf_id)
            if predicate(leaf):
                yield (module_path + leaf_path, leaf) if with_path else leaf
            if recursive and _is_module(leaf):
                submodules.append((module_path + leaf_path, leaf))  # own attributes first, then recurse
    recursion_stack.append(module_id)
    for submodule_path, submodule in submodules:
        yield from _flatten_module(submodule, recursive=recursive, predicate=predicate,
                                   attribute_traversal_key=attribute_traversal_key,
                                   attributes_to_ignore=submodule._TF_MODULE_IGNORED_PROPERTIES,
                                   with_path=with_path, module_path=submodule_path, seen=seen,
                                   recursion_stack=recursion_stack)
    recursion_stack.pop()
