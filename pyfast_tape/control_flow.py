"""Control flow in eager form, printing and run-time assertions: tf.cond, tf.case, tf.while_loop, tf.map_fn,
tf.vectorized_map, tf.py_function / tf.numpy_function, tf.print, tf.debugging.assert_* and check_numerics.

Eagerly, TF runs these as plain Python (cond calls one branch, while_loop loops), and so does this module;
gradients flow through whatever ops the branches and bodies run.
"""
from __future__ import annotations

import sys
from typing import Any, Callable, List, Optional, Sequence

import numpy as np

from . import _core, _nest
from ._pyops import as_tensor as _t


def _truth(pred: Any, op: str) -> bool:
    if isinstance(pred, (_core.Tensor, _core.VariableBase)):
        if tuple(pred.shape) not in ((), (1,)):
            raise ValueError(f"{op}: pred must be a scalar, got shape {tuple(pred.shape)}")
        return bool(np.asarray(pred.numpy()).reshape(()))
    return bool(pred)


# ---- branches and loops ------------------------------------------------------------------------------------
def cond(pred: Any, true_fn: Optional[Callable[[], Any]] = None, false_fn: Optional[Callable[[], Any]] = None,
         name: Optional[str] = None) -> Any:
    """true_fn() if pred else false_fn() (both must be callables, as TF requires)."""
    if not callable(true_fn):
        raise TypeError("cond: true_fn must be callable.")
    if not callable(false_fn):
        raise TypeError("cond: false_fn must be callable.")
    return true_fn() if _truth(pred, "cond") else false_fn()


def case(pred_fn_pairs: Sequence[Any], default: Optional[Callable[[], Any]] = None, exclusive: bool = False,
         strict: bool = False, name: Optional[str] = None) -> Any:
    """The fn of the first pair whose pred is true (with exclusive=True, more than one true raises)."""
    pairs = list(pred_fn_pairs.items()) if isinstance(pred_fn_pairs, dict) else list(pred_fn_pairs)
    hits = [fn for p, fn in pairs if _truth(p, "case")]
    if exclusive and len(hits) > 1:
        raise _core.InvalidArgumentError(f"case: more than one condition evaluated as True ({len(hits)}) with "
                                         "exclusive=True")
    if hits:
        return hits[0]()
    if default is None:
        if not pairs:
            raise ValueError("case: no predicates and no default")
        return pairs[-1][1]()  # TF: the last branch is the default when none is given
    return default()


def while_loop(cond: Callable[..., Any], body: Callable[..., Any], loop_vars: Any, shape_invariants: Any = None,
               parallel_iterations: int = 10, back_prop: bool = True, swap_memory: bool = False,
               maximum_iterations: Any = None, name: Optional[str] = None) -> Any:
    """Repeats `loop_vars = body(*loop_vars)` while `cond(*loop_vars)`; returns the final loop_vars in the
    structure given (a single tensor in, a single tensor out)."""
    single = not isinstance(loop_vars, (list, tuple))
    vars_ = [loop_vars] if single else list(loop_vars)
    limit = None if maximum_iterations is None else int(np.asarray(
        maximum_iterations.numpy() if isinstance(maximum_iterations, _core.Tensor) else maximum_iterations))
    i = 0
    while (limit is None or i < limit) and _truth(cond(*vars_), "while_loop"):
        out = body(*vars_)
        if single and not isinstance(out, (list, tuple)):
            out = [out]
        out = list(out) if isinstance(out, (list, tuple)) else [out]
        if len(_nest.flatten(out)) != len(_nest.flatten(vars_)):
            raise ValueError(f"while_loop: body returned {len(out)} loop variables, expected {len(vars_)}")
        vars_ = out
        i += 1
    if single:
        return vars_[0]
    return type(loop_vars)(vars_) if isinstance(loop_vars, tuple) and not hasattr(loop_vars, "_fields") else \
        (type(loop_vars)(*vars_) if hasattr(loop_vars, "_fields") else vars_)


def _stack(xs: List[Any]) -> Any:
    ts = [_t(x) for x in xs]
    return _core.reshape(_concat0([_core.reshape(t, [1] + list(t.shape)) for t in ts]), [len(ts)] + list(ts[0].shape))


def _concat0(ts: List[Any]) -> Any:
    from . import array_ops
    return array_ops.concat(ts, axis=0)


def map_fn(fn: Callable[[Any], Any], elems: Any, dtype: Any = None, parallel_iterations: Any = None,
           back_prop: bool = True, swap_memory: bool = False, infer_shape: bool = True, name: Optional[str] = None,
           fn_output_signature: Any = None) -> Any:
    """fn applied to each slice of `elems` along axis 0 (elems may be a nested structure of tensors of one
    leading size), the results stacked along a new axis 0; differentiable through fn."""
    flat = [_t(e) for e in _nest.flatten(elems)]
    if not flat:
        raise ValueError("map_fn: elems must be a tensor or a (possibly nested) sequence of tensors")
    n = int(flat[0].shape[0]) if len(flat[0].shape) else None
    if n is None:
        raise ValueError("map_fn: elems must be at least 1-D (axis 0 is mapped over)")
    for e in flat[1:]:
        if not len(e.shape) or int(e.shape[0]) != n:
            raise ValueError("map_fn: all elems must have the same size along axis 0")
    from .indexing import getitem
    results = []
    for i in range(n):
        piece = _nest.pack_sequence_as(elems, [getitem(e, i) for e in flat])
        results.append(fn(piece))
    if n == 0:
        raise ValueError("map_fn: elems have size 0 along axis 0 (the output shape cannot be inferred eagerly)")
    out_flat = [_nest.flatten(r) for r in results]
    stacked = [_stack([o[k] for o in out_flat]) for k in range(len(out_flat[0]))]
    return _nest.pack_sequence_as(results[0], stacked)


def vectorized_map(fn: Callable[[Any], Any], elems: Any, fallback_to_while_loop: bool = True,
                   warn: bool = True) -> Any:
    """map_fn's result (the loop runs eagerly; TF vectorizes it, with the same values)."""
    return map_fn(fn, elems)


def py_function(func: Callable[..., Any], inp: Sequence[Any], Tout: Any, name: Optional[str] = None) -> Any:
    """func(*inp) with tensors in and tensors (of Tout's dtypes) out; gradients flow through the ops func runs."""
    from .dtypes import as_dtype
    out = func(*[_t(x) if not isinstance(x, _core.VariableBase) else x for x in inp])
    if Tout is None:
        return None
    if isinstance(Tout, (list, tuple)):
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        if len(outs) != len(Tout):
            raise ValueError(f"py_function: func returned {len(outs)} values, Tout has {len(Tout)}")
        return [_cast_to(o, as_dtype(d)) for o, d in zip(outs, Tout)]
    return _cast_to(out, as_dtype(Tout))


def _cast_to(o: Any, dt: Any) -> Any:
    t = _t(o) if isinstance(o, (_core.Tensor, _core.VariableBase)) else _core.convert(o, dt)
    if t.dtype != dt:
        raise TypeError(f"py_function: func returned a {t.dtype.name} value where Tout says {dt.name}")
    return t


def numpy_function(func: Callable[..., Any], inp: Sequence[Any], Tout: Any, stateful: bool = True,
                   name: Optional[str] = None) -> Any:
    """func(*[NumPy arrays]) -> arrays, as tensors of Tout (no gradient, as TF)."""
    from .dtypes import as_dtype
    out = func(*[np.asarray(_t(x).numpy()) for x in inp])
    if isinstance(Tout, (list, tuple)):
        return [_core.convert(np.asarray(o), as_dtype(d)) for o, d in zip(out, Tout)]
    return _core.convert(np.asarray(out), as_dtype(Tout))


# ---- tf.print --------------------------------------------------------------------------------------------------
def _fmt_scalar(v: Any) -> str:
    if isinstance(v, (np.bool_, bool)):
        return "1" if v else "0"
    if isinstance(v, np.floating):
        if np.isnan(v):
            return "nan" if not np.signbit(v) else "-nan"
        if np.isinf(v):
            return "inf" if v > 0 else "-inf"
        # TF's SimpleFtoa/SimpleDtoa: the shortest of %.6g/%.9g (float) or %.15g/%.17g (double) that
        # reads back as the same value
        short, long = (6, 9) if v.dtype == np.float32 else (15, 17)
        s = f"{float(v):.{short}g}"
        if v.dtype.type(float(s)) != v:
            s = f"{float(v):.{long}g}"
        return s
    if isinstance(v, bytes):
        return v.decode()
    return str(v)


def _fmt_array(a: np.ndarray, summarize: int, indent: int = 0) -> str:
    if a.ndim == 0:
        return _fmt_scalar(a[()])
    n = a.shape[0]
    if summarize >= 0 and n > 2 * summarize:
        idx: List[Any] = list(range(summarize)) + ["..."] + list(range(n - summarize, n))
    else:
        idx = list(range(n))
    if a.ndim == 1:
        return "[" + " ".join("..." if i == "..." else _fmt_scalar(a[i]) for i in idx) + "]"
    sep = "\n" + " " * (indent + 1)
    return "[" + sep.join("..." if i == "..." else _fmt_array(a[i], summarize, indent + 1) for i in idx) + "]"


def _fmt(x: Any, summarize: int) -> str:
    if isinstance(x, (_core.Tensor, _core.VariableBase)):
        return _fmt_array(np.asarray(x.numpy()), summarize)
    if isinstance(x, (list, tuple)):
        inner = ", ".join(_fmt(v, summarize) for v in x)
        return "[" + inner + "]" if isinstance(x, list) else "(" + inner + ("," if len(x) == 1 else "") + ")"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k!r}: {_fmt(v, summarize)}" for k, v in x.items()) + "}"
    return str(x)


def print_(*inputs: Any, output_stream: Any = None, summarize: int = 3, sep: str = " ", end: str = "\n",
           name: Optional[str] = None) -> None:
    """tf.print: tensors formatted as TF formats them (the first and last `summarize` entries of each
    dimension, `...` between; summarize=-1 prints everything), to standard error by default."""
    text = sep.join(_fmt(x, -1 if summarize is None else int(summarize)) for x in inputs) + end
    stream = sys.stderr if output_stream is None else output_stream
    if isinstance(stream, str):  # TF's "file://path" form
        if stream.startswith("file://"):
            with open(stream[len("file://"):], "a") as f:
                f.write(text)
            return
        raise ValueError(f"print: unsupported output_stream {stream!r}")
    stream.write(text)


# ---- tf.debugging ----------------------------------------------------------------------------------------------
def _fail(message: Optional[str], default: str, data: Sequence[Any] = ()) -> None:
    parts = [message] if message else []
    parts.append(default)
    raise _core.InvalidArgumentError("\n".join(parts))


def _compare(op: str, x: Any, y: Any, test: Callable[[np.ndarray, np.ndarray], np.ndarray], message: Optional[str],
             rel: str) -> None:
    a, b = np.asarray(_t(x).numpy()), np.asarray(_t(y).numpy())
    try:
        ok = test(a, b)
    except ValueError:
        raise ValueError(f"{op}: shapes {a.shape} and {b.shape} are incompatible") from None
    if not np.all(ok):
        _fail(message, f"Condition x {rel} y did not hold element-wise:\nx = {_fmt_array(a, 3)}\ny = {_fmt_array(b, 3)}")


def assert_equal(x: Any, y: Any, message: Optional[str] = None, summarize: Any = None, name: Optional[str] = None) -> None:
    _compare("assert_equal", x, y, lambda a, b: a == b, message, "==")


def assert_none_equal(x: Any, y: Any, message: Optional[str] = None, summarize: Any = None, name: Optional[str] = None) -> None:
    _compare("assert_none_equal", x, y, lambda a, b: a != b, message, "!=")


def assert_less(x: Any, y: Any, message: Optional[str] = None, summarize: Any = None, name: Optional[str] = None) -> None:
    _compare("assert_less", x, y, lambda a, b: a < b, message, "<")


def assert_less_equal(x: Any, y: Any, message: Optional[str] = None, summarize: Any = None,
                      name: Optional[str] = None) -> None:
    _compare("assert_less_equal", x, y, lambda a, b: a <= b, message, "<=")


def assert_greater(x: Any, y: Any, message: Optional[str] = None, summarize: Any = None, name: Optional[str] = None) -> None:
    _compare("assert_greater", x, y, lambda a, b: a > b, message, ">")


def assert_greater_equal(x: Any, y: Any, message: Optional[str] = None, summarize: Any = None,
                         name: Optional[str] = None) -> None:
    _compare("assert_greater_equal", x, y, lambda a, b: a >= b, message, ">=")


def assert_positive(x: Any, message: Optional[str] = None, summarize: Any = None, name: Optional[str] = None) -> None:
    _compare("assert_positive", 0, x, lambda a, b: a < b, message, "0 <")


def assert_negative(x: Any, message: Optional[str] = None, summarize: Any = None, name: Optional[str] = None) -> None:
    _compare("assert_negative", x, 0, lambda a, b: a < b, message, "< 0:")


def assert_non_negative(x: Any, message: Optional[str] = None, summarize: Any = None, name: Optional[str] = None) -> None:
    _compare("assert_non_negative", 0, x, lambda a, b: a <= b, message, "0 <=")


def assert_non_positive(x: Any, message: Optional[str] = None, summarize: Any = None, name: Optional[str] = None) -> None:
    _compare("assert_non_positive", x, 0, lambda a, b: a <= b, message, "<= 0:")


def assert_near(x: Any, y: Any, rtol: Any = None, atol: Any = None, message: Optional[str] = None,
                summarize: Any = None, name: Optional[str] = None) -> None:
    """|x - y| <= atol + rtol * |y| elementwise (TF's defaults: 10 * eps of the dtype for both)."""
    tx = _t(x)
    eps = np.finfo(np.dtype(tx.dtype.name)).eps if tx.dtype.is_floating else 0.0
    rt = 10 * eps if rtol is None else float(rtol)
    at = 10 * eps if atol is None else float(atol)
    _compare("assert_near", x, y, lambda a, b: np.abs(a - b) <= at + rt * np.abs(b), message, "~=")


def assert_rank(x: Any, rank: int, message: Optional[str] = None, name: Optional[str] = None) -> None:
    r = len(_t(x).shape)
    if r != int(rank):
        raise ValueError(f"{message + ' ' if message else ''}Tensor must have rank {int(rank)}. Received rank {r}, "
                         f"shape {tuple(_t(x).shape)}")


def assert_type(tensor: Any, tf_type: Any, message: Optional[str] = None, name: Optional[str] = None) -> None:
    from .dtypes import as_dtype
    if _t(tensor).dtype != as_dtype(tf_type):
        raise TypeError(f"{message + ' ' if message else ''}tensor must be of type {as_dtype(tf_type).name}, "
                        f"got {_t(tensor).dtype.name}")


def assert_shapes(shapes: Any, data: Any = None, summarize: Any = None, message: Optional[str] = None,
                  name: Optional[str] = None) -> None:
    """Each (tensor, shape spec) pair: ints must match, letters must agree across tensors ('.' or None: any)."""
    bound: dict = {}
    items = shapes.items() if isinstance(shapes, dict) else shapes
    for x, spec in items:
        s = tuple(_t(x).shape)
        spec = list(spec)
        if len(spec) != len(s):
            raise ValueError(f"{message + ' ' if message else ''}Specified by tensor with shape {s}: rank must be "
                             f"{len(spec)}")
        for d, want in zip(s, spec):
            if want is None or want == ".":
                continue
            if isinstance(want, str):
                if bound.setdefault(want, d) != d:
                    raise ValueError(f"{message + ' ' if message else ''}Dimension '{want}' is {bound[want]} in one "
                                     f"tensor and {d} in another (shape {s})")
            elif int(want) != d:
                raise ValueError(f"{message + ' ' if message else ''}Specified by tensor with shape {s}: dimension "
                                 f"must be {int(want)}, got {d}")


def check_numerics(tensor: Any, message: str, name: Optional[str] = None) -> Any:
    """The tensor unchanged, or InvalidArgumentError if it holds a NaN or an infinity (TF's text)."""
    t = _t(tensor)
    if t.dtype.is_floating:
        a = np.asarray(t.numpy())
        if np.isnan(a).any() or np.isinf(a).any():
            kinds = " and ".join(k for k, bad in (("NaN", np.isnan(a).any()), ("Inf", np.isinf(a).any())) if bad)
            raise _core.InvalidArgumentError(f"{message} : Tensor had {kinds} values")
    return _core.identity(t)


def assert_all_finite(t: Any, msg: str, name: Optional[str] = None, x: Any = None, message: Optional[str] = None) -> Any:
    return check_numerics(t if x is None else x, msg if message is None else message)


__all__ = ["cond", "case", "while_loop", "map_fn", "vectorized_map", "py_function", "numpy_function", "print_",
           "assert_equal", "assert_none_equal", "assert_less", "assert_less_equal", "assert_greater",
           "assert_greater_equal", "assert_positive", "assert_negative", "assert_non_negative", "assert_non_positive",
           "assert_near", "assert_rank", "assert_type", "assert_shapes", "check_numerics", "assert_all_finite"]
