"""``tf.image``: a few image ops as TensorFlow defines them, on [..., height, width, channels] tensors.

Compositions of native ops are differentiable (adjust_brightness, flips, rgb_to_grayscale,
per_image_standardization, convert_image_dtype for floats). adjust_contrast is TF's AdjustContrastv2, which
has no registered gradient: asking for one raises TF's LookupError.
"""
from __future__ import annotations

from typing import Any, List, Optional

import numpy as np

from . import _core
from ._pyops import as_tensor as _t, from_numpy as _out


def _check_image(op: str, x: Any) -> None:
    if len(x.shape) < 3:
        raise ValueError(f"{op}: 'image' must be at least three-dimensional ([height, width, channels]), got shape "
                         f"{tuple(x.shape)}")


def adjust_contrast(images: Any, contrast_factor: Any, name: Optional[str] = None) -> Any:
    """(x - mean) * contrast_factor + mean, the mean over height and width of each channel (TF's
    AdjustContrastv2, computed in float32 for integer images). No gradient, as in TF."""
    x, f = _t(images), _t(contrast_factor)
    _check_image("adjust_contrast", x)
    xv = np.asarray(x.numpy())
    work = xv.astype(np.float32) if xv.dtype.kind != "f" else xv
    mean = work.mean(axis=(-3, -2), keepdims=True, dtype=work.dtype)
    fv = np.asarray(f.numpy(), dtype=work.dtype)
    out = ((work - mean) * fv + mean)
    if xv.dtype.kind != "f":
        info = np.iinfo(xv.dtype) if xv.dtype.kind in "iu" else None
        out = np.clip(np.round(out), info.min, info.max) if info is not None else out
    y = _out(out.astype(xv.dtype), x)

    def backward(dys: List[Any]) -> List[Any]:
        raise LookupError("gradient registry has no entry for: AdjustContrastv2")

    _core.record_custom([x, f], [y], backward)
    return y


def adjust_brightness(image: Any, delta: Any) -> Any:
    """image + delta (float images; differentiable)."""
    x = _t(image)
    return _core.add(x, _core.convert(delta, x.dtype) if not isinstance(delta, _core.Tensor) else delta)


def flip_left_right(image: Any) -> Any:
    """The width axis reversed."""
    from .array_ops import reverse
    x = _t(image)
    _check_image("flip_left_right", x)
    return reverse(x, [len(x.shape) - 2])


def flip_up_down(image: Any) -> Any:
    """The height axis reversed."""
    from .array_ops import reverse
    x = _t(image)
    _check_image("flip_up_down", x)
    return reverse(x, [len(x.shape) - 3])


def rgb_to_grayscale(images: Any, name: Optional[str] = None) -> Any:
    """TF's weights [0.2989, 0.587, 0.114] over the last axis, keeping a channel axis of size 1."""
    x = _t(images)
    if not x.dtype.is_floating:
        raise TypeError("rgb_to_grayscale: only float images are supported here (convert_image_dtype first)")
    w = _out(np.array([0.2989, 0.587, 0.114], dtype=np.dtype(x.dtype.name)), x)
    return _core.reduce_sum(_core.multiply(x, w), axis=-1, keepdims=True)


def per_image_standardization(image: Any) -> Any:
    """(x - mean) / max(stddev, 1 / sqrt(N)) over each image's height, width and channels."""
    x = _t(image)
    _check_image("per_image_standardization", x)
    axes = [len(x.shape) - 3, len(x.shape) - 2, len(x.shape) - 1]
    n = int(np.prod([int(x.shape[a]) for a in axes]))
    mean = _core.reduce_mean(x, axis=axes, keepdims=True)
    var = _core.reduce_mean(_core.square(_core.subtract(x, mean)), axis=axes, keepdims=True)
    adj = _core.maximum(_core.sqrt(var), _core.convert(1.0 / np.sqrt(n), x.dtype))
    return _core.divide(_core.subtract(x, mean), adj)


def convert_image_dtype(image: Any, dtype: Any, saturate: bool = False, name: Optional[str] = None) -> Any:
    """Float <-> float is a cast; integer images are scaled to [0, 1] when converted to float (by the
    integer maximum), as TF's."""
    from .dtypes import as_dtype
    x = _t(image)
    dt = as_dtype(dtype)
    if x.dtype == dt:
        return _core.identity(x)
    if x.dtype.is_floating and dt.is_floating:
        return _core.cast(x, dt)
    if x.dtype.is_integer and dt.is_floating:
        scale = 1.0 / float(np.iinfo(np.dtype(x.dtype.name)).max)
        return _core.multiply(_core.cast(x, dt), _core.convert(scale, dt))
    raise NotImplementedError(f"convert_image_dtype: {x.dtype.name} -> {dt.name} is not supported")


__all__ = ["adjust_brightness", "adjust_contrast", "convert_image_dtype", "flip_left_right", "flip_up_down",
           "per_image_standardization", "rgb_to_grayscale"]
