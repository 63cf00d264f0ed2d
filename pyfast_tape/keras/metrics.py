"""``keras.metrics``: the Keras 3 metrics that ``Model.compile(metrics=...)`` takes.

Every metric is a running mean over the samples seen since the last ``reset_state()`` (Keras's
``Mean``): ``update_state`` adds the per-sample values of one batch (weighted by ``sample_weight``
where given), ``result()`` is their mean. The state is kept in float64 on the host; the built-in
metrics compute their per-sample values with NumPy on views of the batch tensors (no tape, no copy).
A plain function ``fn(y_true, y_pred)`` is wrapped in ``MeanMetricWrapper`` and called with Tensors,
as Keras calls it with backend tensors.

``compile(metrics=['accuracy'])`` picks binary, sparse categorical or categorical accuracy from the
shapes of the first batch exactly as Keras 3's ``compile_utils.get_metric`` does (so one-hot labels
with ``CategoricalCrossentropy`` give categorical accuracy, integer labels with
``SparseCategoricalCrossentropy`` sparse categorical accuracy, a one-unit output with
``BinaryCrossentropy`` binary accuracy with threshold 0.5).
"""
from __future__ import annotations

import re
from typing import Any, Callable, Dict, Optional, Tuple, Type

import numpy as np

from .. import _core
from ..dtypes import as_dtype, float32

__all__ = [
    "Metric", "Mean", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
    "SparseCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError", "BinaryCrossentropy",
    "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "accuracy", "binary_accuracy",
    "categorical_accuracy", "sparse_categorical_accuracy", "mean_squared_error", "mean_absolute_error", "get",
]

def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _as_np(x: Any) -> "np.ndarray[Any, Any]":
    return x if isinstance(x, np.ndarray) else np.asarray(x)


def _same_rank(y_true: "np.ndarray[Any, Any]", y_pred: "np.ndarray[Any, Any]"
               ) -> Tuple["np.ndarray[Any, Any]", "np.ndarray[Any, Any]"]:
    """Keras's ``squeeze_or_expand_to_same_rank`` on NumPy arrays."""
    r1, r2 = y_true.ndim, y_pred.ndim
    if r1 == r2 + 1 and y_true.shape[-1] == 1:
        y_true = np.squeeze(y_true, -1)
    elif r2 == r1 + 1 and y_pred.shape[-1] == 1:
        y_pred = np.squeeze(y_pred, -1)
    return y_true, y_pred


def _float(y: "np.ndarray[Any, Any]") -> "np.ndarray[Any, Any]":
    return y if y.dtype.kind == "f" else y.astype(np.float32)


# ---- per-sample values on NumPy arrays (the state of the metrics below) ---------------------------------------
def _np_accuracy(y_true: Any, y_pred: Any) -> "np.ndarray[Any, Any]":
    yp = _as_np(y_pred)
    yt, yp = _same_rank(_as_np(y_true).astype(yp.dtype, copy=False), yp)
    return np.asarray(yt == yp, dtype=np.float32)


def _np_binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> "np.ndarray[Any, Any]":
    yp = _float(_as_np(y_pred))
    yt = _as_np(y_true).astype(yp.dtype, copy=False)
    yt, yp = _same_rank(yt, yp)
    return np.asarray(yt == (yp > threshold).astype(yt.dtype), dtype=np.float32)


def _np_sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> "np.ndarray[Any, Any]":
    yt = _as_np(y_true)
    yp = _as_np(y_pred)
    shape = yt.shape
    reshape = False
    if yt.ndim == yp.ndim and yt.ndim and yt.shape[-1] == 1:
        yt = np.squeeze(yt, -1)
        reshape = True
    pred = np.argmax(yp, axis=-1)
    if yt.dtype.kind not in "iu":  # float labels compare as numbers (Keras casts the argmax to their dtype)
        pred = pred.astype(yt.dtype)
    matches = np.asarray(yt == pred, dtype=np.float32)
    return matches.reshape(shape) if reshape else matches


def _np_categorical_accuracy(y_true: Any, y_pred: Any) -> "np.ndarray[Any, Any]":
    yt = _as_np(y_true)
    return _np_sparse_categorical_accuracy(np.argmax(yt, axis=-1), y_pred)


def _np_mean_squared_error(y_true: Any, y_pred: Any) -> "np.ndarray[Any, Any]":
    yp = _float(_as_np(y_pred))
    yt, yp = _same_rank(_as_np(y_true).astype(yp.dtype, copy=False), yp)
    d = yp.astype(np.float64) - yt
    return np.asarray(np.mean(d * d, axis=-1) if d.ndim else d * d)


def _np_mean_absolute_error(y_true: Any, y_pred: Any) -> "np.ndarray[Any, Any]":
    yp = _float(_as_np(y_pred))
    yt, yp = _same_rank(_as_np(y_true).astype(yp.dtype, copy=False), yp)
    d = np.abs(yp.astype(np.float64) - yt)
    return np.asarray(np.mean(d, axis=-1) if d.ndim else d)


def _tensor(values: "np.ndarray[Any, Any]") -> _core.Tensor:
    return _core.convert(np.ascontiguousarray(values, dtype=np.float32))


# ---- functional forms (Keras returns backend tensors of per-sample values) ------------------------------------
def accuracy(y_true: Any, y_pred: Any) -> _core.Tensor:
    """1.0 where ``y_pred == y_true`` (exactly), else 0.0."""
    return _tensor(_np_accuracy(y_true, y_pred))


def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> _core.Tensor:
    """1.0 where ``(y_pred > threshold) == y_true``, elementwise."""
    return _tensor(_np_binary_accuracy(y_true, y_pred, threshold))


def categorical_accuracy(y_true: Any, y_pred: Any) -> _core.Tensor:
    """1.0 where ``argmax(y_true) == argmax(y_pred)`` (one-hot labels), per sample."""
    return _tensor(_np_categorical_accuracy(y_true, y_pred))


def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> _core.Tensor:
    """1.0 where the integer label equals ``argmax(y_pred)``, per sample."""
    return _tensor(_np_sparse_categorical_accuracy(y_true, y_pred))


def mean_squared_error(y_true: Any, y_pred: Any) -> _core.Tensor:
    """``mean((y_pred - y_true)**2, axis=-1)``."""
    return _tensor(_np_mean_squared_error(y_true, y_pred))


def mean_absolute_error(y_true: Any, y_pred: Any) -> _core.Tensor:
    """``mean(|y_pred - y_true|, axis=-1)``."""
    return _tensor(_np_mean_absolute_error(y_true, y_pred))


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error


# ---- classes ----------------------------------------------------------------------------------------------------
class Metric:
    """Base class: ``update_state(y_true, y_pred, sample_weight=None)``, ``result()``, ``reset_state()``;
    calling a metric updates it and returns the result."""

    def __init__(self, name: Optional[str] = None, dtype: Any = None) -> None:
        self.name = name or _snake(type(self).__name__)
        self.dtype = float32 if dtype is None else as_dtype(dtype)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        raise NotImplementedError

    def result(self) -> _core.Tensor:
        raise NotImplementedError

    def reset_state(self) -> None:
        raise NotImplementedError

    def _result_float(self) -> float:
        return float(self.result())

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> _core.Tensor:
        self.update_state(y_true, y_pred, sample_weight=sample_weight)
        return self.result()

    def get_config(self) -> Dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype.name}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


class Mean(Metric):
    """The (weighted) mean of the values given: Keras's ``Mean``. Values of rank > 1 are first averaged
    over their trailing axes, so ``count`` counts samples (the first axis)."""

    def __init__(self, name: str = "mean", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values: Any, sample_weight: Any = None) -> None:  # type: ignore[override]
        v = np.asarray(values, dtype=np.float64)
        if sample_weight is None:
            if v.ndim > 1:
                v = v.reshape(v.shape[0], -1).mean(axis=1)
            self.total += float(v.sum())
            self.count += float(v.shape[0]) if v.ndim else 1.0
            return
        w = np.asarray(sample_weight, dtype=np.float64)
        # Keras: squeeze or expand the weights to the values' rank, broadcast, then reduce per sample.
        if w.ndim == v.ndim + 1 and w.shape[-1] == 1:
            w = np.squeeze(w, -1)
        while w.ndim < v.ndim:
            w = w[..., None]
        w = np.broadcast_to(w, np.broadcast_shapes(w.shape, v.shape))
        v = np.broadcast_to(v, w.shape) * w
        if v.ndim > 1:
            v = v.reshape(v.shape[0], -1).mean(axis=1)
            w = w.reshape(w.shape[0], -1).mean(axis=1)
        self.total += float(v.sum())
        self.count += float(w.sum())

    def _update_scalar(self, value: float, weight: float) -> None:
        self.total += value * weight
        self.count += weight

    def _result_float(self) -> float:
        return self.total / self.count if self.count else 0.0

    def result(self) -> _core.Tensor:
        return _core.convert(np.asarray(self._result_float(), dtype=self.dtype.as_numpy_dtype))

    def reset_state(self) -> None:
        self.total = 0.0
        self.count = 0.0


class MeanMetricWrapper(Mean):
    """Wraps ``fn(y_true, y_pred, **kwargs)`` (per-sample values) into a running mean."""

    def __init__(self, fn: Callable[..., Any], name: Optional[str] = None, dtype: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(name=name or str(getattr(fn, "__name__", "mean_metric_wrapper")), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs
        # built-in metrics run on NumPy views of the batch; user functions get Tensors (as in Keras)
        try:
            self._np_fn: Optional[Callable[..., "np.ndarray[Any, Any]"]] = _NUMPY_FORMS.get(fn)
        except TypeError:  # an unhashable callable
            self._np_fn = None

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:  # type: ignore[override]
        if self._np_fn is not None:
            values = self._np_fn(y_true, y_pred, **self._fn_kwargs)
        else:
            if not isinstance(y_pred, (_core.Tensor, _core.VariableBase)):
                y_pred = _core.convert(y_pred)
            if not isinstance(y_true, (_core.Tensor, _core.VariableBase)):
                y_true = _core.convert(y_true)
            values = np.asarray(self._fn(y_true, y_pred, **self._fn_kwargs))
        super().update_state(values, sample_weight=sample_weight)

    def get_config(self) -> Dict[str, Any]:
        config = super().get_config()
        config.update(self._fn_kwargs)
        return config


class Accuracy(MeanMetricWrapper):
    def __init__(self, name: str = "accuracy", dtype: Any = None) -> None:
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    def __init__(self, name: str = "binary_accuracy", dtype: Any = None, threshold: float = 0.5) -> None:
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold


class CategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name: str = "categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name: str = "sparse_categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class MeanSquaredError(MeanMetricWrapper):
    def __init__(self, name: str = "mean_squared_error", dtype: Any = None) -> None:
        super().__init__(mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    def __init__(self, name: str = "mean_absolute_error", dtype: Any = None) -> None:
        super().__init__(mean_absolute_error, name=name, dtype=dtype)


class BinaryCrossentropy(MeanMetricWrapper):
    def __init__(self, name: str = "binary_crossentropy", dtype: Any = None, from_logits: bool = False,
                 label_smoothing: float = 0.0) -> None:
        from . import losses
        super().__init__(losses.binary_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class CategoricalCrossentropy(MeanMetricWrapper):
    def __init__(self, name: str = "categorical_crossentropy", dtype: Any = None, from_logits: bool = False,
                 label_smoothing: float = 0.0, axis: int = -1) -> None:
        from . import losses
        super().__init__(losses.categorical_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    def __init__(self, name: str = "sparse_categorical_crossentropy", dtype: Any = None,
                 from_logits: bool = False, axis: int = -1) -> None:
        from . import losses
        super().__init__(losses.sparse_categorical_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         axis=axis)


_NUMPY_FORMS: Dict[Any, Callable[..., "np.ndarray[Any, Any]"]] = {
    accuracy: _np_accuracy, binary_accuracy: _np_binary_accuracy, categorical_accuracy: _np_categorical_accuracy,
    sparse_categorical_accuracy: _np_sparse_categorical_accuracy, mean_squared_error: _np_mean_squared_error,
    mean_absolute_error: _np_mean_absolute_error,
}

_CLASSES: Tuple[Type[Metric], ...] = (
    Mean, Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, MeanSquaredError,
    MeanAbsoluteError, BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
)
_BY_NAME: Dict[str, Type[Metric]] = {cls.__name__: cls for cls in _CLASSES}
_BY_NAME.update({_snake(cls.__name__): cls for cls in _CLASSES})
_BY_NAME.update({"mse": MeanSquaredError, "MSE": MeanSquaredError, "mae": MeanAbsoluteError,
                 "MAE": MeanAbsoluteError, "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy})


def get(identifier: Any) -> Any:
    """A metric from a name (``'mse'``, ``'binary_accuracy'``, ``'MeanAbsoluteError'``, ...), a Metric
    class or instance, or a function (returned as it is): Keras 3's ``keras.metrics.get``."""
    if identifier is None:
        return None
    obj = _BY_NAME.get(identifier) if isinstance(identifier, str) else identifier
    if obj is not None and callable(obj):
        if isinstance(obj, type):
            return obj()
        return obj
    raise ValueError(f"Could not interpret metric identifier: {identifier}")


def _resolve(identifier: Any, y_true: Any, y_pred: Any) -> Metric:
    """Keras 3's ``compile_utils.get_metric``: 'accuracy'/'acc' from the shapes, the metric named as the
    string given (so ``metrics=['mse']`` logs 'mse'), functions wrapped in ``MeanMetricWrapper``."""
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        is_binary, is_sparse = _binary_or_sparse(y_true, y_pred)
        cls: Type[Metric]
        if is_binary:
            cls = BinaryAccuracy
        elif is_sparse:
            cls = SparseCategoricalAccuracy
        else:
            cls = CategoricalAccuracy
        return cls(name=identifier)
    obj = get(identifier)
    if isinstance(obj, Metric):
        metric = obj
    else:
        metric = MeanMetricWrapper(obj)
    if isinstance(identifier, str):
        metric.name = identifier
    return metric


def _binary_or_sparse(y_true: Any, y_pred: Any) -> Tuple[bool, bool]:
    t_shape, p_shape = tuple(y_true.shape), tuple(y_pred.shape)
    t_last = t_shape[-1] if t_shape else None
    p_last = p_shape[-1] if p_shape else None
    is_binary = p_last == 1
    is_sparse = len(t_shape) < len(p_shape) or (t_last == 1 and p_last is not None and p_last > 1)
    return is_binary, is_sparse
