"""Shared pieces of the fuzz properties (tests/test_fuzz/test_*.py): hypothesis profiles, call accounting,
the outcome check (``expect``), the value checks (thin users of conftest.assert_close), the input
strategies (shapes, values, how an argument is passed) and the model of the documented conversion rules.
"""
from __future__ import annotations

import collections
import dataclasses
import os
import re
import warnings
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import pyfast_tape as tf
from conftest import assert_close, grad_scale, tolerance

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


# ---- call accounting (read by bench/fuzz_long.py, through tests/test_fuzz/__init__.py) ----------------------
CALLS: collections.Counter = collections.Counter()   # op name -> calls into pyfast_tape
KNOWN: collections.Counter = collections.Counter()   # known-bug name -> examples that hit it (and were skipped)

IAE = tf.errors.InvalidArgumentError
DOCUMENTED = (IAE, TypeError, NotImplementedError)
OK = "ok"


def known_bug(name: str) -> None:
    """The example hits a bug that has its own strict-xfail test (test_known_bug_*): count it and skip the
    example's checks."""
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


def names_op(msg: str, op: str) -> bool:
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
    assert names_op(str(e), op), f"{what}: message does not name the op ({op}): {msg}"
    return False


def _fmt(allowed) -> str:
    return "{" + ", ".join(a if isinstance(a, str) else a.__name__ for a in allowed) + "}"


# ---- value comparison: conftest.assert_close with the fuzz's tolerances ----------------------------------------
def check_values(actual: Any, expected: np.ndarray, dtype, rtol: Optional[float] = None,
                 atol: Optional[np.ndarray] = None, what: str = "") -> None:
    """`actual` (a Tensor) has `dtype`, the shape of `expected` (a float64/int64/bool reference) and its
    values: the same NaN pattern, the same infinities (or a value at the edge of the dtype's range where the
    float64 reference is within rounding of overflow), finite values within rtol/atol.

    Defaults: conftest.TOL's "rounded" row (float32 rtol 1e-6, float64 rtol 1e-13: tighter than the "value"
    row, kept from the fuzz's own defaults), whose atol (4 * the dtype's smallest normal) is also the floor
    of an atol given here (a scalar or one per element)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        rounded = tolerance(dtype, "rounded")
        rtol = rounded["rtol"] if rtol is None else rtol
        atol = rounded["atol"] if atol is None else np.maximum(atol, rounded["atol"])
    assert_close(actual, expected, dtype, rtol=rtol, atol=atol, range_edge=True, what=what)


def check_grad(g: Any, expected: np.ndarray, dtype, what: str, rtol=None) -> None:
    """A gradient against the float64 analytic one: conftest.TOL's "grad" row, atol x the gradient's scale."""
    assert g is not None, f"{what}: gradient is None for a connected float input"
    exp = np.asarray(expected, dtype=np.float64)
    tol = tolerance(dtype, "grad", grad_scale(exp))
    check_values(g, exp, dtype, rtol=rtol or tol["rtol"], atol=tol["atol"], what=what)


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


TRANSCENDENTAL = {"exp", "log", "log1p", "tanh", "sigmoid", "pow", "rsqrt", "softmax", "log_softmax"}


def value_rtol(op: str, dtype) -> Optional[float]:
    """An op's rtol for check_values: transcendental kernels and pow are looser than the "rounded" row
    (None: the row's own)."""
    if np.dtype(dtype) == np.float32:
        return 2e-5 if op == "pow" else (1e-5 if op in TRANSCENDENTAL else 1e-6)
    return 1e-12 if op in TRANSCENDENTAL else None


def np_quiet(fn):
    """fn() with NumPy's floating-point warnings off (references on NaN/Inf/huge inputs)."""
    with np.errstate(all="ignore"):
        return fn()


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
