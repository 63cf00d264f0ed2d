"""``tf.GradientTape`` and ``tf.custom_gradient``: thin Python shells over the native tape."""
from __future__ import annotations

import contextlib
import enum
import functools
import inspect
import logging
import threading
from typing import Any, Callable, Iterator, List, Optional

import numpy as np

from . import _core, _nest
from .variables import Variable

_log = logging.getLogger("pyfast_tape")

class UnconnectedGradients(enum.Enum):
    """What ``gradient()`` returns for a source the target does not depend on: None, zeros, or (not in
    TF) raise ``errors.UnconnectedGradientError`` explaining why."""

    NONE = "none"
    ZERO = "zero"
    RAISE = "raise"

# The latest gradient() call of each thread, for the optimizers' None-gradient messages (set by the native
# GradientTape.gradient), and the nested-structure helpers it uses for anything but flat arguments.
_last_call = threading.local()
_core.Tape._register(_last_call, _nest.flatten, _nest.pack_sequence_as)

def _describe_source(source: Any) -> str:
    if isinstance(source, _core.VariableBase):
        return f"Variable '{getattr(source, 'name', 'Variable')}'"
    return f"the Tensor of shape {tuple(source.shape)} and dtype {source.dtype.name}"

def _at(ev: Optional[dict]) -> str:
    if not ev or not ev.get("file"):
        return "an unknown line"
    return f"{ev['file']}:{ev['line']}"

_CAUSES = {
    "outside_tape": "`{op}` ran while no GradientTape was recording (after the `with tf.GradientTape()` block "
                    "closed, or before it opened), so the tape never saw it; compute it inside the `with` block",
    "variable_outside_tape": "`{op}` read a Variable outside any GradientTape; its result is a plain Tensor that no "
                             "tape connects back to the Variable; compute it inside the `with` block",
    "stop_recording": "`{op}` ran inside `tape.stop_recording()`, so it was not recorded",
    "unwatched": "`{op}` ran while the tape was recording, but the tape watched none of its inputs",
    "non_differentiable": "`{op}` produced a {dtype} tensor; integer and bool results carry no gradient (a cast to "
                          "an integer type, argmax, a comparison or one_hot cut the path); keep the computation in "
                          "floating point",
    "stop_gradient": "`tf.stop_gradient` blocks gradients by design",
    "numpy_round_trip": "the value went through NumPy (`.numpy()` or `np.asarray`) and came back as a new tensor "
                        "with no link to the one the tape recorded{trip}; stay with tf ops inside the tape",
    "assign": "`{op}` wrote the value into a Variable; assignments are not differentiable (state stops gradients)",
    "numpy_export": "the value left the tape through NumPy (`{op}`)",
}

def _explain(tape: "GradientTape", target: Any, source: Any) -> str:
    d = _core.explain_(tape, _core.convert(target), source)
    src = _describe_source(source)
    if not d["target_float"]:
        return (f"The gradient with respect to {src} is None because the target has dtype {d['target_dtype']}: "
                "integer and bool tensors carry no gradient.")
    if d["connected"]:
        return f"{src} is connected to the target: the gradient flows through the ops this tape recorded."
    if isinstance(source, _core.VariableBase) and not source.dtype.is_floating:
        return f"The gradient with respect to {src} is None: its dtype {source.dtype.name} is not floating."
    head = f"The gradient with respect to {src} is None: "
    events = d["source_events"]
    reads = [e for e in events if e["cause"] in ("non_trainable", "unwatched_variable")]
    if not d["source_watched"]:
        if isinstance(source, _core.VariableBase):
            if not source.trainable:
                at = _at(reads[0] if reads else None)
                return head + (f"the Variable is not trainable (trainable=False), so tapes do not watch it (read at "
                               f"{at}). Create it with trainable=True or call tape.watch() on it.")
            if reads:
                return head + (f"the tape was created with watch_accessed_variables=False and never watched this "
                               f"Variable (read at {_at(reads[0])}); call tape.watch() on it inside the tape.")
            if not d["path_found"]:
                created = getattr(source, "_created_at", None)
                where = f"; it was created at {created}" if created else ""
                return head + f"the Variable was never read while the tape was recording{where}."
        else:
            prod = d["source_producer"]
            if prod and prod["cause"] == "variable_outside_tape":
                return head + (f"it is a Tensor, not a Variable: `{prod['op']}` computed it from a Variable at "
                               f"{_at(prod)} outside any tape (e.g. `x = x + 1` replaces the Variable by a Tensor; "
                               "use x.assign_add(1) to keep the Variable). Tapes watch Variables automatically and "
                               "Tensors only after tape.watch().")
            uses = d["cuts"][:1] or [e for e in events if e["cause"] == "unwatched"][:1]
            if uses or d["path_found"]:
                at = f" (used by `{uses[0]['op']}` at {_at(uses[0])})" if uses else ""
                return head + (f"the tape does not watch this Tensor{at}. Constants are differentiated only after "
                               "tape.watch(x) inside the tape; Variables are watched when read.")
    if d["path_found"] and d["cuts"]:
        cut = d["cuts"][0]
        if cut["cause"] == "numpy_export" and d["cuts"][1:2] and d["cuts"][1]["cause"] == "numpy_round_trip":
            # a round trip: the line where the value left the tape and the line where it came back
            back = d["cuts"][1]
            trip = f": it left the tape at {_at(cut)} (`{cut['op']}`) and came back as a new tensor at {_at(back)}"
            text = _CAUSES["numpy_round_trip"].format(trip=trip)
            return head + f"the path from it to the target is cut at {_at(back)}: {text}."
        text = _CAUSES.get(cut["cause"], "`{op}` was not recorded").format(op=cut["op"], dtype=cut["dtype"], trip="")
        return head + f"the path from it to the target is cut at {_at(cut)}: {text}."
    assigns = [e for e in events if e["cause"] == "assign"]
    if assigns:
        return head + (f"it reaches the target only through an assignment at {_at(assigns[0])}: "
                       + _CAUSES["assign"].format(op=assigns[0]["op"]) + ".")
    if d["path_found"]:
        return head + "the target depends on it only through ops no tape recorded."
    return head + ("the target was not computed from it by any op this tape recorded or that ran after it "
                   "(it may have gone through NumPy by copy, or the target was computed elsewhere).")

def _as_unconnected(value: Any) -> UnconnectedGradients:
    try:
        return UnconnectedGradients(value.value if isinstance(value, UnconnectedGradients) else value)
    except ValueError:
        raise ValueError(f"Unknown value for unconnected_gradients: {value!r}") from None

class GradientTape(_core.Tape):
    """Records operations for automatic differentiation (TensorFlow's ``tf.GradientTape``).

    ``GradientTape(persistent=False, watch_accessed_variables=True)``. Construction, ``__enter__`` and
    ``__exit__`` are the native base class's (``_core.Tape``): a training step opens one tape, and the C
    calls cost a fraction of Python-level methods."""

    def watch(self, tensor: Any) -> None:
        """Ensures `tensor` (a Tensor, Variable, or nested structure of them) is traced by this tape."""
        for t in _nest.flatten(tensor):
            if not isinstance(t, (_core.Tensor, _core.VariableBase)):
                raise ValueError(f"Passed in object {t!r} of type {type(t).__name__!r}, not tf.Tensor or tf.Variable")
            if not t.dtype.is_floating:
                _log.warning("The dtype of the watched tensor must be floating (e.g. tf.float32), got %r", t.dtype)
            self._watch(t)

    @contextlib.contextmanager
    def stop_recording(self) -> Iterator[None]:
        """Temporarily stops recording operations on this tape."""
        if not self._active:
            raise RuntimeError("Trying to stop recording a tape which is not recording.")
        was = self._recording
        self._recording = False
        try:
            yield
        finally:
            self._recording = was

    def reset(self) -> None:
        """Clears all information stored in this tape."""
        self._reset()

    def watched_variables(self) -> tuple:
        """Variables watched by this tape, in the order they were first watched."""
        return self._watched_variables()

    # gradient(target, sources, output_gradients=None, unconnected_gradients=UnconnectedGradients.NONE) and
    # _check_usable() are the native base class's (csrc/python/tape_type.cpp), where each rule of the call is
    # written once. These two are the parts it leaves to Python: the warning, and the explanation for RAISE.
    def _warn_gradient_inside_context(self) -> None:
        _log.warning("Calling GradientTape.gradient on a persistent tape inside its context is "
                     "significantly less efficient than calling it outside the context.")

    def _raise_unconnected(self, flat_targets: List[Any], flat_sources: List[Any], grads: List[Any]) -> None:
        from .errors import UnconnectedGradientError
        lines = [self._explain_any(flat_targets, s) for g, s in zip(grads, flat_sources) if g is None]
        raise UnconnectedGradientError("\n".join(lines))

    def explain(self, target: Any, source: Any) -> str:
        """Why the gradient of `target` with respect to `source` is None: the cause, the op and the
        `file:line` where the path was cut, or that the two are connected. Works after gradient()."""
        return self._explain_any(_nest.flatten(target), source)

    def _explain_any(self, flat_targets: List[Any], source: Any) -> str:
        texts = [_explain(self, t, source) for t in flat_targets]
        for t in texts:
            if "is None" in t:
                return t
        return texts[0] if texts else "There is no target."

    def _gradient_keep(self, targets: List[Any], sources: List[Any], output_gradients: List[Any]) -> List[Any]:
        return self._gradient(targets, sources, output_gradients, False)

    def jacobian(self, target: Any, sources: Any, unconnected_gradients: Any = UnconnectedGradients.NONE,
                 parallel_iterations: Any = None, experimental_use_pfor: bool = True) -> Any:
        """Jacobian of `target` with respect to each source: shape target.shape + source.shape.
        Computed by one reverse sweep per target element; the result is not recorded by outer tapes."""
        self._check_usable()
        mode = _as_unconnected(unconnected_gradients)
        self._check_thread()
        if self._active and not self._persistent:
            self._recording = False
        flat_sources = _nest.flatten(sources)
        t = _core.convert(target)
        tshape = tuple(t.shape)
        n = int(np.prod(tshape)) if tshape else 1
        rows: List[List[Optional[np.ndarray]]] = [[] for _ in flat_sources]
        seed = np.zeros(n, dtype=t.dtype.as_numpy_dtype)
        for i in range(n):
            seed[:] = 0
            seed[i] = 1
            og = _core.convert(seed.reshape(tshape))
            grads = self._gradient_keep([t], flat_sources, [og])
            for k, g in enumerate(grads):
                rows[k].append(None if g is None else np.array(g))
        if not self._persistent:
            self._reset()
            self._mark_used()
        out = []
        for k, s in enumerate(flat_sources):
            sshape = tuple(s.shape)
            if all(r is None for r in rows[k]):
                if mode is UnconnectedGradients.ZERO:
                    out.append(_core.convert(np.zeros(tshape + sshape, dtype=s.dtype.as_numpy_dtype)))
                else:
                    out.append(None)
                continue
            stacked = np.stack([r if r is not None else np.zeros(sshape, dtype=s.dtype.as_numpy_dtype)
                                for r in rows[k]])
            out.append(_core.convert(stacked.reshape(tshape + sshape)))
        return _nest.pack_sequence_as(sources, out)

    def batch_jacobian(self, target: Any, source: Any, unconnected_gradients: Any = UnconnectedGradients.NONE,
                       parallel_iterations: Any = None, experimental_use_pfor: bool = True) -> Any:
        """Per-example Jacobian: target (B, ...) and source (B, ...) give (B, target[1:]..., source[1:]...).
        Assumes example b of the target depends only on example b of the source (as TF does)."""
        self._check_usable()
        mode = _as_unconnected(unconnected_gradients)
        self._check_thread()
        if self._active and not self._persistent:
            self._recording = False
        t = _core.convert(target)
        tshape = tuple(t.shape)
        sshape = tuple(source.shape)
        if len(tshape) < 2 or len(sshape) < 2:
            raise ValueError(f"batch_jacobian: target {tshape} and source {sshape} must have rank at least 2")
        if tshape[0] != sshape[0]:
            raise ValueError(f"batch_jacobian: target {tshape} and source {sshape} need the same first (batch) dimension")
        B = tshape[0]
        m = int(np.prod(tshape[1:])) if len(tshape) > 1 else 1
        cols: List[Optional[np.ndarray]] = []
        seed = np.zeros((B, m), dtype=t.dtype.as_numpy_dtype)
        for j in range(m):
            seed[:] = 0
            seed[:, j] = 1
            (g,) = self._gradient_keep([t], [source], [_core.convert(seed.reshape(tshape))])
            cols.append(None if g is None else np.array(g).reshape(B, -1))
        if not self._persistent:
            self._reset()
            self._mark_used()
        if all(c is None for c in cols):  # TF returns zeros here whatever unconnected_gradients says
            return _core.convert(np.zeros(tshape + sshape[1:], dtype=source.dtype.as_numpy_dtype))
        k = int(np.prod(sshape[1:])) if len(sshape) > 1 else 1
        full = np.stack([c if c is not None else np.zeros((B, k), dtype=source.dtype.as_numpy_dtype)
                         for c in cols], axis=1)
        return _core.convert(full.reshape(tshape + sshape[1:]))

    def _mark_used(self) -> None:
        # gradient() with release=True on an empty tape marks a non-persistent tape as used.
        self._gradient([], [], [], True)

def custom_gradient(f: Optional[Callable[..., Any]] = None) -> Any:
    """Decorator: `f(*args)` returns `(y, grad_fn)`; the tape uses `grad_fn(*dys)` as the gradient of y.
    If `f` reads trainable variables, `grad_fn(*dys, variables=vars)` must return
    `(input_grads, variable_grads)`."""
    if f is None:
        return custom_gradient

    @functools.wraps(f)
    def decorated(*args: Any, **kwargs: Any) -> Any:
        with _core.VariableWatcher() as watcher:
            result, grad_fn = f(*args, **kwargs)
        arg_ids = {id(a) for a in args}
        variables = [v for v in watcher.variables() if v.trainable and id(v) not in arg_ids]
        if variables:
            params = inspect.signature(grad_fn).parameters
            if "variables" not in params and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
                raise TypeError("@tf.custom_gradient grad_fn must accept keyword argument 'variables', since function "
                                f"uses variables: {[v.name for v in variables]}")
        inputs = [a if isinstance(a, (_core.Tensor, _core.VariableBase)) else _core.convert(a) for a in args]
        flat = _nest.flatten(result)
        outs = [_core.alias(_core.convert(y)) for y in flat]  # fresh ids: only the custom entry produces them
        n_args = len(inputs)

        def backward(douts: List[Any]) -> List[Any]:
            if variables:
                in_grads, var_grads = grad_fn(*douts, variables=variables)
                var_grads = list(var_grads)
            else:
                in_grads, var_grads = grad_fn(*douts), []
            in_grads = list(in_grads) if isinstance(in_grads, (list, tuple)) else [in_grads]
            if len(in_grads) != n_args:
                raise ValueError(f"custom_gradient: grad_fn returned {len(in_grads)} gradients for {n_args} inputs")
            return in_grads + var_grads

        _core.record_custom(inputs + variables, outs, backward)
        return _nest.pack_sequence_as(result, outs)

    return decorated

def explain_missing_gradients(variables: List[Any]) -> str:
    """For the optimizers: why each variable got no gradient from this thread's latest gradient() call."""
    last = getattr(_last_call, "value", None)
    if last is None:
        return ""
    tape, targets, sources, grads = last
    lines = []
    for v in variables:
        for s, g in zip(sources, grads):
            if s is v and g is None:
                lines.append("  - " + tape._explain_any(targets, v))
                break
    return ("\nWhy (from the latest GradientTape.gradient() call):\n" + "\n".join(lines)) if lines else ""
