"""Fuzz: the shape ops (reshape, transpose, broadcast_to, cast, one_hot, argmax/argmin, identity) and the
creation and small shape helpers (zeros/ones/fill/*_like/range/expand_dims/squeeze/clip_by_value) against
tests/reference.py, values and (for the linear ones) gradients."""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pyfast_tape as tf
import reference as ref
from test_fuzz._common import (IAE, OK, TENSORISH, Arg, args, arrays, broadcast_shapes, broadcastable, budget,
                               build_all, check_grad, check_values, convert_all, expect, invoke, natural, shapes)

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy references on NaN/Inf/0 inputs

@st.composite
def reshape_target(draw, shape):
    size = int(np.prod(shape)) if shape else 1
    kind = draw(st.sampled_from(["factor", "factor", "infer", "bad", "tensor"]))
    if kind == "bad":
        return draw(st.lists(st.integers(-2, 5), min_size=0, max_size=4))
    dims, rest = [], size
    for _ in range(draw(st.integers(0, 3))):
        divs = [d for d in range(1, 6) if rest % d == 0] if rest else [0, 1, 2]
        d = draw(st.sampled_from(divs))
        dims.append(d)
        rest = rest // d if d else rest
    if size and rest != 1:
        dims.append(rest)
    if size == 0 and 0 not in dims:
        dims.append(0)
    if kind == "infer" and dims:
        dims[draw(st.integers(0, len(dims) - 1))] = -1
    dims = draw(st.permutations(dims))
    return tf.constant(dims, dtype=tf.int32) if kind == "tensor" and dims else dims


def reshape_expected(shape, target) -> Tuple[Any, Optional[tuple]]:
    t = [int(v) for v in (target.numpy().tolist() if isinstance(target, tf.Tensor) else target)]
    size = int(np.prod(shape)) if shape else 1
    if t.count(-1) > 1 or any(v < -1 for v in t):
        return IAE, None
    if -1 in t:
        known = int(np.prod([v for v in t if v != -1])) if len(t) > 1 else 1
        if known == 0 or size % known:
            return IAE, None
        t[t.index(-1)] = size // known
    if int(np.prod(t)) != size:
        return IAE, None
    return OK, tuple(t)


SHAPE_OPS = ["reshape", "transpose", "broadcast_to", "cast", "one_hot", "argmax", "argmin", "identity"]
CAST_TARGETS = [tf.float32, tf.float64, tf.int32, tf.int64, tf.bool, "float32", np.int64, "float16", np.uint8]


@budget(140)
@given(data=st.data())
def test_shape_ops(data):
    op = data.draw(st.sampled_from(SHAPE_OPS), label="op")
    shape = data.draw(shapes(), label="shape")
    kinds = ["tensor", "tensor", "variable", "ndarray", "view", "list"]
    if op == "one_hot":
        a = data.draw(args(shape, dtypes=[np.int32, np.int64, np.int64, np.float32, np.bool_],
                           regime="normal", kinds=kinds), label="indices")
    else:
        a = data.draw(args(shape, kinds=kinds), label="x")
    shape = a.src.shape
    errs, dt, vals = convert_all([a])
    x = vals[0] if vals else None
    what = f"{op}({a!r})"
    if op == "reshape":
        target = data.draw(reshape_target(shape), label="target")
        st_, want_shape = reshape_expected(shape, target)
        if st_ is not OK:
            errs.add(st_)
        out = invoke(op, tf.reshape, a.build(), target)
        what += f" -> {target!r}"
        if expect(out, frozenset(errs) if errs else frozenset({OK}), op, what):
            check_values(out.value, ref.reshape(x, want_shape).astype(dt), dt, what=what)
            _grad_passthrough(data, dt, a, lambda t: tf.reshape(t, target),
                              lambda dy: ref.reshape_grad(x, dy), want_shape)
    elif op == "transpose":
        r = len(shape)
        perm = data.draw(st.one_of(st.none(), st.permutations(list(range(r))),
                                   st.lists(st.integers(-1, r), max_size=r + 1)), label="perm")
        # negative entries count from the end (pyfast_tape: "valid: [-r, r)")
        if perm is not None and sorted(p % r if -r <= p < r else r + 99 for p in perm) != list(range(r)):
            errs.add(IAE)
        out = invoke(op, tf.transpose, a.build(), perm)
        what += f" perm={perm}"
        if expect(out, frozenset(errs) if errs else frozenset({OK}), op, what):
            pn = None if perm is None else [p % r for p in perm]
            want = ref.transpose(x, pn)
            check_values(out.value, want.astype(dt), dt, what=what)
            _grad_passthrough(data, dt, a, lambda t: tf.transpose(t, perm),
                              lambda dy: ref.transpose_grad(x, dy, pn), want.shape)
    elif op == "broadcast_to":
        target = data.draw(broadcast_shapes(1), label="target")[0]
        target = tuple(target) + tuple(shape) if data.draw(st.booleans()) else target
        ok = broadcastable(shape, target) and np.broadcast_shapes(shape, target) == tuple(target)
        if not ok:
            errs.add(IAE)
        out = invoke(op, tf.broadcast_to, a.build(), list(target))
        what += f" -> {target}"
        if expect(out, frozenset(errs) if errs else frozenset({OK}), op, what):
            check_values(out.value, ref.broadcast_to(x, target).astype(dt), dt, what=what)
            _grad_passthrough(data, dt, a, lambda t: tf.broadcast_to(t, list(target)),
                              lambda dy: ref.broadcast_to_grad(x, dy), tuple(target))
    elif op == "cast":
        target = data.draw(st.sampled_from(CAST_TARGETS), label="dtype")
        try:
            tdt = np.dtype(tf.as_dtype(target).as_numpy_dtype)
        except TypeError:
            tdt = None
            errs.add(TypeError)
        out = invoke(op, tf.cast, a.build(), target)
        what += f" -> {target!r}"
        # an unsupported target dtype: the message names the dtype ('cast' is not in it: known, see report)
        if expect(out, frozenset(errs) if errs else frozenset({OK}), "cast|Unsupported dtype|convert", what):
            if dt.kind == "f" and tdt.kind == "i":
                info = np.iinfo(tdt)
                if not (np.isfinite(x).all() and (np.trunc(x) >= info.min).all() and (np.trunc(x) <= info.max).all()):
                    return  # out-of-range float -> int is implementation-defined (C++ UB), as in TF
            check_values(out.value, ref.cast(x, tdt), tdt, what=what)
            if tdt.kind == "f" and dt.kind == "f":
                _grad_passthrough(data, dt, a, lambda t: tf.cast(t, target),
                                  lambda dy: ref.cast_grad(x, dy), shape, out_dtype=tdt)
    elif op == "one_hot":
        depth = data.draw(st.integers(0, 4), label="depth")
        axis = data.draw(st.integers(-2, len(shape) + 1), label="axis")
        on, off = data.draw(st.sampled_from([(None, None), (2.0, -1.0), (5, 0)]), label="on/off")
        if dt is not None and dt.kind != "i":
            errs.add(TypeError)
        if not -1 <= axis <= len(shape):
            errs.add(IAE)
        kw = {} if on is None else dict(on_value=on, off_value=off)
        out = invoke(op, tf.one_hot, a.build(), depth, axis=axis, **kw)
        what += f" depth={depth} axis={axis} {kw}"
        if expect(out, frozenset(errs) if errs else frozenset({OK}), op, what):
            odt = np.dtype(np.int32) if isinstance(on, int) else np.dtype(np.float32)
            want = ref.one_hot(x, depth, 1.0 if on is None else on, 0.0 if off is None else off, axis=axis)
            check_values(out.value, want, odt, what=what)
    elif op in ("argmax", "argmin"):
        axis = data.draw(st.one_of(st.none(), st.integers(-len(shape) - 1, len(shape))), label="axis")
        otype = data.draw(st.sampled_from([None, tf.int32, tf.int64]), label="output_type")
        r = len(shape)
        ax = 0 if axis is None else axis
        if dt is not None and dt.kind == "b":
            errs.add(TypeError)
        if not -r <= ax < r:
            errs.add(IAE)
        elif shape[ax % r] == 0:
            errs.add(IAE)
        kw = {} if otype is None else dict(output_type=otype)
        out = invoke(op, getattr(tf, op), a.build(), axis=axis, **kw)
        what += f" axis={axis} {kw}"
        if expect(out, frozenset(errs) if errs else frozenset({OK}), op, what):
            want = getattr(ref, op)(x, axis=ax)
            check_values(out.value, want, np.int32 if otype == tf.int32 else np.int64, what=what)
    else:  # identity
        out = invoke(op, tf.identity, a.build())
        if expect(out, frozenset(errs) if errs else frozenset({OK}), op, what):
            check_values(out.value, ref.identity(x).astype(dt), dt, what=what)


def _grad_passthrough(data, dt, a: Arg, fn, grad_ref, out_shape, out_dtype=None):
    """Gradient of a linear shape op (reshape/transpose/broadcast_to/cast) on a float tensor argument."""
    if a.kind not in TENSORISH or dt.kind != "f":
        return
    out_dtype = out_dtype or dt
    xv = a.src
    dy = data.draw(arrays(out_dtype, tuple(out_shape), "normal"), label="dy")
    t = tf.constant(xv)
    with tf.GradientTape() as tape:
        tape.watch(t)
        z = fn(t)
    g = invoke("gradient", tape.gradient, z, t, output_gradients=tf.constant(dy))
    assert g.error is None, repr(g.error)
    check_grad(g.value, grad_ref(dy.astype(np.float64)), dt, "shape-op gradient")


# ---- creation and small shape helpers: zeros/ones/fill/*_like/range/expand_dims/squeeze/clip_by_value ------
CREATION = ["zeros", "ones", "fill", "zeros_like", "ones_like", "range", "expand_dims", "squeeze", "clip_by_value"]
DTYPE_ARGS = [None, tf.float32, tf.float64, tf.int32, tf.int64, tf.bool, "float64", np.int32]


def _np_dtype(d) -> Optional[np.dtype]:
    return None if d is None else np.dtype(tf.as_dtype(d).as_numpy_dtype)


@budget(120)
@given(data=st.data())
def test_creation_and_shape_helpers(data):
    op = data.draw(st.sampled_from(CREATION), label="op")
    what = op
    if op in ("zeros", "ones"):
        dims = data.draw(st.lists(st.integers(-1, 4), max_size=4), label="shape")
        dt = data.draw(st.sampled_from(DTYPE_ARGS[1:]), label="dtype")
        errs = {IAE} if any(d < 0 for d in dims) else set()
        out = invoke(op, getattr(tf, op), dims, dt)
        what = f"{op}({dims}, {dt!r})"
        # the message names `fill`, the op these are built on
        if expect(out, frozenset(errs) if errs else frozenset({OK}), f"{op}|fill", what):
            check_values(out.value, getattr(ref, op)(dims), _np_dtype(dt), what=what)
    elif op == "fill":
        dims = data.draw(st.lists(st.integers(-1, 4), max_size=4), label="dims")
        v = data.draw(args((), kinds=["pyscalar", "npscalar", "tensor"], other_dtypes=False), label="value")
        vdt = natural(v)
        errs = {IAE} if any(d < 0 for d in dims) else set()
        out = invoke(op, tf.fill, dims, v.build())
        what = f"fill({dims}, {v!r})"
        # a negative dimension is reported by broadcast_to, the op fill is built on
        if expect(out, frozenset(errs) if errs else frozenset({OK}), "fill|broadcast_to", what):
            check_values(out.value, np.full(dims, v.src.astype(vdt)), vdt, what=what)
    elif op in ("zeros_like", "ones_like"):
        shape = data.draw(shapes(), label="shape")
        a = data.draw(args(shape, kinds=["tensor", "variable", "ndarray", "view", "list", "pyscalar"]), label="x")
        dt = data.draw(st.sampled_from(DTYPE_ARGS), label="dtype")
        errs, adt, _ = convert_all([a])
        out = invoke(op, getattr(tf, op), a.build(), dt)
        what = f"{op}({a!r}, {dt!r})"
        if expect(out, frozenset(errs) if errs else frozenset({OK}), f"{op}|fill_like|convert", what):
            rdt = _np_dtype(dt) or adt
            check_values(out.value, np.full(a.src.shape, 0 if op == "zeros_like" else 1), rdt, what=what)
    elif op == "range":
        kind = data.draw(st.sampled_from(["int", "float"]), label="kind")
        num = st.integers(-20, 20) if kind == "int" else st.floats(-20, 20).map(lambda v: round(v, 2))
        start, limit = data.draw(num, label="start"), data.draw(num, label="limit")
        delta = data.draw(st.sampled_from([1, 2, -1, -3, 0]) if kind == "int" else
                          st.sampled_from([0.3, 1.0, -0.7, 0.1, 0.0]), label="delta")
        dt = data.draw(st.sampled_from([None, tf.float32, tf.float64] + ([tf.int32, tf.int64, tf.bool]
                                                                         if kind == "int" else [])), label="dtype")
        errs = set()
        if delta == 0 or (limit - start) * delta < 0:
            errs.add(IAE)
        if dt is not None and _np_dtype(dt).kind == "b":
            errs.add(TypeError)  # "range: dtype bool is not supported" (TF has no bool range kernel either)
        out = invoke(op, tf.range, start, limit, delta, dtype=dt)
        what = f"range({start!r}, {limit!r}, {delta!r}, dtype={dt!r})"
        if expect(out, frozenset(errs) if errs else frozenset({OK}), "range", what):
            rdt = _np_dtype(dt) or np.dtype(np.int32 if kind == "int" else np.float32)
            want = ref.range(start, limit, delta)
            tol = 4 * float(np.finfo(np.float32).eps) * 40 if rdt.kind == "f" else None
            check_values(out.value, want, rdt, rtol=1e-6 if rdt == np.float32 else 1e-12, atol=tol, what=what)
    elif op in ("expand_dims", "squeeze"):
        shape = data.draw(shapes(), label="shape")
        a = data.draw(args(shape, kinds=["tensor", "variable", "ndarray", "list"]), label="x")
        shape = a.src.shape
        r = len(shape)
        errs, adt, vals = convert_all([a])
        if op == "expand_dims":
            axis = data.draw(st.integers(-r - 2, r + 1), label="axis")
            if not -r - 1 <= axis <= r:
                errs.add(IAE)
            out = invoke(op, tf.expand_dims, a.build(), axis)
            want = (lambda: np.expand_dims(vals[0], axis)) if not errs else None
        else:
            axis = data.draw(st.one_of(st.none(), st.integers(-r - 1, r),
                                       st.lists(st.integers(-r - 1, r), max_size=2)), label="axis")
            axes = [] if axis is None else ([axis] if isinstance(axis, int) else list(axis))
            if any(not -r <= x < r for x in axes):
                errs.add(IAE)
            elif any(shape[x] != 1 for x in axes):
                errs.add(IAE)
            out = invoke(op, tf.squeeze, a.build(), axis)
            want = None
            if not errs:
                want = (lambda: np.squeeze(vals[0], tuple(sorted({x % r for x in axes})) if axes else None))
        what = f"{op}({a!r}, {axis!r})"
        if expect(out, frozenset(errs) if errs else frozenset({OK}), f"{op}|convert", what):
            check_values(out.value, want(), adt, what=what)
    else:  # clip_by_value
        shape = data.draw(shapes(0, 3), label="shape")
        t = data.draw(args(shape, kinds=["tensor", "variable"]), label="t")
        lo = data.draw(args((), kinds=["pyscalar", "tensor", "ndarray"], regime="normal"), label="lo")
        hi = data.draw(args((), kinds=["pyscalar", "tensor", "ndarray"], regime="normal"), label="hi")
        errs, dt, vals = convert_all([t, lo, hi])
        if dt is not None and dt.kind == "b":
            errs.add(TypeError)
        out = invoke(op, tf.clip_by_value, *build_all([t, lo, hi]))
        what = f"clip_by_value({t!r}, {lo!r}, {hi!r})"
        if expect(out, frozenset(errs) if errs else frozenset({OK}), "clip_by_value|maximum|minimum", what):
            want = ref.minimum(ref.maximum(vals[0], vals[1]), vals[2])
            check_values(out.value, want, dt, what=what)


# ---- regressions found by the properties above (minimal reproductions; fixed) ---------------------------------
def test_transpose_empty_perm_raises():
    with pytest.raises(IAE, match="transpose"):
        tf.transpose(tf.ones([2, 3]), [])


def test_range_bool_dtype():
    try:
        out = tf.range(0, 5, dtype=tf.bool)
    except (TypeError, IAE):
        return
    np.testing.assert_array_equal(out.numpy(), np.arange(5) != 0)


@pytest.mark.parametrize("call", [lambda: tf.range(np.nan), lambda: tf.range(0.0, np.inf)], ids=["nan", "inf"])
def test_range_non_finite_message(call):
    with pytest.raises(IAE, match=r"\brange\b"):
        call()


def test_squeeze_empty_axis_list_squeezes_every_size_1_dim():
    assert tf.squeeze(tf.ones([1, 2, 1]), []).shape == (2,)
