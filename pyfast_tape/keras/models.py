"""``keras.Sequential``, ``keras.Input`` and the ``Model`` base with Keras 3's training API:
``compile``, ``fit``, ``evaluate``, ``predict`` (and ``train_on_batch``/``test_on_batch``/``predict_on_batch``).

``fit`` runs exactly the loop one writes by hand, on the same tape and fused kernels::

    with tf.GradientTape() as tape:
        y_pred = model(x_batch, training=True)
        loss = loss_fn(y_batch, y_pred)
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))

and keeps Keras's bookkeeping: the epoch's ``loss`` is the mean of the batch losses weighted by batch
size, each metric a running mean over the samples, logs sorted by name, ``val_`` for the validation data,
a ``History`` returned, the progress bar of ``keras.callbacks.ProgbarLogger``. Data are NumPy arrays (or
anything ``np.asarray`` takes, Tensors included); float64 data are fed as the model's float dtype, as
Keras feeds them as ``floatx``. Shuffling draws from a NumPy Generator seeded by ``tf.random``'s seed
machinery, so ``tf.random.set_seed`` makes ``fit`` repeat.
"""
from __future__ import annotations

import inspect
import math
import warnings
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import NDArray

from .. import _core
from ..dtypes import DType, as_dtype, float32
from ..random import _next_seed
from ..tape import GradientTape
from ..variables import Variable
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from .callbacks import Callback, CallbackList, History
from .layers import InputLayer, Layer, _unique_name

Shape = Tuple[Optional[int], ...]
Logs = Dict[str, float]

# Keras 3's EpochIterator warning when the data end before an epoch's first step: with zero samples `fit`
# and `evaluate` run no step, warn with this each epoch, and log nothing (History gets no values).
_RAN_OUT_OF_DATA = ("Your input ran out of data; interrupting training. Make sure that your dataset or generator "
                    "can generate at least `steps_per_epoch * epochs` batches. You may need to use the `.repeat()` "
                    "function when building your dataset.")


class KerasInput:
    """A symbolic input: a shape (batch first, None) and a dtype; usable as the first entry of Sequential."""

    def __init__(self, shape: Sequence[Optional[int]], dtype: Any = None, name: Optional[str] = None) -> None:
        self.shape = tuple(shape)
        self.dtype = float32 if dtype is None else as_dtype(dtype)
        self.name = name or _unique_name("input_layer")

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype.name}, name={self.name}>"


def Input(shape: Optional[Sequence[Optional[int]]] = None, batch_size: Optional[int] = None, dtype: Any = None,
          name: Optional[str] = None, **kwargs: Any) -> KerasInput:
    return KerasInput((batch_size,) + tuple(shape or ()), dtype, name)


class Model(Layer):
    """Base for models: a Layer made of layers, with Keras's training API (``compile``, ``fit``,
    ``evaluate``, ``predict``)."""

    # training configuration (set by compile); class-level defaults so an uncompiled model has them
    compiled: bool = False
    optimizer: Any = None
    loss: Any = None
    stop_training: bool = False
    history: Optional[History] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args or "inputs" in kwargs or "outputs" in kwargs:
            raise NotImplementedError("The functional form keras.Model(inputs, outputs) is not supported by "
                                      "pyfast_tape yet: use keras.Sequential, or subclass keras.Model and define "
                                      "call()")
        super().__init__(**kwargs)

    @property
    def layers(self) -> List[Layer]:
        """Sequential's layers; for a subclassed Model, the layers assigned to its attributes (directly or in
        lists/tuples), in assignment order, as Keras tracks them."""
        own = self.__dict__.get("_layers")
        if own is not None:
            return list(own)
        found: List[Layer] = []
        for value in self.__dict__.values():
            items = value if isinstance(value, (list, tuple)) else (value,)
            for item in items:
                if isinstance(item, Layer) and item is not self and all(item is not f for f in found):
                    found.append(item)
        return found

    @property
    def weights(self) -> List[Variable]:
        return list(self.__dict__.get("_weights", ())) + [w for layer in self.layers for w in layer.weights]

    @property
    def variables(self) -> List[Variable]:
        return self.weights

    @property
    def trainable_variables(self) -> List[Variable]:
        if not self.trainable:
            return []
        out = [w for layer in self.layers for w in layer.trainable_variables]
        own = self.__dict__.get("_weights")
        if own:  # weights the model made itself with add_weight
            out = [v for v in own if v.trainable] + out
        return out

    trainable_weights = trainable_variables

    @property
    def non_trainable_variables(self) -> List[Variable]:
        own = [v for v in self.__dict__.get("_weights", ()) if not (self.trainable and v.trainable)]
        return own + [w for layer in self.layers for w in layer.non_trainable_variables]

    def get_weights(self) -> List[NDArray[Any]]:
        return [w.numpy() for w in self.weights]

    def compute_output_shape(self, input_shape: Sequence[Optional[int]]) -> Shape:
        """A subclassed model's output shape for `input_shape`: Keras traces ``call`` symbolically; here one
        inference call on zeros (unknown dimensions as 1, nothing recorded on any tape) gives it, the batch
        dimension as given. Sequential chains its layers' shapes instead."""
        dims = [1 if d is None else int(d) for d in input_shape]
        paused = _core.pause_tapes()
        try:
            out = self._forward(_core.fill_(dims, 0.0, self.dtype), False)
        finally:
            _core.restore_tapes(paused)
        shape = tuple(int(d) for d in _core.convert(out)._shape)
        if shape and len(input_shape) and input_shape[0] is None:
            return (None,) + shape[1:]
        return shape

    def set_weights(self, weights: Sequence[Any]) -> None:
        weights = list(weights)
        if len(weights) != len(self.weights):
            raise ValueError(f"Model {self.name} expects {len(self.weights)} weights, received {len(weights)}")
        i = len(self.__dict__.get("_weights", ()))
        if i:
            Layer.set_weights(self, weights[:i])
        for layer in self.layers:
            n = len(layer.weights)
            layer.set_weights(weights[i:i + n])
            i += n

    def count_params(self) -> int:
        return int(sum(int(np.prod(tuple(v.shape))) for v in self.weights))

    def save_weights(self, filepath: Any, overwrite: bool = True, max_shard_size: Any = None) -> None:
        """Saves the weights (and the compiled optimizer's state): a ``.weights.h5`` path with h5py in Keras
        3's layout, any other path as a pyfast_tape checkpoint prefix (see ``pyfast_tape.checkpoint``)."""
        from ..checkpoint import save_weights
        save_weights(self, filepath, overwrite=overwrite, max_shard_size=max_shard_size)

    def load_weights(self, filepath: Any, skip_mismatch: bool = False, **kwargs: Any) -> Any:
        """Loads what ``save_weights`` wrote; from a checkpoint prefix the model may still be unbuilt (its
        weights are restored when they are created) and the load status is returned."""
        from ..checkpoint import load_weights
        return load_weights(self, filepath, skip_mismatch=skip_mismatch)

    # ---- compile ---------------------------------------------------------------------------------------------
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, loss_weights: Any = None, metrics: Any = None,
                weighted_metrics: Any = None, run_eagerly: bool = False, steps_per_execution: int = 1,
                jit_compile: Any = "auto", auto_scale_loss: bool = True) -> None:
        """Configures training: `optimizer` (an Optimizer or 'sgd'/'adam'), `loss` (a Loss, a loss
        function or a name such as 'mse', 'categorical_crossentropy', 'crossentropy') and `metrics`
        (names such as 'accuracy', 'mse', 'mae', Metric objects or functions). Every step runs eagerly
        on the native tape; `run_eagerly`, `steps_per_execution` and `jit_compile` are accepted and
        have nothing to change."""
        if metrics is not None and not isinstance(metrics, (list, tuple)):
            raise ValueError("Expected `metrics` argument to be a list, tuple, or dict. Received instead: "
                             f"metrics={metrics} of type {type(metrics)}")
        if weighted_metrics is not None and not isinstance(weighted_metrics, (list, tuple)):
            raise ValueError("Expected `weighted_metrics` argument to be a list, tuple, or dict. Received instead: "
                             f"weighted_metrics={weighted_metrics} of type {type(weighted_metrics)}")
        if loss_weights is not None and not isinstance(loss_weights, (int, float)):
            if isinstance(loss_weights, (list, tuple)) and len(loss_weights) == 1:
                loss_weights = loss_weights[0]
            else:
                raise ValueError("A single-output model takes one float as `loss_weights`. Received: "
                                 f"loss_weights={loss_weights}")
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = loss
        self._loss_weight = 1.0 if loss_weights is None else float(loss_weights)
        self._compile_loss: Optional[losses_module.Loss] = None
        if loss is not None and not (isinstance(loss, str) and loss.lower() in ("crossentropy", "ce")):
            self._compile_loss = _resolve_loss(loss, None, None)  # names and objects: errors show at compile
        self._user_metrics: List[Any] = [m for m in (metrics or []) if m is not None]
        self._user_weighted_metrics: List[Any] = [m for m in (weighted_metrics or []) if m is not None]
        self._compile_metrics: Optional[List[metrics_module.Metric]] = None  # built on the first batch (shapes)
        self._compile_weighted_metrics: List[metrics_module.Metric] = []
        self._loss_tracker = metrics_module.Mean(name="loss")
        self.__dict__["_log_order"] = None
        self.compiled = True
        self.stop_training = False

    def _assert_compiled(self) -> None:
        if not self.compiled:
            raise ValueError("You must call `compile()` before using the model.")

    @property
    def metrics(self) -> List[metrics_module.Metric]:
        """The loss tracker ('loss') then the compiled metrics (built by the first batch seen)."""
        if not self.compiled:
            return []
        return [self._loss_tracker] + list(self._compile_metrics or []) + list(self._compile_weighted_metrics)

    @property
    def metrics_names(self) -> List[str]:
        return [m.name for m in self.metrics]

    def reset_metrics(self) -> None:
        for m in self.metrics:
            m.reset_state()

    def _build_compiled(self, y: Any, y_pred: Any) -> None:
        if self._compile_loss is None and self.loss is not None:
            self._compile_loss = _resolve_loss(self.loss, y, y_pred)
        if self._compile_metrics is None:
            self._compile_metrics = [metrics_module._resolve(m, y, y_pred) for m in self._user_metrics]
            weighted = [metrics_module._resolve(m, y, y_pred) for m in self._user_weighted_metrics]
            names = {m.name for m in self._compile_metrics}
            for m in weighted:  # Keras: a weighted metric named like an unweighted one is 'weighted_<name>'
                if m.name in names:
                    m.name = f"weighted_{m.name}"
            self._compile_weighted_metrics = weighted
            self.__dict__["_log_order"] = None

    def compute_loss(self, x: Any = None, y: Any = None, y_pred: Any = None, sample_weight: Any = None,
                     training: bool = True) -> Any:
        """The compiled loss of `y_pred` against `y` (times `loss_weights`): a scalar Tensor."""
        self._build_compiled(y, y_pred)
        if self._compile_loss is None:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
        loss = self._compile_loss(y, y_pred, sample_weight=sample_weight)
        if self._loss_weight != 1.0:
            loss = _core.multiply(loss, self._loss_weight)
        return loss

    def get_metrics_result(self) -> Logs:
        """The current value of every metric, by name, sorted (Keras's logs)."""
        order = self.__dict__.get("_log_order")
        if order is None or len(order) != len(self.metrics):
            named: Dict[str, metrics_module.Metric] = {}
            for m in self.metrics:
                name, k = m.name, 1
                while name in named:  # Keras: a repeated name gets a suffix
                    name, k = f"{m.name}_{k}", k + 1
                named[name] = m
            order = sorted(named.items())
            self.__dict__["_log_order"] = order
        return {name: m._result_float() for name, m in order}

    def _flatten_metrics_in_order(self, logs: Logs) -> Union[float, List[float]]:
        names = [m.name for m in self.metrics]
        results = [logs[n] for n in names if n in logs]
        results += [logs[k] for k in sorted(logs) if k not in names]
        return results[0] if len(results) == 1 else results

    def _update_metrics(self, loss: Any, y: Any, y_pred: Any, sample_weight: Any, batch_size: int) -> None:
        self._loss_tracker._update_scalar(float(loss), float(batch_size))
        for m in self._compile_metrics or []:
            m.update_state(y, y_pred)
        for m in self._compile_weighted_metrics:
            m.update_state(y, y_pred, sample_weight=sample_weight)

    # ---- one step --------------------------------------------------------------------------------------------
    def _forward(self, x: Any, training: bool) -> Any:
        accepts = self.__dict__.get("_call_takes_training")
        if accepts is None:
            try:
                params = inspect.signature(self.call).parameters
                accepts = "training" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
            except (TypeError, ValueError):
                accepts = False
            self.__dict__["_call_takes_training"] = accepts
        return self(x, training=training) if accepts else self(x)

    def train_step(self, x: Any, y: Any, sample_weight: Any = None) -> Logs:
        """One optimisation step on a batch, with the same tape and fused kernels as a hand-written loop;
        returns the running metrics."""
        with GradientTape() as tape:
            y_pred = self._forward(x, True)
            loss = self.compute_loss(x, y, y_pred, sample_weight, training=True)
        variables = self.trainable_variables
        grads = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(grads, variables))
        self._update_metrics(loss, y, y_pred, sample_weight, int(x.shape[0]) if len(x.shape) else 1)
        return self.get_metrics_result()

    def test_step(self, x: Any, y: Any, sample_weight: Any = None) -> Logs:
        y_pred = self._forward(x, False)
        loss = self.compute_loss(x, y, y_pred, sample_weight, training=False)
        self._update_metrics(loss, y, y_pred, sample_weight, int(x.shape[0]) if len(x.shape) else 1)
        return self.get_metrics_result()

    # ---- fit / evaluate / predict ----------------------------------------------------------------------------
    def fit(self, x: Any = None, y: Any = None, batch_size: Optional[int] = None, epochs: int = 1,
            verbose: Union[str, int] = "auto", callbacks: Optional[Iterable[Callback]] = None,
            validation_split: float = 0.0, validation_data: Any = None, shuffle: Union[bool, str] = True,
            class_weight: Optional[Dict[int, float]] = None, sample_weight: Any = None, initial_epoch: int = 0,
            steps_per_epoch: Optional[int] = None, validation_steps: Optional[int] = None,
            validation_batch_size: Optional[int] = None, validation_freq: int = 1) -> History:
        """Trains for `epochs` epochs over `x`, `y` in batches of `batch_size` (32); returns a History whose
        ``history`` maps 'loss', each metric and their 'val_' forms to one value per epoch."""
        self._assert_compiled()
        from ..data import _keras as _data_keras
        if isinstance(x, _data_keras.Dataset):  # a tf.data.Dataset of batches: Keras's dataset adapter
            return _data_keras.fit(self, x, y, batch_size, epochs, verbose, callbacks, validation_split,
                                   validation_data, shuffle, class_weight, sample_weight, initial_epoch,
                                   steps_per_epoch, validation_steps, validation_batch_size, validation_freq)
        if validation_steps is not None:
            raise NotImplementedError("fit: validation_steps is not supported by pyfast_tape (arrays are "
                                      "always evaluated whole)")
        verbose_level = _verbose(verbose)
        xs, ys, sws = self._standardize(x, y, sample_weight, "fit")
        if class_weight is not None:
            sws = _class_weights(ys, class_weight, sws)
        val: Optional[Tuple[NDArray[Any], NDArray[Any], Optional[NDArray[Any]]]] = None
        if validation_data is not None:
            vx, vy, vsw = _unpack(validation_data)
            val = self._standardize(vx, vy, vsw, "fit (validation_data)")
        elif validation_split:
            if not 0.0 < float(validation_split) < 1.0:
                raise ValueError(f"`validation_split` must be in [0, 1), got {validation_split}")
            n = len(xs)
            split_at = int(math.floor(n * (1.0 - float(validation_split))))
            if split_at == 0 or split_at == n:
                raise ValueError(f"Training data contains {n} samples, which is not sufficient to split it into a "
                                 f"validation and training set as specified by `validation_split={validation_split}`. "
                                 "Either provide more data, or a different value for the `validation_split` "
                                 "argument.")
            val = (xs[split_at:], ys[split_at:], None if sws is None else sws[split_at:])
            xs, ys, sws = xs[:split_at], ys[:split_at], (None if sws is None else sws[:split_at])
        bs = _batch_size(batch_size)
        n = len(xs)
        steps = math.ceil(n / bs)  # 0 for no samples: Keras's num_batches
        if steps_per_epoch is not None:
            steps = min(steps, int(steps_per_epoch))
        cbs = callbacks if isinstance(callbacks, CallbackList) else CallbackList(
            callbacks, add_history=True, add_progbar=verbose_level != 0, model=self, verbose=verbose_level,
            epochs=epochs, steps=steps)
        rng = np.random.default_rng(_next_seed(None)) if shuffle else None
        self.stop_training = False
        cbs.on_train_begin()
        epoch_logs: Logs = {}
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            cbs.on_epoch_begin(epoch)
            order = _epoch_order(n, bs, shuffle, rng)
            for step in range(steps):
                cbs.on_train_batch_begin(step)
                lo, hi = step * bs, min(n, (step + 1) * bs)
                idx: Union[slice, NDArray[Any]] = slice(lo, hi) if order is None else order[lo:hi]
                logs = self.train_step(_core.convert(xs[idx]), _core.convert(ys[idx]),
                                       None if sws is None else _core.convert(sws[idx]))
                cbs.on_train_batch_end(step, logs)
                if self.stop_training:
                    break
            if n == 0:  # Keras: the empty iterator stops the epoch before its first step; the logs stay empty
                warnings.warn(_RAN_OUT_OF_DATA, UserWarning, stacklevel=2)
                epoch_logs = {}
            else:
                epoch_logs = self.get_metrics_result()
            if val is not None and (epoch + 1) % max(1, int(validation_freq)) == 0:
                val_logs = self._evaluate_arrays(val[0], val[1], val[2], validation_batch_size or bs, None, cbs)
                epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, epoch_logs)
            if self.stop_training:
                break
        cbs.on_train_end(epoch_logs)
        history = cbs.history
        if history is None:  # a CallbackList passed in without one
            history = History()
            history.set_model(self)
        self.history = history
        return history

    def evaluate(self, x: Any = None, y: Any = None, batch_size: Optional[int] = None,
                 verbose: Union[str, int] = "auto", sample_weight: Any = None, steps: Optional[int] = None,
                 callbacks: Optional[Iterable[Callback]] = None, return_dict: bool = False,
                 **kwargs: Any) -> Union[float, List[float], Logs]:
        """The loss and metrics over `x`, `y`: the loss alone when no metric was compiled, else the list
        [loss, metrics...] in compile order (a dict by name with ``return_dict=True``)."""
        self._assert_compiled()
        if kwargs:
            raise TypeError(f"evaluate: unexpected keyword arguments {sorted(kwargs)}")
        from ..data import _keras as _data_keras
        if isinstance(x, _data_keras.Dataset):
            return _data_keras.evaluate(self, x, y, batch_size, verbose, sample_weight, steps, callbacks, return_dict)
        verbose_level = _verbose(verbose)
        xs, ys, sws = self._standardize(x, y, sample_weight, "evaluate")
        bs = _batch_size(batch_size)
        nsteps = math.ceil(len(xs) / bs)
        if steps is not None:
            nsteps = min(nsteps, int(steps))
        cbs = CallbackList(callbacks, add_progbar=verbose_level != 0, model=self, verbose=verbose_level, epochs=1,
                           steps=nsteps)
        logs = self._evaluate_arrays(xs, ys, sws, bs, steps, cbs)
        if return_dict:
            return logs
        return self._flatten_metrics_in_order(logs)

    def _evaluate_arrays(self, xs: NDArray[Any], ys: NDArray[Any], sws: Optional[NDArray[Any]], bs: int,
                         steps: Optional[int], cbs: CallbackList) -> Logs:
        n = len(xs)
        nsteps = math.ceil(n / bs)
        if steps is not None:
            nsteps = min(nsteps, int(steps))
        self.reset_metrics()
        cbs.on_test_begin()
        logs: Logs = {}
        paused = _core.pause_tapes()  # like Keras's test step: nothing is recorded on an enclosing tape
        try:
            for step in range(nsteps):
                cbs.on_test_batch_begin(step)
                sl = slice(step * bs, min(n, (step + 1) * bs))
                logs = self.test_step(_core.convert(xs[sl]), _core.convert(ys[sl]),
                                      None if sws is None else _core.convert(sws[sl]))
                cbs.on_test_batch_end(step, logs)
        finally:
            _core.restore_tapes(paused)
        if n == 0:  # as in fit: Keras warns and returns empty logs (evaluate then gives [] or {})
            warnings.warn(_RAN_OUT_OF_DATA, UserWarning, stacklevel=3)
            logs = {}
        else:
            logs = self.get_metrics_result()
        cbs.on_test_end(logs)
        return logs

    def predict(self, x: Any, batch_size: Optional[int] = None, verbose: Union[str, int] = "auto",
                steps: Optional[int] = None, callbacks: Optional[Iterable[Callback]] = None) -> NDArray[Any]:
        """The model's outputs for `x`, computed in batches of `batch_size` (32), as one NumPy array."""
        from ..data import _keras as _data_keras
        if isinstance(x, _data_keras.Dataset):
            return _data_keras.predict(self, x, batch_size, verbose, steps, callbacks)
        verbose_level = _verbose(verbose)
        xs = self._input_array(x, "predict")
        n = len(xs)
        if n == 0:
            raise ValueError("predict: the input has no samples")
        bs = _batch_size(batch_size)
        nsteps = math.ceil(n / bs)
        if steps is not None:
            nsteps = min(nsteps, int(steps))
        cbs = CallbackList(callbacks, add_progbar=verbose_level != 0, model=self, verbose=verbose_level, epochs=1,
                           steps=nsteps)
        cbs.on_predict_begin()
        outputs: List[NDArray[Any]] = []
        paused = _core.pause_tapes()
        try:
            for step in range(nsteps):
                cbs.on_predict_batch_begin(step)
                out = self._forward(_core.convert(xs[step * bs:min(n, (step + 1) * bs)]), False)
                outputs.append(np.asarray(out))
                cbs.on_predict_batch_end(step, {"outputs": out})
        finally:
            _core.restore_tapes(paused)
        cbs.on_predict_end()
        return np.concatenate(outputs, axis=0)

    def train_on_batch(self, x: Any = None, y: Any = None, sample_weight: Any = None,
                       class_weight: Optional[Dict[int, float]] = None,
                       return_dict: bool = False) -> Union[float, List[float], Logs]:
        """One training step on one batch; returns the metrics accumulated since the last reset."""
        self._assert_compiled()
        xs, ys, sws = self._standardize(x, y, sample_weight, "train_on_batch")
        if class_weight is not None:
            sws = _class_weights(ys, class_weight, sws)
        logs = self.train_step(_core.convert(xs), _core.convert(ys), None if sws is None else _core.convert(sws))
        return logs if return_dict else self._flatten_metrics_in_order(logs)

    def test_on_batch(self, x: Any = None, y: Any = None, sample_weight: Any = None,
                      return_dict: bool = False) -> Union[float, List[float], Logs]:
        self._assert_compiled()
        xs, ys, sws = self._standardize(x, y, sample_weight, "test_on_batch")
        paused = _core.pause_tapes()
        try:
            logs = self.test_step(_core.convert(xs), _core.convert(ys), None if sws is None else _core.convert(sws))
        finally:
            _core.restore_tapes(paused)
        return logs if return_dict else self._flatten_metrics_in_order(logs)

    def predict_on_batch(self, x: Any) -> NDArray[Any]:
        paused = _core.pause_tapes()
        try:
            return np.array(self._forward(_core.convert(self._input_array(x, "predict_on_batch")), False))
        finally:
            _core.restore_tapes(paused)

    # ---- data ------------------------------------------------------------------------------------------------
    def _float_dtype(self) -> DType:
        layers = self.layers
        dt = layers[0].dtype if layers else self.dtype
        return dt if dt.is_floating else float32

    def _input_array(self, x: Any, method: str) -> NDArray[Any]:
        if x is None:
            raise ValueError(f"{method}: `x` is required")
        if isinstance(x, dict) or (isinstance(x, (list, tuple)) and x and isinstance(x[0], (np.ndarray, _core.Tensor))
                                   and len(x) != len(x[0])):
            raise NotImplementedError(f"{method}: models with several inputs are not supported by pyfast_tape yet")
        return _array(x, self._float_dtype(), "x")

    def _standardize(self, x: Any, y: Any, sample_weight: Any, method: str
                     ) -> Tuple[NDArray[Any], NDArray[Any], Optional[NDArray[Any]]]:
        xs = self._input_array(x, method)
        if y is None:
            raise ValueError(f"{method}: `y` is required (the model computes its loss from targets)")
        ys = _array(y, self._float_dtype(), "y")
        sws = None if sample_weight is None else _array(sample_weight, self._float_dtype(), "sample_weight")
        sizes = {"x": len(xs), "y": len(ys)}
        if sws is not None:
            sizes["sample_weight"] = len(sws)
        if len(set(sizes.values())) > 1:
            raise ValueError("Data cardinality is ambiguous. Make sure all arrays contain the same number of "
                             "samples. " + " ".join(f"'{k}' sizes: {v}" for k, v in sizes.items()))
        return xs, ys, sws


def _resolve_loss(identifier: Any, y: Any, y_pred: Any) -> losses_module.Loss:
    """Keras 3's ``compile_utils.get_loss``: a Loss as it is, a Loss class instantiated, a name or a function
    wrapped in ``LossFunctionWrapper`` (sum over batch size); 'crossentropy'/'ce' picked from the shapes."""
    if isinstance(identifier, losses_module.Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, losses_module.Loss):
        return identifier()
    fn: Any
    if isinstance(identifier, str) and identifier.lower() in ("crossentropy", "ce"):
        is_binary, is_sparse = metrics_module._binary_or_sparse(y, y_pred)
        fn = (losses_module.binary_crossentropy if is_binary else
              losses_module.sparse_categorical_crossentropy if is_sparse else losses_module.categorical_crossentropy)
    else:
        fn = losses_module.get(identifier)
        if isinstance(fn, losses_module.Loss):
            return fn
        if fn is None or not callable(fn):
            raise ValueError(f"Could not interpret loss identifier: {identifier!r}")
    name = identifier if isinstance(identifier, str) else str(getattr(fn, "__name__", "loss"))
    return losses_module.LossFunctionWrapper(fn, name=name)


def _verbose(verbose: Union[str, int, bool]) -> int:
    if verbose == "auto":
        return 1
    if isinstance(verbose, str) or int(verbose) not in (0, 1, 2):
        raise ValueError(f"`verbose` must be 'auto', 0, 1 or 2, got {verbose!r}")
    return int(verbose)


def _batch_size(batch_size: Optional[int]) -> int:
    if batch_size is None:
        return 32
    if int(batch_size) < 1:
        raise ValueError(f"`batch_size` must be a positive integer, got {batch_size}")
    return int(batch_size)


def _array(data: Any, float_dtype: DType, what: str) -> NDArray[Any]:
    a = np.asarray(data)
    if a.ndim == 0:
        raise ValueError(f"`{what}` must have a batch dimension, got a scalar {data!r}")
    if a.dtype == np.float64 and float_dtype != np.float64:
        a = a.astype(float_dtype.as_numpy_dtype)  # Keras feeds float64 data as floatx
    elif a.dtype.kind == "f" and a.dtype != np.float64 and a.dtype != float_dtype.as_numpy_dtype:
        a = a.astype(float_dtype.as_numpy_dtype)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"`{what}` must be numeric, got an array of dtype {a.dtype}")
    return np.ascontiguousarray(a)


def _unpack(data: Any) -> Tuple[Any, Any, Any]:
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data[0], data[1], data[2]
    raise ValueError("Data is expected to be in format `x`, `(x,)`, `(x, y)`, or `(x, y, sample_weight)`, "
                     f"found: {data}")


def _class_weights(ys: NDArray[Any], class_weight: Dict[int, float], sws: Optional[NDArray[Any]]
                   ) -> NDArray[Any]:
    if ys.ndim > 2:
        raise ValueError("`class_weight` not supported for 3+ dimensional targets.")
    labels = np.argmax(ys, axis=-1) if ys.ndim == 2 and ys.shape[-1] > 1 else ys.reshape(len(ys))
    labels = np.round(labels).astype(np.int64)
    missing = sorted(set(np.unique(labels).tolist()) - set(int(k) for k in class_weight))
    if missing:
        raise ValueError(f"`class_weight` must contain all classes in the data. The classes {set(missing)} exist "
                         f"in the data but not in `class_weight`.")
    lut = {int(k): float(v) for k, v in class_weight.items()}
    weights = np.array([lut[int(c)] for c in labels], dtype=np.float32)
    return weights if sws is None else (sws.reshape(len(sws), -1)[:, 0] * weights).astype(np.float32)


def _epoch_order(n: int, bs: int, shuffle: Union[bool, str], rng: Optional[np.random.Generator]
                 ) -> Optional[NDArray[Any]]:
    if not shuffle or rng is None:
        return None
    if shuffle == "batch":  # Keras: shuffle the order of the batches, then within each batch
        starts = rng.permutation(math.ceil(n / bs)) * bs
        order = np.concatenate([rng.permutation(np.arange(s, min(n, s + bs))) for s in starts])
        return order
    return rng.permutation(n)


class Sequential(Model):
    """A linear stack of layers; builds on the first call (or at construction with an Input/input_shape)."""

    def __init__(self, layers: Optional[Iterable[Any]] = None, trainable: bool = True,
                 name: Optional[str] = None) -> None:
        super().__init__(trainable=trainable, name=name or _unique_name("sequential"))
        self._layers: List[Layer] = []
        self._all_built = False
        self._input_shape: Optional[Shape] = None
        for layer in layers or []:
            self.add(layer)

    def add(self, layer: Any) -> None:
        if isinstance(layer, KerasInput):
            self._input_shape = layer.shape
            self._build_from_input()
            return
        if isinstance(layer, InputLayer):
            self._input_shape = layer.shape
            self._build_from_input()
            return
        if not isinstance(layer, Layer):
            raise ValueError(f"Only instances of `keras.Layer` can be added to a Sequential model. Received: {layer!r}"
                             f" (of type {type(layer).__name__})")
        shape_arg = getattr(layer, "_input_shape_arg", None)
        if not self._layers and shape_arg is not None:
            self._input_shape = (None,) + tuple(shape_arg)
        self._layers.append(layer)
        self._all_built = False
        self._build_from_input()

    def _build_from_input(self) -> None:
        if self._input_shape is None:
            return
        shape = self._input_shape
        for layer in self._layers:
            if not layer.built:
                layer._assert_input_compatibility(shape)  # Keras checks the input spec before it builds
                layer.build(shape)
                layer.built = True
            shape = tuple(layer.compute_output_shape(shape))
        self.built = True

    def compute_output_shape(self, input_shape: Sequence[Optional[int]]) -> Shape:
        """The output shape of the stack: each layer's output shape fed to the next (Keras's Sequential), so
        a Sequential nested in another gives the next layer its output width, not its input width."""
        shape = tuple(input_shape)
        for layer in self._layers:
            shape = tuple(layer.compute_output_shape(shape))
        return shape

    def pop(self) -> Layer:
        self._all_built = False
        return self._layers.pop()

    def build(self, input_shape: Optional[Sequence[Optional[int]]] = None) -> None:
        if input_shape is not None:
            self._input_shape = tuple(input_shape)
        self._build_from_input()
        self.built = True

    def call(self, inputs: Any, training: Any = None) -> Any:
        x = inputs
        for layer in self._layers:
            x = layer(x)
        return x

    def __call__(self, inputs: Any, training: Any = None, **kwargs: Any) -> Any:
        if not isinstance(inputs, (_core.Tensor, _core.VariableBase)):
            inputs = _core.convert(inputs, None if hasattr(inputs, "dtype") else float32)
        if self._input_shape is None:
            self._input_shape = (None,) + tuple(inputs._shape[1:])
        if not self._all_built:  # build once: the layers' shapes are fixed after the first call
            self._build_from_input()
            self._all_built = all(layer.built for layer in self._layers)
        return self.call(inputs)

    def summary(self, print_fn: Any = None) -> None:
        print_fn = print_fn or print
        rows = []
        shape: Optional[Shape] = self._input_shape
        for layer in self._layers:
            out = "?"
            if shape is not None:
                shape = tuple(layer.compute_output_shape(shape))
                out = str(shape)
            rows.append((f"{layer.name} ({type(layer).__name__})", out, str(layer.count_params())))
        w = [max(len(r[i]) for r in rows + [("Layer (type)", "Output Shape", "Param #")]) + 2 for i in range(3)]
        line = "─" * sum(w)
        print_fn(f'Model: "{self.name}"')
        print_fn(line)
        print_fn("Layer (type)".ljust(w[0]) + "Output Shape".ljust(w[1]) + "Param #".rjust(w[2]))
        print_fn(line)
        for r in rows:
            print_fn(r[0].ljust(w[0]) + r[1].ljust(w[1]) + r[2].rjust(w[2]))
        print_fn(line)
        total = sum(l.count_params() for l in self._layers)
        trainable = sum(int(np.prod(tuple(v.shape))) for v in self.trainable_variables)
        print_fn(f" Total params: {total}")
        print_fn(f" Trainable params: {trainable}")
        print_fn(f" Non-trainable params: {total - trainable}")
