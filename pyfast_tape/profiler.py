"""``tf.profiler``: the experimental start/stop/Trace entry points. Profiling is not implemented: these run
the program unchanged and record nothing (use bench/ and py-spy/perf for profiles)."""
from __future__ import annotations

import contextlib
from typing import Any, Iterator, Optional


class experimental:  # noqa: N801  (tf.profiler.experimental namespace)
    @staticmethod
    def start(logdir: str, options: Any = None) -> None:
        pass

    @staticmethod
    def stop(save: bool = True) -> None:
        pass

    @staticmethod
    @contextlib.contextmanager
    def Trace(name: str, **kwargs: Any) -> Iterator[None]:  # noqa: N802
        yield

    class ProfilerOptions:
        def __init__(self, host_tracer_level: int = 2, python_tracer_level: int = 0, device_tracer_level: int = 1,
                     delay_ms: Optional[int] = None) -> None:
            pass


__all__ = ["experimental"]
