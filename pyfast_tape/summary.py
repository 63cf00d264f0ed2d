"""``tf.summary``: summary writers and the scalar/histogram/text/image calls, with TF's default-writer and
step rules. Records go to one JSON-lines file per writer in its logdir (``events.pyfast_tape.<time>.jsonl``),
NOT TensorBoard's event-file format: TensorBoard will not read them. trace_on/trace_export record that a
trace was asked for (there is no graph to export in eager execution here).
"""
from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from typing import Any, Iterator, Optional

import numpy as np

from . import _core

_state = threading.local()


def _stack() -> list:
    if not hasattr(_state, "writers"):
        _state.writers, _state.step = [], None
    return _state.writers


class SummaryWriter:
    """A writer bound to a log directory; `as_default()` makes the summary calls record to it."""

    def __init__(self, logdir: str, filename_suffix: str = "") -> None:
        os.makedirs(logdir, exist_ok=True)
        self.logdir = logdir
        self._path = os.path.join(logdir, f"events.pyfast_tape.{int(time.time() * 1e6)}{filename_suffix}.jsonl")
        self._file: Optional[Any] = open(self._path, "a")
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def as_default(self, step: Any = None) -> Iterator["SummaryWriter"]:
        stack = _stack()
        stack.append(self)
        old_step = _state.step
        if step is not None:
            _state.step = step
        try:
            yield self
        finally:
            stack.pop()
            _state.step = old_step
            self.flush()

    def set_as_default(self, step: Any = None) -> None:
        _stack().append(self)
        if step is not None:
            _state.step = step

    def init(self) -> None:
        pass

    def write(self, record: dict) -> None:
        with self._lock:
            if self._file is None:
                raise RuntimeError(f"summary writer for {self.logdir!r} is closed")
            self._file.write(json.dumps(record) + "\n")

    def flush(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


class _NoopWriter(SummaryWriter):
    def __init__(self) -> None:  # noqa: D107  (writes nothing)
        self.logdir = ""
        self._file = None
        self._lock = threading.Lock()

    def write(self, record: dict) -> None:
        pass

    def flush(self) -> None:
        pass


def create_file_writer(logdir: str, max_queue: Any = None, flush_millis: Any = None, filename_suffix: Any = None,
                       name: Optional[str] = None, experimental_trackable: bool = False,
                       experimental_mesh: Any = None) -> SummaryWriter:
    return SummaryWriter(str(logdir), filename_suffix or "")


def create_noop_writer() -> SummaryWriter:
    return _NoopWriter()


def _value(x: Any) -> Any:
    if isinstance(x, (_core.Tensor, _core.VariableBase)):
        x = np.asarray(x.numpy())
    return np.asarray(x).tolist()


def _record(kind: str, name: str, data: Any, step: Any, description: Optional[str]) -> Any:
    stack = _stack()
    if not stack:
        return _core.convert(False)
    s = _state.step if step is None else step
    if s is None:
        raise ValueError("No step set. Please specify one either through the `step` argument or through "
                         "tf.summary.experimental.set_step()")
    stack[-1].write({"kind": kind, "name": name, "step": int(_value(s)), "value": _value(data),
                     "description": description, "wall_time": time.time()})
    return _core.convert(True)


def scalar(name: str, data: Any, step: Any = None, description: Optional[str] = None) -> Any:
    return _record("scalar", name, data, step, description)


def histogram(name: str, data: Any, step: Any = None, buckets: Optional[int] = None,
              description: Optional[str] = None) -> Any:
    return _record("histogram", name, data, step, description)


def text(name: str, data: Any, step: Any = None, description: Optional[str] = None) -> Any:
    return _record("text", name, data if not hasattr(data, "numpy") else str(data.numpy()), step, description)


def image(name: str, data: Any, step: Any = None, max_outputs: int = 3, description: Optional[str] = None) -> Any:
    return _record("image", name, data, step, description)


def trace_on(graph: bool = True, profiler: bool = False, profiler_outdir: Optional[str] = None) -> None:
    _state.trace = True


def trace_off() -> None:
    _state.trace = False


def trace_export(name: str, step: Any = None, profiler_outdir: Optional[str] = None) -> None:
    if getattr(_state, "trace", False):
        _record("trace", name, "eager execution: no graph to export", 0 if step is None else step, None)
    _state.trace = False


@contextlib.contextmanager
def record_if(condition: Any) -> Iterator[None]:
    yield


class experimental:  # noqa: N801  (tf.summary.experimental namespace)
    @staticmethod
    def set_step(step: Any) -> None:
        _stack()
        _state.step = step

    @staticmethod
    def get_step() -> Any:
        _stack()
        return _state.step


__all__ = ["SummaryWriter", "create_file_writer", "create_noop_writer", "scalar", "histogram", "text", "image",
           "trace_on", "trace_off", "trace_export", "record_if", "experimental"]
