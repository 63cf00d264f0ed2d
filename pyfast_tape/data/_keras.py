"""``Model.fit``/``evaluate``/``predict`` over a ``tf.data.Dataset`` (Keras 3's TFDatasetAdapter and
EpochIterator): each element is a batch ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``; ``y``,
``sample_weight``, ``validation_split`` and ``shuffle`` are not arguments then (the dataset decides), an
epoch is one pass over the dataset (iterated anew, so a shuffling dataset reshuffles), or
``steps_per_epoch`` batches of an iterator that carries over from one epoch to the next (Keras restarts it
once the dataset's known cardinality is used up, or it runs out: then the epoch ends early with Keras's
"ran out of data" warning and the next one starts a new pass). An infinite dataset needs
``steps_per_epoch`` (``steps``, ``validation_steps``): tf.keras 2's error, where Keras 3 would loop forever."""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Tuple, Union

import numpy as np

from .. import _core
from .dataset_ops import INFINITE, Dataset

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from ..keras.callbacks import History

__all__ = ["Dataset", "fit", "evaluate", "predict"]

Logs = Dict[str, float]


def _unsupported(arg: str, what: str) -> ValueError:
    return ValueError(f"When providing `x` as a tf.data.Dataset, `{arg}` should not be passed. Instead, {what} "
                      "should be included as part of the tf.data.Dataset.")


def _unpack_batch(data: Any) -> Tuple[Any, Any, Any]:
    if isinstance(data, list):
        data = tuple(data)
    if type(data) is not tuple:
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError("Data is expected to be in format `x`, `(x,)`, `(x, y)`, or `(x, y, sample_weight)`, "
                     f"found: {data}")


def _check_finite(dataset: Dataset, steps: Optional[int], arg: str) -> None:
    if steps is None and dataset._card() == INFINITE:
        raise ValueError(f"When passing an infinitely repeating dataset, you must specify the `{arg}` argument.")


def _num_batches(dataset: Dataset) -> Optional[int]:
    n = dataset._card()
    return n if n >= 0 else None


def _feed(model: Any, data: Any, method: str, class_weight: Any = None) -> Tuple[Any, Any, Any]:
    from ..keras import models as m
    x, y, sw = _unpack_batch(data)
    xs = model._input_array(x, method)
    if y is None:
        raise ValueError(f"{method}: the dataset's elements must be `(x, y)` or `(x, y, sample_weight)` batches "
                         "(the model computes its loss from targets)")
    ys = m._array(y, model._float_dtype(), "y")
    sws = None if sw is None else m._array(sw, model._float_dtype(), "sample_weight")
    if class_weight is not None:
        sws = m._class_weights(ys, class_weight, sws)
    return _core.convert(xs), _core.convert(ys), None if sws is None else _core.convert(sws)


class _EpochIterator:
    """Keras 3's EpochIterator over a dataset: yields the step numbers of one epoch with the batch."""

    def __init__(self, dataset: Dataset, steps_per_epoch: Optional[int]) -> None:
        self.dataset = dataset
        self.steps_per_epoch = None if steps_per_epoch is None else int(steps_per_epoch)
        self.num_batches = _num_batches(dataset)
        self._current: Optional[Iterator[Any]] = None
        self._steps_seen = 0
        self.ran_out = False

    @property
    def steps(self) -> Optional[int]:
        return self.steps_per_epoch or self.num_batches

    def epoch(self) -> Iterator[Tuple[int, Any]]:
        self.ran_out = False
        if self.steps_per_epoch:
            if self._current is None:
                self._current, self._steps_seen = iter(self.dataset._iter()), 0
            for step in range(self.steps_per_epoch):
                if self.num_batches and self._steps_seen >= self.num_batches:
                    self.ran_out = True
                    break
                data = next(self._current, None)
                if data is None:
                    self.ran_out = True
                    self._current = None
                    break
                self._steps_seen += 1
                yield step, data
            if self.num_batches and self._steps_seen >= self.num_batches:
                self._current, self._steps_seen = None, 0
        else:
            for step, data in enumerate(self.dataset._iter()):
                yield step, data


def fit(model: Any, x: Any, y: Any, batch_size: Any, epochs: int, verbose: Any, callbacks: Any,
        validation_split: float, validation_data: Any, shuffle: Any, class_weight: Any, sample_weight: Any,
        initial_epoch: int, steps_per_epoch: Optional[int], validation_steps: Optional[int],
        validation_batch_size: Any, validation_freq: int) -> "History":
    from ..keras import models as m
    from ..keras.callbacks import CallbackList, History
    if y is not None:
        raise _unsupported("y", "the targets")
    if sample_weight is not None:
        raise _unsupported("sample_weights", "the sample weights")
    if validation_split:
        raise ValueError("`validation_split` is only supported for Tensors or NumPy arrays, found following types "
                         f"in the input: [{type(x)}]")
    verbose_level = m._verbose(verbose)
    if steps_per_epoch is None and x._card() == INFINITE:  # Keras 3 would run its first epoch forever
        raise ValueError("When passing an infinitely repeating dataset, please specify a `steps_per_epoch` value so "
                         "that epoch level callbacks continue to work. The value can be arbitrary, or a number that "
                         "you think correctly defines the size of an epoch.")
    if isinstance(validation_data, Dataset):
        _check_finite(validation_data, validation_steps, "validation_steps")
    epoch_iterator = _EpochIterator(x, steps_per_epoch)
    val: Any = None
    if validation_data is not None:
        if isinstance(validation_data, Dataset):
            val = validation_data
        else:
            vx, vy, vsw = m._unpack(validation_data)
            vx, vy, vsw = model._standardize(vx, vy, vsw, "fit (validation_data)")
            val = vx, vy, vsw
    cbs = callbacks if isinstance(callbacks, CallbackList) else CallbackList(
        callbacks, add_history=True, add_progbar=verbose_level != 0, model=model, verbose=verbose_level,
        epochs=epochs, steps=epoch_iterator.steps)
    model.stop_training = False
    cbs.on_train_begin()
    epoch_logs: Logs = {}
    for epoch in range(initial_epoch, epochs):
        model.reset_metrics()
        cbs.on_epoch_begin(epoch)
        steps_run = 0
        for step, data in epoch_iterator.epoch():
            cbs.on_train_batch_begin(step)
            xb, yb, swb = _feed(model, data, "fit", class_weight)
            logs = model.train_step(xb, yb, swb)
            steps_run += 1
            cbs.on_train_batch_end(step, logs)
            if model.stop_training:
                break
        if steps_run == 0 or epoch_iterator.ran_out:  # Keras warns when `steps_per_epoch` outruns the data
            warnings.warn(m._RAN_OUT_OF_DATA, UserWarning, stacklevel=3)
        epoch_logs = model.get_metrics_result() if steps_run else {}
        if val is not None and (epoch + 1) % max(1, int(validation_freq)) == 0:
            if isinstance(val, Dataset):
                val_logs = _evaluate(model, val, validation_steps, cbs)
            else:
                val_logs = model._evaluate_arrays(val[0], val[1], val[2], validation_batch_size or
                                                  m._batch_size(batch_size), validation_steps, cbs)
            epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
        cbs.on_epoch_end(epoch, epoch_logs)
        if model.stop_training:
            break
    cbs.on_train_end(epoch_logs)
    history: Optional[History] = cbs.history
    if history is None:
        history = History()
        history.set_model(model)
    model.history = history
    return history


def _evaluate(model: Any, dataset: Dataset, steps: Optional[int], cbs: Any) -> Logs:
    from ..keras import models as m
    model.reset_metrics()
    cbs.on_test_begin()
    logs: Logs = {}
    ran = 0
    paused = _core.pause_tapes()
    try:
        for step, data in enumerate(dataset._iter()):
            if steps is not None and step >= int(steps):
                break
            cbs.on_test_batch_begin(step)
            xb, yb, swb = _feed(model, data, "evaluate")
            logs = model.test_step(xb, yb, swb)
            ran += 1
            cbs.on_test_batch_end(step, logs)
    finally:
        _core.restore_tapes(paused)
    if ran == 0:
        warnings.warn(m._RAN_OUT_OF_DATA, UserWarning, stacklevel=3)
        logs = {}
    else:
        logs = model.get_metrics_result()
    cbs.on_test_end(logs)
    return logs


def evaluate(model: Any, x: Dataset, y: Any, batch_size: Any, verbose: Any, sample_weight: Any,
             steps: Optional[int], callbacks: Any, return_dict: bool) -> Union[float, List[float], Logs]:
    from ..keras import models as m
    from ..keras.callbacks import CallbackList
    if y is not None:
        raise _unsupported("y", "the targets")
    if sample_weight is not None:
        raise _unsupported("sample_weights", "the sample weights")
    verbose_level = m._verbose(verbose)
    _check_finite(x, steps, "steps")
    n = _num_batches(x)
    nsteps = steps if steps is not None else n
    cbs = CallbackList(callbacks, add_progbar=verbose_level != 0, model=model, verbose=verbose_level, epochs=1,
                       steps=nsteps)
    logs = _evaluate(model, x, steps, cbs)
    if return_dict:
        return logs
    flat: Union[float, List[float]] = model._flatten_metrics_in_order(logs)
    return flat


def predict(model: Any, x: Dataset, batch_size: Any, verbose: Any, steps: Optional[int], callbacks: Any
            ) -> "NDArray[Any]":
    from ..keras import models as m
    from ..keras.callbacks import CallbackList
    verbose_level = m._verbose(verbose)
    _check_finite(x, steps, "steps")
    n = _num_batches(x)
    cbs = CallbackList(callbacks, add_progbar=verbose_level != 0, model=model, verbose=verbose_level, epochs=1,
                       steps=steps if steps is not None else n)
    cbs.on_predict_begin()
    outputs: List[np.ndarray] = []
    paused = _core.pause_tapes()
    try:
        for step, data in enumerate(x._iter()):
            if steps is not None and step >= int(steps):
                break
            cbs.on_predict_batch_begin(step)
            xb, _, _ = _unpack_batch(data)
            out = model._forward(_core.convert(model._input_array(xb, "predict")), False)
            outputs.append(np.asarray(out))
            cbs.on_predict_batch_end(step, {"outputs": out})
    finally:
        _core.restore_tapes(paused)
    cbs.on_predict_end()
    if not outputs:
        raise ValueError("Unexpected result of `predict_function` (Empty batch_outputs). Please use "
                         "`Model.compile(..., run_eagerly=True)`, or `tf.config.run_functions_eagerly(True)` for "
                         "more information of where went wrong, or file a issue/bug to `tf.keras`.")
    result: NDArray[Any] = np.concatenate(outputs, axis=0)
    return result
