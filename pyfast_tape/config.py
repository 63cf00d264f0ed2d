"""``tf.config``: devices and threading; ``tf.device``, the device scope."""
from __future__ import annotations

import re
from types import TracebackType
from typing import List, Optional, Type

from . import _core


class PhysicalDevice:
    def __init__(self, name: str, device_type: str) -> None:
        self.name = name
        self.device_type = device_type

    def __repr__(self) -> str:
        return f"PhysicalDevice(name='{self.name}', device_type='{self.device_type}')"


def list_physical_devices(device_type: str | None = None) -> List[PhysicalDevice]:
    """The CPU and every usable GPU (none without a CUDA build, a driver or a device)."""
    devices = [PhysicalDevice("/physical_device:CPU:0", "CPU")]
    devices += [PhysicalDevice(f"/physical_device:GPU:{i}", "GPU") for i in range(_core.gpu_count())]
    if device_type is None:
        return devices
    return [d for d in devices if d.device_type == device_type.upper()]


class LogicalDevice:
    def __init__(self, name: str, device_type: str) -> None:
        self.name = name
        self.device_type = device_type

    def __repr__(self) -> str:
        return f"LogicalDevice(name='{self.name}', device_type='{self.device_type}')"


def list_logical_devices(device_type: str | None = None) -> List[LogicalDevice]:
    return [LogicalDevice(d.name.replace("/physical_device:", "/device:"), d.device_type)
            for d in list_physical_devices(device_type)]


_soft_placement = True


def set_soft_device_placement(enabled: bool) -> None:
    """TF's soft placement (on by default): ``tf.device('/GPU:0')`` without that GPU runs on the CPU.
    Off, entering such a scope raises ``InvalidArgumentError``."""
    global _soft_placement
    _soft_placement = bool(enabled)


def get_soft_device_placement() -> bool:
    return _soft_placement


_DEVICE_RE = re.compile(
    r"^(?:/job:[^/]+)?(?:/replica:\d+)?(?:/task:\d+)?/?(?:device:)?(cpu|gpu|cuda)(?::(\d+))?$", re.IGNORECASE)


def _parse_device(name: str) -> "tuple[int, int]":
    m = _DEVICE_RE.match(name.strip())
    if not m:
        raise ValueError(f"tf.device: cannot parse device name {name!r}; use '/CPU:0', '/GPU:0', 'GPU' or 'cuda'")
    kind = 0 if m.group(1).lower() == "cpu" else 1
    return kind, int(m.group(2) or 0)


class device:
    """``with tf.device('/GPU:0'):`` tensors created and ops run inside live on that device; inputs from
    elsewhere are copied there (TF's behaviour). Accepts '/CPU:0', '/GPU:1', 'GPU', 'cuda', 'cuda:0' and
    full names ('/job:localhost/replica:0/task:0/device:GPU:0'). With soft placement (the default) a GPU
    that does not exist means the CPU, as in TF; ``tf.device(None)`` leaves placement as it is."""

    def __init__(self, device_name: Optional[str]) -> None:
        self._spec = None if device_name is None else _parse_device(str(device_name))
        self._pushed = False

    def __enter__(self) -> "device":
        if self._spec is not None:
            kind, index = self._spec
            if kind == 1 and index >= _core.gpu_count() and _soft_placement:
                kind, index = 0, 0
            _core.push_device(kind, index)
            self._pushed = True
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        if self._pushed:
            _core.pop_device()
            self._pushed = False


class _Threading:
    """``tf.config.threading``: the intra-op thread count of the native kernels (OpenMP). It starts from
    OMP_NUM_THREADS (or the number of cores); BLAS calls run inside the same budget."""

    @staticmethod
    def set_intra_op_parallelism_threads(num_threads: int) -> None:
        import os
        n = int(num_threads) if num_threads else (os.cpu_count() or 1)
        _core.set_num_threads(n)

    @staticmethod
    def get_intra_op_parallelism_threads() -> int:
        return int(_core.num_threads())

    @staticmethod
    def set_inter_op_parallelism_threads(num_threads: int) -> None:
        pass  # eager ops run on the calling thread: there is no inter-op pool

    @staticmethod
    def get_inter_op_parallelism_threads() -> int:
        return 1


threading = _Threading()
