#!/usr/bin/env python3
"""Coverage-guided fuzzing of pyfast_tape's public API with atheris (libFuzzer) on the ASan/UBSan build.

Each fuzzer input decodes (atheris.FuzzedDataProvider) to a short *program*: a list of Python statements
over ``tf`` (``import pyfast_tape as tf``) and ``np`` -- tensors from literal NumPy arrays (NaN, +-inf,
denormals, int min/max), fills/random/range with shapes drawn from dims that include 0, 1, 2, 3, 5, 2**31,
2**32, 2**62, 2**63-1, -1 and beyond int64, then elementwise math, comparisons, reductions (axes in and
out of range, keepdims), argmax/argmin, reshape/transpose/broadcast_to/expand_dims/squeeze, matmul,
one_hot, cast between all dtypes, softmax/log_softmax, ``t[...]`` indexing, GradientTape
(watch/gradient/jacobian/batch_jacobian/explain), the Keras losses and DLPack round trips. Every statement
is source text that is executed as it is, so the program *is* the reproducer.

A statement may raise only ValueError (InvalidArgumentError), TypeError, IndexError, RuntimeError
(ResourceExhaustedError), NotImplementedError, OverflowError or BufferError (the DLPack protocol's error);
those are ignored. Any other Python exception, and anything native (ASan/UBSan report, SEGV, abort,
libFuzzer's malloc/RSS limits, a timeout) is a finding.

Allocation policy: a call whose output would be a *legitimate* tensor of more than FUZZ_MAX_BYTES
(default 16 MiB) and less than 2**48 bytes (more than any x86-64 process can map) is skipped, e.g.
``tf.zeros([2**20, 2**10])`` (4 GiB). Invalid shapes and shapes of 2**48 bytes or more are always called:
``tf.zeros([2**62])`` must raise, not allocate. So an allocation above libFuzzer's -malloc_limit_mb is
itself a finding.

Modes:
    (libFuzzer)  LD_PRELOAD=.../asan_with_fuzzer.so python bench/fuzz_atheris.py [libFuzzer flags] CORPUS...
                 (bench/fuzz_run.sh sets this up)
    --repro FILE      print the program FILE decodes to (multi-line, then a one-line `python -c`),
                      decoding in a child process so a crashing input still prints everything
    --minimize FILE   as --repro, then drop statements while the crash keeps its signature (ddmin) and
                      print the minimal one-line reproducer
    --run-program P.json [libFuzzer flags] EMPTYFILE   run a decoded program under libFuzzer (internal)
    --pick-corpus CONTROL OUT_DIR MAX_FILES MAX_BYTES  greedy max-coverage pick from a merge control file

Environment:
    FUZZ_SKIP=a,b,...  keep the generator away from known crash classes to find other bugs (the default
                       avoids nothing): bigshape (no dims >= 2**31 or < -1), floatcast (no float->int
                       conversions of arbitrary values), intoverflow (small ints only, no int pow/divide),
                       empty (no zero-size dims), pyexc (any Python exception is expected).
    FUZZ_MAX_BYTES     largest legitimate allocation to make (default 16 MiB: a 64 MiB random.normal takes
                       over 10 s under ASan; 16 MiB still reaches the allocator's >= 8 MiB huge-page path).
"""
from __future__ import annotations

import json
import logging
import math
import os
import re
import shlex
import subprocess
import sys
import tempfile
import warnings

SKIP = {s.strip() for s in os.environ.get("FUZZ_SKIP", "").split(",") if s.strip()}
MAX_BYTES = int(os.environ.get("FUZZ_MAX_BYTES", str(16 << 20)))
HUGE_BYTES = 1 << 48  # above this no allocator can succeed: the call must raise cleanly
MAX_STATEMENTS = 28
MAX_MATMUL_FLOPS = 1 << 28
HERE = os.path.dirname(os.path.abspath(__file__))

EXPECTED = (ValueError, TypeError, IndexError, RuntimeError, NotImplementedError, OverflowError, BufferError)
if "pyexc" in SKIP:
    EXPECTED = (Exception,)

PRELUDE = 'import pyfast_tape as tf, numpy as np; nan = float("nan"); inf = float("inf")'

# ---- value pools ----------------------------------------------------------------------------------------
DTYPES = ["float32", "float64", "int32", "int64", "bool"]
ITEMSIZE = {"float32": 4, "float64": 8, "int32": 4, "int64": 8, "bool": 1}
FLOATS = ["float32", "float64"]
INTS = ["int32", "int64"]

DIM_SMALL = [0, 1, 2, 3, 5, 1, 2, 3]
DIM_MED = [4, 7, 8, 16, 64, 1000, 1 << 16, 1 << 20]
DIM_HUGE = [2**31 - 1, 2**31, 2**32, 2**62, 2**63 - 1]
DIM_NEG = [-1, -1, -2, -2**31, -2**63]
DIM_BEYOND = [2**63, 2**64, -2**63 - 1]

F_SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, -3.5, float("nan"), float("inf"), float("-inf"), 5e-324,
             1.4e-45, 1e-40, 2.2250738585072014e-308, 1.1754943508222875e-38, 3.4028234663852886e+38,
             3.5e38, 1.7976931348623157e+308, 1e300, -1e300, 1e10, 2147483648.0, -2147483649.0,
             9.223372036854776e18, -9.3e18, 65504.0, 1e-7, 88.8, 710.0, -746.0, 100.0, 3.0, 7.0]
I32_SPECIAL = [0, 1, -1, 2, 3, -2, 7, 100, 2**31 - 1, -2**31, 2**15, -2**15, 2**30, 1, 0]
I64_SPECIAL = I32_SPECIAL + [2**63 - 1, -2**63, 2**32, 2**53 + 1, -2**40, 2**31]
AXIS_EXTRA = [2**31, -2**31 - 1, 2**63 - 1, -2**63, 100, -100]


def fmt(v):
    """Python source for a value (floats round-trip; nan/inf are the prelude's names)."""
    if isinstance(v, bool) or v is None or isinstance(v, int):
        return repr(v)
    if isinstance(v, float):
        if v != v:
            return "nan"
        if v in (float("inf"), float("-inf")):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, (list, tuple)):
        inner = ", ".join(fmt(x) for x in v)
        return f"[{inner}]" if isinstance(v, list) else (f"({inner},)" if len(v) == 1 else f"({inner})")
    if isinstance(v, str):
        return repr(v)
    raise TypeError(f"fmt: {type(v)}")


def prod(dims):
    n = 1
    for d in dims:
        n *= d
    return n


def size_of_shape(dims):
    """Element count of a shape argument, or None where the shape is invalid (must raise anyway)."""
    try:
        dims = [int(d) for d in dims]
    except (TypeError, ValueError):
        return None
    if any(d < 0 for d in dims):
        return None
    return prod(dims)


def reduce_bound(shape):
    """Elements an op that reduces some axes of `shape` can output at most: an empty axis reduced away
    leaves the product of the others (a loss over [2**31 - 1, 0] is [2**31 - 1] per-sample values)."""
    return prod(d for d in shape if d != 0)


def alloc_ok(nelem, dtype):
    """Whether to make a call whose output has `nelem` elements of `dtype` (None: invalid, call it)."""
    if nelem is None:
        return True
    b = nelem * ITEMSIZE.get(dtype, 8)
    if "bigshape" in SKIP:
        return b <= MAX_BYTES
    return b <= MAX_BYTES or b >= HUGE_BYTES


def broadcast_shape(*shapes):
    """NumPy/TF broadcasting of `shapes`; None where they do not broadcast."""
    r = max(len(s) for s in shapes)
    out = []
    for i in range(r):
        ds = [s[len(s) - r + i] for s in shapes if len(s) - r + i >= 0]
        non1 = {d for d in ds if d != 1}
        if len(non1) > 1:
            return None
        out.append(non1.pop() if non1 else 1)
    return out


# ---- the program -----------------------------------------------------------------------------------------
class Program:
    """Decodes fuzzer bytes into statements, executing each as it is made (the next choices depend on the
    shapes that came out). `sink`, when given, receives each statement before it runs and its outcome after."""

    def __init__(self, data: bytes, sink=None):
        import atheris
        self.fdp = atheris.FuzzedDataProvider(data)
        self.sink = sink
        import numpy as np
        import pyfast_tape as tf
        self.ns = {"tf": tf, "np": np, "nan": float("nan"), "inf": float("inf"), "__builtins__": __builtins__}
        self.tf, self.np = tf, np
        self.pool = {}  # name -> dict(kind, shape, dtype)
        self.tapes_open = []
        self.tapes = []
        self.counter = 0
        self.statements = []

    # -- fdp helpers
    def pick(self, seq):
        return seq[self.fdp.ConsumeIntInRange(0, len(seq) - 1)]

    def chance(self, percent):
        return self.fdp.ConsumeIntInRange(0, 99) < percent

    def remaining(self):
        return self.fdp.remaining_bytes()

    def new_name(self, prefix="t"):
        self.counter += 1
        return f"{prefix}{self.counter}"

    # -- execution
    def emit(self, expr, target=None, kind=None):
        """Runs `target = expr` (or `expr`); True if it completed. Expected exceptions are swallowed."""
        code = f"{target} = {expr}" if target else expr
        rec = {"code": code, "expr": expr, "target": target}
        self.statements.append(rec)
        if self.sink:
            self.sink("S", code)
        try:
            exec(_compile(code), self.ns)
        except EXPECTED as e:
            rec["raised"] = type(e).__name__
            if self.sink:
                self.sink("R", "exc " + type(e).__name__)
            return False
        except BaseException as e:  # a finding: name the statement, then let atheris report it
            sys.stderr.write(f"\n=== fuzz_atheris: unexpected {type(e).__name__} from statement:\n    {code}\n")
            raise
        if self.sink:
            self.sink("R", "ok")
        if target:
            self._track(target, kind)
        return True

    def _track(self, name, kind=None):
        v = self.ns.get(name)
        tf, np = self.tf, self.np
        if isinstance(v, (tf.Tensor, tf.Variable)):
            try:
                shape = tuple(int(d) for d in v._shape) if hasattr(v, "_shape") else tuple(int(d) for d in v.shape)
            except Exception:  # noqa: BLE001
                shape = tuple(int(d) for d in v.shape)
            self.pool[name] = {"kind": kind or ("var" if isinstance(v, tf.Variable) else "tensor"),
                               "shape": shape, "dtype": v.dtype.name}
        elif isinstance(v, np.ndarray):
            self.pool[name] = {"kind": "np", "shape": tuple(v.shape), "dtype": str(v.dtype)}
        elif kind:
            self.pool[name] = {"kind": kind}

    def names(self, *kinds, pred=None):
        return [n for n, i in self.pool.items() if i["kind"] in kinds and (pred is None or pred(i))]

    # -- value generation
    def dim(self, bigshape_ok=True):
        r = self.fdp.ConsumeIntInRange(0, 99)
        if "empty" in SKIP:
            pool_small = [d for d in DIM_SMALL if d != 0]
        else:
            pool_small = DIM_SMALL
        if r < 58:
            return self.pick(pool_small)
        if r < 70:
            return self.pick(DIM_MED)
        if "bigshape" in SKIP or not bigshape_ok:
            return self.pick([-1, -2] if r < 80 else pool_small)
        if r < 86:
            return self.pick(DIM_HUGE)
        if r < 94:
            return self.pick(DIM_NEG)
        if r < 97:
            return self.pick(DIM_BEYOND)
        return self.fdp.ConsumeInt(8)

    def shape(self, max_rank=4):
        r = self.fdp.ConsumeIntInRange(0, 99)
        rank = self.fdp.ConsumeIntInRange(0, max_rank) if r < 94 else self.fdp.ConsumeIntInRange(5, 10)
        return [self.dim() for _ in range(rank)]

    def shape_src(self, dims):
        """A shape argument in one of the forms the API accepts (list, tuple, int64 array or tensor)."""
        r = self.fdp.ConsumeIntInRange(0, 99)
        if r < 70 or any(d >= 2**63 or d < -2**63 for d in dims):
            return fmt(list(dims)) if r < 90 else fmt(tuple(dims))
        if r < 82:
            return f"np.array({fmt(list(dims))}, dtype=np.int64)"
        if r < 94:
            return f"tf.constant({fmt(list(dims))}, dtype=tf.int64)"
        if len(dims) == 1:
            return fmt(dims[0])  # a bare int
        return f"tf.constant({fmt(list(dims))})"  # int32 tensor: wraps/raises for big dims

    def scalar(self, dtype, small=False):
        if dtype in FLOATS:
            if self.chance(70):
                return self.pick(F_SPECIAL)
            return self.fdp.ConsumeRegularFloat()
        if dtype == "bool":
            return self.fdp.ConsumeBool()
        if "intoverflow" in SKIP or small:
            return self.fdp.ConsumeIntInRange(-8, 8)
        if self.chance(70):
            return self.pick(I32_SPECIAL if dtype == "int32" else I64_SPECIAL)
        bits = 32 if dtype == "int32" else 64
        return self.fdp.ConsumeIntInRange(-2**(bits - 1), 2**(bits - 1) - 1)

    def data_dims(self):
        rank = self.fdp.ConsumeIntInRange(0, 4)
        dims = [self.pick([0, 1, 2, 3, 5, 1, 2, 3, 4, 7] if "empty" not in SKIP else [1, 2, 3, 5, 4])
                for _ in range(rank)]
        while prod(dims) > 64:
            dims[dims.index(max(dims))] = 1
        return dims

    def array_src(self, dtype=None, dims=None, small=False):
        dtype = dtype or self.pick(DTYPES)
        dims = self.data_dims() if dims is None else dims
        vals = [self.scalar(dtype, small) for _ in range(prod(dims))]
        npdt = "np.bool_" if dtype == "bool" else f"np.{dtype}"
        src = f"np.array({fmt(vals)}, dtype={npdt})"
        if len(dims) != 1:
            src += f".reshape({fmt(tuple(dims))})"
        return src, dims, dtype

    # -- operands
    def tensor(self, pred=None, dtype=None):
        """A pool tensor (or variable) satisfying pred, else a fresh literal one."""
        cands = self.names("tensor", "var", pred=lambda i: (pred is None or pred(i))
                           and (dtype is None or i["dtype"] == dtype))
        if cands and self.chance(85):
            return self.pick(cands)
        src, _, _ = self.array_src(dtype=dtype)
        name = self.new_name()
        if self.emit(f"tf.constant({src})", name):
            return name
        return None

    def operand(self, dtype=None):
        """A binary op's operand: a pool tensor, a Python scalar or a nested list."""
        r = self.fdp.ConsumeIntInRange(0, 99)
        if r < 75:
            return self.tensor(dtype=dtype)
        if r < 90:
            return fmt(self.scalar(dtype or self.pick(DTYPES)))
        src, _, _ = self.array_src(dtype=dtype)
        return src + ".tolist()"

    def info(self, name):
        return self.pool.get(name) if name else None

    def axis(self, rank):
        r = self.fdp.ConsumeIntInRange(0, 99)
        if r < 70 and rank > 0:
            return self.fdp.ConsumeIntInRange(-rank, rank - 1)
        if r < 90:
            return self.pick([rank, -rank - 1, 0, -1, rank + 1])
        return self.pick(AXIS_EXTRA)

    # -- statements
    def run(self):
        self.emit(f"tf.random.set_seed({self.fdp.ConsumeIntInRange(0, 1000)})")
        try:
            n = 0
            while self.remaining() > 0 and n < MAX_STATEMENTS:
                n += 1
                gen = self.pick(GENERATORS)
                gen(self)
        finally:
            while self.tapes_open:  # a tape left recording would record the next input's ops
                g = self.tapes_open.pop()
                self.emit(f"{g}.__exit__(None, None, None)")


def fname(p, name, fallback):
    obj = p.tf
    for part in name.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return fallback
    return name


_CODE_CACHE: dict = {}


def _compile(code):
    c = _CODE_CACHE.get(code)
    if c is None:
        if len(_CODE_CACHE) > 20000:
            _CODE_CACHE.clear()
        c = _CODE_CACHE[code] = compile(code, "<fuzz>", "exec")
    return c


# ---- generators: each emits one or a few statements --------------------------------------------------------
def g_literal(p):
    r = p.fdp.ConsumeIntInRange(0, 99)
    name = p.new_name("v" if r >= 88 else "t")
    src, dims, dtype = p.array_src()
    if r < 40:
        p.emit(f"tf.constant({src})", name)
    elif r < 55:
        to = p.pick(DTYPES)
        if "floatcast" in SKIP and dtype in FLOATS and to not in FLOATS:
            to = dtype
        p.emit(f"tf.constant({src}, dtype=tf.{to})", name)
    elif r < 65:
        p.emit(f"tf.convert_to_tensor({src})", name)
    elif r < 75:  # a non-contiguous / broadcast / negative-stride view
        view = p.pick(["[::2]", "[::-1]", ".T", "[..., ::-1]", "[:, None]"])
        if view == "[:, None]" and not dims:
            view = "[None]"
        p.emit(f"tf.constant({src}{view})", name)
    elif r < 80:  # a zero-stride view of any size: huge ones must raise, not read out of bounds
        dims2 = p.shape(3)
        nel = size_of_shape(dims2)
        if alloc_ok(nel, dtype):
            p.emit(f"tf.constant(np.broadcast_to({src}.reshape(-1)[:1], {fmt(tuple(dims2))}))", name)
    elif r < 88:  # nested Python lists / scalars, ragged sometimes
        if p.chance(20):
            p.emit(f"tf.constant([{fmt(p.scalar(dtype))}, [{fmt(p.scalar(dtype))}]])", name)
        elif not dims:
            p.emit(f"tf.constant({fmt(p.scalar(dtype))})", name)
        else:
            dt = f", dtype=tf.{p.pick(DTYPES)}" if p.chance(30) and "floatcast" not in SKIP else ""
            p.emit(f"tf.constant({src}.tolist(){dt})", name)
    else:
        p.emit(f"tf.Variable({src})", name)


def g_fill(p):
    dims = p.shape()
    dtype = p.pick(DTYPES)
    nel = size_of_shape(dims)
    if not alloc_ok(nel, dtype):
        return
    s = p.shape_src(dims)
    name = p.new_name()
    r = p.fdp.ConsumeIntInRange(0, 99)
    if r < 35:
        p.emit(f"tf.zeros({s}, dtype=tf.{dtype})", name)
    elif r < 60:
        p.emit(f"tf.ones({s}, dtype=tf.{dtype})", name)
    elif r < 85:
        p.emit(f"tf.fill({s}, {fmt(p.scalar(dtype))})", name)
    else:
        v = fmt(p.scalar(dtype))
        p.emit(f"tf.constant({v}, dtype=tf.{dtype}, shape={fmt(list(dims))})", name)


def g_like(p):
    t = p.tensor()
    if t is None:
        return
    to = p.pick(DTYPES + [None])
    fn = p.pick(["zeros_like", "ones_like"])
    p.emit(f"tf.{fn}({t}" + (f", dtype=tf.{to})" if to else ")"), p.new_name())


def g_random(p):
    dims = p.shape()
    dtype = p.pick(DTYPES)
    if not alloc_ok(size_of_shape(dims), dtype):
        return
    s = p.shape_src(dims)
    seed = p.pick([None, 0, 1, 7, 2**31 - 1, 2**63, -1])
    seed_s = f", seed={fmt(seed)}" if seed is not None else ""
    if p.chance(50):
        mean, std = p.scalar("float64"), p.scalar("float64")
        p.emit(f"tf.random.normal({s}, mean={fmt(mean)}, stddev={fmt(std)}, dtype=tf.{dtype}{seed_s})", p.new_name())
    else:
        if dtype in INTS and "floatcast" not in SKIP:
            lo, hi = p.scalar(dtype), p.scalar(dtype)
        elif dtype in INTS:
            lo, hi = p.fdp.ConsumeIntInRange(-100, 100), p.fdp.ConsumeIntInRange(-100, 100)
        else:
            lo, hi = p.scalar("float64"), p.scalar("float64")
        maxval = f", maxval={fmt(hi)}" if p.chance(85) else ""
        p.emit(f"tf.random.uniform({s}, minval={fmt(lo)}{maxval}, dtype=tf.{dtype}{seed_s})", p.new_name())


def g_range(p):
    dtype = p.pick(DTYPES + [None])
    int_only = "floatcast" in SKIP and dtype in INTS + [None]  # None: int args give int32
    vals = []
    for _ in range(3):
        if p.chance(60) or int_only:
            vals.append(p.pick([0, 1, 2, 3, 5, -1, -3, 10, 100, 1000] +
                               ([] if "bigshape" in SKIP or int_only else [2**31, 2**62, 2**63 - 1, -2**63, 10**30])))
        else:
            vals.append(p.scalar("float64"))
    start, limit, delta = vals
    n_args = p.fdp.ConsumeIntInRange(1, 3)
    if n_args == 1:
        start, delta = 0, 1
    elif n_args == 2:
        delta = 1
    try:
        count = max(0, math.ceil((limit - start) / delta)) if delta else None
    except (OverflowError, ValueError, ZeroDivisionError):
        count = None
    if count is not None and not alloc_ok(count, dtype or "float64"):
        return
    args = [fmt(start), fmt(limit), fmt(delta)][:n_args] if n_args > 1 else [fmt(limit)]
    if dtype:
        args.append(f"dtype=tf.{dtype}")
    p.emit(f"tf.range({', '.join(args)})", p.new_name())


UNARY = ["abs", "negative", "square", "sqrt", "exp", "log", "log1p", "tanh", "sigmoid", "sign", "reciprocal",
         "rsqrt", "nn.relu", "identity", "stop_gradient", "math.log1p", "math.reciprocal", "nn.sigmoid"]


def g_unary(p):
    t = p.tensor()
    if t is None:
        return
    r = p.fdp.ConsumeIntInRange(0, 99)
    if r < 85:
        p.emit(f"tf.{fname(p, p.pick(UNARY), 'abs')}({t})", p.new_name())
    elif r < 93:
        p.emit(f"-{t}", p.new_name())
    else:
        p.emit(f"abs({t})", p.new_name())


BINARY = ["add", "subtract", "multiply", "divide", "pow", "maximum", "minimum", "equal", "not_equal", "less",
          "less_equal", "greater", "greater_equal", "math.truediv"]
BINOPS = ["+", "-", "*", "/", "**", "<", "<=", ">", ">=", "==", "!="]


def _shape_of(p, x):
    i = p.info(x)
    if i and "shape" in i:
        return i["shape"], i["dtype"]
    return None, None


def g_binary(p):
    a = p.operand()
    if a is None:
        return
    ia = p.info(a)
    same = ia and ia.get("dtype") in DTYPES and (p.chance(70) or "floatcast" in SKIP)
    b = p.operand(dtype=ia["dtype"] if same else None)
    if b is None:
        return
    op = p.pick(BINARY) if p.chance(75) else None
    if "intoverflow" in SKIP and ia and ia.get("dtype") in INTS and op in (None, "pow", "divide", "math.truediv"):
        op = "add"
    sa, _ = _shape_of(p, a)
    sb, _ = _shape_of(p, b)
    if sa is not None and sb is not None:
        out = broadcast_shape(sa, sb)
        if out is not None and not alloc_ok(prod(out), "float64"):
            return
    if op:
        p.emit(f"tf.{fname(p, op, 'add')}({a}, {b})", p.new_name())
    else:
        sym = p.pick(BINOPS)
        if sym in ("**", "/") and "intoverflow" in SKIP:
            sym = "+"
        if p.info(a) is None and p.info(b) is None:
            a = p.tensor()
            if a is None:
                return
        p.emit(f"({a} {sym} {b})", p.new_name())


def g_where(p):
    c = p.tensor(dtype="bool") if p.chance(80) else p.tensor()
    x = p.tensor()
    y = p.operand(dtype=p.info(x)["dtype"] if p.info(x) else None)
    if None in (c, x, y):
        return
    shapes = [s for s in (_shape_of(p, c)[0], _shape_of(p, x)[0], _shape_of(p, y)[0]) if s is not None]
    out = broadcast_shape(*shapes) if shapes else None
    if out is not None and not alloc_ok(prod(out), "float64"):
        return
    if p.chance(10):
        p.emit(f"tf.where({c})", p.new_name())
    else:
        p.emit(f"tf.where({c}, {x}, {y})", p.new_name())


REDUCE = ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "math.reduce_sum", "math.reduce_prod",
          "reduce_prod"]


def _reduced_shape(shape, axes, keepdims):
    r = len(shape)
    if axes is None:
        return [1] * r if keepdims else []
    norm = set()
    for a in axes:
        if not isinstance(a, int) or not -r <= a < r:
            return None
        norm.add(a % r if r else a)
    return [1 if i in norm else d for i, d in enumerate(shape) if keepdims or i not in norm]


def g_reduce(p):
    t = p.tensor()
    i = p.info(t)
    if i is None:
        return
    shape = i["shape"]
    r = p.fdp.ConsumeIntInRange(0, 99)
    if r < 25:
        axes, axis_s = None, None
    elif r < 65:
        a = p.axis(len(shape))
        axes, axis_s = [a], fmt(a)
    elif r < 92:
        axes = [p.axis(len(shape)) for _ in range(p.fdp.ConsumeIntInRange(0, 4))]
        axis_s = fmt(axes) if p.chance(70) else f"tf.constant({fmt(axes)}, dtype=tf.int64)" if axes else "[]"
    else:
        axes, axis_s = None, p.pick(["1.5", "'0'", "[0.0]", "(0, 1)", "np.int64(0)", "tf.constant(0)"])
    keep = p.fdp.ConsumeBool()
    out = _reduced_shape(shape, axes, keep) if axis_s is None or axes is not None else None
    if out is not None and not alloc_ok(prod(out), "float64"):
        return
    fn = fname(p, p.pick(REDUCE), "reduce_sum")
    args = [t]
    if axis_s is not None:
        args.append(f"axis={axis_s}")
    if keep or p.chance(20):
        args.append(f"keepdims={keep}")
    p.emit(f"tf.{fn}({', '.join(args)})", p.new_name())


def g_arg(p):
    t = p.tensor()
    i = p.info(t)
    if i is None:
        return
    shape = i["shape"]
    fn = p.pick(["argmax", "argmin", "math.argmax", "math.argmin"])
    args = [t]
    axes = [0]  # TF: axis None is axis 0
    if p.chance(80):
        a = p.axis(len(shape)) if p.chance(90) else p.pick(["None", "1.0", "[0]"])
        args.append(f"axis={a}" if isinstance(a, str) else f"axis={fmt(a)}")
        if isinstance(a, int):
            axes = [a]
    if shape:
        out = _reduced_shape(shape, axes, False)
        if out is not None and not alloc_ok(prod(out), "int64"):
            return
    if p.chance(40):
        args.append(f"output_type=tf.{p.pick(DTYPES)}")
    p.emit(f"tf.{fn}({', '.join(args)})", p.new_name())


def g_softmax(p):
    t = p.tensor()
    i = p.info(t)
    if i is None:
        return
    fn = fname(p, p.pick(["softmax", "log_softmax", "nn.softmax", "nn.log_softmax", "math.softmax"]), "softmax")
    if p.chance(70):
        p.emit(f"tf.{fn}({t}, axis={fmt(p.axis(len(i['shape'])))})", p.new_name())
    else:
        p.emit(f"tf.{fn}({t})", p.new_name())


def g_cast(p):
    t = p.tensor()
    i = p.info(t)
    if i is None:
        return
    to = p.pick(DTYPES)
    if "floatcast" in SKIP and i["dtype"] in FLOATS and to in INTS:
        to = p.pick(FLOATS + ["bool"])
    p.emit(f"tf.cast({t}, tf.{to})" if p.chance(85) else f"tf.cast({t}, {fmt(to)})", p.new_name())


def _factor_shape(p, n):
    """A shape with `n` elements (sometimes with a -1 and sometimes wrong on purpose)."""
    dims = []
    m = n
    for f in (2, 3, 5, 7):
        while m % f == 0 and m > 1 and p.chance(60):
            dims.append(f)
            m //= f
    if m > 1 or not dims:
        dims.append(m)
    if n == 0 and p.chance(60):
        dims = [0] + [p.dim() for _ in range(p.fdp.ConsumeIntInRange(0, 3))]
    if p.chance(25) and dims:
        dims[p.fdp.ConsumeIntInRange(0, len(dims) - 1)] = -1
    if p.chance(15):
        dims.insert(p.fdp.ConsumeIntInRange(0, len(dims)), 1)
    return dims


def g_reshape(p):
    t = p.tensor()
    i = p.info(t)
    if i is None:
        return
    n = prod(i["shape"])
    dims = _factor_shape(p, n) if p.chance(70) else p.shape()
    p.emit(f"tf.reshape({t}, {p.shape_src(dims)})", p.new_name())


def g_transpose(p):
    t = p.tensor()
    i = p.info(t)
    if i is None:
        return
    r = len(i["shape"])
    perm = list(range(r))
    for k in range(r - 1, 0, -1):
        j = p.fdp.ConsumeIntInRange(0, k)
        perm[k], perm[j] = perm[j], perm[k]
    c = p.fdp.ConsumeIntInRange(0, 99)
    if c < 15:
        p.emit(f"tf.transpose({t})", p.new_name())
        return
    if c < 30 and perm:
        perm[p.fdp.ConsumeIntInRange(0, len(perm) - 1)] = p.axis(r)
    elif c < 38:
        perm = perm + [p.axis(r)]
    elif c < 42:
        perm = []
    p.emit(f"tf.transpose({t}, perm={p.shape_src(perm)})", p.new_name())


def g_broadcast_to(p):
    t = p.tensor()
    i = p.info(t)
    if i is None:
        return
    shape = list(i["shape"])
    if p.chance(65):
        dims = [p.dim() for _ in range(p.fdp.ConsumeIntInRange(0, 2))] + [
            p.dim() if d == 1 and p.chance(60) else d for d in shape]
    else:
        dims = p.shape()
    if not alloc_ok(size_of_shape(dims), i["dtype"]):
        return
    p.emit(f"tf.broadcast_to({t}, {p.shape_src(dims)})", p.new_name())


def g_expand_squeeze(p):
    t = p.tensor()
    i = p.info(t)
    if i is None:
        return
    r = len(i["shape"])
    if p.chance(50):
        p.emit(f"tf.expand_dims({t}, {fmt(p.axis(r + 1))})", p.new_name())
    else:
        c = p.fdp.ConsumeIntInRange(0, 99)
        if c < 30:
            p.emit(f"tf.squeeze({t})", p.new_name())
        elif c < 70:
            p.emit(f"tf.squeeze({t}, axis={fmt(p.axis(r))})", p.new_name())
        else:
            p.emit(f"tf.squeeze({t}, axis={fmt([p.axis(r) for _ in range(p.fdp.ConsumeIntInRange(0, 3))])})",
                   p.new_name())


def g_matmul(p):
    r = p.fdp.ConsumeIntInRange(0, 99)
    ta, tb = p.chance(20), p.chance(20)
    if r < 45:  # two pool/literal tensors: mostly shape errors, sometimes a fit
        a, b = p.tensor(), p.tensor()
        ia, ib = p.info(a), p.info(b)
        if ia is None or ib is None:
            return
        sa, sb = ia["shape"], ib["shape"]
        if len(sa) >= 2 and len(sb) >= 2:
            m = sa[-1] if ta else sa[-2]
            k = sa[-2] if ta else sa[-1]
            n = sb[-2] if tb else sb[-1]
            batch = broadcast_shape(sa[:-2], sb[:-2])
            if batch is not None:
                out = prod(batch) * m * n
                if not alloc_ok(out, "float64") or (out * max(k, 1) > MAX_MATMUL_FLOPS and out * 8 < HUGE_BYTES):
                    return
    else:  # fresh operands of matching inner dims (any dims, incl. 0 and huge), random values
        dt = p.pick(FLOATS + INTS) if p.chance(90) else "bool"
        m, k, n = p.dim(), p.dim(), p.dim()
        batch = [p.dim() for _ in range(p.fdp.ConsumeIntInRange(0, 2))] if p.chance(30) else []
        sa = batch + ([k, m] if ta else [m, k])
        sb = (batch if p.chance(80) else batch[1:]) + ([n, k] if tb else [k, n])
        na, nb = size_of_shape(sa), size_of_shape(sb)
        if not alloc_ok(na, dt) or not alloc_ok(nb, dt):
            return
        if na is not None and nb is not None:
            out = prod(batch) * m * n
            if not alloc_ok(out, dt) or (out * max(k, 1) > MAX_MATMUL_FLOPS and out * ITEMSIZE[dt] < HUGE_BYTES):
                return
        a, b = p.new_name(), p.new_name()
        fill = "ones" if dt in INTS or dt == "bool" else "random.normal"
        if not p.emit(f"tf.{fill}({fmt(sa)}, dtype=tf.{dt})", a):
            return
        if not p.emit(f"tf.{fill}({fmt(sb)}, dtype=tf.{dt})", b):
            return
    kw = (", transpose_a=True" if ta else "") + (", transpose_b=True" if tb else "")
    if p.chance(15) and not kw:
        p.emit(f"({a} @ {b})", p.new_name())
    else:
        p.emit(f"tf.matmul({a}, {b}{kw})", p.new_name())


def g_one_hot(p):
    if p.chance(70):
        idt = p.pick(INTS)
        src, dims, _ = p.array_src(dtype=idt)
        ind = p.new_name()
        if not p.emit(f"tf.constant({src})", ind):
            return
    else:
        ind = p.tensor(pred=(lambda i: i["dtype"] in INTS) if "floatcast" in SKIP else None)
    i = p.info(ind)
    if i is None:
        return
    depth = p.dim() if p.chance(60) else p.pick([0, 1, 2, 3, 4, 10])
    dtype = p.pick(DTYPES) if p.chance(50) else None
    nel = prod(i["shape"]) * depth if depth >= 0 else None
    if not alloc_ok(nel, dtype or "float32"):
        return
    args = [ind, fmt(depth) if p.chance(95) else "2.0"]
    if p.chance(30):
        args.append(f"on_value={fmt(p.scalar(dtype or 'float32'))}")
    if p.chance(30):
        args.append(f"off_value={fmt(p.scalar(dtype or 'float32'))}")
    if p.chance(30):
        args.append(f"axis={fmt(p.axis(len(i['shape']) + 1))}")
    if dtype:
        args.append(f"dtype=tf.{dtype}")
    p.emit(f"tf.one_hot({', '.join(args)})", p.new_name())


def _index_item(p, n):
    r = p.fdp.ConsumeIntInRange(0, 99)
    if r < 30:
        return fmt(p.pick([0, 1, -1, 2, n - 1 if n else 0, n, -n, -n - 1, 2**31, -2**63, 2**63 - 1, 2**64]))
    if r < 70:
        def b():
            return p.pick(["", "0", "1", "-1", "2", str(n), str(-n), "-2**63", "2**63", "2**31", "-2**31"])
        step = p.pick(["", "1", "2", "-1", "-2", "0", "3", "2**31", "-2**63", "2**63 - 1"])
        return f"{b()}:{b()}" + (f":{step}" if step else "")
    if r < 82:
        return "None"
    if r < 92:
        return "..."
    return p.pick(["tf.constant(1)", "tf.constant(-1, dtype=tf.int64)", "1.0", "'a'", "[0, 1]",
                   "tf.constant(True)", "np.int64(1)", "np.array([True])"])


def g_index(p):
    t = p.tensor()
    i = p.info(t)
    if i is None:
        return
    shape = i["shape"]
    nkeys = p.fdp.ConsumeIntInRange(0, len(shape) + 2)
    items = [_index_item(p, shape[k] if k < len(shape) else 3) for k in range(nkeys)]
    if p.chance(10):  # a boolean mask as the whole key
        src, _, _ = p.array_src(dtype="bool", dims=list(shape[:1]) if shape and shape[0] <= 64 else [2])
        key = src if p.chance(50) else f"tf.constant({src})"
    elif len(items) == 1 and p.chance(60):
        key = items[0]
    else:
        key = ", ".join(items) + ("," if len(items) == 1 else "")
        if not items:
            key = "()"
    p.emit(f"{t}[{key}]", p.new_name())


def g_tensor_methods(p):
    t = p.tensor()
    i = p.info(t)
    if i is None:
        return
    r = p.fdp.ConsumeIntInRange(0, 99)
    shape = i["shape"]
    if r < 20:
        p.emit(f"{t}.numpy()", p.new_name("a"))
    elif r < 30:
        p.emit(f"np.array({t})", p.new_name("a"))
    elif r < 40:
        conv = p.pick(['float', 'int', 'bool'])
        if conv == "int" and "floatcast" in SKIP and i["dtype"] in FLOATS:
            conv = "float"
        p.emit(f"{conv}({t})")
    elif r < 50:
        p.emit(f"len({t})")
    elif r < 60:
        if shape and shape[0] <= 64:
            p.emit(f"list({t})")
        elif not shape:
            p.emit(f"list({t})")
    elif r < 70:
        p.emit(f"repr({t}); str({t})")
    elif r < 80:
        p.emit(f"({t}.shape, {t}.dtype, {t}.ndim, {t}.device)")
    elif r < 90:
        p.emit(f"tf.identity({t})", p.new_name())
    else:
        dt = i["dtype"] if "floatcast" in SKIP else "float32"
        p.emit(f"tf.clip_by_value({t}, {fmt(p.scalar(dt))}, {fmt(p.scalar(dt))})", p.new_name())


# -- variables
def g_variable(p):
    vs = p.names("var")
    if not vs or p.chance(30):
        t = p.tensor()
        if t is None:
            return
        p.emit(f"tf.Variable({t}" + (", trainable=False)" if p.chance(20) else ")"), p.new_name("v"))
        return
    v = p.pick(vs)
    r = p.fdp.ConsumeIntInRange(0, 99)
    if r < 60:
        vdt = p.pool[v]["dtype"] if "floatcast" in SKIP else "float32"
        val = p.tensor(dtype=vdt if "floatcast" in SKIP else None) if p.chance(70) else fmt(p.scalar(vdt))
        if val is None:
            return
        m = p.pick(["assign", "assign_add", "assign_sub"])
        p.emit(f"{v}.{m}({val})", p.new_name("v") if p.chance(30) else None)
        p._track(v)
    elif r < 80:
        p.emit(f"{v}.read_value()", p.new_name())
    else:
        p.emit(f"{v}.value()", p.new_name())


# -- tapes
def g_tape_begin(p):
    if len(p.tapes_open) >= 3:
        return
    g = p.new_name("g")
    persistent = p.fdp.ConsumeBool()
    wav = "" if p.chance(80) else ", watch_accessed_variables=False"
    if not p.emit(f"tf.GradientTape(persistent={persistent}{wav})", g, kind="tape"):
        return
    if p.emit(f"{g}.__enter__()"):
        p.tapes_open.append(g)
        p.tapes.append(g)
        for _ in range(p.fdp.ConsumeIntInRange(0, 2)):
            t = p.tensor()
            if t is not None:
                p.emit(f"{g}.watch({t})")


def g_tape_end(p):
    if p.tapes_open:
        g = p.tapes_open.pop()
        p.emit(f"{g}.__exit__(None, None, None)")


def _target_sources(p):
    target = p.tensor()
    if target is None:
        return None, None
    srcs = [s for s in (p.tensor() for _ in range(p.fdp.ConsumeIntInRange(1, 3))) if s is not None]
    if not srcs:
        return None, None
    return target, srcs


def g_tape_use(p):
    if not p.tapes:
        g_tape_begin(p)
        return
    g = p.pick(p.tapes)
    target, srcs = _target_sources(p)
    if target is None:
        return
    r = p.fdp.ConsumeIntInRange(0, 99)
    ti = p.info(target)
    if r < 50:
        sources = srcs[0] if len(srcs) == 1 and p.chance(50) else "[" + ", ".join(srcs) + "]"
        kw = ""
        if p.chance(20):
            kw += f", unconnected_gradients={p.pick(['tf.UnconnectedGradients.ZERO', repr('zero'), repr('raise'), repr('bogus')])}"
        if p.chance(20):
            og = p.tensor() if p.chance(50) else f"tf.ones_like({target})"
            kw += f", output_gradients={og}"
        tgt = target if p.chance(80) else f"[{target}, {p.tensor() or target}]"
        p.emit(f"{g}.gradient({tgt}, {sources}{kw})", p.new_name("d"))
    elif r < 70:
        si = p.info(srcs[0])
        if ti is None or si is None:
            return
        nt, ns_ = prod(ti["shape"]), prod(si["shape"])
        if nt > 32 or ns_ > 256 or nt * ns_ > 4096:
            return
        kw = ", unconnected_gradients='zero'" if p.chance(20) else ""
        p.emit(f"{g}.jacobian({target}, {srcs[0]}{kw})", p.new_name("j"))
    elif r < 80:
        si = p.info(srcs[0])
        if ti is None or si is None:
            return
        if prod(ti["shape"][1:]) > 32 or prod(ti["shape"]) * prod(si["shape"][1:]) > 4096:
            return
        p.emit(f"{g}.batch_jacobian({target}, {srcs[0]})", p.new_name("j"))
    else:
        p.emit(f"{g}.explain({target}, {srcs[0]})")


def g_grad_block(p):
    """A whole tape block: watch sources, a few ops, exit, gradient (the connected case is common)."""
    g = p.new_name("g")
    if not p.emit(f"tf.GradientTape(persistent={p.fdp.ConsumeBool()})", g, kind="tape"):
        return
    x = p.tensor(pred=lambda i: i["dtype"] in FLOATS) if p.chance(80) else p.tensor()
    if x is None or not p.emit(f"{g}.__enter__()"):
        return
    p.tapes_open.append(g)
    p.tapes.append(g)
    p.emit(f"{g}.watch({x})")
    before = set(p.pool)
    for _ in range(p.fdp.ConsumeIntInRange(1, 4)):
        p.pick(OPS_IN_TAPE)(p)
    p.tapes_open.remove(g)
    p.emit(f"{g}.__exit__(None, None, None)")
    made = [n for n in p.pool if n not in before and p.pool[n]["kind"] in ("tensor", "var")]
    y = made[-1] if made else x
    if p.chance(70):
        p.emit(f"{g}.gradient({y}, {x})", p.new_name("d"))
    else:
        p.emit(f"{g}.explain({y}, {x})")


# -- Keras losses
LOSSES = ["MeanSquaredError", "Huber", "BinaryCrossentropy", "CategoricalCrossentropy",
          "SparseCategoricalCrossentropy", "LogCosh"]
LOSS_FNS = ["mean_squared_error", "huber", "binary_crossentropy", "categorical_crossentropy",
            "sparse_categorical_crossentropy", "log_cosh"]


def g_loss(p):
    cls = p.pick(LOSSES)
    kw = []
    if cls in ("BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy") and p.chance(50):
        kw.append(f"from_logits={p.fdp.ConsumeBool()}")
    if cls in ("BinaryCrossentropy", "CategoricalCrossentropy") and p.chance(30):
        kw.append(f"label_smoothing={fmt(p.scalar('float64'))}")
    if cls in ("BinaryCrossentropy", "CategoricalCrossentropy") and p.chance(15):
        kw.append(f"axis={fmt(p.pick([-1, 0, 1, 5, -5, 2**63 - 1]))}")
    if cls == "Huber" and p.chance(50):
        kw.append(f"delta={fmt(p.scalar('float64'))}")
    if cls == "SparseCategoricalCrossentropy" and p.chance(10):
        kw.append(f"ignore_class={fmt(p.pick([0, -1, 2**63]))}")
    if p.chance(20):
        kw.append(f"reduction={fmt(p.pick(['sum', 'none', None, 'sum_over_batch_size', 'mean', 'bogus']))}")
    if p.chance(10):
        kw.append(f"dtype=tf.{p.pick(DTYPES)}")
    # operands: a prediction and labels of a related shape
    y_pred = p.tensor(pred=lambda i: i["dtype"] in FLOATS) if p.chance(80) else p.tensor()
    ip = p.info(y_pred)
    if ip is None:
        return
    if cls == "SparseCategoricalCrossentropy" and p.chance(70):
        dims = list(ip["shape"][:-1]) if ip["shape"] else []
        if prod(dims) > 64:
            dims = [1]
        ldt = p.pick(INTS) if p.chance(80) else p.pick(DTYPES)
        if "floatcast" in SKIP:
            ldt = p.pick(INTS)
        src, _, _ = p.array_src(dtype=ldt, dims=dims, small="floatcast" in SKIP)
        y_true = p.new_name()
        if not p.emit(f"tf.constant({src})", y_true):
            return
    elif p.chance(60) and prod(ip["shape"]) <= 64:
        src, _, _ = p.array_src(dtype=ip["dtype"] if ip["dtype"] in DTYPES else "float32", dims=list(ip["shape"]))
        y_true = p.new_name()
        if not p.emit(f"tf.constant({src})", y_true):
            return
    else:
        y_true = p.tensor()
    it = p.info(y_true)
    if it is None:
        return
    out = broadcast_shape(it["shape"], ip["shape"])
    if out is not None and not alloc_ok(reduce_bound(out), "float64"):
        return
    sw = ""
    if p.chance(15):
        sw = f", sample_weight={p.tensor() or fmt(p.scalar('float32'))}"
    if p.chance(80):
        lname = p.new_name("L")
        if not p.emit(f"tf.keras.losses.{cls}({', '.join(kw)})", lname, kind="loss"):
            return
        p.emit(f"{lname}({y_true}, {y_pred}{sw})", p.new_name())
    else:
        fn = LOSS_FNS[LOSSES.index(cls)]
        p.emit(f"tf.keras.losses.{fn}({y_true}, {y_pred})", p.new_name())


def g_nn_xent(p):
    logits = p.tensor(pred=lambda i: i["dtype"] in FLOATS)
    il = p.info(logits)
    if il is None:
        return
    if p.chance(50):
        dims = list(il["shape"][:-1]) if il["shape"] else []
        if prod(dims) > 64:
            dims = [1]
        src, _, _ = p.array_src(dtype=p.pick(INTS), dims=dims)
        lab = p.new_name()
        if p.emit(f"tf.constant({src})", lab):
            p.emit(f"tf.nn.sparse_softmax_cross_entropy_with_logits(labels={lab}, logits={logits})", p.new_name())
    else:
        lab = p.tensor()
        if lab is None:
            return
        out = broadcast_shape(p.info(lab)["shape"], il["shape"])
        if out is not None and not alloc_ok(reduce_bound(out), "float64"):
            return
        p.emit(f"tf.nn.softmax_cross_entropy_with_logits(labels={lab}, logits={logits})", p.new_name())


# -- DLPack
def g_dlpack(p):
    r = p.fdp.ConsumeIntInRange(0, 99)
    if r < 20:
        t = p.tensor()
        if t is None:
            return
        c = p.new_name("c")
        if p.emit(f"tf.experimental.dlpack.to_dlpack({t})", c, kind="capsule"):
            if p.chance(30):
                p.emit(f"del {t}")
                p.pool.pop(t, None)
            p.emit(f"tf.experimental.dlpack.from_dlpack({c})", p.new_name())
            if p.chance(30):  # a consumed capsule must not be usable twice
                p.emit(f"tf.experimental.dlpack.from_dlpack({c})", p.new_name())
    elif r < 45:
        # NumPy's consumer (a Variable has no __dlpack__: NumPy's AttributeError would be no finding)
        cands = p.names("tensor")
        t = p.pick(cands) if cands and p.chance(85) else None
        if t is None:
            src, _, _ = p.array_src()
            t = p.new_name()
            if not p.emit(f"tf.constant({src})", t):
                return
        a = p.new_name("a")
        if p.emit(f"np.from_dlpack({t})", a):
            if p.chance(40):  # the exporter goes away; the array must keep the buffer alive
                p.emit(f"del {t}")
                p.pool.pop(t, None)
            if p.chance(50):
                p.emit(f"({a}.sum(), {a}.copy())")
            if p.chance(60):
                p.emit(f"tf.from_dlpack({a})", p.new_name())
    elif r < 65:  # NumPy exporters: contiguous, strided, negative strides, zero strides, read-only
        src, dims, dtype = p.array_src()
        view = p.pick(["", "[::2]", "[::-1]", ".T", "[..., ::-1]", "[None]"])
        if view == "[None]" or not dims:
            view = ""
        a = p.new_name("a")
        if p.emit(f"{src}{view}", a):
            if p.chance(20):
                p.emit(f"{a}.setflags(write=False)")
            p.emit(f"tf.from_dlpack({a})" if p.chance(70) else f"tf.experimental.dlpack.from_dlpack({a})",
                   p.new_name())
    elif r < 75:
        dims = p.shape(3)
        dtype = p.pick(DTYPES)
        nel = size_of_shape(dims)
        if nel is None or not alloc_ok(nel, dtype):
            return
        npdt = "np.bool_" if dtype == "bool" else f"np.{dtype}"
        a = p.new_name("a")
        if p.emit(f"np.broadcast_to(np.ones(1, dtype={npdt}), {fmt(tuple(dims))})", a):
            p.emit(f"tf.from_dlpack({a})", p.new_name())
    elif r < 88:
        cands = p.names("tensor")  # __dlpack__ is the Tensor's (a Variable has none)
        if not cands:
            return
        t = p.pick(cands)
        kw = p.pick(["", "max_version=(1, 0)", "max_version=(0, 8)", "max_version=(2, 0)", "copy=True",
                     "copy=False", "max_version=(1, 0), copy=True", "dl_device=(1, 0)", "dl_device=(2, 0)",
                     "stream=None", "stream=1", "max_version=None", "max_version=(1,)", "max_version='x'"])
        c = p.new_name("c")
        if p.emit(f"{t}.__dlpack__({kw})", c, kind="capsule"):
            if p.chance(70):
                p.emit(f"tf.experimental.dlpack.from_dlpack({c})", p.new_name())
        if p.chance(30):
            p.emit(f"{t}.__dlpack_device__()")
    else:
        bad = p.pick(["3", "'capsule'", "None", "np.float32(1.0)", "[1, 2]", "object()",
                      "np.zeros((2, 3), dtype=np.complex64)", "np.zeros((2,), dtype=np.float16)",
                      "np.zeros((2,), dtype=np.uint8)", "np.array(['a'])"])
        p.emit(f"tf.from_dlpack({bad})", p.new_name())


def g_del(p):
    names = p.names("tensor", "var", "np")
    if names:
        n = p.pick(names)
        p.emit(f"del {n}")
        p.pool.pop(n, None)


OPS_IN_TAPE = [g_unary, g_binary, g_reduce, g_softmax, g_cast, g_reshape, g_transpose, g_broadcast_to, g_index,
               g_matmul, g_where, g_expand_squeeze, g_loss, g_one_hot, g_arg]

GENERATORS = (
    [g_literal] * 5 + [g_fill] * 3 + [g_random] * 2 + [g_range] * 2 + [g_like] + [g_unary] * 3 + [g_binary] * 4
    + [g_where] + [g_reduce] * 3 + [g_arg] * 2 + [g_softmax] * 2 + [g_cast] * 3 + [g_reshape] * 2 + [g_transpose] * 2
    + [g_broadcast_to] * 2 + [g_expand_squeeze] * 2 + [g_matmul] * 2 + [g_one_hot] * 2 + [g_index] * 3
    + [g_tensor_methods] * 2 + [g_variable] + [g_tape_begin] + [g_tape_end] + [g_tape_use] * 2 + [g_grad_block] * 3
    + [g_loss] * 3 + [g_nn_xent] + [g_dlpack] * 3 + [g_del]
)


# ---- libFuzzer entry ------------------------------------------------------------------------------------------
def _quiet():
    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)
    import numpy as np
    np.seterr(all="ignore")


def TestOneInput(data: bytes) -> None:
    Program(data).run()


# ---- reproducers ----------------------------------------------------------------------------------------------
def _child_env():
    """The environment of the decoding/program children: the sanitizer runtime the build needs preloaded."""
    env = dict(os.environ)
    if "asan_with_fuzzer" not in env.get("LD_PRELOAD", ""):
        import atheris
        env["LD_PRELOAD"] = os.path.join(atheris.path(), "asan_with_fuzzer.so")
    env.setdefault("ASAN_OPTIONS", "detect_leaks=0:allocator_may_return_null=1:handle_abort=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    env.setdefault("PYFAST_TAPE_CACHE_MB", "0")
    return env


def decode(path):
    """Decodes `path` in a child process (it may crash); returns (statements, outcome text)."""
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl", delete=False) as tmp:
        out_path = tmp.name
    try:
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--decode", path, out_path],
                              env=_child_env(), capture_output=True, text=True, timeout=600)
        outcome = proc.stdout + proc.stderr
        rc = proc.returncode
    except subprocess.TimeoutExpired as e:
        outcome, rc = f"timeout: {e}", "timeout"
    stmts = []
    with open(out_path) as f:
        for line in f:
            kind, text = json.loads(line)
            if kind == "S":
                stmts.append({"code": text, "status": None})
            elif stmts:
                stmts[-1]["status"] = text
    os.unlink(out_path)
    return stmts, outcome, rc


def _split(code):
    m = re.match(r"^([A-Za-z_]\w*) = (.*)$", code, re.S)
    return (m.group(1), m.group(2)) if m else (None, code)


def one_liner(stmts, python="python"):
    """`python -c '...'`: the statements joined, those that raised an expected exception wrapped in _q()."""
    parts = [PRELUDE]
    if any((s.get("status") or "").startswith("exc") for s in stmts):
        parts.append('exec("def _q(f):\\n try: f()\\n except Exception as e: print(type(e).__name__, e)")')
    for s in stmts:
        code = s["code"]
        if (s.get("status") or "").startswith("exc") and not code.startswith("del "):
            _, expr = _split(code)
            parts.append(f"_q(lambda: {expr})")
        else:
            parts.append(code)
    return f"{python} -c " + shlex.quote("; ".join(parts))


def _short(path):
    return re.sub(r"^.*?/(csrc|cuda)/", r"\1/", path)


def signature(out):
    """A short, stable description of the crash in a libFuzzer/sanitizer log (None: no crash)."""
    def frame_after(pos):
        for m in re.finditer(r"#\d+ 0x[0-9a-f]+ in (\S+) (\S+)", out[pos:]):
            fn, loc = m.group(1), m.group(2)
            if "/csrc/" in loc or "/cuda/" in loc or "pyfast_tape" in loc:
                return fn + " " + _short(loc)
        return "?"
    m = re.search(r"(\S+?):(\d+):\d+: runtime error: ([^\n]*)", out)
    if m:
        msg = re.sub(r"-?\d[\d.e+]*", "N", m.group(3))[:80]
        f = _short(m.group(1))
        return f"UBSan {f}:{m.group(2)}: {msg}"
    m = re.search(r"ERROR: AddressSanitizer: ([\w-]+)", out)
    if m:
        return f"ASan {m.group(1)} in {frame_after(m.end())}"
    m = re.search(r"ERROR: libFuzzer: out-of-memory \(malloc\((\d+)\)\)", out)
    if m:
        return f"malloc-limit in {frame_after(m.end())}"
    if "ERROR: libFuzzer: out-of-memory" in out:
        return "rss-limit"
    if "ERROR: libFuzzer: timeout" in out:
        return "timeout"
    m = re.search(r"=== fuzz_atheris: unexpected (\w+) from statement:\n\s*(.*)", out)
    if m or "Uncaught Python exception" in out:
        t = m.group(1) if m else "?"
        m2 = re.search(r"\n(\w+(?:Error|Exception|Warning)?): ([^\n]*)\n", out[out.find("Uncaught"):] if
                       "Uncaught" in out else out)
        return f"Python {t}" + (f": {m2.group(2)[:60]}" if m2 else "")
    m = re.search(r"ERROR: libFuzzer: deadly signal|Segmentation fault|Aborted|Floating point exception", out)
    if m:
        return f"signal ({m.group(0)})"
    return None


def run_program(stmts, timeout=300):
    """Runs a statement list under libFuzzer (same limits as fuzzing); returns (signature, log)."""
    with tempfile.TemporaryDirectory() as d:
        prog = os.path.join(d, "prog.json")
        empty = os.path.join(d, "empty")
        with open(prog, "w") as f:
            json.dump([s["code"] for s in stmts], f)
        open(empty, "wb").close()
        flags = os.environ.get("FUZZ_LIBFUZZER_FLAGS", "-rss_limit_mb=6144 -malloc_limit_mb=1024 -timeout=120").split()
        flags.append(f"-artifact_prefix={d}/")
        try:
            proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--run-program", prog] + flags + [empty],
                                  env=_child_env(), capture_output=True, text=True, timeout=timeout)
            out = proc.stdout + proc.stderr
        except subprocess.TimeoutExpired:
            return "timeout", "subprocess timeout"
    return signature(out), out


def ddmin(stmts, sig, budget=200):
    """Statement-level delta debugging: the smallest sublist found whose run keeps `sig`."""
    runs = 0
    cur = list(stmts)
    # the crashing statement is the last; keep it and reduce the prefix
    n = 2
    while len(cur) > 1 and runs < budget:
        chunk = max(1, (len(cur) - 1) // n)
        reduced = False
        for start in range(0, len(cur) - 1, chunk):
            cand = cur[:start] + cur[start + chunk:]
            if cand == cur or not cand:
                continue
            runs += 1
            s, _ = run_program(cand)
            if s == sig:
                cur = cand
                n = max(n - 1, 2)
                reduced = True
                break
            if runs >= budget:
                break
        if not reduced:
            if chunk == 1:
                break
            n = min(n * 2, len(cur))
    return cur, runs


def _ran(stmts):
    """The statements up to the one that crashed (the last without an outcome)."""
    out = []
    for s in stmts:
        out.append(s)
        if s["status"] is None:
            break
    return out


def repro(path, minimize=False):
    """Prints the program `path` decodes to and a one-line reproducer; returns the crash signature."""
    stmts, outcome, rc = decode(path)
    stmts = _ran(stmts)
    dsig = signature(outcome)
    psig, _ = run_program(stmts)  # under libFuzzer's limits, as when fuzzing
    sig = psig or dsig
    print(f"# input: {path}" + (f"  (decoded with FUZZ_SKIP={','.join(sorted(SKIP))}: decoding depends on it)"
                                 if SKIP else ""))
    print(f"# decodes to {len(stmts)} statements; crash: {sig or 'none'}"
          + (f" (plain decoding run: {dsig or 'no crash'}, exit {rc})" if dsig != psig else ""))
    for s in stmts:
        st = s["status"]
        note = "" if st == "ok" else ("   # <- crashed here" if st is None else f"   # raised {st[4:]}")
        print(f"    {s['code']}{note}")
    if minimize and psig:
        small, runs = ddmin(stmts, psig)
        print(f"# minimized to {len(small)} statements in {runs} runs (signature: {psig})")
        stmts = small
    print("# one-line reproducer:")
    print(one_liner(stmts))
    return sig


def pick_corpus(control, out_dir, max_files, max_bytes):
    """Greedy maximum coverage over a libFuzzer merge control file: copies at most `max_files` inputs
    (`max_bytes` in all) to `out_dir`, each time the one that adds the most features not yet covered."""
    import shutil
    with open(control) as f:
        lines = f.read().splitlines()
    n = int(lines[0])
    paths = lines[2:2 + n]
    feats = {}
    for line in lines[2 + n:]:
        if line.startswith("FT "):
            parts = line.split()
            feats[int(parts[1])] = set(parts[2:])
    sizes = {i: os.path.getsize(paths[i]) for i in feats if os.path.exists(paths[i])}
    covered, chosen, total = set(), [], 0
    gain = {i: len(feats[i]) for i in sizes}
    while gain and len(chosen) < max_files:
        # lazy greedy: re-score the best candidate until its score is current
        i = max(gain, key=gain.get)
        g = len(feats[i] - covered)
        if g != gain[i]:
            gain[i] = g
            continue
        del gain[i]
        if g == 0:
            break
        if total + sizes[i] > max_bytes:
            continue
        chosen.append(i)
        covered |= feats[i]
        total += sizes[i]
    os.makedirs(out_dir, exist_ok=True)
    for i in chosen:
        shutil.copy(paths[i], os.path.join(out_dir, os.path.basename(paths[i])))
    all_feats = set().union(*feats.values()) if feats else set()
    print(f"picked {len(chosen)} inputs, {total} bytes, {len(covered)} of {len(all_feats)} features")


# ---- main -----------------------------------------------------------------------------------------------------
def _main():
    argv = sys.argv
    if len(argv) == 6 and argv[1] == "--pick-corpus":
        pick_corpus(argv[2], argv[3], int(argv[4]), int(argv[5]))
        return
    if len(argv) >= 3 and argv[1] in ("--repro", "--minimize"):
        sig = repro(argv[2], minimize=argv[1] == "--minimize")
        sys.exit(1 if sig else 0)
    if len(argv) >= 4 and argv[1] == "--decode":  # child of decode(): stream statements as they run
        _quiet()
        out = open(argv[3], "w")

        def sink(kind, text):
            out.write(json.dumps([kind, text]) + "\n")
            out.flush()
        with open(argv[2], "rb") as f:
            data = f.read()
        Program(data, sink=sink).run()
        return
    import atheris
    if len(argv) >= 3 and argv[1] == "--run-program":
        with open(argv[2]) as f:
            codes = json.load(f)
        _quiet()
        import numpy as np  # noqa: F401
        import pyfast_tape as tf  # noqa: F401

        def run_codes(_data):
            ns = {"tf": tf, "np": np, "nan": float("nan"), "inf": float("inf")}
            for code in codes:
                try:
                    exec(_compile(code), ns)
                except EXPECTED:
                    pass
                except BaseException as e:
                    sys.stderr.write(f"\n=== fuzz_atheris: unexpected {type(e).__name__} from statement:\n"
                                     f"    {code}\n")
                    raise
        atheris.Setup([argv[0]] + argv[3:], run_codes)
        atheris.Fuzz()
        return
    _quiet()
    with atheris.instrument_imports(include=["pyfast_tape"]):
        import pyfast_tape  # noqa: F401
    atheris.Setup(argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    _main()
