"""``tf.test``: build and device queries."""
from . import _core


def is_built_with_cuda() -> bool:
    """Whether this build has the CUDA backend (it may still find no GPU at run time)."""
    return bool(_core.built_with_cuda)


def is_built_with_gpu_support() -> bool:
    return bool(_core.built_with_cuda)


def is_gpu_available(cuda_only: bool = False, min_cuda_compute_capability: object = None) -> bool:
    """Deprecated in TF; True when a GPU is usable now."""
    return bool(_core.gpu_count() > 0)


def gpu_device_name() -> str:
    return "/device:GPU:0" if _core.gpu_count() > 0 else ""
