"""pyfast_tape: TensorFlow's eager API (GradientTape, ops, Keras subset) on a native C++ tape.

``import pyfast_tape as tf`` in place of ``import tensorflow as tf``.
"""
from __future__ import annotations

import os as _os

# OpenBLAS worker threads busy-wait after a call and slow our next OpenMP region ~2x; a short timeout
# lets them sleep (docs/ARCHITECTURE.md, Kernels). Must be set before the library loads.
_os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

import scipy_openblas32 as _openblas  # noqa: E402,F401  loads libscipy_openblas RTLD_GLOBAL before _core

try:
    from . import _core  # noqa: E402
except ImportError as _e:  # the source tree (e.g. `python` run in the repository root) has no compiled _core
    import importlib.util as _ilu
    if _ilu.find_spec(__name__ + "._core") is not None:
        raise  # _core exists but failed to load: keep the loader's own error
    raise ImportError(
        f"pyfast_tape is being imported from its source tree ({_os.path.dirname(_os.path.abspath(__file__))}), "
        "which has no compiled `_core` extension module. Install the package with `pip install .` and run Python "
        "from outside the repository root, where the source tree does not shadow the installed package (or run "
        "the tests with `pytest`).", name=__name__, path=__file__) from None


def _point_at_cublas_wheel() -> None:
    """Tell the CUDA backend where the nvidia-cublas wheel (the [cuda] extra) keeps libcublas; it is
    loaded at the first GPU matmul, never at import."""
    if not _core.built_with_cuda or "PYFAST_TAPE_CUBLAS_DIRS" in _os.environ:
        return
    import importlib.util
    try:
        spec = importlib.util.find_spec("nvidia")
    except (ImportError, ValueError):
        return
    if spec is None:
        return
    dirs = [_os.path.join(loc, sub, "lib") for loc in (spec.submodule_search_locations or [])
            for sub in ("cu13", "cublas")]
    dirs = [d for d in dirs if _os.path.isdir(d)]
    if dirs:
        _os.environ["PYFAST_TAPE_CUBLAS_DIRS"] = ":".join(dirs)


_point_at_cublas_wheel()
from . import dtypes  # noqa: E402
from .tensor_shape import TensorShape  # noqa: E402

_core._register(list(dtypes._ALL), dtypes._code, TensorShape)
from . import indexing as _indexing  # noqa: E402,F401  registers Tensor.__getitem__

from . import errors, random  # noqa: E402
from ._core import (  # noqa: E402  hot ops: re-exported directly, no Python frame per call
    Tensor, abs, add, argmax, argmin, broadcast_to, cast, divide, equal, exp, greater, greater_equal,
    identity, less, less_equal, log, log_softmax, matmul, maximum, minimum, multiply, negative,
    not_equal, one_hot, pow, reduce_max, reduce_mean, reduce_min, reduce_sum, reshape, sigmoid, sign,
    softmax, sqrt, square, stop_gradient, subtract, tanh, transpose, where, reciprocal, rsqrt,
)
from ._core import (  # noqa: E402  math ops TF 2 also exports at the top level
    acos, acosh, asin, asinh, atan, atan2, atanh, cos, cosh, floor, logical_and, logical_not, logical_or, round,
    sin, sinh, tan, truncatediv,
)
from .dtypes import DType, as_dtype, bool, double, float32, float64, int32, int64  # noqa: E402
from .ops import constant, convert_to_tensor, fill, ones, ones_like, range, zeros, zeros_like  # noqa: E402
from .tape import GradientTape, UnconnectedGradients, custom_gradient  # noqa: E402
from .variables import Variable  # noqa: E402
from . import math, nn, keras, config, test  # noqa: E402
from .config import device  # noqa: E402
from .function import function  # noqa: E402
from ._core import from_dlpack  # noqa: E402
from . import experimental  # noqa: E402
from .ops import clip_by_value, expand_dims, squeeze  # noqa: E402
from .indexing import boolean_mask  # noqa: E402
from .module import Module, name_scope, get_current_name_scope  # noqa: E402
from . import data  # noqa: E402
from .data.tensor_spec import TensorSpec, string  # noqa: E402  (string: a dtype of tf.data values only)
from . import linalg  # noqa: E402
from .linalg import einsum, norm, tensordot  # noqa: E402
from . import reductions as _reductions, nn_ops as _nn_ops, control_flow as _control_flow, debugging  # noqa: E402
from .reductions import (  # noqa: E402
    add_n, argsort, cumprod, cumsum, reduce_all, reduce_any, reduce_logsumexp, reduce_prod, sort,
)
from .control_flow import (  # noqa: E402
    assert_equal, assert_greater, assert_less, assert_rank, case, cond, map_fn, numpy_function, py_function,
    vectorized_map, while_loop,
)
from .control_flow import print_ as print  # noqa: E402,A001  (tf.print; the builtin is untouched elsewhere)
from .nn_ops import clip_by_global_norm, clip_by_norm  # noqa: E402

truediv = divide
__version__ = "0.1.0"

__all__ = [
    "Tensor", "Variable", "GradientTape", "UnconnectedGradients", "custom_gradient", "TensorShape", "DType",
    "as_dtype", "float32", "float64", "int32", "int64", "bool", "double",
    "constant", "convert_to_tensor", "zeros", "ones", "zeros_like", "ones_like", "fill", "range",
    "abs", "add", "argmax", "argmin", "broadcast_to", "cast", "divide", "equal", "exp", "greater",
    "greater_equal", "identity", "less", "less_equal", "log", "matmul", "maximum", "minimum", "multiply",
    "negative", "not_equal", "one_hot", "pow", "reduce_max", "reduce_mean", "reduce_min", "reduce_sum",
    "reshape", "sigmoid", "sign", "sqrt", "square", "stop_gradient", "subtract", "tanh", "transpose",
    "where", "truediv", "math", "nn", "keras", "random", "errors", "config", "test", "function", "clip_by_value",
    "expand_dims", "squeeze", "from_dlpack", "experimental", "device", "boolean_mask",
    "acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "cos", "cosh", "floor", "logical_and",
    "logical_not", "logical_or", "round", "sin", "sinh", "tan", "truncatediv",
    "linalg", "einsum", "norm", "tensordot", "debugging", "add_n", "argsort", "cumprod", "cumsum", "reduce_all",
    "reduce_any", "reduce_logsumexp", "reduce_prod", "sort", "assert_equal", "assert_greater", "assert_less",
    "assert_rank", "case", "cond", "map_fn", "numpy_function", "py_function", "vectorized_map", "while_loop", "print",
    "clip_by_norm", "clip_by_global_norm",
]
__all__ += ["Module", "name_scope", "get_current_name_scope", "data", "TensorSpec", "string"]
from . import array_ops as _array_ops  # noqa: E402
from .array_ops import (  # noqa: E402,A001  (tf.slice: the builtin is untouched elsewhere)
    concat, gather, gather_nd, linspace, meshgrid, newaxis, pad, rank, repeat, reverse, roll, scatter_nd,
    sequence_mask, shape, size, slice, split, stack, strided_slice, tensor_scatter_nd_add, tensor_scatter_nd_max,
    tensor_scatter_nd_min, tensor_scatter_nd_sub, tensor_scatter_nd_update, tile, unique, unstack, where,
)
from .linalg import eye  # noqa: E402
__all__ += [_n for _n in _array_ops.__all__ + ["eye"] if _n not in __all__]
from . import train, saved_model  # noqa: E402  (tf.train: Checkpoint, CheckpointManager, ...; tf.saved_model)
if not hasattr(errors, "NotFoundError"):  # tf.errors.NotFoundError: what a missing checkpoint raises
    errors.NotFoundError = train.NotFoundError  # type: ignore[attr-defined]
__all__ += ["train", "saved_model"]
from . import image, summary, profiler  # noqa: E402
__all__ += ["image", "summary", "profiler"]
