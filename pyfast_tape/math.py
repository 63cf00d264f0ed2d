"""``tf.math``: aliases of the top-level math ops."""
from ._core import (  # noqa: F401
    abs, acos, acosh, add, argmax, argmin, asin, asinh, atan, atan2, atanh, ceil, cos, cosh, divide,
    divide_no_nan, equal, erf, erfc, exp, expm1, floor, floordiv, floormod, greater, greater_equal, is_finite,
    is_inf, is_nan, less, less_equal, log, log1p, log_softmax, logical_and, logical_not, logical_or,
    logical_xor, maximum, minimum, multiply, negative, not_equal, pow, reciprocal, reciprocal_no_nan,
    reduce_max, reduce_mean, reduce_min, reduce_sum, rint, round, rsqrt, sigmoid, sign, sin, sinh, softmax,
    softplus, softsign, sqrt, square, squared_difference, subtract, tan, tanh, truncatediv, xdivy, xlogy,
)

from .reductions import (  # noqa: E402,F401  home: pyfast_tape/reductions.py
    add_n, argsort, count_nonzero, cumprod, cumsum, reduce_all, reduce_any, reduce_euclidean_norm, reduce_logsumexp,
    reduce_prod, reduce_std, reduce_variance, sort, top_k,
)
from .linalg import l2_normalize  # noqa: E402,F401  home: pyfast_tape/linalg.py

truediv = divide
mod = floormod  # TF: tf.math.mod is FloorMod

__all__ = ["abs", "acos", "acosh", "add", "argmax", "argmin", "asin", "asinh", "atan", "atan2", "atanh", "ceil",
           "cos", "cosh", "divide", "divide_no_nan", "equal", "erf", "erfc", "exp", "expm1", "floor", "floordiv",
           "floormod", "greater", "greater_equal", "is_finite", "is_inf", "is_nan", "less", "less_equal", "log",
           "log1p", "log_softmax", "logical_and", "logical_not", "logical_or", "logical_xor", "maximum", "minimum",
           "mod", "multiply", "negative", "not_equal", "pow", "reciprocal", "reciprocal_no_nan", "reduce_max",
           "reduce_mean", "reduce_min", "reduce_sum", "rint", "round", "rsqrt", "sigmoid", "sign", "sin", "sinh",
           "softmax", "softplus", "softsign", "sqrt", "square", "squared_difference", "subtract", "tan", "tanh",
           "truediv", "truncatediv", "xdivy", "xlogy", "add_n", "argsort", "count_nonzero", "cumprod", "cumsum",
           "reduce_all", "reduce_any", "reduce_euclidean_norm", "reduce_logsumexp", "reduce_prod", "reduce_std",
           "reduce_variance", "sort", "top_k", "l2_normalize"]
