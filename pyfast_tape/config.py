"""``tf.config``: devices and threading."""
from __future__ import annotations

from typing import List


class PhysicalDevice:
    def __init__(self, name: str, device_type: str) -> None:
        self.name = name
        self.device_type = device_type

    def __repr__(self) -> str:
        return f"PhysicalDevice(name='{self.name}', device_type='{self.device_type}')"


def list_physical_devices(device_type: str | None = None) -> List[PhysicalDevice]:
    devices = [PhysicalDevice("/physical_device:CPU:0", "CPU")]
    if device_type is None:
        return devices
    return [d for d in devices if d.device_type == device_type.upper()]


class _Threading:
    """``tf.config.threading``: the intra-op thread count of the native kernels (OpenMP). It starts from
    OMP_NUM_THREADS (or the number of cores); BLAS calls run inside the same budget."""

    @staticmethod
    def set_intra_op_parallelism_threads(num_threads: int) -> None:
        from . import _core
        import os
        n = int(num_threads) if num_threads else (os.cpu_count() or 1)
        _core.set_num_threads(n)

    @staticmethod
    def get_intra_op_parallelism_threads() -> int:
        from . import _core
        return int(_core.num_threads())

    @staticmethod
    def set_inter_op_parallelism_threads(num_threads: int) -> None:
        pass  # eager ops run on the calling thread: there is no inter-op pool

    @staticmethod
    def get_inter_op_parallelism_threads() -> int:
        return 1


threading = _Threading()
