"""TensorFlow-style exception classes (``tf.errors``)."""
from __future__ import annotations

from ._core import InvalidArgumentError, ResourceExhaustedError


class UnconnectedGradientError(ValueError):
    """A gradient was requested with ``unconnected_gradients='raise'`` for a source the target does not
    depend on; the message explains why the path is cut."""


__all__ = ["InvalidArgumentError", "ResourceExhaustedError", "UnconnectedGradientError"]
