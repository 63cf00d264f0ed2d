"""TensorFlow-style exception classes (``tf.errors``)."""
from __future__ import annotations

from ._core import InvalidArgumentError, ResourceExhaustedError


class UnconnectedGradientError(ValueError):
    """A gradient was requested with ``unconnected_gradients='raise'`` for a source the target does not
    depend on; the message explains why the path is cut."""


class OutOfRangeError(Exception):
    """Iteration past the end of a sequence (``iterator.get_next()`` past the end of a tf.data.Dataset)."""


__all__ = ["InvalidArgumentError", "ResourceExhaustedError", "UnconnectedGradientError", "OutOfRangeError"]
