"""``tf.math``: aliases of the top-level math ops."""
from ._core import (  # noqa: F401
    abs, add, argmax, argmin, divide, equal, exp, greater, greater_equal, less, less_equal, log,
    log1p, log_softmax, maximum, minimum, multiply, negative, not_equal, pow, reciprocal, reduce_max,
    reduce_mean, reduce_min, reduce_sum, rsqrt, sigmoid, sign, softmax, sqrt, square, subtract, tanh,
)

truediv = divide

__all__ = ["abs", "add", "argmax", "argmin", "divide", "equal", "exp", "greater", "greater_equal", "less",
           "less_equal", "log", "log1p", "log_softmax", "maximum", "minimum", "multiply", "negative", "not_equal", "pow",
           "reciprocal", "reduce_max", "reduce_mean", "reduce_min", "reduce_sum", "rsqrt", "sigmoid", "sign",
           "softmax", "sqrt", "square", "subtract", "tanh", "truediv"]
