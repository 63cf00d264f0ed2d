"""``keras.callbacks``: ``Callback``, ``History`` (what ``Model.fit`` returns), the progress bar
(``ProgbarLogger``, ``Progbar``), ``LambdaCallback`` and ``EarlyStopping``, with Keras 3's hooks and
output format.

The progress bar follows Keras 3's ``Progbar``: ``verbose=1`` shows
``4/4 ━━━━━━━━━━━━━━━━━━━━ 0s 2ms/step - accuracy: 0.5000 - loss: 1.2000``, rewritten in place with
``\\r`` while the epoch runs when the output is a terminal (bold and coloured as Keras draws it), and
only the final line of each epoch otherwise (a log file gets one clean line per epoch);
``verbose=2`` prints one line per epoch, ``4/4 - 0s - 2ms/step - accuracy: 0.5000 - loss: 1.2000``.
``Epoch i/N`` precedes each epoch when ``epochs > 1``, as in Keras.
"""
from __future__ import annotations

import math
import sys
import time
import warnings
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

Logs = Optional[Dict[str, Any]]

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger", "Progbar", "LambdaCallback", "EarlyStopping"]


class Callback:
    """Base class of the objects ``fit``/``evaluate``/``predict`` call at each stage. ``self.model`` is the
    model being trained and ``self.params`` holds ``verbose``, ``epochs`` and ``steps``."""

    def __init__(self) -> None:
        self.params: Dict[str, Any] = {}
        self._model: Any = None

    @property
    def model(self) -> Any:
        return self._model

    def set_model(self, model: Any) -> None:
        self._model = model

    def set_params(self, params: Dict[str, Any]) -> None:
        self.params = params

    def on_train_begin(self, logs: Logs = None) -> None: ...
    def on_train_end(self, logs: Logs = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None: ...
    def on_train_batch_begin(self, batch: int, logs: Logs = None) -> None: ...
    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None: ...
    def on_test_begin(self, logs: Logs = None) -> None: ...
    def on_test_end(self, logs: Logs = None) -> None: ...
    def on_test_batch_begin(self, batch: int, logs: Logs = None) -> None: ...
    def on_test_batch_end(self, batch: int, logs: Logs = None) -> None: ...
    def on_predict_begin(self, logs: Logs = None) -> None: ...
    def on_predict_end(self, logs: Logs = None) -> None: ...
    def on_predict_batch_begin(self, batch: int, logs: Logs = None) -> None: ...
    def on_predict_batch_end(self, batch: int, logs: Logs = None) -> None: ...

    def on_batch_begin(self, batch: int, logs: Logs = None) -> None:
        self.on_train_batch_begin(batch, logs)

    def on_batch_end(self, batch: int, logs: Logs = None) -> None:
        self.on_train_batch_end(batch, logs)


class History(Callback):
    """Records the logs of every epoch: ``history.history['loss'][i]`` is epoch i's loss, and so on for
    each metric (``val_``-prefixed for the validation data); ``history.epoch`` lists the epochs run."""

    def __init__(self) -> None:
        super().__init__()
        self.history: Dict[str, List[Any]] = {}
        self.epoch: List[int] = []

    def on_train_begin(self, logs: Logs = None) -> None:
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        if self.model is not None:
            self.model.history = self


def _is_tty() -> bool:
    stream = sys.stdout
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


class Progbar:
    """Keras's progress bar: ``update(current, values)`` with ``values`` a list of ``(name, value)``.
    Values of names not in ``stateful_metrics`` are averaged over the steps seen (Keras's rule); the
    final update shows the values given as they are."""

    def __init__(self, target: Optional[int], width: int = 20, verbose: int = 1, interval: float = 0.05,
                 stateful_metrics: Optional[Iterable[str]] = None, unit_name: str = "step",
                 dynamic_display: Optional[bool] = None) -> None:
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics or ())
        self._dynamic_display = _is_tty() if dynamic_display is None else dynamic_display
        self._seen_so_far = 0
        self._values: Dict[str, List[float]] = {}
        self._values_order: List[str] = []
        self._start = time.time()
        self._last_update = 0.0
        self._time_after_first_step: Optional[float] = None
        self._prev_total_width = 0

    def update(self, current: int, values: Optional[Sequence[Tuple[str, Any]]] = None,
               finalize: Optional[bool] = None) -> None:
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for k, v in values or []:
            if k not in self._values_order:
                self._values_order.append(k)
            v = float(v)
            if k in self.stateful_metrics or finalize:
                self._values[k] = [v, 1.0]
            else:
                base = float(max(current - self._seen_so_far, 1))
                if k not in self._values:
                    self._values[k] = [v * base, base]
                else:
                    self._values[k][0] += v * base
                    self._values[k][1] += base
        self._seen_so_far = current
        now = time.time()
        time_per_unit = self._estimate_step_duration(current, now)

        if self.verbose == 1:
            if not finalize and (not self._dynamic_display or now - self._last_update < self.interval):
                return  # without a terminal, only the final line of the bar is written
            tty = self._dynamic_display
            bold, reset = ("\x1b[1m", "\x1b[0m") if tty else ("", "")
            if self.target is not None and self.target > 0:
                numdigits = int(math.log10(self.target)) + 1
                count = f"%{numdigits}d/%d" % (current, self.target)
                prog_width = int(self.width * float(current) / self.target)
                done, todo = "━" * prog_width, "━" * (self.width - prog_width)
                if tty:
                    bar = f"{bold}{count}{reset} " + (f"\x1b[32m{done}{reset}" if done else "") + f"\x1b[37m{todo}{reset}"
                else:
                    bar = f"{count} {done}{todo}"
                plain_bar = len(count) + 1 + self.width
            else:
                bar = "%7d/Unknown" % current
                plain_bar = len(bar)
            if self.target is not None and self.target > 0 and not finalize:
                eta = time_per_unit * (self.target - current)
                if eta > 3600:
                    eta_format = "%d:%02d:%02d" % (eta // 3600, (eta % 3600) // 60, eta % 60)
                elif eta > 60:
                    eta_format = "%d:%02d" % (eta // 60, eta % 60)
                else:
                    eta_format = "%ds" % eta
                when = eta_format
            else:
                when = f"{now - self._start:.0f}s"
            info = f" {bold}{when}{reset}" + self._format_time(time_per_unit) + self._format_values(abs_small=True)
            plain_width = plain_bar + len(info) - (len(bold) + len(reset))
            message = ("\r" if tty else "") + bar + info
            if tty and self._prev_total_width > plain_width:
                message += " " * (self._prev_total_width - plain_width)
            if finalize:
                message += "\n"
            _write(message)
            self._prev_total_width = plain_width

        elif self.verbose == 2 and finalize and self.target is not None and self.target > 0:
            numdigits = int(math.log10(self.target)) + 1
            count = f"%{numdigits}d/%d" % (current, self.target)
            info = f"{count} - {now - self._start:.0f}s -{self._format_time(time_per_unit)}"
            _write(info + self._format_values(abs_small=False) + "\n")

        self._last_update = now

    def add(self, n: int, values: Optional[Sequence[Tuple[str, Any]]] = None) -> None:
        self.update(self._seen_so_far + n, values)

    def _format_values(self, abs_small: bool) -> str:
        out = ""
        for k in self._values_order:
            total, count = self._values[k]
            avg = total / max(1.0, count)
            small = abs(avg) <= 1e-3 if abs_small else avg <= 1e-3
            out += f" - {k}: {avg:.4e}" if small else f" - {k}: {avg:.4f}"
        return out

    def _format_time(self, time_per_unit: float) -> str:
        if time_per_unit >= 1 or time_per_unit == 0:
            return f" {time_per_unit:.0f}s/{self.unit_name}"
        if time_per_unit >= 1e-3:
            return f" {time_per_unit * 1e3:.0f}ms/{self.unit_name}"
        return f" {time_per_unit * 1e6:.0f}us/{self.unit_name}"

    def _estimate_step_duration(self, current: int, now: float) -> float:
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            per = (now - self._time_after_first_step) / (current - 1)
        else:
            per = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per


class ProgbarLogger(Callback):
    """Prints the progress bar of ``fit`` (``Epoch i/N`` then the bar per epoch), ``evaluate`` and
    ``predict``; ``fit`` adds one when ``verbose`` is not 0."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0
        self.progbar: Optional[Progbar] = None
        self.target: Optional[int] = None
        self.verbose = 1
        self.epochs = 1
        self._called_in_fit = False

    def set_params(self, params: Dict[str, Any]) -> None:
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else int(verbose)
        self.epochs = int(params.get("epochs", 1))
        self.target = params.get("steps")

    def on_train_begin(self, logs: Logs = None) -> None:
        self._called_in_fit = True

    def on_test_begin(self, logs: Logs = None) -> None:
        if not self._called_in_fit:
            self._reset_progbar()
            self._maybe_init_progbar()

    def on_predict_begin(self, logs: Logs = None) -> None:
        self._reset_progbar()
        self._maybe_init_progbar()

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        self._reset_progbar()
        self._maybe_init_progbar()
        if self.verbose and self.epochs > 1:
            _write(f"Epoch {epoch + 1}/{self.epochs}\n")

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        self._update_progbar(batch, logs)

    def on_test_batch_end(self, batch: int, logs: Logs = None) -> None:
        if not self._called_in_fit:
            self._update_progbar(batch, logs)

    def on_predict_batch_end(self, batch: int, logs: Logs = None) -> None:
        self._update_progbar(batch, None)

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        self._finalize_progbar(logs)

    def on_test_end(self, logs: Logs = None) -> None:
        if not self._called_in_fit:
            self._finalize_progbar(logs)

    def on_predict_end(self, logs: Logs = None) -> None:
        self._finalize_progbar(logs)

    def _reset_progbar(self) -> None:
        self.seen = 0
        self.progbar = None

    def _maybe_init_progbar(self) -> Progbar:
        if self.progbar is None:
            self.progbar = Progbar(target=self.target, verbose=self.verbose, unit_name="step")
        return self.progbar

    def _update_progbar(self, batch: int, logs: Logs = None) -> None:
        progbar = self._maybe_init_progbar()
        self.seen = batch + 1
        if self.verbose == 1:
            progbar.update(self.seen, list((logs or {}).items()), finalize=False)

    def _finalize_progbar(self, logs: Logs) -> None:
        progbar = self._maybe_init_progbar()
        if self.target is None:
            self.target = self.seen
            progbar.target = self.target
        progbar.update(self.target, list((logs or {}).items()), finalize=True)


class LambdaCallback(Callback):
    """A callback from plain functions: ``on_epoch_end=lambda epoch, logs: ...`` and so on."""

    def __init__(self, on_epoch_begin: Optional[Callable[[int, Logs], Any]] = None,
                 on_epoch_end: Optional[Callable[[int, Logs], Any]] = None,
                 on_train_begin: Optional[Callable[[Logs], Any]] = None,
                 on_train_end: Optional[Callable[[Logs], Any]] = None,
                 on_train_batch_begin: Optional[Callable[[int, Logs], Any]] = None,
                 on_train_batch_end: Optional[Callable[[int, Logs], Any]] = None, **kwargs: Any) -> None:
        super().__init__()
        hooks = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end, on_train_begin=on_train_begin,
                     on_train_end=on_train_end, on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end, **kwargs)
        for name, fn in hooks.items():
            if fn is not None:
                if not hasattr(Callback, name):
                    raise TypeError(f"LambdaCallback: unknown hook {name!r}")
                setattr(self, name, fn)


class EarlyStopping(Callback):
    """Stops training when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs
    (Keras 3 semantics, ``restore_best_weights`` and ``start_from_epoch`` included)."""

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0, verbose: int = 0,
                 mode: str = "auto", baseline: Optional[float] = None, restore_best_weights: bool = False,
                 start_from_epoch: int = 0) -> None:
        super().__init__()
        self.monitor = monitor
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.min_delta = abs(min_delta)
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"EarlyStopping mode {mode} is unknown, fallback to auto mode.", stacklevel=2)
            mode = "auto"
        if mode == "auto":
            mode = "max" if monitor.endswith("acc") or monitor.endswith("accuracy") or monitor.endswith("auc") else "min"
        self.mode = mode
        self.wait = 0
        self.stopped_epoch = 0
        self.best: float = np.inf if mode == "min" else -np.inf
        self.best_weights: Optional[List[Any]] = None
        self.best_epoch = 0

    def _improved(self, current: float, reference: float) -> bool:
        if self.mode == "min":
            return current - self.min_delta < reference
        return current + self.min_delta > reference

    def on_train_begin(self, logs: Logs = None) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best = np.inf if self.mode == "min" else -np.inf
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"Early stopping conditioned on metric `{self.monitor}` which is not available. "
                          f"Available metrics are: {','.join(list((logs or {}).keys()))}", stacklevel=2)
            return
        current = float(value)
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self._improved(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improved(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: Logs = None) -> None:
        if self.stopped_epoch > 0 and self.verbose > 0:
            _write(f"Epoch {self.stopped_epoch + 1}: early stopping\n")
        if self.restore_best_weights and self.best_weights is not None and self.stopped_epoch > 0:
            if self.verbose > 0:
                _write(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.\n")
            self.model.set_weights(self.best_weights)


class CallbackList:
    """Calls every callback of a list in order; ``fit`` adds ``History`` (last) and, when ``verbose``,
    ``ProgbarLogger`` unless the list already has them."""

    def __init__(self, callbacks: Optional[Iterable[Callback]] = None, add_history: bool = False,
                 add_progbar: bool = False, model: Any = None, **params: Any) -> None:
        self.callbacks: List[Callback] = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"Expected a keras.callbacks.Callback, got {cb!r}")
        self._history: Optional[History] = None
        self._progbar: Optional[ProgbarLogger] = None
        for cb in self.callbacks:
            if isinstance(cb, History):
                self._history = cb
            elif isinstance(cb, ProgbarLogger):
                self._progbar = cb
        if add_progbar and self._progbar is None:
            self._progbar = ProgbarLogger()
            self.callbacks.insert(0, self._progbar)
        if add_history and self._history is None:
            self._history = History()
            self.callbacks.append(self._history)
        self.model = model
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    @property
    def history(self) -> Optional[History]:
        return self._history

    def append(self, callback: Callback) -> None:
        self.callbacks.append(callback)

    def set_model(self, model: Any) -> None:
        self.model = model
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params: Dict[str, Any]) -> None:
        for cb in self.callbacks:
            cb.set_params(params)

    def _call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def on_train_begin(self, logs: Logs = None) -> None:
        self._call("on_train_begin", logs)

    def on_train_end(self, logs: Logs = None) -> None:
        self._call("on_train_end", logs)

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        self._call("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch: int, logs: Logs = None) -> None:
        self._call("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        self._call("on_train_batch_end", batch, logs)

    def on_test_begin(self, logs: Logs = None) -> None:
        self._call("on_test_begin", logs)

    def on_test_end(self, logs: Logs = None) -> None:
        self._call("on_test_end", logs)

    def on_test_batch_begin(self, batch: int, logs: Logs = None) -> None:
        self._call("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch: int, logs: Logs = None) -> None:
        self._call("on_test_batch_end", batch, logs)

    def on_predict_begin(self, logs: Logs = None) -> None:
        self._call("on_predict_begin", logs)

    def on_predict_end(self, logs: Logs = None) -> None:
        self._call("on_predict_end", logs)

    def on_predict_batch_begin(self, batch: int, logs: Logs = None) -> None:
        self._call("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch: int, logs: Logs = None) -> None:
        self._call("on_predict_batch_end", batch, logs)

