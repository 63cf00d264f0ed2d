"""``tf.linalg``: matrix functions as TensorFlow's, with TF's gradients (tensorflow/python/ops/linalg_grad.py).

Structure ops (diag, diag_part, trace, band_part, matvec, l2_normalize, norm) are compositions of native
differentiable ops, so their gradients of any order come from the tape. Factorisations and solvers (inv,
det, slogdet, solve, cholesky, qr, svd, eigh) run LAPACK through NumPy's linalg (its OpenBLAS) in the
input's own precision, over batches of matrices; their backward rules are written with differentiable ops,
so second derivatives flow through inv/det/solve. For a GPU tensor the factorisation runs on the host and
the result goes back to the GPU (documented in README, "GPU"). Complex dtypes do not exist here.
"""
from __future__ import annotations

import string
from typing import Any, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core
from ._pyops import as_tensor as _t, to_numpy as _np, from_numpy as _out

matmul = _core.matmul


# ---- helpers -----------------------------------------------------------------------------------------------
def _check_float(op: str, x: Any) -> None:
    if not x.dtype.is_floating:
        raise TypeError(f"{op}: expected a float32 or float64 tensor, got {x.dtype.name} of shape "
                        f"{tuple(x.shape)} (use tf.cast(x, tf.float32) first)")


def _check_square(op: str, x: Any) -> None:
    s = tuple(x.shape)
    if len(s) < 2 or s[-1] != s[-2]:
        raise _core.InvalidArgumentError(f"{op}: input must be a square matrix or a batch of them (shape [..., M, M]), "
                                         f"got shape {s}")


def matrix_transpose(a: Any, name: Optional[str] = None, conjugate: bool = False) -> Any:
    """The last two dimensions swapped (tf.linalg.matrix_transpose / adjoint for real tensors)."""
    a = _t(a)
    r = len(a.shape)
    if r < 2:
        raise ValueError(f"matrix_transpose: input must have rank >= 2, got shape {tuple(a.shape)}")
    return _core.transpose(a, list(range(r - 2)) + [r - 1, r - 2])


adjoint = matrix_transpose


def _eye_like(x: Any) -> Any:
    n = int(x.shape[-1])
    return _out(np.eye(n, dtype=_np_dtype(x)), x)


def _np_dtype(x: Any) -> Any:
    return np.float64 if x.dtype.name == "float64" else np.float32


def _expand2(v: Any) -> Any:
    """v[..., None, None]"""
    return _core.reshape(v, list(v.shape) + [1, 1])


def _record(op: str, inputs: List[Any], outputs: List[Any], backward: Any) -> None:
    _core.record_custom(inputs, outputs, backward)


def _no_grad(op: str) -> Any:
    def backward(dys: List[Any]) -> List[Any]:
        raise LookupError(f"No gradient defined for operation '{op}' in this configuration (pyfast_tape implements "
                          f"TF's gradient of {op} only where noted in pyfast_tape/linalg.py)")
    return backward


# ---- structure ops (compositions: differentiable to any order) -----------------------------------------------
def diag(diagonal: Any, name: Optional[str] = None, k: int = 0) -> Any:
    """tf.linalg.diag: a batch of square matrices with `diagonal` (shape [..., N]) on the main diagonal."""
    v = _t(diagonal)
    if k != 0:
        raise NotImplementedError("linalg.diag: only k=0 (the main diagonal) is supported")
    if len(v.shape) < 1:
        raise ValueError("linalg.diag: diagonal must have rank >= 1")
    n = int(v.shape[-1])
    eye = _out(np.eye(n, dtype=np.dtype(v.dtype.name)), v)
    return _core.multiply(_core.reshape(v, list(v.shape) + [1]), eye)


def diag_part(input: Any, name: Optional[str] = None, k: int = 0) -> Any:
    """tf.linalg.diag_part: the main diagonal of each matrix of [..., M, N] (length min(M, N))."""
    x = _t(input)
    if k != 0:
        raise NotImplementedError("linalg.diag_part: only k=0 (the main diagonal) is supported")
    s = list(x.shape)
    if len(s) < 2:
        raise ValueError(f"linalg.diag_part: input must have rank >= 2, got shape {tuple(s)}")
    m, n = s[-2], s[-1]
    d = min(m, n)
    mask = _out(np.eye(m, n, dtype=np.dtype(x.dtype.name)), x)
    masked = _core.multiply(x, mask)
    if m >= n:
        return _core.reduce_sum(masked, axis=len(s) - 2)
    return _core.reduce_sum(masked, axis=len(s) - 1) if d == m else masked


def trace(x: Any, name: Optional[str] = None) -> Any:
    """tf.linalg.trace: the sum of each matrix's main diagonal."""
    return _core.reduce_sum(diag_part(x), axis=-1)


def band_part(input: Any, num_lower: int, num_upper: int, name: Optional[str] = None) -> Any:
    """tf.linalg.band_part: keeps the entries with -num_lower <= j - i <= num_upper (negative: no limit)."""
    x = _t(input)
    s = list(x.shape)
    if len(s) < 2:
        raise ValueError(f"linalg.band_part: input must have rank >= 2, got shape {tuple(s)}")
    m, n = s[-2], s[-1]
    i = np.arange(m)[:, None]
    j = np.arange(n)[None, :]
    keep = np.ones((m, n), dtype=bool)
    if int(num_lower) >= 0:
        keep &= (i - j) <= int(num_lower)
    if int(num_upper) >= 0:
        keep &= (j - i) <= int(num_upper)
    if x.dtype.is_bool:
        return _core.where(_out(keep, x), x, False)
    return _core.multiply(x, _out(keep.astype(np.dtype(x.dtype.name)), x))


def matvec(a: Any, b: Any, transpose_a: bool = False, adjoint_a: bool = False, name: Optional[str] = None) -> Any:
    """tf.linalg.matvec: a @ b for a batch of matrices [..., M, N] and vectors [..., N]."""
    b = _t(b)
    y = _core.matmul(_t(a), _core.reshape(b, list(b.shape) + [1]), transpose_a=bool(transpose_a or adjoint_a))
    return _core.reshape(y, list(y.shape)[:-1])


def l2_normalize(x: Any, axis: Any = None, epsilon: float = 1e-12, name: Optional[str] = None, dim: Any = None) -> Any:
    """tf.math.l2_normalize: x / sqrt(max(sum(x**2, axis), epsilon)) (TF's formula, rsqrt of the clamp)."""
    x = _t(x)
    axis = dim if axis is None else axis
    sq = _core.reduce_sum(_core.square(x), axis=axis, keepdims=True)
    return _core.multiply(x, _core.rsqrt(_core.maximum(sq, _core.convert(epsilon, x.dtype))))


def norm(tensor: Any, ord: Any = "euclidean", axis: Any = None, keepdims: Optional[bool] = None,
         name: Optional[str] = None, keep_dims: Optional[bool] = None) -> Any:
    """tf.norm / tf.linalg.norm: vector norms (ord 'euclidean' (2), 1, np.inf, any p > 0) over `axis` (None: the
    whole tensor as one vector) and matrix norms ('fro', 'euclidean', 1, np.inf) over a pair of axes."""
    x = _t(tensor)
    keep = bool(keepdims if keepdims is not None else (keep_dims or False))
    _check_float("norm", x)
    r = len(x.shape)
    if isinstance(axis, (list, tuple)) and len(axis) == 2:
        a0, a1 = (int(a) % r for a in axis) if r else (0, 0)
        if a0 == a1:
            raise ValueError(f"norm: the two axes must differ, got {axis}")
        if ord in ("fro", "euclidean"):
            y = _core.sqrt(_core.reduce_sum(_core.square(x), axis=[a0, a1], keepdims=True))
        elif ord == 1:  # max over columns of the column sums of |x|
            y = _core.reduce_max(_core.reduce_sum(_core.abs(x), axis=a0, keepdims=True), axis=a1, keepdims=True)
        elif ord == np.inf:
            y = _core.reduce_max(_core.reduce_sum(_core.abs(x), axis=a1, keepdims=True), axis=a0, keepdims=True)
        else:
            raise ValueError(f"norm: ord={ord!r} is not supported for matrix norms ('fro', 'euclidean', 1, np.inf); "
                             "the spectral norm (ord=2) is not supported")
        if not keep:
            y = _core.reshape(y, [d for i, d in enumerate(x.shape) if i not in (a0, a1)])
        return y
    if isinstance(axis, (list, tuple)):
        if len(axis) != 1:
            raise ValueError(f"norm: axis must be None, an integer or a pair of integers, got {axis}")
        axis = axis[0]
    if ord == "fro":
        ord = "euclidean"
    if ord in ("euclidean", 2, 2.0):
        return _core.sqrt(_core.reduce_sum(_core.square(x), axis=axis, keepdims=keep))
    if ord == 1:
        return _core.reduce_sum(_core.abs(x), axis=axis, keepdims=keep)
    if ord == np.inf:
        return _core.reduce_max(_core.abs(x), axis=axis, keepdims=keep)
    if isinstance(ord, (int, float)) and ord > 0:
        p = _core.convert(float(ord), x.dtype)
        s = _core.reduce_sum(_core.pow(_core.abs(x), p), axis=axis, keepdims=keep)
        return _core.pow(s, _core.convert(1.0 / float(ord), x.dtype))
    raise ValueError(f"norm: 'ord' must be a supported vector norm ('euclidean', 1, 2, np.inf or p > 0), got {ord!r}")


# ---- factorisations and solvers (LAPACK through NumPy; TF's backward rules) ---------------------------------
def inv(input: Any, adjoint: bool = False, name: Optional[str] = None) -> Any:
    """tf.linalg.inv. Gradient (TF): -inv(x)^T @ dy @ inv(x)^T."""
    x = _t(input)
    _check_float("linalg.inv", x)
    _check_square("linalg.inv", x)
    a = _np(x)
    if adjoint:
        a = np.swapaxes(a, -1, -2)
    try:
        yv = np.linalg.inv(a)
    except np.linalg.LinAlgError:
        raise _core.InvalidArgumentError("linalg.inv: Input is not invertible.") from None
    y = _out(yv.astype(a.dtype, copy=False), x)

    def backward(dys: List[Any]) -> List[Any]:
        g = _core.negative(_core.matmul(y, _core.matmul(dys[0], y, transpose_b=True), transpose_a=True))
        return [matrix_transpose(g) if adjoint else g]

    _record("linalg.inv", [x], [y], backward)
    return y


def det(input: Any, name: Optional[str] = None) -> Any:
    """tf.linalg.det. Gradient (TF): dy * det(x) * inv(x)^T."""
    x = _t(input)
    _check_float("linalg.det", x)
    _check_square("linalg.det", x)
    a = _np(x)
    y = _out(np.asarray(np.linalg.det(a), dtype=a.dtype), x)

    def backward(dys: List[Any]) -> List[Any]:
        return [_core.multiply(_expand2(_core.multiply(dys[0], y)), matrix_transpose(inv(x)))]

    _record("linalg.det", [x], [y], backward)
    return y


def slogdet(input: Any, name: Optional[str] = None) -> Tuple[Any, Any]:
    """tf.linalg.slogdet: (sign, log|det|). Gradient (TF) of log|det|: dy * inv(x)^T (sign has none)."""
    x = _t(input)
    _check_float("linalg.slogdet", x)
    _check_square("linalg.slogdet", x)
    a = _np(x)
    s, ld = np.linalg.slogdet(a)
    sign = _out(np.asarray(s, dtype=a.dtype), x)
    logdet = _out(np.asarray(ld, dtype=a.dtype), x)

    def backward(dys: List[Any]) -> List[Any]:
        d = dys[1] if dys[1] is not None else _core.convert(np.zeros(tuple(logdet.shape), a.dtype))
        return [_core.multiply(_expand2(d), matrix_transpose(inv(x)))]

    _record("linalg.slogdet", [x], [sign, logdet], backward)
    return sign, logdet


def logdet(matrix: Any, name: Optional[str] = None) -> Any:
    """tf.linalg.logdet of a Hermitian positive definite matrix: 2 * sum(log(diag(cholesky)))."""
    return _core.multiply(_core.cast(2.0, _t(matrix).dtype),
                          _core.reduce_sum(_core.log(diag_part(cholesky(matrix))), axis=-1))


def solve(matrix: Any, rhs: Any, adjoint: bool = False, name: Optional[str] = None) -> Any:
    """tf.linalg.solve: X with matrix @ X = rhs. Gradient (TF): d_rhs = solve(A^T, dX), dA = -d_rhs @ X^T."""
    A, B = _t(matrix), _t(rhs)
    _check_float("linalg.solve", A)
    _check_square("linalg.solve", A)
    if A.dtype != B.dtype:
        raise TypeError(f"linalg.solve: matrix and rhs must have the same dtype, got {A.dtype.name} and {B.dtype.name}")
    sa, sb = tuple(A.shape), tuple(B.shape)
    if len(sb) < 2 or sb[-2] != sa[-1]:
        raise _core.InvalidArgumentError(f"linalg.solve: rhs must have shape [..., {sa[-1]}, K] to match matrix of "
                                         f"shape {sa}, got {sb}")
    a = _np(A)
    if adjoint:
        a = np.swapaxes(a, -1, -2)
    try:
        xv = np.linalg.solve(a, _np(B))
    except np.linalg.LinAlgError:
        raise _core.InvalidArgumentError("linalg.solve: Input matrix is not invertible.") from None
    X = _out(xv.astype(a.dtype, copy=False), A)

    def backward(dys: List[Any]) -> List[Any]:
        d_rhs = solve(A, dys[0], adjoint=not adjoint)
        if adjoint:
            d_a = _core.negative(_core.matmul(X, d_rhs, transpose_b=True))
        else:
            d_a = _core.negative(_core.matmul(d_rhs, X, transpose_b=True))
        return [d_a, d_rhs]

    _record("linalg.solve", [A, B], [X], backward)
    return X


def cholesky(input: Any, name: Optional[str] = None) -> Any:
    """tf.linalg.cholesky: lower-triangular L with L @ L^T = input (only the lower triangle is read).
    Gradient: TF's _CholeskyGrad (symmetrised, lower-triangle convention)."""
    x = _t(input)
    _check_float("linalg.cholesky", x)
    _check_square("linalg.cholesky", x)
    a = _np(x)
    lower = np.tril(a)
    sym = lower + np.swapaxes(np.tril(a, -1), -1, -2)
    try:
        lv = np.linalg.cholesky(sym)
    except np.linalg.LinAlgError:
        raise _core.InvalidArgumentError("linalg.cholesky: Cholesky decomposition was not successful. The input "
                                         "might not be valid.") from None
    L = _out(lv.astype(a.dtype, copy=False), x)

    def backward(dys: List[Any]) -> List[Any]:
        l_inv = inv(L)
        middle = _core.matmul(L, dys[0], transpose_a=True)
        n = int(L.shape[-1])
        half_diag = _out((np.ones((n, n)) - 0.5 * np.eye(n)).astype(a.dtype), x)
        middle = band_part(_core.multiply(middle, half_diag), -1, 0)
        g = _core.matmul(_core.matmul(l_inv, middle, transpose_a=True), l_inv)
        g = _core.multiply(_core.add(g, matrix_transpose(g)), _core.convert(0.5, x.dtype))
        return [g]

    _record("linalg.cholesky", [x], [L], backward)
    return L


def eigh(tensor: Any, name: Optional[str] = None) -> Tuple[Any, Any]:
    """tf.linalg.eigh: (eigenvalues ascending, eigenvectors as columns) of self-adjoint matrices (the lower
    triangle is read, as TF). Gradient: TF's _SelfAdjointEigV2Grad (first order)."""
    x = _t(tensor)
    _check_float("linalg.eigh", x)
    _check_square("linalg.eigh", x)
    a = _np(x)
    ev, vv = np.linalg.eigh(a, UPLO="L")
    e = _out(ev.astype(a.dtype, copy=False), x)
    v = _out(vv.astype(a.dtype, copy=False), x)

    def backward(dys: List[Any]) -> List[Any]:
        ge, gv = dys
        n = ev.shape[-1]
        diff = ev[..., None, :] - ev[..., :, None]
        with np.errstate(divide="ignore"):
            f = np.where(diff == 0, 0.0, 1.0 / np.where(diff == 0, 1.0, diff)).astype(a.dtype)
        inner = _core.convert(np.zeros(a.shape, a.dtype)) if gv is None else \
            _core.multiply(_out(f, x), _core.matmul(v, gv, transpose_a=True))
        if ge is not None:
            inner = _core.add(inner, diag(ge))
        g = _core.matmul(v, _core.matmul(inner, v, transpose_b=True))
        g = band_part(_core.add(g, matrix_transpose(g)), -1, 0)
        half = _out((np.ones((n, n)) - 0.5 * np.eye(n)).astype(a.dtype), x)
        return [_core.multiply(g, half)]

    _record("linalg.eigh", [x], [e, v], backward)
    return e, v


def eigvalsh(tensor: Any, name: Optional[str] = None) -> Any:
    return eigh(tensor)[0]


def qr(input: Any, full_matrices: bool = False, name: Optional[str] = None) -> Tuple[Any, Any]:
    """tf.linalg.qr: (q, r). Gradient: TF's _QrGrad for full_matrices=False and M >= N (else none, as TF)."""
    x = _t(input)
    _check_float("linalg.qr", x)
    a = _np(x)
    if a.ndim < 2:
        raise ValueError(f"linalg.qr: input must have rank >= 2, got shape {a.shape}")
    qv, rv = np.linalg.qr(a, mode="complete" if full_matrices else "reduced")
    q, r = _out(qv.astype(a.dtype, copy=False), x), _out(rv.astype(a.dtype, copy=False), x)
    m, n = a.shape[-2], a.shape[-1]
    if full_matrices or m < n:
        _record("linalg.qr", [x], [q, r], _no_grad("linalg.qr"))
        return q, r

    def backward(dys: List[Any]) -> List[Any]:
        dq, dr = dys
        if dq is None:
            dq = _core.convert(np.zeros(qv.shape, a.dtype))
        if dr is None:
            dr = _core.convert(np.zeros(rv.shape, a.dtype))
        qdq = _core.matmul(q, dq, transpose_a=True)
        qdq_ = _core.subtract(qdq, matrix_transpose(qdq))
        rdr = _core.matmul(r, dr, transpose_b=True)
        rdr_ = _core.subtract(rdr, matrix_transpose(rdr))
        tril = band_part(_core.add(qdq_, rdr_), -1, 0)
        # grad_a = q @ (dr + tril @ r^-T) + (dq - q q^T dq) @ r^-T  (TF writes r^-T with triangular solves)
        r_inv_t = matrix_transpose(inv(r))
        grad_a = _core.matmul(q, _core.add(dr, _core.matmul(tril, r_inv_t)))
        grad_b = _core.matmul(_core.subtract(dq, _core.matmul(q, qdq)), r_inv_t)
        return [_core.add(grad_a, grad_b)]

    _record("linalg.qr", [x], [q, r], backward)
    return q, r


def svd(tensor: Any, full_matrices: bool = False, compute_uv: bool = True, name: Optional[str] = None) -> Any:
    """tf.linalg.svd: s (descending), or (s, u, v) with tensor = u @ diag(s) @ v^T (TF returns v, not v^T).
    Gradient: of s alone (u diag(ds) v^T); with u, v needed, none (not implemented here)."""
    x = _t(tensor)
    _check_float("linalg.svd", x)
    a = _np(x)
    if a.ndim < 2:
        raise ValueError(f"linalg.svd: input must have rank >= 2, got shape {a.shape}")
    uv, sv, vh = np.linalg.svd(a, full_matrices=full_matrices)
    s = _out(sv.astype(a.dtype, copy=False), x)
    k = sv.shape[-1]
    u_thin = _out(uv[..., :, :k].astype(a.dtype), x)
    v_thin = _out(np.swapaxes(vh, -1, -2)[..., :, :k].astype(a.dtype), x)
    if not compute_uv:
        def backward_s(dys: List[Any]) -> List[Any]:
            return [_core.matmul(_core.multiply(u_thin, _core.reshape(dys[0], list(dys[0].shape[:-1]) + [1, k])),
                                 v_thin, transpose_b=True)]
        _record("linalg.svd", [x], [s], backward_s)
        return s
    u = _out(uv.astype(a.dtype, copy=False), x)
    v = _out(np.swapaxes(vh, -1, -2).astype(a.dtype), x)

    def backward(dys: List[Any]) -> List[Any]:
        ds, du, dv = dys
        if du is not None or dv is not None:
            raise LookupError("linalg.svd: the gradient through u and v is not implemented; use compute_uv=False "
                              "for the singular values' gradient")
        return [_core.matmul(_core.multiply(u_thin, _core.reshape(ds, list(ds.shape[:-1]) + [1, k])),
                             v_thin, transpose_b=True)]

    _record("linalg.svd", [x], [s, u, v], backward)
    return s, u, v


def eye(num_rows: int, num_columns: Optional[int] = None, batch_shape: Optional[Sequence[int]] = None,
        dtype: Any = None, name: Optional[str] = None) -> Any:
    """tf.eye / tf.linalg.eye."""
    from .dtypes import as_dtype, float32
    dt = float32 if dtype is None else as_dtype(dtype)
    m = np.eye(int(num_rows), int(num_rows if num_columns is None else num_columns), dtype=np.dtype(dt.name))
    if batch_shape is not None:
        m = np.broadcast_to(m, tuple(int(b) for b in batch_shape) + m.shape).copy()
    return _core.convert(m)


# ---- einsum ------------------------------------------------------------------------------------------------
def _parse_einsum(equation: str, ranks: List[int]) -> Tuple[List[str], str]:
    eq = equation.replace(" ", "")
    if "->" in eq:
        lhs, out = eq.split("->")
    else:
        lhs, out = eq, None
    ins = lhs.split(",")
    if len(ins) != len(ranks):
        raise ValueError(f"einsum: the equation {equation!r} has {len(ins)} inputs, got {len(ranks)} tensors")
    used = set(c for c in eq if c.isalpha())
    free = [c for c in string.ascii_letters if c not in used]
    ell_rank = 0
    for s, r in zip(ins, ranks):
        if "..." in s:
            ell_rank = max(ell_rank, r - (len(s) - 3))
    ell = "".join(free[:ell_rank])
    expanded = []
    for s, r in zip(ins, ranks):
        if "..." in s:
            k = r - (len(s) - 3)
            s = s.replace("...", ell[ell_rank - k:] if k else "")
        if len(s) != r:
            raise ValueError(f"einsum: subscripts {s!r} do not match an input of rank {r} in {equation!r}")
        expanded.append(s)
    if out is None:
        counts = {c: sum(s.count(c) for s in expanded) for c in set("".join(expanded))}
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    else:
        out = out.replace("...", ell)
    return expanded, out


def einsum(equation: str, *inputs: Any, name: Optional[str] = None, **kwargs: Any) -> Any:
    """tf.einsum / tf.linalg.einsum (NumPy's einsum forward; each operand's gradient is an einsum of the
    upstream gradient with the other operands, broadcast over indices summed away in that operand alone)."""
    ts = [_t(x) for x in inputs]
    if not ts:
        raise ValueError("einsum: at least one input is required")
    for x in ts[1:]:
        if x.dtype != ts[0].dtype:
            raise TypeError(f"einsum: all inputs must have the same dtype, got {[t.dtype.name for t in ts]}")
    subs, out = _parse_einsum(equation, [len(x.shape) for x in ts])
    for s in subs:
        if len(set(s)) != len(s):
            raise NotImplementedError(f"einsum: repeated indices within one operand ({s!r}: diagonals) are not "
                                      "supported")
    spec = ",".join(subs) + "->" + out
    yv = np.einsum(spec, *[_np(x) for x in ts])
    y = _out(np.asarray(yv, dtype=np.dtype(ts[0].dtype.name)), ts[0])
    sizes = {}
    for s, x in zip(subs, ts):
        for c, d in zip(s, x.shape):
            sizes[c] = int(d)

    def backward(dys: List[Any]) -> List[Any]:
        grads = []
        for i, si in enumerate(subs):
            others = [(s, t) for j, (s, t) in enumerate(zip(subs, ts)) if j != i]
            avail = set(out).union(*[set(s) for s, _ in others]) if others else set(out)
            target = "".join(c for c in si if c in avail)
            g = einsum(",".join([out] + [s for s, _ in others]) + "->" + target, dys[0], *[t for _, t in others])
            if target != si:  # indices only this operand had were summed: broadcast them back
                shape = [sizes[c] if c in target else 1 for c in si]
                perm_src = [c for c in si if c in target]
                g = _core.reshape(g if perm_src == list(target) else
                                  _core.transpose(g, [target.index(c) for c in perm_src]), shape)
                g = _core.broadcast_to(g, [sizes[c] for c in si])
            grads.append(g)
        return grads

    _record("einsum", ts, [y], backward)
    return y


def tensordot(a: Any, b: Any, axes: Any, name: Optional[str] = None) -> Any:
    """tf.tensordot via einsum (axes: an int N, or a pair of axis lists)."""
    a, b = _t(a), _t(b)
    ra, rb = len(a.shape), len(b.shape)
    letters = string.ascii_letters
    la, lb = list(letters[:ra]), list(letters[ra:ra + rb])
    if isinstance(axes, int):
        ax_a, ax_b = list(range(ra - axes, ra)), list(range(axes))
    else:
        ax_a, ax_b = [list(x) if isinstance(x, (list, tuple)) else [x] for x in axes]
    for i, j in zip(ax_a, ax_b):
        lb[j % rb] = la[i % ra]
    out = [c for i, c in enumerate(la) if i % ra not in [x % ra for x in ax_a]] + \
          [c for j, c in enumerate(lb) if j % rb not in [x % rb for x in ax_b]]
    return einsum("".join(la) + "," + "".join(lb) + "->" + "".join(out), a, b)


from .nn_ops import global_norm  # noqa: E402  (tf.linalg.global_norm; home: pyfast_tape/nn_ops.py)

__all__ = ["global_norm", "adjoint", "band_part", "cholesky", "det", "diag", "diag_part", "eigh", "eigvalsh", "einsum", "eye", "inv",
           "l2_normalize", "logdet", "matmul", "matrix_transpose", "matvec", "norm", "qr", "slogdet", "solve", "svd",
           "tensordot", "trace"]
