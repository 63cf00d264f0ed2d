"""``tf.train``: checkpointing (``Checkpoint``, ``CheckpointManager``, ``latest_checkpoint`` and friends),
as TensorFlow 2's (tensorflow/python/checkpoint/checkpoint_management.py for the manager).

Checkpoint files are named as TensorFlow names them (``ckpt-3.index``, ``ckpt-3.data-00000-of-00001``, the
``checkpoint`` state file in TF's text format) but the checkpoint files themselves are pyfast_tape's own format,
NOT TensorFlow's: see :mod:`pyfast_tape.checkpoint`.
"""
from __future__ import annotations

import collections
import glob
import os
import time
from typing import Any, Callable, Iterator, List, Optional

import numpy as np

from .checkpoint import (  # noqa: F401  (CheckpointLoadStatus & co.: importable from here too)
    Checkpoint, CheckpointLoadStatus, CheckpointOptions, CheckpointReader, CheckpointState,
    InitializationOnlyStatus, NotFoundError, _logger, generate_checkpoint_state_proto, get_checkpoint_state,
    latest_checkpoint, list_variables, load_checkpoint, load_variable, update_checkpoint_state_internal,
)

__all__ = [
    "Checkpoint", "CheckpointManager", "CheckpointOptions", "CheckpointState", "latest_checkpoint",
    "get_checkpoint_state", "list_variables", "load_checkpoint", "load_variable", "checkpoints_iterator",
]


def _delete_file_if_exists(filespec: str) -> None:
    for path in glob.glob(filespec):
        try:
            os.remove(path)
        except FileNotFoundError:
            _logger.warning("Hit NotFoundError when deleting '%s', possibly because another process/thread is also "
                            "deleting/moving the same file", path)


def _as_int(value: Any) -> int:
    if hasattr(value, "numpy"):
        value = value.numpy()
    return int(np.asarray(value))


class CheckpointManager:
    """``tf.train.CheckpointManager``: numbers the checkpoints of a ``tf.train.Checkpoint`` in `directory`
    (``{directory}/{checkpoint_name}-{n}``), keeps the newest `max_to_keep` (None: all) and deletes older
    ones, and records them in the directory's ``checkpoint`` file — from which a new manager on the same
    directory resumes.

    >>> manager = tf.train.CheckpointManager(ckpt, '/tmp/model', max_to_keep=3)
    >>> ckpt.restore(manager.latest_checkpoint)
    >>> manager.save()                             # '/tmp/model/ckpt-1', then ckpt-2, ...
    """

    def __init__(self, checkpoint: Checkpoint, directory: Any, max_to_keep: Optional[int],
                 keep_checkpoint_every_n_hours: Optional[float] = None, checkpoint_name: str = "ckpt",
                 step_counter: Any = None, checkpoint_interval: Optional[int] = None,
                 init_fn: Optional[Callable[[], Any]] = None) -> None:
        self._checkpoint = checkpoint
        if max_to_keep is not None and max_to_keep <= 0:
            raise ValueError(f"Expected a positive integer or `None` for `max_to_keep`, got {max_to_keep}.")
        self._max_to_keep = max_to_keep
        self._keep_checkpoint_every_n_hours = keep_checkpoint_every_n_hours
        directory = os.fspath(directory)
        self._directory = directory
        self._checkpoint_prefix = os.path.join(directory, checkpoint_name)
        self._init_fn = init_fn
        if checkpoint_interval is not None:
            if step_counter is None:
                raise ValueError("`step_counter` should be passed if `checkpoint_interval` is not None.")
            self._last_checkpoint_step: Optional[int] = None
            self._step_counter = step_counter
        self._checkpoint_interval = checkpoint_interval

        recovered = get_checkpoint_state(directory)
        now = time.time()
        self._maybe_delete: "collections.OrderedDict[str, float]" = collections.OrderedDict()
        if recovered is None:
            self._latest_checkpoint: Optional[str] = None
            # set the clock back slightly: a manager re-created at once must not preserve the old checkpoints
            self._last_preserved_timestamp = now - 1.0
        else:
            self._latest_checkpoint = recovered.model_checkpoint_path
            self._last_preserved_timestamp = recovered.last_preserved_timestamp
            if now < self._last_preserved_timestamp:
                _logger.warning("time.time() returned a value %f seconds behind the last preserved checkpoint "
                                "timestamp.", self._last_preserved_timestamp - now)
                self._last_preserved_timestamp = now
            timestamps = recovered.all_model_checkpoint_timestamps
            paths = recovered.all_model_checkpoint_paths
            if not timestamps:
                timestamps = [self._last_preserved_timestamp] * len(paths)
            for filename, timestamp in zip(paths, timestamps):
                timestamp = min(timestamp, now)
                if timestamp > self._last_preserved_timestamp:
                    self._maybe_delete[filename] = timestamp

    @property
    def directory(self) -> str:
        return str(self._directory)

    @property
    def checkpoint_interval(self) -> Optional[int]:
        return self._checkpoint_interval

    @property
    def latest_checkpoint(self) -> Optional[str]:
        """The prefix of the newest checkpoint in `directory` (None if there is none): pass it to
        ``Checkpoint.restore`` to resume."""
        return self._latest_checkpoint

    @property
    def checkpoints(self) -> List[str]:
        """The managed checkpoints, oldest first (those kept by `keep_checkpoint_every_n_hours` excluded)."""
        return list(self._maybe_delete.keys())

    @property
    def checkpoint(self) -> Checkpoint:
        return self._checkpoint

    @property
    def _prefix(self) -> str:
        return self._checkpoint_prefix

    def _sweep(self) -> None:
        if not self._max_to_keep:
            return
        while len(self._maybe_delete) > self._max_to_keep:
            filename, timestamp = self._maybe_delete.popitem(last=False)
            if (self._keep_checkpoint_every_n_hours
                    and timestamp - self._keep_checkpoint_every_n_hours * 3600.0 >= self._last_preserved_timestamp):
                self._last_preserved_timestamp = timestamp
                continue
            _delete_file_if_exists(glob.escape(filename) + ".index")
            _delete_file_if_exists(glob.escape(filename) + ".data-?????-of-?????")

    def _record_state(self) -> None:
        filenames = list(self._maybe_delete.keys())
        timestamps = list(self._maybe_delete.values())
        assert self._latest_checkpoint is not None
        update_checkpoint_state_internal(self._directory, model_checkpoint_path=self._latest_checkpoint,
                                         all_model_checkpoint_paths=filenames,
                                         all_model_checkpoint_timestamps=timestamps,
                                         last_preserved_timestamp=self._last_preserved_timestamp,
                                         save_relative_paths=True)

    def save(self, checkpoint_number: Any = None, check_interval: bool = True,
             options: Optional[CheckpointOptions] = None) -> Optional[str]:
        """Writes a new checkpoint, numbered `checkpoint_number` (an int, or an integer Variable/Tensor) or by
        the checkpoint's ``save_counter`` (incremented either way), deletes the ones beyond `max_to_keep`
        and updates the ``checkpoint`` file. Returns its path (None when `checkpoint_interval` skips it)."""
        if self._checkpoint_interval is not None:
            current_step = _as_int(self._step_counter)
            if self._last_checkpoint_step is not None:
                if current_step == self._last_checkpoint_step:
                    return None
                if check_interval and current_step < self._last_checkpoint_step + self._checkpoint_interval:
                    return None
            self._last_checkpoint_step = current_step
        save_counter = self._checkpoint.save_counter
        save_counter.assign_add(np.int64(1))
        number = _as_int(save_counter if checkpoint_number is None else checkpoint_number)
        prefix = "%s-%d" % (self._prefix, number)

        def record_and_sweep(save_path: str) -> None:
            timestamp = time.time()
            if save_path in self._maybe_delete:  # an overwritten checkpoint goes to the end of the queue
                del self._maybe_delete[save_path]
            self._maybe_delete[save_path] = timestamp
            self._latest_checkpoint = save_path
            # the state first names the new checkpoint, then (after deleting) no longer the deleted ones
            self._record_state()
            self._sweep()
            self._record_state()

        return self._checkpoint._write(prefix, options, write_done_callback=record_and_sweep)

    def restore_or_initialize(self) -> Optional[str]:
        """Restores the latest checkpoint if there is one (returns its path), else calls `init_fn` (returns
        None)."""
        if self._latest_checkpoint is not None:
            self._checkpoint.restore(self._latest_checkpoint)
            if self._checkpoint_interval is not None:
                self._last_checkpoint_step = _as_int(self._step_counter)
            return self._latest_checkpoint
        if self._init_fn is not None:
            self._init_fn()
        return None

    def sync(self) -> None:
        """Nothing to wait for: writes are synchronous."""


def checkpoints_iterator(checkpoint_dir: Any, min_interval_secs: float = 0, timeout: Optional[float] = None,
                         timeout_fn: Optional[Callable[[], bool]] = None) -> Iterator[str]:
    """``tf.train.checkpoints_iterator``: yields each new latest checkpoint of `checkpoint_dir` as it appears,
    polling; stops after `timeout` seconds without one (unless `timeout_fn` returns False)."""
    checkpoint_path = None
    while True:
        deadline = None if timeout is None else time.time() + timeout
        new_path = None
        while True:
            latest = latest_checkpoint(checkpoint_dir)
            if latest is not None and latest != checkpoint_path:
                new_path = latest
                break
            if deadline is not None and time.time() + 1 > deadline:
                break
            time.sleep(1)
        if new_path is None:
            if not timeout_fn:
                _logger.info("Timed-out waiting for a checkpoint.")
                return
            if timeout_fn():
                return
            continue
        start = time.time()
        checkpoint_path = new_path
        yield checkpoint_path
        time_to_next_eval = start + min_interval_secs - time.time()
        if time_to_next_eval > 0:
            time.sleep(time_to_next_eval)
