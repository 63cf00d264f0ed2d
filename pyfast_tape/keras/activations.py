"""``keras.activations``. softmax and sigmoid remember their logits (Keras's ``_keras_logits``) so the
cross-entropy losses take the stable fused path on them, exactly as Keras does."""
from __future__ import annotations

from typing import Any, Callable, Optional, Union

from .. import _core


def linear(x: Any) -> Any:
    return _core.convert(x)


def relu(x: Any) -> Any:
    return _core.relu(x)


def tanh(x: Any) -> Any:
    return _core.tanh(x)


def sigmoid(x: Any) -> Any:
    x = _core.convert(x)
    y = _core.sigmoid(x)
    _core.attach_logits(y, x)
    return y


def softmax(x: Any, axis: int = -1) -> Any:
    x = _core.convert(x)
    y = _core.softmax(x, axis)
    if axis in (-1, len(x._shape) - 1):
        _core.attach_logits(y, x)
    return y


_BY_NAME = {"linear": linear, "relu": relu, "tanh": tanh, "sigmoid": sigmoid, "softmax": softmax}


def get(identifier: Union[None, str, Callable[..., Any]]) -> Callable[..., Any]:
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]
    raise ValueError(f"Could not interpret activation function identifier: {identifier!r} "
                     f"(supported: {sorted(_BY_NAME)} or a callable)")


def serialize(fn: Callable[..., Any]) -> Optional[str]:
    for k, v in _BY_NAME.items():
        if v is fn:
            return k
    return getattr(fn, "__name__", None)
