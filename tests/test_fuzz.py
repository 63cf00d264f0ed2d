"""Property-based fuzzing of the public API (hypothesis).

Every call either matches the NumPy reference (tests/reference.py, tests/grad_reference.py,
tests/fused_reference.py) -- values, dtype and shape, and for float tensors under a tape the gradients --
or raises a documented exception (``errors.InvalidArgumentError`` / ``TypeError`` / ``NotImplementedError``;
plain ``ValueError`` where Keras itself raises one) whose message names the op. Never a crash, a hang, an
undocumented exception or a silently wrong answer.

Inputs: random shapes (scalars, size-0 and size-1 dimensions, broadcastable and non-broadcastable pairs),
every supported dtype plus NumPy dtypes the library widens (float16, int8, uint16, ...) or rejects
(uint64, complex, str, datetime), Tensors, Variables, NumPy arrays, non-contiguous NumPy views, NumPy and
Python scalars, nested lists, NaN/Inf/signed zeros, huge and tiny (subnormal) magnitudes, and wrong
argument types.

The expected outcome comes from a small model of the library's documented conversion rules
(``_core.pyi`` and tests/test_dtypes_interop.py): the first Tensor/Variable argument fixes the dtype
(else the first argument's own default dtype: Python float -> float32, int -> int32, NumPy keeps its
dtype), the other arguments are converted to it (int -> float allowed, float -> int/bool and bool ->
number rejected with TypeError, two tensors of different dtypes -> InvalidArgumentError). Where the model
cannot tell which of two documented errors comes first, either is accepted.

Semantics where TF deliberately differs from NumPy, followed here as pyfast_tape documents them:
``maximum``/``minimum``/``reduce_max``/``reduce_min`` propagate NaN (csrc/math.h, as NumPy does too);
``divide`` of integers is float64; ``reduce_mean`` of integers truncates; an empty ``reduce_max`` is the
dtype's lowest value; ``relu(NaN)`` is 0 as tests/reference.py specifies.
Known bugs (see the ``test_known_bug_*`` xfail tests at the end) are skipped inside the properties and
counted in ``KNOWN``, so one bug does not hide the others.

Profiles: ``ci`` (default, derandomized, a few dozen examples per property) and ``long``
(``HYPOTHESIS_PROFILE=long``; ``bench/fuzz_long.py`` runs it for >= 100 000 calls).
"""
from __future__ import annotations

import collections
import dataclasses
import os
import re
import warnings
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fused_reference as fref
import grad_reference as gref
import pyfast_tape as tf
import reference as ref

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

# ---- profiles ----------------------------------------------------------------------------------------------
_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
           HealthCheck.large_base_example]
settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True, database=None,
                          print_blob=True, suppress_health_check=_HEALTH)
settings.register_profile("long", max_examples=int(os.environ.get("FUZZ_LONG_EXAMPLES", "4000")), deadline=None,
                          database=None, print_blob=True, suppress_health_check=_HEALTH)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)


def budget(ci: int) -> settings:
    """Examples per property: `ci` in the CI profile, the profile's own count otherwise."""
    if PROFILE == "ci":
        return settings(max_examples=ci)
    return settings()


# ---- call accounting (read by bench/fuzz_long.py) ------------------------------------------------------------
CALLS: collections.Counter = collections.Counter()   # op name -> calls into pyfast_tape
KNOWN: collections.Counter = collections.Counter()   # known-bug name -> examples that hit it (and were skipped)

IAE = tf.errors.InvalidArgumentError
DOCUMENTED = (IAE, TypeError, NotImplementedError)
OK = "ok"


def known_bug(name: str) -> None:
    """The example hits a bug that has its own xfail test: count it and skip the example's checks."""
    KNOWN[name] += 1


@dataclasses.dataclass
class Outcome:
    value: Any = None
    error: Optional[BaseException] = None


def invoke(name: str, fn: Callable, *args: Any, **kwargs: Any) -> Outcome:
    """Calls fn (one pyfast_tape call, counted under `name`), catching every Exception."""
    CALLS[name] += 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                return Outcome(value=fn(*args, **kwargs))
    except Exception as e:  # noqa: BLE001  (classified by expect())
        return Outcome(error=e)


def _names_op(msg: str, op: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9]){op}(?![A-Za-z0-9])", msg) is not None


def expect(out: Outcome, allowed: frozenset, op: str, what: str = "", documented=DOCUMENTED) -> bool:
    """Checks the outcome against the allowed set (OK and/or exception types). Returns True when the call
    succeeded (the caller then checks the value). `op` is a regex alternative of names the message must
    contain."""
    if out.error is None:
        assert OK in allowed, f"{what}: expected one of {_fmt(allowed)}, but the call returned {out.value!r}"
        return True
    e = out.error
    msg = f"{type(e).__name__}: {e}"
    assert isinstance(e, documented), f"{what}: undocumented exception {msg}"
    errs = tuple(a for a in allowed if a is not OK)
    assert errs, f"{what}: expected success, got {msg}"
    assert isinstance(e, errs), f"{what}: expected {_fmt(allowed)}, got {msg}"
    assert _names_op(str(e), op), f"{what}: message does not name the op ({op}): {msg}"
    return False


def _fmt(allowed) -> str:
    return "{" + ", ".join(a if isinstance(a, str) else a.__name__ for a in allowed) + "}"


# ---- value comparison --------------------------------------------------------------------------------------
def _tiny(dtype) -> float:
    return float(np.finfo(dtype).tiny) * 4


def check_values(actual: Any, expected: np.ndarray, dtype, rtol: Optional[float] = None,
                 atol: Optional[np.ndarray] = None, what: str = "") -> None:
    """`actual` (a Tensor) has `dtype`, the shape of `expected` (a float64/int64/bool reference) and its
    values: the same NaN pattern, the same infinities (or a value at the edge of the dtype's range where the
    float64 reference is within rounding of overflow), finite values within rtol/atol."""
    a = np.asarray(actual.numpy())
    dtype = np.dtype(dtype)
    e64 = np.asarray(expected)
    assert a.dtype == dtype, f"{what}: dtype {a.dtype}, expected {dtype}"
    assert a.shape == e64.shape, f"{what}: shape {a.shape}, expected {e64.shape}"
    if dtype.kind != "f":
        with np.errstate(all="ignore"):
            e = e64.astype(dtype)
        np.testing.assert_array_equal(a, e, err_msg=what)
        return
    with np.errstate(all="ignore"):
        e64 = e64.astype(np.float64)
        e = e64.astype(dtype)
    nan_a, nan_e = np.isnan(a), np.isnan(e)
    if not np.array_equal(nan_a, nan_e):
        idx = np.argwhere(nan_a != nan_e)[:5].tolist()
        raise AssertionError(f"{what}: NaN pattern differs at {idx}: got {a[nan_a != nan_e][:5]}, "
                             f"expected {e[nan_a != nan_e][:5]}")
    fin = np.isfinite(a) & np.isfinite(e)
    big = float(np.finfo(dtype).max) * (1 - 1e-4)
    odd = ~nan_a & ~fin  # at least one infinite
    if odd.any():
        same = (a[odd] == e[odd])
        edge = (np.abs(e64[odd]) >= big) & (np.abs(a[odd]) >= big) & (np.sign(a[odd]) == np.sign(e64[odd]))
        bad = ~(same | edge)
        assert not bad.any(), f"{what}: infinities differ: got {a[odd][bad][:5]}, expected {e64[odd][bad][:5]}"
    if rtol is None:
        rtol = 1e-6 if dtype == np.float32 else 1e-13
    tol = np.full(a.shape, _tiny(dtype)) if atol is None else np.broadcast_to(np.maximum(atol, _tiny(dtype)), a.shape)
    err = np.abs(a[fin].astype(np.float64) - e64[fin])
    lim = tol[fin] + rtol * np.abs(e64[fin])
    if not (err <= lim).all():
        k = np.argmax(err - lim)
        raise AssertionError(f"{what}: values differ beyond rtol={rtol}: got {a[fin][k]!r}, expected "
                             f"{e64[fin][k]!r} (|err| {err[k]:.3g} > {lim[k]:.3g}); {int((err > lim).sum())} of "
                             f"{err.size} elements")


def check_grad(g: Any, expected: np.ndarray, dtype, what: str, rtol=None) -> None:
    assert g is not None, f"{what}: gradient is None for a connected float input"
    exp = np.asarray(expected, dtype=np.float64)
    if np.dtype(dtype) == np.float64:
        scale = float(np.max(np.abs(exp))) if exp.size else 1.0
        check_values(g, exp, dtype, rtol=rtol or 1e-9, atol=1e-12 * max(1.0, scale), what=what)
    else:
        scale = float(np.max(np.abs(exp))) if exp.size else 1.0
        check_values(g, exp, dtype, rtol=rtol or 2e-5, atol=2e-6 * max(1.0, scale), what=what)


def check_either(actual: Any, candidates: Sequence[np.ndarray], dtype, **kw) -> None:
    """`actual` matches at least one of the candidate references (e.g. a numerically stable formula and
    the plain one, whose 0 * inf gives NaN where the stable one does not)."""
    errors = []
    for c in candidates:
        try:
            check_values(actual, c, dtype, **kw)
            return
        except AssertionError as e:
            errors.append(str(e))
    raise AssertionError(" / ".join(errors))


def stable_xent(y, z) -> np.ndarray:
    """-sum(y * log_softmax(z)) along the last axis with reference.log_softmax (stable for huge logits) and
    0 * log p taken as 0 (the label has no weight there)."""
    y, z = np.asarray(y, np.float64), np.asarray(z, np.float64)
    with np.errstate(all="ignore"):
        ls = ref.log_softmax(z, axis=-1) if z.size else z
        return -np.sum(np.where(y == 0, 0.0, y * ls), axis=-1)


def xent_rows_overflow(z, dtype) -> np.ndarray:
    """Rows whose z - max(z) overflows in `dtype` (finite logits ~ the dtype's max): the loss is then inf or
    NaN in that dtype, legitimately -- outcome only for those rows."""
    z = np.asarray(z).astype(dtype)
    with np.errstate(all="ignore"):
        if not z.size:
            return np.zeros(z.shape[:-1], bool)
        m = np.max(z, axis=-1, keepdims=True)
        return np.any(np.isinf(z - m) & np.isfinite(z), axis=-1) & np.all(np.isfinite(z), axis=-1)


# ---- strategies: shapes ------------------------------------------------------------------------------------
DIM = st.integers(0, 4)
# size-0 and size-1 dims are over-represented on purpose
DIM_SKEW = st.one_of(st.sampled_from([0, 1, 1]), st.integers(2, 4))


def shapes(min_rank=0, max_rank=4):
    return st.lists(DIM_SKEW, min_size=min_rank, max_size=max_rank).map(tuple)


@st.composite
def broadcast_shapes(draw, n: int = 2):
    """n shapes derived from one base shape (drop leading dims, set dims to 1), sometimes with one dim changed
    so they no longer broadcast."""
    base = draw(shapes(0, 4))
    out = []
    for _ in range(n):
        drop = draw(st.integers(0, len(base)))
        s = list(base[drop:])
        for i in range(len(s)):
            if draw(st.integers(0, 3)) == 0:
                s[i] = 1
        out.append(s)
    if draw(st.integers(0, 4)) == 0:  # break compatibility
        k = draw(st.integers(0, n - 1))
        if out[k]:
            i = draw(st.integers(0, len(out[k]) - 1))
            out[k][i] = draw(st.integers(2, 5))
    return [tuple(s) for s in out]


def broadcastable(*shapes_) -> bool:
    try:
        np.broadcast_shapes(*shapes_)
        return True
    except ValueError:
        return False


# ---- strategies: values ------------------------------------------------------------------------------------
NAN, INF = float("nan"), float("inf")
SUPPORTED = [np.dtype(d) for d in (np.float32, np.float64, np.int32, np.int64, np.bool_)]
FLOATS = [np.dtype(np.float32), np.dtype(np.float64)]
# NumPy dtypes the library widens to a supported one (by value) and ones it rejects with TypeError
WIDEN = {np.dtype(np.float16): np.dtype(np.float32), np.dtype(np.int8): np.dtype(np.int32),
         np.dtype(np.int16): np.dtype(np.int32), np.dtype(np.uint8): np.dtype(np.int32),
         np.dtype(np.uint16): np.dtype(np.int32), np.dtype(np.uint32): np.dtype(np.int64)}
REJECTED = [np.dtype(np.uint64), np.dtype(np.complex64), np.dtype(np.complex128), np.dtype("U3"),
            np.dtype("datetime64[s]"), np.dtype(object)]

FLOAT_REGIMES = ["normal", "normal", "ties", "special", "huge", "tiny", "any"]


def float_elements(dtype: np.dtype, regime: str):
    w = 8 * np.dtype(dtype).itemsize if np.dtype(dtype).kind == "f" else 64
    w = min(w, 64)
    ftype = {16: np.float16, 32: np.float32, 64: np.float64}[w]
    big = float(np.finfo(ftype).max)
    # bounds exactly representable in the width (hypothesis insists)
    huge_lo, tiny_hi, mod = (float(ftype(v)) for v in ({16: 1e3, 32: 1e30, 64: 1e200}[w],
                                                      {16: 1e-4, 32: 1e-30, 64: 1e-300}[w],
                                                      {16: 6e4, 32: 1e15, 64: 1e150}[w]))
    if regime == "normal":
        return st.floats(-10, 10, width=w)
    if regime == "ties":
        return st.sampled_from([-2.0, -1.0, -0.0, 0.0, 0.5, 1.0, 2.0])
    if regime == "special":
        return st.one_of(st.floats(-10, 10, width=w), st.sampled_from([NAN, INF, -INF, 0.0, -0.0]))
    if regime == "huge":
        return st.floats(huge_lo, big, width=w).flatmap(lambda v: st.sampled_from([v, -v]))
    if regime == "tiny":
        return st.floats(-tiny_hi, tiny_hi, width=w)
    if regime == "positive":
        return st.floats(0.5, 10, width=w)
    if regime == "moderate":  # finite, summable without overflow
        return st.one_of(st.floats(-10, 10, width=w), st.floats(-mod, mod, width=w))
    return st.floats(width=w)  # any: NaN, infinities, everything


def int_elements(dtype: np.dtype, regime: str):
    info = np.iinfo(dtype)
    if regime in ("normal", "ties", "positive", "special", "tiny"):
        lo = 0 if regime == "positive" else -10
        return st.integers(max(lo, int(info.min)), min(10, int(info.max)))
    if regime == "moderate":
        return st.integers(max(-10**6, int(info.min)), min(10**6, int(info.max)))
    return st.integers(int(info.min), int(info.max))


def elements(dtype: np.dtype, regime: str):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return float_elements(dtype, regime)
    if dtype.kind in "iu":
        return int_elements(dtype, regime)
    if dtype.kind == "b":
        return st.booleans()
    if dtype.kind == "c":
        return st.complex_numbers(max_magnitude=10, width=8 * dtype.itemsize)
    if dtype.kind == "U":
        return st.text("abc", max_size=3)
    if dtype.kind == "M":
        return st.integers(0, 10**9).map(lambda v: np.datetime64(v, "s"))
    return st.integers(-5, 5)  # object


def arrays(dtype, shape, regime="normal"):
    dtype = np.dtype(dtype)
    return hnp.arrays(dtype, shape, elements=elements(dtype, regime), fill=st.nothing())


# ---- arguments: how a value is passed ------------------------------------------------------------------------
TENSORISH = ("tensor", "variable")


@dataclasses.dataclass
class Arg:
    kind: str          # tensor | variable | ndarray | view | npscalar | pyscalar | list
    src: np.ndarray    # the values, in the source dtype
    layout: str = "c"  # for views: strided | reversed | fortran

    def build(self) -> Any:
        if self.kind == "tensor":
            return tf.constant(self.src)
        if self.kind == "variable":
            return tf.Variable(self.src)
        if self.kind == "ndarray":
            return self.src
        if self.kind == "view":
            return noncontiguous(self.src, self.layout)
        if self.kind == "npscalar":
            return self.src.dtype.type(self.src[()])
        if self.kind == "pyscalar":
            return self.src.item()
        if self.kind == "list":
            return self.src.tolist()
        raise AssertionError(self.kind)

    def __repr__(self) -> str:
        return f"Arg({self.kind}, {self.src.dtype}{list(self.src.shape)}, {self.layout}, {self.src.tolist()!r:.200})"


def noncontiguous(a: np.ndarray, layout: str) -> np.ndarray:
    """A view with a's values whose memory is not C-contiguous."""
    if a.ndim == 0:
        return a[()] if layout == "strided" else a
    if layout == "strided":
        big = np.repeat(a, 2, axis=-1)
        v = big[..., ::2]
    elif layout == "reversed":
        v = np.flip(np.flip(a).copy())
    else:
        v = np.asfortranarray(a)
    return v


@st.composite
def args(draw, shape: Tuple[int, ...], dtypes=None, regime=None, kinds=None, other_dtypes=True):
    """One argument of `shape`: a kind, a source dtype (supported, widened or rejected), values."""
    kinds = kinds or ["tensor", "tensor", "tensor", "variable", "ndarray", "view", "npscalar", "pyscalar", "list"]
    kind = draw(st.sampled_from(kinds))
    if kind in ("npscalar", "pyscalar"):
        shape = ()
    if kind in ("pyscalar", "list"):
        dtype = np.dtype(draw(st.sampled_from(dtypes or [np.float64, np.int64, np.bool_])))
        dtype = {"f": np.dtype(np.float64), "i": np.dtype(np.int64), "u": np.dtype(np.int64)}.get(dtype.kind, dtype)
    elif kind in TENSORISH:
        dtype = np.dtype(draw(st.sampled_from(dtypes or SUPPORTED)))
    else:
        pool = list(dtypes or SUPPORTED)
        if other_dtypes:
            pool = pool + list(WIDEN) + REJECTED[:2]
        dtype = np.dtype(draw(st.sampled_from(pool)))
        if dtype.kind not in "fiub" and kind == "npscalar":
            dtype = np.dtype(np.uint64)
    if regime is None:
        regime = draw(st.sampled_from(FLOAT_REGIMES))
    if kind == "pyscalar" and dtype.kind == "i":
        # Python ints: in int32 range mostly, sometimes beyond (int64) -- never beyond int64 here
        src = np.asarray(draw(st.one_of(st.integers(-10, 10), st.integers(-2**40, 2**40))), dtype=np.int64)
    else:
        src = draw(arrays(dtype, shape, regime))
    layout = draw(st.sampled_from(["strided", "reversed", "fortran"])) if kind == "view" else "c"
    if kind == "list":  # a nested list loses the shape of an empty array: [[]] is (1, 0), [] is (0,)
        src = np.array(src.tolist(), dtype=src.dtype)
    return Arg(kind, src, layout)


# ---- the conversion model -------------------------------------------------------------------------------
def natural(a: Arg) -> Optional[np.dtype]:
    """The dtype an argument converts to on its own, or None where it is rejected (TypeError)."""
    dt = a.src.dtype
    if a.kind in TENSORISH:
        return dt
    if a.kind in ("ndarray", "view", "npscalar"):
        if dt in SUPPORTED:
            return dt
        return WIDEN.get(dt)
    # Python scalars and lists
    if a.kind == "list" and a.src.size == 0:
        return np.dtype(np.float32)
    if dt.kind == "f":
        return np.dtype(np.float32)
    if dt.kind == "b":
        return np.dtype(np.bool_)
    info = np.iinfo(np.int32)
    return np.dtype(np.int32) if (a.src.min() >= info.min and a.src.max() <= info.max) else np.dtype(np.int64)


def _in_range(src: np.ndarray, dtype: np.dtype) -> bool:
    if src.size == 0:
        return True
    info = np.iinfo(dtype)
    return bool(src.min() >= info.min and src.max() <= info.max)


def convert(a: Arg, target: np.dtype) -> Tuple[Any, Optional[np.ndarray]]:
    """(OK, values in `target`) or (exception type, None): the argument converted to the anchor dtype."""
    n = natural(a)
    if n is None:
        return TypeError, None
    if a.kind in TENSORISH:
        return (OK, a.src) if n == target else (IAE, None)
    src_kind = a.src.dtype.kind if a.src.size or a.kind != "list" else "f"
    src_kind = "i" if src_kind == "u" else src_kind
    tk = target.kind
    if src_kind == "f" and tk != "f":
        return TypeError, None
    if src_kind == "b" and tk != "b":
        return TypeError, None
    if src_kind == "i" and tk == "b":
        return TypeError, None
    if src_kind == "i" and tk == "i" and not _in_range(a.src, target):
        return IAE, None  # "value ... is out of range for int32; use int64"
    with np.errstate(all="ignore"):
        return OK, a.src.astype(target)


def anchor(arg_list: Sequence[Arg]) -> Optional[np.dtype]:
    for a in arg_list:
        if a.kind in TENSORISH:
            return a.src.dtype
    return natural(arg_list[0])


def convert_all(arg_list: Sequence[Arg]) -> Tuple[set, Optional[np.dtype], List[Optional[np.ndarray]]]:
    """Errors any conversion raises (a set, empty when all convert), the anchor dtype, the values."""
    a_dt = anchor(arg_list)
    if a_dt is None:
        return {TypeError}, None, []
    errs, vals = set(), []
    for a in arg_list:
        status, v = convert(a, a_dt)
        if status is not OK:
            errs.add(status)
        vals.append(v)
    return errs, a_dt, vals


def build_all(arg_list: Sequence[Arg]) -> List[Any]:
    return [a.build() for a in arg_list]


def _known(errs: set) -> Optional[str]:
    for e in errs:
        if isinstance(e, str) and e.startswith("known:"):
            return e[6:]
    return None


# ---- unary ops ---------------------------------------------------------------------------------------------
FLOAT_ONLY = {"sqrt", "exp", "log", "log1p", "tanh", "sigmoid", "reciprocal", "rsqrt"}
NUMERIC = {"negative", "abs", "square", "sign", "relu"}
ANY_DTYPE = {"identity", "stop_gradient"}
UNARY = sorted(FLOAT_ONLY | NUMERIC | ANY_DTYPE)
TRANSCENDENTAL = {"exp", "log", "log1p", "tanh", "sigmoid", "pow", "rsqrt", "softmax", "log_softmax"}


def unary_fn(op: str, form: str) -> Callable:
    if op == "relu":
        return tf.nn.relu
    if form == "math" and hasattr(tf.math, op):
        return getattr(tf.math, op)
    if form == "operator" and op == "negative":
        return lambda x: -x
    if form == "operator" and op == "abs":
        return abs
    return getattr(tf, op) if hasattr(tf, op) else getattr(tf.math, op)


def unary_ref(op: str, x: np.ndarray) -> np.ndarray:
    if op in ("identity", "stop_gradient"):
        return np.array(x, copy=True)
    return getattr(ref, op)(x)


def _rtol(op: str, dtype) -> Optional[float]:
    if np.dtype(dtype) == np.float32:
        return 2e-5 if op == "pow" else (1e-5 if op in TRANSCENDENTAL else 1e-6)
    return 1e-12 if op in TRANSCENDENTAL else None


@budget(120)
@given(data=st.data())
def test_unary_ops(data):
    op = data.draw(st.sampled_from(UNARY), label="op")
    form = data.draw(st.sampled_from(["tf", "math", "operator"]), label="form")
    shape = data.draw(shapes(), label="shape")
    a = data.draw(args(shape), label="x")
    fn = unary_fn(op, form)
    if form == "operator" and a.kind not in TENSORISH:
        fn = unary_fn(op, "tf")
    errs, dt, vals = convert_all([a])
    if dt is not None and not errs:
        if op in FLOAT_ONLY and dt.kind != "f":
            errs.add(TypeError)
        if op in NUMERIC and dt.kind == "b":
            errs.add(TypeError)
    allowed = frozenset(errs) if errs else frozenset({OK})
    out = invoke(op, fn, a.build())
    if not expect(out, allowed, op, f"{op}({a!r})"):
        return
    x = vals[0]
    check_values(out.value, unary_ref(op, x), dt, rtol=_rtol(op, dt), what=f"{op}({a!r})")
    # gradients: float tensors under a tape, finite inputs in the op's domain
    if a.kind in TENSORISH and dt.kind == "f" and op in gref.UNARY_GRAD | {"stop_gradient": None, "sign": None}:
        _unary_grad(data, op, fn, dt, shape)


def _unary_grad(data, op, fn, dt, shape):
    regime = "positive" if op in ("sqrt", "log", "log1p", "rsqrt", "reciprocal") else data.draw(
        st.sampled_from(["normal", "ties"]), label="grad regime")
    x = data.draw(arrays(dt, shape, regime), label="grad x")
    dy = data.draw(arrays(dt, shape, "normal"), label="dy")
    t = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(t)
        y = invoke(op, fn, t)
    assert y.error is None, f"{op} under a tape raised {y.error!r}"
    g = invoke("gradient", tape.gradient, y.value, t, output_gradients=tf.constant(dy))
    assert g.error is None, f"gradient of {op} raised {g.error!r}"
    if op == "stop_gradient":
        assert g.value is None, f"stop_gradient let a gradient through: {g.value}"
        return
    if op == "sign":
        want = np.zeros(shape)
    else:
        want = gref.UNARY_GRAD[op](x.astype(np.float64), dy.astype(np.float64))
    check_grad(g.value, want, dt, f"d{op}/dx x={x.tolist()!r:.200}")


# ---- binary ops and comparisons ---------------------------------------------------------------------------
ARITH = ["add", "subtract", "multiply", "divide", "pow", "maximum", "minimum"]
COMPARE = ["less", "less_equal", "greater", "greater_equal", "equal", "not_equal"]
MIRROR = {"less": "greater", "greater": "less", "less_equal": "greater_equal", "greater_equal": "less_equal"}
OPERATORS = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/", "pow": "**", "less": "<",
             "less_equal": "<=", "greater": ">", "greater_equal": ">="}


def binary_fn(op: str, form: str) -> Callable:
    if form == "operator" and op in OPERATORS:
        sym = OPERATORS[op]
        return eval(f"lambda x, y: x {sym} y")  # noqa: S307  (a fixed table of operator symbols)
    if form == "math":
        return getattr(tf.math, "truediv" if op == "divide" else op)
    return getattr(tf, op)


def binary_expected(op: str, dt: np.dtype, shapes_, vals) -> set:
    errs = set()
    if dt.kind == "b" and op not in ("equal", "not_equal"):
        errs.add(TypeError)
    if not broadcastable(*shapes_):
        errs.add(IAE)
    if op == "pow" and dt.kind == "i" and vals[1] is not None and (np.asarray(vals[1]) < 0).any():
        errs.add(IAE)
    return errs


@budget(160)
@given(data=st.data())
def test_binary_ops_broadcasting(data):
    op = data.draw(st.sampled_from(ARITH + COMPARE), label="op")
    form = data.draw(st.sampled_from(["tf", "math", "operator"]), label="form")
    shp = data.draw(broadcast_shapes(2), label="shapes")
    regime = data.draw(st.sampled_from(FLOAT_REGIMES), label="regime")
    if op == "pow" and regime in ("huge", "any"):
        regime = "special"
    x = data.draw(args(shp[0], regime=regime), label="x")
    y = data.draw(args(shp[1], regime=regime), label="y")
    if form == "operator" and not (x.kind in TENSORISH or y.kind in TENSORISH):
        form = "tf"
    if form == "operator" and x.kind == "npscalar":
        form = "tf"
    fn = binary_fn(op, form)
    # With a non-Tensor on the left of `<`, Python runs the Tensor's reflected `>`: the message names that.
    names = op
    if form == "operator" and x.kind not in TENSORISH and op in MIRROR:
        names = f"{op}|{MIRROR[op]}"
    real_shapes = [a.src.shape for a in (x, y)]
    errs, dt, vals = convert_all([x, y])
    known = _known(errs)
    if known:
        return known_bug(known)
    if not errs:
        errs = binary_expected(op, dt, real_shapes, vals)
    elif dt is not None and dt.kind == "b" and op not in ("equal", "not_equal"):
        errs.add(TypeError)
    if errs and not broadcastable(*real_shapes):
        errs.add(IAE)
    allowed = frozenset(errs) if errs else frozenset({OK})
    if op == "pow" and dt is not None and dt.kind == "i" and errs == {IAE} and broadcastable(*real_shapes) \
            and 0 in np.broadcast_shapes(*real_shapes):
        allowed = allowed | {OK}  # negative exponents, but an empty result: either answer is fine
    out = invoke(op, fn, *build_all([x, y]))
    what = f"{op}[{form}]({x!r}, {y!r})"
    if not expect(out, allowed, names, what):
        return
    want = getattr(ref, op)(vals[0], vals[1])
    rdt = np.dtype(np.bool_) if op in COMPARE else (np.dtype(np.float64) if op == "divide" and dt.kind == "i" else dt)
    check_values(out.value, want, rdt, rtol=_rtol(op, rdt), what=what)
    # gradients: both float tensors, finite values
    if op in gref.BINARY_GRAD and x.kind in TENSORISH and y.kind in TENSORISH and dt.kind == "f":
        _binary_grad(data, op, fn, dt, real_shapes)


def _binary_grad(data, op, fn, dt, shp):
    rx = "positive" if op == "pow" else data.draw(st.sampled_from(["normal", "ties"]), label="grad regime")
    ry = "positive" if op == "divide" else ("normal" if op == "pow" else rx)
    xv = data.draw(arrays(dt, shp[0], rx), label="grad x")
    yv = data.draw(arrays(dt, shp[1], ry), label="grad y")
    if op == "pow":
        yv = np.clip(yv, -3, 3).astype(dt)
    out_shape = np.broadcast_shapes(*shp)
    dy = data.draw(arrays(dt, out_shape, "normal"), label="dy")
    xt, yt = tf.constant(xv), tf.constant(yv)
    with tf.GradientTape() as tape:
        tape.watch([xt, yt])
        z = invoke(op, fn, xt, yt)
    assert z.error is None, f"{op} under a tape raised {z.error!r}"
    g = invoke("gradient", tape.gradient, z.value, [xt, yt], output_gradients=tf.constant(dy))
    assert g.error is None, f"gradient of {op} raised {g.error!r}"
    want = gref.BINARY_GRAD[op](xv.astype(np.float64), yv.astype(np.float64), dy.astype(np.float64))
    rtol = 1e-4 if (op == "pow" and dt == np.float32) else None
    for k in range(2):
        check_grad(g.value[k], want[k], dt, f"d{op}/d{'xy'[k]} x={xv.tolist()!r:.120} y={yv.tolist()!r:.120}",
                   rtol=rtol)


# ---- where ------------------------------------------------------------------------------------------------
@budget(80)
@given(data=st.data())
def test_where(data):
    shp = data.draw(broadcast_shapes(3), label="shapes")
    cond_dtype = data.draw(st.sampled_from([np.bool_, np.bool_, np.bool_, np.float32, np.int32]), label="cond dtype")
    c = data.draw(args(shp[0], dtypes=[cond_dtype], other_dtypes=False), label="cond")
    x = data.draw(args(shp[1]), label="x")
    y = data.draw(args(shp[2]), label="y")
    real = [a.src.shape for a in (c, x, y)]
    errs, dt, vals = convert_all([x, y])
    known = _known(errs)
    if known:
        return known_bug(known)
    cn = natural(c)
    cond_ok = cn is not None and cn.kind == "b"
    if not cond_ok:
        errs.add(TypeError)
    if not broadcastable(*real):
        errs.add(IAE)
    allowed = frozenset(errs) if errs else frozenset({OK})
    out = invoke("where", tf.where, *build_all([c, x, y]))
    what = f"where({c!r}, {x!r}, {y!r})"
    if not expect(out, allowed, "where", what):
        return
    check_values(out.value, ref.where(c.src, vals[0], vals[1]), dt, what=what)
    if x.kind in TENSORISH and y.kind in TENSORISH and dt.kind == "f":
        xv = data.draw(arrays(dt, real[1], "normal"), label="grad x")
        yv = data.draw(arrays(dt, real[2], "normal"), label="grad y")
        dy = data.draw(arrays(dt, np.broadcast_shapes(*real), "normal"), label="dy")
        xt, yt = tf.constant(xv), tf.constant(yv)
        with tf.GradientTape() as tape:
            tape.watch([xt, yt])
            z = tf.where(c.build(), xt, yt)
        g = invoke("gradient", tape.gradient, z, [xt, yt], output_gradients=tf.constant(dy))
        assert g.error is None, repr(g.error)
        want = gref.where_grad(c.src, xv, yv, dy.astype(np.float64))
        for k in range(2):
            check_grad(g.value[k], want[k], dt, f"dwhere/d{'xy'[k]}")


# ---- reductions -------------------------------------------------------------------------------------------
REDUCE = ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min"]


@st.composite
def axis_arg(draw, rank: int):
    kind = draw(st.sampled_from(["none", "int", "int", "list", "tuple", "npint", "tensor", "empty", "bad"]))
    ax = st.integers(-rank - 1, rank)
    if kind == "none":
        return None
    if kind == "int":
        return draw(ax)
    if kind == "npint":
        return np.int64(draw(ax))
    if kind == "tensor":
        return tf.constant(draw(ax))
    if kind == "empty":
        return []
    if kind == "bad":
        return draw(st.sampled_from([1.0, "0", True, [0.5]]))
    lst = draw(st.lists(ax, min_size=1, max_size=3))
    return lst if kind == "list" else tuple(lst)


def norm_axis(axis, rank: int) -> Tuple[Any, Optional[tuple]]:
    """(OK, sorted axes) or (error type, None) for a reduction axis argument."""
    if axis is None:
        return OK, tuple(range(rank))
    if isinstance(axis, tf.Tensor):
        axis = int(axis.numpy())
    if isinstance(axis, bool) or isinstance(axis, (float, str)):
        return TypeError, None
    if isinstance(axis, (list, tuple)):
        if any(isinstance(a, (bool, float, str)) for a in axis):
            return TypeError, None
        items = [int(a) for a in axis]
    else:
        items = [int(axis)]
    out = []
    for a in items:
        if not -rank <= a < rank:
            return IAE, None
        out.append(a % rank)
    if len(set(out)) != len(out):
        return IAE, None
    return OK, tuple(sorted(out))


def _sum_tol(x: np.ndarray, axes: tuple, keepdims: bool, dtype, mean: bool) -> np.ndarray:
    """Error bound of a float sum: n * eps * sum(|x|) (any summation order)."""
    ax = np.abs(np.where(np.isfinite(x), x, 0).astype(np.float64))
    s = np.sum(ax, axis=axes, keepdims=keepdims)
    n = int(np.prod([x.shape[a] for a in axes])) if axes else 1
    eps = float(np.finfo(dtype).eps)
    tol = 2 * max(n, 1) * eps * s
    return tol / max(n, 1) if mean else tol


@budget(120)
@given(data=st.data())
def test_reductions(data):
    op = data.draw(st.sampled_from(REDUCE), label="op")
    shape = data.draw(shapes(), label="shape")
    regime = "moderate" if op in ("reduce_sum", "reduce_mean") else data.draw(st.sampled_from(FLOAT_REGIMES))
    if op in ("reduce_sum", "reduce_mean") and data.draw(st.booleans(), label="specials"):
        regime = "special"
    a = data.draw(args(shape, regime=regime, kinds=["tensor", "tensor", "variable", "ndarray", "view", "list",
                                                    "pyscalar"]), label="x")
    rank = a.src.ndim
    axis = data.draw(axis_arg(rank), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")
    form = data.draw(st.sampled_from(["tf", "math"]), label="form")
    fn = getattr(tf if form == "tf" else tf.math, op)
    errs, dt, vals = convert_all([a])
    if dt is not None and dt.kind == "b":
        errs.add(TypeError)
    ax_status, axes = norm_axis(axis, rank)
    if ax_status is not OK:
        errs.add(ax_status)
    allowed = frozenset(errs) if errs else frozenset({OK})
    out = invoke(op, fn, a.build(), axis=axis, keepdims=keepdims)
    what = f"{op}({a!r}, axis={axis!r}, keepdims={keepdims})"
    if not expect(out, allowed, op, what):
        return
    x = vals[0]
    want = getattr(ref, op)(x, axis=axes, keepdims=keepdims)
    atol = None
    if dt.kind == "f" and op in ("reduce_sum", "reduce_mean"):
        atol = _sum_tol(x, axes, keepdims, dt, op == "reduce_mean")
    check_values(out.value, want, dt, atol=atol, rtol=1e-6 if dt == np.float32 else 1e-12, what=what)
    n = int(np.prod([x.shape[i] for i in axes]))
    if a.kind in TENSORISH and dt.kind == "f" and x.size and n > 0:
        xv = data.draw(arrays(dt, shape, data.draw(st.sampled_from(["normal", "ties"]))), label="grad x")
        dy = data.draw(arrays(dt, np.shape(want), "normal"), label="dy")
        t = tf.constant(xv)
        with tf.GradientTape() as tape:
            tape.watch(t)
            z = fn(t, axis=axis, keepdims=keepdims)
        g = invoke("gradient", tape.gradient, z, t, output_gradients=tf.constant(dy))
        assert g.error is None, repr(g.error)
        gfn = getattr(gref, op + "_grad")
        check_grad(g.value, gfn(xv.astype(np.float64), dy.astype(np.float64), axes), dt, f"d{op}/dx {what}")


# ---- matmul -----------------------------------------------------------------------------------------------
@st.composite
def matmul_case(draw):
    m, k, n = draw(DIM_SKEW), draw(DIM_SKEW), draw(DIM_SKEW)
    batch = draw(broadcast_shapes(2)) if draw(st.booleans()) else [(), ()]
    ta, tb = draw(st.booleans()), draw(st.booleans())
    k2 = k if draw(st.integers(0, 5)) else draw(DIM_SKEW)
    sa = tuple(batch[0]) + ((k, m) if ta else (m, k))
    sb = tuple(batch[1]) + ((n, k2) if tb else (k2, n))
    if draw(st.integers(0, 9)) == 0:  # a vector or a scalar operand
        which = draw(st.integers(0, 1))
        short = draw(shapes(0, 1))
        sa, sb = (short, sb) if which == 0 else (sa, short)
    return sa, sb, ta, tb


@budget(100)
@given(data=st.data())
def test_matmul(data):
    sa, sb, ta, tb = data.draw(matmul_case(), label="case")
    regime = data.draw(st.sampled_from(["normal", "moderate", "special", "ties"]), label="regime")
    kinds = ["tensor", "tensor", "tensor", "variable", "ndarray", "view", "list"]
    a = data.draw(args(sa, regime=regime, kinds=kinds), label="a")
    b = data.draw(args(sb, regime=regime, kinds=kinds), label="b")
    form = data.draw(st.sampled_from(["tf", "operator"]) if not (ta or tb) else st.just("tf"), label="form")
    if form == "operator" and not (a.kind in TENSORISH or b.kind in TENSORISH):
        form = "tf"
    errs, dt, vals = convert_all([a, b])
    known = _known(errs)
    if known:
        return known_bug(known)
    if dt is not None and dt.kind == "b":
        errs.add(TypeError)
    ra, rb = a.src.ndim, b.src.ndim
    shape_ok = ra >= 2 and rb >= 2
    if shape_ok:
        ka = a.src.shape[-2] if ta else a.src.shape[-1]
        kb = b.src.shape[-1] if tb else b.src.shape[-2]
        shape_ok = ka == kb and broadcastable(a.src.shape[:-2], b.src.shape[:-2])
    if not shape_ok:
        errs.add(IAE)
    allowed = frozenset(errs) if errs else frozenset({OK})
    objs = build_all([a, b])
    if form == "operator":
        out = invoke("matmul", lambda p, q: p @ q, *objs)
    else:
        out = invoke("matmul", tf.matmul, *objs, transpose_a=ta, transpose_b=tb)
    what = f"matmul({a!r}, {b!r}, transpose_a={ta}, transpose_b={tb})"
    if not expect(out, allowed, "matmul", what):
        return
    want = ref.matmul(vals[0], vals[1], transpose_a=ta, transpose_b=tb)
    atol = None
    if dt.kind == "f":
        absa = np.abs(np.where(np.isfinite(vals[0]), vals[0], 0)).astype(np.float64)
        absb = np.abs(np.where(np.isfinite(vals[1]), vals[1], 0)).astype(np.float64)
        kk = (vals[0].shape[-2] if ta else vals[0].shape[-1])
        atol = 2 * max(kk, 1) * float(np.finfo(dt).eps) * ref.matmul(absa, absb, transpose_a=ta, transpose_b=tb)
    check_values(out.value, want, dt, atol=atol, what=what)
    if a.kind in TENSORISH and b.kind in TENSORISH and dt.kind == "f":
        av = data.draw(arrays(dt, sa, "normal"), label="grad a")
        bv = data.draw(arrays(dt, sb, "normal"), label="grad b")
        dy = data.draw(arrays(dt, np.shape(want), "normal"), label="dy")
        at, bt = tf.constant(av), tf.constant(bv)
        with tf.GradientTape() as tape:
            tape.watch([at, bt])
            z = tf.matmul(at, bt, transpose_a=ta, transpose_b=tb)
        g = invoke("gradient", tape.gradient, z, [at, bt], output_gradients=tf.constant(dy))
        assert g.error is None, repr(g.error)
        want_g = gref.matmul_grad(av, bv, dy.astype(np.float64), ta, tb)
        for k in range(2):
            ex = want_g[k]
            check_grad(g.value[k], ex, dt, f"dmatmul/d{'ab'[k]} {what}", rtol=1e-4 if dt == np.float32 else 1e-9)


# ---- shape ops: reshape, transpose, broadcast_to, cast, one_hot, argmax -------------------------------------
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
                              lambda dy: gref.reshape_grad(x, dy), want_shape)
    elif op == "transpose":
        r = len(shape)
        perm = data.draw(st.one_of(st.none(), st.permutations(list(range(r))),
                                   st.lists(st.integers(-1, r), max_size=r + 1)), label="perm")
        # negative entries count from the end (pyfast_tape: "valid: [-r, r)")
        if perm is not None and sorted(p % r if -r <= p < r else r + 99 for p in perm) != list(range(r)):
            errs.add(IAE)
        out = invoke(op, tf.transpose, a.build(), perm)
        what += f" perm={perm}"
        if perm == [] and r > 0 and out.error is None:
            return known_bug("transpose-empty-perm-accepted")
        if expect(out, frozenset(errs) if errs else frozenset({OK}), op, what):
            pn = None if perm is None else [p % r for p in perm]
            want = ref.transpose(x, pn)
            check_values(out.value, want.astype(dt), dt, what=what)
            _grad_passthrough(data, dt, a, lambda t: tf.transpose(t, perm),
                              lambda dy: gref.transpose_grad(x, dy, pn), want.shape)
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
                              lambda dy: gref.broadcast_to_grad(x, dy), tuple(target))
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
                                  lambda dy: gref.cast_grad(x, dy), shape, out_dtype=tdt)
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
        out = invoke(op, tf.range, start, limit, delta, dtype=dt)
        what = f"range({start!r}, {limit!r}, {delta!r}, dtype={dt!r})"
        if expect(out, frozenset(errs) if errs else frozenset({OK}), "range", what):
            rdt = _np_dtype(dt) or np.dtype(np.int32 if kind == "int" else np.float32)
            if rdt.kind == "b":
                return known_bug("range-bool-dtype-all-false")
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
            if axis == [] and 1 in shape and out.error is None and out.value.shape == shape:
                return known_bug("squeeze-empty-axis-list-squeezes-nothing")
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
        known = _known(errs)
        if known:
            return known_bug(known)
        if dt is not None and dt.kind == "b":
            errs.add(TypeError)
        out = invoke(op, tf.clip_by_value, *build_all([t, lo, hi]))
        what = f"clip_by_value({t!r}, {lo!r}, {hi!r})"
        if expect(out, frozenset(errs) if errs else frozenset({OK}), "clip_by_value|maximum|minimum", what):
            want = ref.minimum(ref.maximum(vals[0], vals[1]), vals[2])
            check_values(out.value, want, dt, what=what)


# ---- softmax / log_softmax ----------------------------------------------------------------------------------
@budget(80)
@given(data=st.data())
def test_softmax_family(data):
    op = data.draw(st.sampled_from(["softmax", "log_softmax"]), label="op")
    shape = data.draw(shapes(0, 3), label="shape")
    a = data.draw(args(shape, kinds=["tensor", "tensor", "variable", "ndarray", "view", "list"]), label="logits")
    shape = a.src.shape
    r = len(shape)
    axis = data.draw(st.one_of(st.none(), st.integers(-r - 1, r)), label="axis")
    form = data.draw(st.sampled_from(["nn", "math"]), label="form")
    fn = getattr(tf.nn if form == "nn" else tf.math, op)
    errs, dt, vals = convert_all([a])
    if dt is not None and dt.kind != "f":
        errs.add(TypeError)
    ax = -1 if axis is None else axis
    if not -r <= ax < r:
        errs.add(IAE)
    out = invoke(op, fn, a.build(), axis=axis)
    what = f"{op}({a!r}, axis={axis})"
    if not expect(out, frozenset(errs) if errs else frozenset({OK}), op, what):
        return
    x = vals[0]
    with np.errstate(all="ignore"):
        want = getattr(ref, op)(x, axis=ax) if x.size else x.astype(np.float64)
    atol = None
    if op == "log_softmax":  # x - max - log(sum): absolute error ~ eps * (|x - max| + 1), not relative
        atol = 4 * float(np.finfo(dt).eps) * (1 + np.abs(np.where(np.isfinite(want), want, 0)))
    check_values(out.value, want, dt, rtol=_rtol(op, dt), atol=atol, what=what)
    if a.kind in TENSORISH and x.size:
        xv = data.draw(arrays(dt, shape, "normal"), label="grad x")
        dy = data.draw(arrays(dt, shape, "normal"), label="dy")
        t = tf.constant(xv)
        with tf.GradientTape() as tape:
            tape.watch(t)
            z = fn(t, axis=axis)
        g = invoke("gradient", tape.gradient, z, t, output_gradients=tf.constant(dy))
        assert g.error is None, repr(g.error)
        gfn = getattr(gref, op + "_grad")
        check_grad(g.value, gfn(xv.astype(np.float64), dy.astype(np.float64), axis=ax), dt, f"d{op} {what}")


# ---- Keras losses ---------------------------------------------------------------------------------------------
KERAS_LOSSES = ["mse", "huber", "bce", "cce", "scce"]


@st.composite
def loss_case(draw):
    kind = draw(st.sampled_from(KERAS_LOSSES))
    n = draw(DIM_SKEW)
    c = draw(st.sampled_from([1, 2, 3, 4]))
    pred_shape = draw(st.sampled_from([(n, c), (n, c), (c,), (2, n, c)]))
    dtype = np.dtype(draw(st.sampled_from([np.float32, np.float64])))
    from_logits = draw(st.booleans()) if kind in ("bce", "cce", "scce") else False
    regime = draw(st.sampled_from(["normal", "normal", "special", "huge"]))
    if kind in ("bce", "cce", "scce") and not from_logits:
        regime = draw(st.sampled_from(["prob", "prob", "special"]))
    if regime == "prob":
        pred = draw(hnp.arrays(dtype, pred_shape, elements=st.floats(0, 1, width=8 * dtype.itemsize)))
    else:
        pred = draw(arrays(dtype, pred_shape, regime))
    mismatch = draw(st.integers(0, 6)) == 0
    if kind == "scce":
        true_shape = pred_shape[:-1]
        if mismatch:
            true_shape = draw(shapes(0, 3))
        lab_hi = c if not mismatch else c + 1
        labels = draw(hnp.arrays(np.int64, true_shape, elements=st.integers(-1 if mismatch else 0, lab_hi - 1)))
        true = labels.astype(draw(st.sampled_from([np.int32, np.int64, np.float32])))
    else:
        true_shape = pred_shape if not mismatch else draw(shapes(0, 3))
        if kind == "cce":
            idx = draw(hnp.arrays(np.int64, true_shape[:-1] if true_shape else (), elements=st.integers(0, 9)))
            true = (np.arange(true_shape[-1]) == (idx[..., None] % max(true_shape[-1], 1))).astype(dtype) \
                if true_shape else np.asarray(1.0, dtype)
        else:
            true = draw(hnp.arrays(dtype, true_shape, elements=st.floats(0, 1, width=8 * dtype.itemsize)))
    kw = {}
    if kind == "huber":
        kw["delta"] = draw(st.sampled_from([1.0, 0.5, 2.0]))
    if kind in ("bce", "cce", "scce"):
        kw["from_logits"] = from_logits
    if kind in ("bce", "cce") and draw(st.booleans()):
        kw["label_smoothing"] = draw(st.sampled_from([0.1, 0.5]))
    reduction = draw(st.sampled_from(["sum_over_batch_size", "sum", None, "none"]))
    sw = None
    if draw(st.integers(0, 3)) == 0 and len(pred_shape) >= 2:
        sw = draw(hnp.arrays(dtype, pred_shape[:1], elements=st.floats(0, 2, width=8 * dtype.itemsize)))
    return kind, pred, true, kw, reduction, sw, dtype


LOSS_CLASSES = {"mse": "MeanSquaredError", "huber": "Huber", "bce": "BinaryCrossentropy",
                "cce": "CategoricalCrossentropy", "scce": "SparseCategoricalCrossentropy"}


def keras_reference(kind, true, pred, kw, reduction, sw, dtype):
    clip = {} if kind in ("mse", "huber") else {"clip_dtype": dtype}
    true_r = np.asarray(true)
    if kind in ("mse", "huber", "bce"):
        t_, p_ = fref.squeeze_or_expand_to_same_rank(true_r, pred)
        if kind == "bce" and kw.get("label_smoothing"):
            t_ = t_ * (1 - kw["label_smoothing"]) + 0.5 * kw["label_smoothing"]
        if t_.ndim == 0 and p_.ndim == 0:  # scalars: the elementwise loss (Keras's mean over axis -1 fails)
            k = {"mse": fref.MSE, "huber": fref.HUBER}.get(kind, fref.BCE_LOGIT if kw.get("from_logits")
                                                          else fref.BCE_PROB)
            el = fref._pointwise_elem(k, t_, p_, kw.get("delta", fref.KERAS_EPSILON if k == fref.BCE_PROB
                                                          else 0.0), dtype if k == fref.BCE_PROB else None)
            return fref.reduce_weighted_values(el, sw, reduction)
    if kind == "cce":
        t_, p_ = fref.squeeze_or_expand_to_same_rank(true_r, pred)
        if p_.ndim == 0:
            raise ValueError("categorical_crossentropy on a scalar output")
    if kind == "scce":
        true_r = true_r.astype(dtype).astype(np.int64)  # the Loss converts labels to its dtype, then int64
        t_, p_ = fref.squeeze_or_expand_to_same_rank(true_r, np.asarray(pred))  # LossFunctionWrapper.call
        lab = t_[..., 0] if t_.ndim == p_.ndim and t_.ndim and t_.shape[-1] == 1 else t_
        if p_.ndim < 1 or lab.shape != p_.shape[:-1]:  # Keras: "must have the same shape up until
            raise ValueError("scce shapes")                          # the last dimension"
    return fref.keras_loss(kind, true_r, np.asarray(pred, np.float64), sample_weight=sw,
                           reduction=reduction, **kw, **clip)


def keras_reference_stable(kind, true, pred, kw, reduction, sw, dtype):
    """keras_reference with the cross-entropies on logits computed by stable_xent (fused_reference's
    logsumexp adds and subtracts the max, losing everything below 1e-16 of huge logits)."""
    if kind not in ("cce", "scce") or not (kw.get("from_logits") or kind == "scce"):
        return keras_reference(kind, true, pred, kw, reduction, sw, dtype)
    keras_reference(kind, true, pred, kw, reduction, sw, dtype)  # the same shape checks (raises)
    p = np.asarray(pred, np.float64)
    if kind == "cce":
        t, p = fref.squeeze_or_expand_to_same_rank(np.asarray(true, np.float64), p)
        per = stable_xent(fref.smooth_labels(t, kw.get("label_smoothing", 0.0)), p)
    else:
        lab = np.asarray(true).astype(dtype).astype(np.int64)
        lab, p = fref.squeeze_or_expand_to_same_rank(lab, p)  # LossFunctionWrapper.call, as Keras
        if lab.ndim == p.ndim and lab.shape[-1] == 1:
            lab = lab[..., 0]
        if not kw.get("from_logits"):
            with np.errstate(all="ignore"):
                p = np.log(np.clip(p, *fref._clip_bounds(fref.KERAS_EPSILON, dtype)))
        per = stable_xent(fref.one_hot(lab, p.shape[-1]), p)
    return fref.reduce_weighted_values(per, sw, reduction)


@budget(100)
@given(case=loss_case(), via_tensor=st.booleans())
def test_keras_losses(case, via_tensor):
    kind, pred, true, kw, reduction, sw, dtype = case
    note(f"{kind} pred={pred.shape}{pred.dtype} true={true.shape}{true.dtype} kw={kw} reduction={reduction} sw={sw}")
    loss = getattr(tf.keras.losses, LOSS_CLASSES[kind])(reduction=reduction, dtype=dtype.name, **kw)
    yp = tf.constant(pred) if via_tensor else pred
    yt = tf.constant(true) if via_tensor else true
    out = invoke(f"keras.{kind}", loss, yt, yp, sample_weight=sw)
    try:
        with np.errstate(all="ignore"):
            want = keras_reference(kind, true, pred, kw, reduction, sw, dtype)
        ref_err = None
    except (ValueError, IndexError, ZeroDivisionError) as e:
        want, ref_err = None, e
    what = f"{LOSS_CLASSES[kind]}({kw}, reduction={reduction}) true{true.shape} pred{pred.shape}"
    bad_labels = kind == "scce" and true.size and (true.min() < 0 or true.max() >= max(pred.shape[-1], 1))
    if kind == "cce" and kw.get("label_smoothing") and true.ndim == 0 and isinstance(out.error, IndexError):
        return known_bug("keras-cce-smoothing-scalar-labels-indexerror")  # Keras 3 itself raises IndexError
    if kind in ("cce", "bce") and ref_err is None:
        yt_, yp_ = fref.squeeze_or_expand_to_same_rank(true, pred)
        if yt_.shape != yp_.shape:  # Keras: "Arguments `target` and `output` must have the same shape"
            ref_err = ValueError("shape")
    if out.error is not None:
        e = out.error
        # Keras raises plain ValueError for its own shape checks; the ops raise InvalidArgumentError/TypeError
        assert isinstance(e, (ValueError, TypeError)), f"{what}: undocumented {type(e).__name__}: {e}"
        assert str(e), f"{what}: empty message"
        if bad_labels:
            assert isinstance(e, IAE) and "sparse_softmax_cross_entropy" in str(e), f"{what}: {e}"
            return
        assert ref_err is not None, f"{what}: raised {type(e).__name__}: {e}, the reference gives {want!r}"
        return
    assert not bad_labels, f"{what}: out-of-range labels {true.tolist()} accepted: {out.value!r}"
    assert ref_err is None, f"{what}: the reference fails ({ref_err!r}) but the call returned {out.value!r}"
    if kind in ("cce", "scce") and kw.get("from_logits") and np.size(pred) and xent_rows_overflow(pred, dtype).any():
        return  # logits - max(logits) overflows the dtype: inf/NaN there is the dtype's arithmetic
    if dtype == np.float32:
        # float32 semantics at the edge of the range: a per-element loss or a sum that overflows float32 is
        # inf (and inf * 0 sample weight is NaN) in float32, finite in the float64 reference: outcome only
        with np.errstate(all="ignore"):
            per = keras_reference(kind, true, pred, kw, None, None, dtype)
        mag = np.abs(np.where(np.isfinite(per), per, 0)).sum() * max(np.size(pred), 1)
        if mag > float(np.finfo(np.float32).max) / 4:
            return
    atol = None
    rtol = 2e-5 if dtype == np.float32 else 1e-10
    if np.asarray(want).size and dtype == np.float32:
        atol = 1e-5 * max(1.0, float(np.nanmax(np.abs(np.where(np.isfinite(want), want, 0)))))
    elif dtype == np.float64:
        atol = 1e-12
    with np.errstate(all="ignore"):
        stable = keras_reference_stable(kind, true, pred, kw, reduction, sw, dtype)
    check_either(out.value, [np.asarray(stable, np.float64), np.asarray(want, np.float64)], dtype, rtol=rtol,
                 atol=atol, what=what)


@budget(80)
@given(kind=st.sampled_from(KERAS_LOSSES), n=st.integers(1, 3), c=st.integers(2, 4), seed=st.integers(0, 2**16),
       from_logits=st.booleans())
def test_keras_loss_gradients_float64(kind, n, c, seed, from_logits):
    """d loss / d y_pred for float64 Keras losses against central differences of the NumPy reference."""
    rng = np.random.default_rng(seed)
    if kind in ("bce", "cce", "scce") and not from_logits:
        pred = rng.uniform(0.05, 0.95, (n, c))
    else:
        pred = rng.standard_normal((n, c))
    if kind == "scce":
        true = rng.integers(0, c, n)
    elif kind == "cce":
        true = np.eye(c)[rng.integers(0, c, n)]
    else:
        true = rng.uniform(0, 1, (n, c))
    kw = {"from_logits": from_logits} if kind in ("bce", "cce", "scce") else {}
    loss = getattr(tf.keras.losses, LOSS_CLASSES[kind])(dtype="float64", **kw)
    p = tf.constant(pred)
    with tf.GradientTape() as tape:
        tape.watch(p)
        out = invoke(f"keras.{kind}", loss, tf.constant(true), p)
    assert out.error is None, repr(out.error)
    g = invoke("gradient", tape.gradient, out.value, p)
    assert g.error is None, repr(g.error)
    f = lambda pp: float(keras_reference(kind, true, pp, kw, "sum_over_batch_size", None, np.float64))  # noqa
    num = fref.numeric_grad(f, pred)
    check_values(out.value, np.asarray(f(pred)), np.float64, rtol=1e-10, atol=1e-12, what=f"{kind} value")
    assert g.value is not None, f"d{kind}/dpred is None"
    # central differences (h = 1e-6) carry ~1e-10 of rounding noise: absolute tolerance 1e-8
    check_values(g.value, num, np.float64, rtol=1e-5, atol=1e-8, what=f"d{kind}/dpred")


# ---- fused ops in tf._core ---------------------------------------------------------------------------------
FUSED = ["dense", "softmax_cross_entropy", "sparse_softmax_cross_entropy", "pointwise_loss"]  # the last: any of fref.POINTWISE_LOSSES


@budget(120)
@given(data=st.data())
def test_fused_core_ops(data):
    op = data.draw(st.sampled_from(FUSED), label="op")
    dtype = np.dtype(data.draw(st.sampled_from([np.float32, np.float64, np.float64, np.int32]), label="dtype"))
    regime = data.draw(st.sampled_from(["normal", "normal", "special", "huge", "tiny"]), label="regime")
    C = tf._core
    errs = set()
    if dtype.kind != "f":
        errs.add(TypeError)
        el_regime = "normal"
    else:
        el_regime = regime
    if op == "dense":
        lead = data.draw(shapes(0, 2), label="lead")
        d, k = data.draw(DIM_SKEW), data.draw(DIM_SKEW)
        d2 = d if data.draw(st.integers(0, 6)) else d + 1
        act = data.draw(st.sampled_from(list(C.ACTIVATIONS) + ["softmax", "unknown"]), label="act")
        use_bias = data.draw(st.booleans())
        kb = k if data.draw(st.integers(0, 6)) else k + 1
        if el_regime == "huge" and act == "linear":
            el_regime = "moderate"
        x = data.draw(arrays(dtype, tuple(lead) + (d,), el_regime), label="x")
        W = data.draw(arrays(dtype, (d2, k), el_regime), label="W")
        b = data.draw(arrays(dtype, (kb,), el_regime), label="b") if use_bias else None
        if d2 != d or (use_bias and kb != k):
            errs.add(IAE)
        if act not in C.ACTIVATIONS:
            errs.add(IAE)
        code = C.ACTIVATIONS.get(act, len(C.ACTIVATIONS))  # an out-of-range code for "unknown"
        args_ = [tf.constant(x), tf.constant(W), None if b is None else tf.constant(b), code]
        out = invoke(op, C.dense, *args_)
        what = f"dense(x{x.shape}, W{W.shape}, b{None if b is None else b.shape}, act={act}) {dtype}"
        if not expect(out, frozenset(errs) if errs else frozenset({OK}), "dense", what):
            return
        if k == 0 or not x.size and d:
            want = np.zeros(tuple(lead) + (k,))
        elif regime == "huge" or regime == "tiny" or regime == "special":
            want = _np_err(lambda: fref.dense_fwd(x, W, b, act))
            if dtype == np.float32 or regime == "huge":
                # products that overflow: inf vs NaN depends on FMA and summation order inside BLAS (both IEEE);
                # float32 extremes likewise -- only "no crash, documented outcome" here
                return
        else:
            want = fref.dense_fwd(x, W, b, act)
        fin = lambda v: np.abs(np.where(np.isfinite(v), v, 0)).astype(np.float64)  # noqa: E731
        pre = fin(x) @ fin(W) if x.size and W.size else np.zeros(0)
        atol = 4 * max(d, 1) * float(np.finfo(dtype).eps) * (np.max(pre) if pre.size else 0) \
            + 1e-6 * (dtype == np.float32)
        check_either(out.value, [want], dtype, rtol=1e-5 if dtype == np.float32 else 1e-10, atol=atol, what=what)
        if regime == "normal" and x.size and W.size:
            dy = data.draw(arrays(dtype, np.shape(want), "normal"), label="dy")
            ts = [tf.constant(x), tf.constant(W)] + ([tf.constant(b)] if b is not None else [])
            with tf.GradientTape() as tape:
                tape.watch(ts)
                z = C.dense(ts[0], ts[1], ts[2] if b is not None else None, code)
            g = invoke("gradient", tape.gradient, z, ts, output_gradients=tf.constant(dy))
            assert g.error is None, repr(g.error)
            dx, dW, db = fref.dense_bwd(x, W, b, act, dy)
            # the activation derivative is computed from the output (y(1-y), 1-y^2: TF's SigmoidGrad/TanhGrad),
            # so its absolute error is ~eps*|dy|, carried through the GEMMs: bound by the |.| products
            eps = 8 * float(np.finfo(dtype).eps)
            ady = np.abs(dy.astype(np.float64)).reshape(-1, k)
            ax_ = np.abs(x.astype(np.float64)).reshape(-1, d)
            bounds = ((ady @ np.abs(W.astype(np.float64)).T).reshape(x.shape), ax_.T @ ady, ady.sum(0))
            for name, gv, wv, bd in zip("xWb", g.value, (dx, dW, db), bounds):
                assert gv is not None, f"ddense/d{name}: None"
                check_values(gv, wv, dtype, rtol=1e-4 if dtype == np.float32 else 1e-8, atol=eps * bd + 1e-12,
                             what=f"ddense/d{name} {what}")
        return
    if op in ("softmax_cross_entropy", "sparse_softmax_cross_entropy"):
        lead = data.draw(shapes(0, 2), label="lead")
        c = data.draw(st.integers(0, 4), label="classes")
        logits = data.draw(arrays(dtype, tuple(lead) + (c,), el_regime), label="logits")
        bad_shape = data.draw(st.integers(0, 6)) == 0
        if c == 0:
            errs.add(IAE)
        if op == "softmax_cross_entropy":
            lshape = tuple(lead) + (c,) if not bad_shape else data.draw(shapes(0, 3))
            labels = data.draw(hnp.arrays(dtype, lshape, elements=st.floats(0, 1, width=8 * dtype.itemsize)
                                          if dtype.kind == "f" else st.integers(0, 1)), label="labels")
            s = data.draw(st.sampled_from([0.0, 0.0, 0.1]), label="smoothing")
            if lshape != logits.shape or len(logits.shape) == 0:
                errs.add(IAE)
            out = invoke(op, C.softmax_cross_entropy, tf.constant(labels), tf.constant(logits), s)
            what = f"softmax_cross_entropy(labels{labels.shape}, logits{logits.shape}, {s}) {dtype}"
            if not expect(out, frozenset(errs) if errs else frozenset({OK}), op, what):
                return
            with np.errstate(all="ignore"):
                naive = fref.softmax_xent_fwd(labels, logits, s)
                safe = stable_xent(fref.smooth_labels(labels, s), logits)
        else:
            ldt = np.dtype(data.draw(st.sampled_from([np.int32, np.int64, np.int64, np.float32]), label="ldt"))
            lshape = tuple(lead) if not bad_shape else data.draw(shapes(0, 3))
            hi = max(c, 1) + (1 if data.draw(st.integers(0, 5)) == 0 else 0)
            lo = -1 if data.draw(st.integers(0, 8)) == 0 else 0
            labels = data.draw(hnp.arrays(np.int64, lshape, elements=st.integers(lo, hi - 1)), label="labels")
            labels = labels.astype(ldt)
            if ldt.kind != "i":
                errs.add(TypeError)
            if lshape != tuple(lead) or len(logits.shape) == 0:
                errs.add(IAE)
            elif labels.size and c and (labels.min() < 0 or labels.max() >= c):
                errs.add(IAE)
            out = invoke(op, C.sparse_softmax_cross_entropy, tf.constant(labels), tf.constant(logits))
            what = f"sparse_softmax_cross_entropy(labels{labels.tolist()!r:.80}, logits{logits.shape}) {dtype}"
            if not expect(out, frozenset(errs) if errs else frozenset({OK}), op, what):
                return
            with np.errstate(all="ignore"):
                naive = fref.sparse_xent_fwd(labels, logits)
                safe = stable_xent(fref.one_hot(labels, logits.shape[-1]), logits)
        got = np.asarray(out.value.numpy())
        ovf = xent_rows_overflow(logits, dtype)
        if got.shape == np.shape(safe):
            safe, naive = (np.where(ovf, got, v) for v in (safe, naive))
        want = safe
        scale = np.abs(np.where(np.isfinite(logits), logits, 0)).max(axis=-1) if logits.size else 0
        check_either(out.value, [safe, naive], dtype, rtol=1e-5 if dtype == np.float32 else 1e-10,
                     atol=(1e-5 if dtype == np.float32 else 1e-12) * np.maximum(1, 4 * scale), what=what)
        if regime == "normal" and logits.size:
            dl = data.draw(arrays(dtype, np.shape(want), "normal"), label="dloss")
            z = tf.constant(logits)
            with tf.GradientTape() as tape:
                tape.watch(z)
                if op == "softmax_cross_entropy":
                    loss = C.softmax_cross_entropy(tf.constant(labels), z, s)
                else:
                    loss = C.sparse_softmax_cross_entropy(tf.constant(labels), z)
            g = invoke("gradient", tape.gradient, loss, z, output_gradients=tf.constant(dl))
            assert g.error is None, repr(g.error)
            if op == "softmax_cross_entropy":
                wg = fref.softmax_xent_bwd(labels, logits, s, dl)
            else:
                wg = fref.sparse_xent_bwd(labels, logits, dl)
            check_grad(g.value, wg, dtype, f"d{op}/dlogits {what}")
        return
    # pointwise_loss
    kind = data.draw(st.sampled_from(fref.POINTWISE_LOSSES + (fref.BCE_LOGIT,)), label="kind")
    shape = data.draw(shapes(0, 3), label="shape")
    bad = data.draw(st.integers(0, 6)) == 0
    tshape = shape if not bad else data.draw(shapes(0, 3))
    param = {fref.HUBER: data.draw(st.sampled_from([1.0, 0.5, -1.0])), fref.BCE_PROB: 1e-7}.get(kind, 0.0)
    bce_prob = kind == fref.BCE_PROB
    pred = data.draw(arrays(dtype, shape, el_regime), label="pred")
    if bce_prob and dtype.kind == "f" and regime == "normal":
        pred = np.abs(pred / 10).astype(dtype)
    true = data.draw(hnp.arrays(dtype, tshape, elements=st.floats(0, 1, width=8 * dtype.itemsize)
                                if dtype.kind == "f" else st.integers(0, 1)), label="true")
    name = kind
    if kind == fref.HUBER and param < 0:
        errs.add(IAE)
    if tshape != shape:
        errs.add(IAE)
    out = invoke(kind, getattr(C, kind), tf.constant(true), tf.constant(pred), param)
    what = f"{kind}(true{true.shape}, pred{pred.shape}, {param}) {dtype}"
    if not expect(out, frozenset(errs) if errs else frozenset({OK}), name, what):
        return
    with np.errstate(all="ignore"):
        want = fref.pointwise_fwd(kind, true, pred, param, clip_dtype=dtype if bce_prob else None) if shape \
            else np.asarray(fref._pointwise_elem(kind, true, pred, param, dtype if bce_prob else None))
        if dtype == np.float32 and shape:
            # Huge finite per-element losses whose row sum overflows float32: the float32 mean is inf (as TF's
            # float32 reduce_mean), the float64 reference finite -- both accepted.
            el = fref._pointwise_elem(kind, true, pred, param, dtype if bce_prob else None)
            ovf = np.abs(np.sum(el, axis=-1)) > float(np.finfo(np.float32).max)
            got = np.asarray(out.value.numpy())
            want = np.where(ovf & np.isinf(got), got, want)
    check_values(out.value, want, dtype, rtol=1e-5 if dtype == np.float32 else 1e-10,
                 atol=1e-6 if dtype == np.float32 else 1e-12, what=what)
    if regime == "normal" and pred.size and shape:
        dl = data.draw(arrays(dtype, np.shape(want), "normal"), label="dloss")
        p = tf.constant(pred)
        with tf.GradientTape() as tape:
            tape.watch(p)
            loss = getattr(C, kind)(tf.constant(true), p, param)
        g = invoke("gradient", tape.gradient, loss, p, output_gradients=tf.constant(dl))
        assert g.error is None, repr(g.error)
        wg = fref.pointwise_bwd(kind, true, pred, param, dl, clip_dtype=dtype if bce_prob else None)
        check_grad(g.value, wg, dtype, f"dpointwise/dpred {what}", rtol=1e-4 if dtype == np.float32 else 1e-8)


def _np_err(fn):
    with np.errstate(all="ignore"):
        return fn()


# ---- wrong argument types ----------------------------------------------------------------------------------
def _bad_values():
    return st.sampled_from([
        "abc", None, object(), {"a": 1}, {1, 2}, b"xy", 1 + 2j, [1.0, "a"], [[1.0, 2.0], [3.0]], [None],
        np.array(["a", "b"]), np.array([1 + 1j]), np.array([1, None], dtype=object), np.datetime64(1, "s"),
        np.array([1], dtype=np.uint64), 2**70, -2**70, lambda: 0, slice(1), Ellipsis,
    ])


BAD_CALLS = {
    # op name in the message: callable taking the bad value in position k (0-based) of its tensor arguments
    "add": (2, lambda a, b: tf.add(a, b)), "multiply": (2, lambda a, b: tf.multiply(a, b)),
    "subtract": (2, lambda a, b: tf.subtract(a, b)), "divide": (2, lambda a, b: tf.divide(a, b)),
    "pow": (2, lambda a, b: tf.pow(a, b)), "maximum": (2, lambda a, b: tf.maximum(a, b)),
    "minimum": (2, lambda a, b: tf.minimum(a, b)), "less": (2, lambda a, b: tf.less(a, b)),
    "equal": (2, lambda a, b: tf.equal(a, b)), "not_equal": (2, lambda a, b: tf.not_equal(a, b)),
    "matmul": (2, lambda a, b: tf.matmul(a, b)), "where": (3, lambda c, a, b: tf.where(c, a, b)),
    "exp": (1, tf.exp), "log": (1, tf.log), "sqrt": (1, tf.sqrt), "tanh": (1, tf.tanh), "abs": (1, tf.abs),
    "negative": (1, tf.negative), "square": (1, tf.square), "sigmoid": (1, tf.sigmoid), "sign": (1, tf.sign),
    "relu": (1, tf.nn.relu), "identity": (1, tf.identity), "reduce_sum": (1, tf.reduce_sum),
    "reduce_mean": (1, tf.reduce_mean), "reduce_max": (1, tf.reduce_max), "reduce_min": (1, tf.reduce_min),
    "argmax": (1, tf.argmax), "softmax": (1, tf.nn.softmax), "log_softmax": (1, tf.nn.log_softmax),
    "transpose": (1, tf.transpose), "cast": (1, lambda a: tf.cast(a, tf.float32)),
    "reshape": (1, lambda a: tf.reshape(a, [-1])), "one_hot": (1, lambda a: tf.one_hot(a, 3)),
    "broadcast_to": (1, lambda a: tf.broadcast_to(a, [2])),
    "dense": (2, lambda a, b: tf._core.dense(a, b)),
    "softmax_cross_entropy": (2, lambda a, b: tf._core.softmax_cross_entropy(a, b)),
    "sparse_softmax_cross_entropy": (2, lambda a, b: tf._core.sparse_softmax_cross_entropy(a, b)),
}
GOOD = {"where": [tf.constant([True, False]), tf.constant([1.0, 2.0]), tf.constant([3.0, 4.0])],
        "matmul": [tf.ones([2, 2]), tf.ones([2, 2])], "dense": [tf.ones([2, 2]), tf.ones([2, 2])],
        "softmax_cross_entropy": [tf.ones([2, 2]), tf.ones([2, 2])],
        "sparse_softmax_cross_entropy": [tf.constant([0, 1]), tf.ones([2, 2])],
        "one_hot": [tf.constant([0, 1])]}


@budget(100)
@given(op=st.sampled_from(sorted(BAD_CALLS)), bad=_bad_values(), data=st.data())
def test_wrong_argument_types(op, bad, data):
    arity, fn = BAD_CALLS[op]
    pos = data.draw(st.integers(0, arity - 1), label="position")
    good = list(GOOD.get(op, [tf.constant([1.0, 2.0])] * arity))
    good[pos] = bad
    out = invoke(op, fn, *good)
    assert out.error is not None, f"{op} accepted {bad!r} at position {pos}: {out.value!r}"
    e = out.error
    if isinstance(e, RuntimeError) and "Unable to cast" in str(e):
        return known_bug("pybind-cast-runtime-error")
    if op == "where" and bad is None and isinstance(e, NotImplementedError):
        return  # where(c, None, y): read as the one-argument form, documented as not supported
    assert isinstance(e, (TypeError, IAE)), f"{op}({bad!r} at {pos}): undocumented {type(e).__name__}: {e}"
    assert _names_op(str(e), op), f"{op}({bad!r} at {pos}): message does not name {op}: {e}"


@budget(60)
@given(op=st.sampled_from(["argmax", "argmin", "reduce_sum", "reduce_max", "softmax", "transpose", "one_hot"]),
       bad=st.sampled_from([1.5, "0", [0.5], object(), None, (0, "a")]))
def test_wrong_axis_types(op, bad):
    x = tf.ones([2, 3])
    if op == "transpose":
        call = lambda: tf.transpose(x, bad)  # noqa: E731
    elif op == "one_hot":
        call = lambda: tf.one_hot([0, 1], 3, axis=bad)  # noqa: E731
    elif op == "softmax":
        call = lambda: tf.nn.softmax(x, axis=bad)  # noqa: E731
    else:
        call = lambda: getattr(tf, op)(x, axis=bad)  # noqa: E731
    out = invoke(op, call)
    if bad is None and op in ("argmax", "argmin", "reduce_sum", "reduce_max", "softmax", "transpose", "one_hot"):
        return  # None is a valid axis/perm (the default)
    assert out.error is not None, f"{op}(axis={bad!r}) accepted: {out.value!r}"
    e = out.error
    if isinstance(e, RuntimeError) and "Unable to cast" in str(e):
        return known_bug("pybind-cast-runtime-error")
    assert isinstance(e, (TypeError, IAE)), f"{op}(axis={bad!r}): undocumented {type(e).__name__}: {e}"
    assert _names_op(str(e), op), f"{op}(axis={bad!r}): message does not name {op}: {e}"


# ---- known bugs found by the properties above (minimal reproductions) ----------------------------------------
def test_known_bug_sign_of_nan_is_nan():
    out = tf.sign(tf.constant([np.nan, 1.0, -1.0])).numpy()
    np.testing.assert_array_equal(out, ref.sign(np.array([np.nan, 1.0, -1.0])))


def test_known_bug_argmax_nan_is_position_independent():
    a = int(tf.argmax(tf.constant([np.nan, 1.0, 3.0])))   # 0: the NaN wins
    b = int(tf.argmax(tf.constant([1.0, np.nan, 3.0])))   # 2: the NaN is ignored
    assert (a, b) == (0, 1), f"argmax([nan,1,3])={a}, argmax([1,nan,3])={b}; NumPy gives 0 and 1"


@pytest.mark.parametrize("value", [np.int64(2**40), np.array([2**40, 1]), [2**40, 1], np.array([2**31], np.uint32)],
                         ids=["np-scalar", "ndarray", "list", "uint32"])
def test_int_narrowing_out_of_range_raises(value):
    # (found by the fuzz: these wrapped silently before 1b89c15)
    with pytest.raises(IAE, match=r"add: value \d+ .* out of range for int32"):
        tf.add(tf.constant([1, 2]), value)


@pytest.mark.parametrize("axis", [[0], 1.0, "a"], ids=["list", "float", "str"])
def test_known_bug_argmax_bad_axis_type(axis):
    with pytest.raises((TypeError, IAE), match="argmax"):
        tf.argmax(tf.ones([2, 3]), axis=axis)


def test_known_bug_dense_zero_features():
    for _ in range(3):
        junk = [tf.constant(np.full((16,), np.nan)) + 1.0 for _ in range(50)]  # leave NaN in freed memory
        del junk
        x = tf.zeros([3, 0], dtype=tf.float64)
        W = tf.zeros([0, 2], dtype=tf.float64)
        b = tf.constant([1.0, -2.0], dtype=tf.float64)
        with tf.GradientTape() as tape:
            tape.watch(b)
            y = tf._core.dense(x, W, b, 0)
        np.testing.assert_array_equal(y.numpy(), np.tile([1.0, -2.0], (3, 1)))
        np.testing.assert_array_equal(tape.gradient(y, b).numpy(), [3.0, 3.0])


def test_known_bug_transpose_empty_perm():
    with pytest.raises(IAE, match="transpose"):
        tf.transpose(tf.ones([2, 3]), [])


@pytest.mark.parametrize("loss", ["MeanSquaredError", "Huber"])
def test_known_bug_keras_mse_huber_rank_broadcast(loss):
    got = getattr(tf.keras.losses, loss)()(tf.ones([3]), tf.zeros([2, 3]))
    assert float(got) == pytest.approx(1.0 if loss == "MeanSquaredError" else 0.5)


def test_known_bug_keras_bce_unequal_shapes_raise():
    with pytest.raises(ValueError, match="shape"):
        tf.keras.losses.BinaryCrossentropy()(tf.ones([2, 1]), tf.fill([2, 3], 0.5))


def test_known_bug_keras_scce_scalar_output():
    with pytest.raises(ValueError):
        tf.keras.losses.SparseCategoricalCrossentropy()(np.array(0), np.array([1.0]))


def test_known_bug_range_bool_dtype():
    try:
        out = tf.range(0, 5, dtype=tf.bool)
    except (TypeError, IAE):
        return
    np.testing.assert_array_equal(out.numpy(), np.arange(5) != 0)


@pytest.mark.parametrize("call", [lambda: tf.range(np.nan), lambda: tf.range(0.0, np.inf)], ids=["nan", "inf"])
def test_known_bug_range_non_finite_message(call):
    with pytest.raises(IAE, match=r"\brange\b"):
        call()


def test_known_bug_squeeze_empty_axis_list():
    assert tf.squeeze(tf.ones([1, 2, 1]), []).shape == (2,)
