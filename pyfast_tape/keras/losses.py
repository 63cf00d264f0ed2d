"""``keras.losses``: Keras 3's loss classes and functions with its numerics, on the fused kernels.

Per-sample losses (mean over the last axis) come from one fused native op; the reduction
('sum_over_batch_size', 'sum', None) and sample weights follow Keras's ``reduce_weighted_values``.
A softmax/sigmoid output from ``keras.activations`` carries its logits, and the cross-entropies then
run on the logits (the fused, stable path), exactly as Keras does."""
from __future__ import annotations

import warnings
from typing import Any, Optional, Tuple

import numpy as np

from .. import _core
from ..dtypes import as_dtype, float32
from ..ops import expand_dims, squeeze

EPSILON = 1e-7  # keras.backend.epsilon()
_Tensor = _core.Tensor


def _convert(x: Any, dtype: Any = None) -> Any:
    if type(x) is _Tensor and (dtype is None or x.dtype is dtype):  # the common case: nothing to do
        return x
    t = _core.convert(x) if isinstance(x, (_core.Tensor, _core.VariableBase)) else _core.convert(x, dtype)
    if dtype is not None and t.dtype != dtype:
        t = _core.cast(t, dtype)
    return t


def squeeze_or_expand_to_same_rank(x1: Any, x2: Any, expand_rank_1: bool = True) -> Tuple[Any, Any]:
    """Keras's rule: where ranks differ by one and the longer has a trailing 1, squeeze (or expand)."""
    r1, r2 = len(x1._shape), len(x2._shape)
    if r1 == r2 + 1 and x1._shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = expand_dims(x2, -1)
        else:
            x1 = squeeze(x1, -1)
    if r2 == r1 + 1 and x2._shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = expand_dims(x1, -1)
        else:
            x2 = squeeze(x2, -1)
    return x1, x2


_MEAN_REDUCTIONS = frozenset({"sum_over_batch_size", "mean", "mean_with_sample_weight"})
_REDUCTIONS = frozenset({"sum_over_batch_size", "sum", None, "none", "mean", "mean_with_sample_weight"})


def _standardize_reduction(reduction: Any) -> Optional[str]:
    allowed = _REDUCTIONS
    if reduction not in allowed:
        raise ValueError(f"Invalid value for argument `reduction`. Expected one of {allowed}. Received: "
                         f"reduction={reduction}")
    return reduction


def reduce_weighted_values(values: Any, sample_weight: Any = None, reduction: Any = "sum_over_batch_size",
                           dtype: Any = None) -> Any:
    reduction = _standardize_reduction(reduction)
    values = _convert(values, dtype)
    if sample_weight is not None:
        sample_weight = _convert(sample_weight, values.dtype)
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        values = _core.multiply(values, sample_weight)
    if reduction is None or reduction == "none" or values._shape == () or values._shape == (0,):
        return values
    loss = _core.reduce_sum(values)
    if reduction in ("sum_over_batch_size", "mean", "mean_with_sample_weight"):
        # divide_no_nan: a zero divisor gives 0
        if reduction == "mean_with_sample_weight" and sample_weight is not None:
            divisor = _core.cast(_core.reduce_sum(sample_weight), loss.dtype)
            if float(divisor) == 0.0:
                return _core.fill_like(loss, 0.0, None)
        else:
            size = 1
            for d in values._shape:
                size *= d
            if size == 0:
                return _core.fill_like(loss, 0.0, None)
            divisor = _core.convert(float(size), loss.dtype)
        loss = _core.divide(loss, divisor)
    return loss


def _logits_of(y_pred: Any, from_logits: bool, fn: str, activation: str) -> Tuple[Any, bool]:
    logits = _core.get_logits(y_pred)
    if logits is None:
        return y_pred, from_logits
    if from_logits:
        warnings.warn(f'"`{fn}` received `from_logits=True`, but the `output` argument was produced by a '
                      f'{activation} activation and thus does not represent logits. Was this intended?', stacklevel=4)
    return logits, True


def _broadcast_pair(fn: str, y_true: Any, y_pred: Any) -> Tuple[Any, Any]:
    """MSE/Huber: Keras computes them on `y_pred - y_true`, which broadcasts (any ranks)."""
    if y_true._shape == y_pred._shape:
        return y_true, y_pred
    try:
        shape = list(np.broadcast_shapes(y_true._shape, y_pred._shape))
    except ValueError:
        raise _core.InvalidArgumentError(f"{fn}: y_true of shape {y_true._shape} and y_pred of shape "
                                         f"{y_pred._shape} do not broadcast") from None
    return _core.broadcast_to(y_true, shape), _core.broadcast_to(y_pred, shape)


def _same_shape(fn: str, y_true: Any, y_pred: Any) -> Tuple[Any, Any]:
    """The cross-entropies: Keras requires equal shapes."""
    if y_true._shape == y_pred._shape:
        return y_true, y_pred
    if len(y_true._shape) != len(y_pred._shape):
        raise ValueError(f"{fn}: arguments `target` and `output` must have the same rank (ndim). Received: "
                         f"target.shape={y_true._shape}, output.shape={y_pred._shape}")
    raise ValueError(f"{fn}: arguments `target` and `output` must have the same shape. Received: "
                     f"target.shape={y_true._shape}, output.shape={y_pred._shape}")


# ---- functional forms: per-sample losses ----------------------------------------------------------------
def mean_squared_error(y_true: Any, y_pred: Any) -> Any:
    y_pred = _convert(y_pred)
    y_true = _convert(y_true, y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    y_true, y_pred = _broadcast_pair("mean_squared_error", y_true, y_pred)
    return _core.mean_squared_error(y_true, y_pred)


def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> Any:
    y_pred = _convert(y_pred)
    y_true = _convert(y_true, y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    y_true, y_pred = _broadcast_pair("huber", y_true, y_pred)
    return _core.huber(y_true, y_pred, float(delta))


def log_cosh(y_true: Any, y_pred: Any) -> Any:
    """Keras's ``mean(x + softplus(-2x) - log(2), axis=-1)`` with ``x = y_pred - y_true``, in one fused op."""
    y_pred = _convert(y_pred)
    y_true = _convert(y_true, y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    y_true, y_pred = _broadcast_pair("log_cosh", y_true, y_pred)
    return _core.log_cosh(y_true, y_pred)


def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False, label_smoothing: float = 0.0,
                        axis: int = -1) -> Any:
    if axis != -1:
        raise NotImplementedError("binary_crossentropy: only axis=-1 is supported")
    y_pred = _convert(y_pred)
    y_true = _convert(y_true, y_pred.dtype)
    if label_smoothing:
        y_true = _core.add(_core.multiply(y_true, 1.0 - label_smoothing), 0.5 * label_smoothing)
    y_true, y_pred = _same_shape("binary_crossentropy", y_true, y_pred)
    out, from_logits = _logits_of(y_pred, from_logits, "binary_crossentropy", "Sigmoid")
    fused = _core.binary_crossentropy_from_logits if from_logits else _core.binary_crossentropy
    return fused(y_true, out, EPSILON)


def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False, label_smoothing: float = 0.0,
                             axis: int = -1) -> Any:
    if isinstance(axis, bool):
        raise ValueError(f"`axis` must be of type `int`. Received: axis={axis} of type {type(axis)}")
    y_pred = _convert(y_pred)
    y_true = _convert(y_true, y_pred.dtype)
    if len(y_pred._shape) and y_pred._shape[-1] == 1:
        warnings.warn("In loss categorical_crossentropy, expected y_pred.shape to be (batch_size, num_classes) with "
                      f"num_classes > 1. Received: y_pred.shape={y_pred._shape}. Consider using "
                      "'binary_crossentropy' if you only have 2 classes.", SyntaxWarning, stacklevel=2)
    if label_smoothing:
        num_classes = float(y_true._shape[-1])
        y_true = _core.add(_core.multiply(y_true, 1.0 - label_smoothing),
                           _core.divide(_core.convert(label_smoothing, y_pred.dtype),
                                        _core.convert(num_classes, y_pred.dtype)))
    if axis not in (-1, len(y_pred._shape) - 1):
        raise NotImplementedError("categorical_crossentropy: only the last axis is supported")
    if len(y_true._shape) != len(y_pred._shape) or y_true._shape != y_pred._shape:
        raise ValueError("Arguments `target` and `output` must have the same shape. Received: "
                         f"target.shape={y_true._shape}, output.shape={y_pred._shape}")
    out, from_logits = _logits_of(y_pred, from_logits, "categorical_crossentropy", "Softmax")
    if from_logits:
        return _core.softmax_cross_entropy(y_true, out, 0.0)
    # Probabilities: renormalise each row, clip to [eps, 1 - eps], -sum(y log p) (Keras).
    last = len(out._shape) - 1
    out = _core.divide(out, _core.reduce_sum(out, last, True))
    out = _core.minimum(_core.maximum(out, EPSILON), 1.0 - EPSILON)
    return _core.negative(_core.reduce_sum(_core.multiply(y_true, _core.log(out)), last))


def _sparse_inputs(y_true: Any, y_pred: Any, from_logits: bool) -> Tuple[Any, Any]:
    """(labels, logits) for the sparse cross-entropy, as Keras prepares them."""
    y_pred = _convert(y_pred)
    out, from_logits = _logits_of(y_pred, from_logits, "sparse_categorical_crossentropy", "Softmax")
    labels = _core.convert(y_true)
    if labels.dtype.is_floating:
        labels = _core.cast(labels, "int64")
    if len(out._shape) < 1:
        raise ValueError("sparse_categorical_crossentropy: Argument `output` must be at least rank 1. Received: "
                         f"output.shape={out._shape} (target.shape={labels._shape})")
    if len(labels._shape) == len(out._shape) and labels._shape[-1] == 1:
        labels = squeeze(labels, -1)
    if not from_logits:
        out = _core.log(_core.minimum(_core.maximum(out, EPSILON), 1.0 - EPSILON))
    return labels, out


def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False, ignore_class: Any = None,
                                    axis: int = -1) -> Any:
    if ignore_class is not None:
        raise NotImplementedError("sparse_categorical_crossentropy: ignore_class is not supported")
    labels, out = _sparse_inputs(y_true, y_pred, from_logits)
    return _core.sparse_softmax_cross_entropy(labels, out)


mse = MSE = mean_squared_error
logcosh = log_cosh


# ---- classes ---------------------------------------------------------------------------------------------
class Loss:
    """Base class: ``loss(y_true, y_pred, sample_weight=None)`` = reduction of ``call`` over the batch."""

    def __init__(self, name: Optional[str] = None, reduction: Any = "sum_over_batch_size", dtype: Any = None) -> None:
        self.name = name or type(self).__name__
        self.reduction = _standardize_reduction(reduction)
        self.dtype = float32 if dtype is None else as_dtype(dtype)

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        y_pred = _convert(y_pred, self.dtype)
        y_true = _convert(y_true, self.dtype)
        losses = self.call(y_true, y_pred)
        return reduce_weighted_values(losses, sample_weight=sample_weight, reduction=self.reduction, dtype=self.dtype)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}


class LossFunctionWrapper(Loss):
    def __init__(self, fn: Any, reduction: Any = "sum_over_batch_size", name: Optional[str] = None,
                 dtype: Any = None, **kwargs: Any) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)


class MeanSquaredError(LossFunctionWrapper):
    def __init__(self, reduction: Any = "sum_over_batch_size", name: str = "mean_squared_error",
                 dtype: Any = None) -> None:
        super().__init__(mean_squared_error, reduction=reduction, name=name, dtype=dtype)


class Huber(LossFunctionWrapper):
    def __init__(self, delta: float = 1.0, reduction: Any = "sum_over_batch_size", name: str = "huber_loss",
                 dtype: Any = None) -> None:
        super().__init__(huber, reduction=reduction, name=name, dtype=dtype, delta=delta)


class LogCosh(LossFunctionWrapper):
    def __init__(self, reduction: Any = "sum_over_batch_size", name: str = "log_cosh", dtype: Any = None) -> None:
        super().__init__(log_cosh, reduction=reduction, name=name, dtype=dtype)


class BinaryCrossentropy(LossFunctionWrapper):
    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: Any = "sum_over_batch_size", name: str = "binary_crossentropy", dtype: Any = None) -> None:
        super().__init__(binary_crossentropy, reduction=reduction, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing


class CategoricalCrossentropy(LossFunctionWrapper):
    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: Any = "sum_over_batch_size", name: str = "categorical_crossentropy",
                 dtype: Any = None) -> None:
        super().__init__(categorical_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    def __init__(self, from_logits: bool = False, ignore_class: Any = None, reduction: Any = "sum_over_batch_size",
                 name: str = "sparse_categorical_crossentropy", dtype: Any = None) -> None:
        super().__init__(sparse_categorical_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=from_logits, ignore_class=ignore_class)
        self.from_logits = from_logits
        self.ignore_class = ignore_class

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_true_sq, y_pred_sq = squeeze_or_expand_to_same_rank(y_true, y_pred)
        if len(y_pred_sq._shape) < 1 <= len(y_pred._shape):
            # Keras's rank matching squeezed y_pred's trailing 1 away (a scalar y_true): name the shapes the
            # caller passed, not the squeezed one the cross-entropy would report
            raise ValueError("sparse_categorical_crossentropy: Argument `output` must be at least rank 1 once "
                             f"matched to the rank of y_true. Received: y_true.shape={y_true._shape}, "
                             f"y_pred.shape={y_pred._shape} (its trailing 1 is squeezed away to match y_true, "
                             "leaving no class axis). Pass y_true of shape (batch_size,) or (batch_size, 1) and "
                             "y_pred of shape (batch_size, num_classes).")
        return self.fn(y_true_sq, y_pred_sq, **self._fn_kwargs)

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        # The batch mean without sample weights is one fused op (loss and gradient in one pass over the logits);
        # the per-row losses and Keras's reduction give the same value (float rounding apart).
        if sample_weight is None and self.ignore_class is None and self.reduction in _MEAN_REDUCTIONS:
            y_pred = _convert(y_pred, self.dtype)
            rank = len(y_pred._shape)
            if rank >= 2 and y_pred._shape[-1] > 1 and 0 not in y_pred._shape:
                if not (type(y_true) is _Tensor and y_true.dtype.is_integer):  # Keras converts to the loss dtype
                    y_true = _convert(y_true, self.dtype)
                labels, out = _sparse_inputs(y_true, y_pred, self.from_logits)
                if len(labels._shape) == rank - 1:
                    return _core.sparse_softmax_cross_entropy_mean(labels, out)
        return super().__call__(y_true, y_pred, sample_weight)


_BY_NAME = {
    "mse": mean_squared_error, "mean_squared_error": mean_squared_error, "huber": huber,
    "log_cosh": log_cosh, "logcosh": log_cosh,
    "binary_crossentropy": binary_crossentropy, "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
}


def get(identifier: Any) -> Any:
    if identifier is None or callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}")
