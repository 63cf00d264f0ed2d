"""``tf.nn``: activations and softmax cross-entropies."""
from __future__ import annotations

from typing import Any, Optional

from . import _core
from ._core import log_softmax, relu, sigmoid, softmax, softplus, softsign, tanh  # noqa: F401


def softmax_cross_entropy_with_logits(labels: Any, logits: Any, axis: int = -1,
                                      name: Optional[str] = None) -> _core.Tensor:
    """Per-example cross-entropy ``-sum(labels * log_softmax(logits))`` along the last axis: one fused
    native op (gradient for logits and labels)."""
    logits = _core.convert(logits) if not isinstance(logits, (_core.Tensor, _core.VariableBase)) else logits
    if axis not in (-1, len(logits.shape) - 1):
        raise NotImplementedError("softmax_cross_entropy_with_logits: only the last axis is supported "
                                  "(transpose the class axis last)")
    try:
        return _core.softmax_cross_entropy(labels, logits, 0.0)
    except (TypeError, ValueError) as e:  # name the op the user called
        raise type(e)(f"softmax_cross_entropy_with_logits: {e}") from None


def sparse_softmax_cross_entropy_with_logits(labels: Any, logits: Any,
                                             name: Optional[str] = None) -> _core.Tensor:
    """Per-example cross-entropy of integer class labels against logits (last axis): one fused native op;
    labels outside [0, num_classes) raise InvalidArgumentError."""
    try:
        return _core.sparse_softmax_cross_entropy(labels, logits)
    except (TypeError, ValueError) as e:  # name the op the user called
        raise type(e)(f"sparse_softmax_cross_entropy_with_logits: {e}") from None


from .nn_ops import (  # noqa: E402,F401  home: pyfast_tape/nn_ops.py
    bias_add, dropout, elu, embedding_lookup, gelu, l2_loss, leaky_relu, moments, relu6, selu,
    sigmoid_cross_entropy_with_logits, silu, swish, weighted_cross_entropy_with_logits,
)
from .reductions import top_k  # noqa: E402,F401
from .linalg import l2_normalize  # noqa: E402,F401

__all__ = ["bias_add", "dropout", "elu", "embedding_lookup", "gelu", "l2_loss", "leaky_relu", "moments", "relu6",
           "selu", "sigmoid_cross_entropy_with_logits", "silu", "swish", "weighted_cross_entropy_with_logits",
           "top_k", "l2_normalize",
           "log_softmax", "relu", "sigmoid", "softmax", "softplus", "softsign", "tanh",
           "softmax_cross_entropy_with_logits",
           "sparse_softmax_cross_entropy_with_logits"]
