"""``tf.experimental.dlpack``: zero-copy exchange with NumPy, PyTorch, JAX and other DLPack libraries."""
from .._core import from_dlpack, to_dlpack

__all__ = ["from_dlpack", "to_dlpack"]
