"""Keras 3 optimizers with Keras's exact update formulas; every variable of one ``apply_gradients``
is updated in place by one native call."""
from __future__ import annotations

import threading
import warnings
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union

import numpy as np

from .. import _core
from .. import checkpoint as _checkpoint
from ..dtypes import int64
from ..variables import Variable

# Serialises optimizer builds: two threads making the first apply_gradients on one shared optimizer must
# not see a variable in `_index` before its slots exist (IndexError), nor build one variable twice. A
# build happens once per optimizer, so one module-wide lock costs nothing (and keeps optimizers picklable).
_BUILD_LOCK = threading.RLock()


class Optimizer:
    """Base class: learning rate (a float or a schedule callable of the step), ``iterations``,
    ``build(var_list)``, ``apply_gradients(pairs)`` and ``apply(grads, vars)``."""

    def __init__(self, learning_rate: Union[float, Callable[[Any], Any]] = 0.001, weight_decay: Any = None,
                 clipnorm: Any = None, clipvalue: Any = None, global_clipnorm: Any = None,
                 use_ema: bool = False, ema_momentum: float = 0.99, ema_overwrite_frequency: Any = None,
                 loss_scale_factor: Any = None, gradient_accumulation_steps: Any = None,
                 name: Optional[str] = None, **kwargs: Any) -> None:
        unsupported = {"weight_decay": weight_decay, "clipnorm": clipnorm, "clipvalue": clipvalue,
                       "global_clipnorm": global_clipnorm, "loss_scale_factor": loss_scale_factor,
                       "gradient_accumulation_steps": gradient_accumulation_steps}
        for k, v in unsupported.items():
            if v is not None:
                raise NotImplementedError(f"{type(self).__name__}: argument {k!r} is not supported by pyfast_tape yet")
        if use_ema:
            raise NotImplementedError(f"{type(self).__name__}: use_ema is not supported by pyfast_tape yet")
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword arguments {sorted(kwargs)}")
        self.name = name or type(self).__name__.lower()
        self.learning_rate = learning_rate
        self.iterations = Variable(np.int64(0), trainable=False, dtype=int64, name="iteration")
        self.built = False
        self._index: Dict[int, int] = {}
        self._trainable_variables: List[Variable] = []

    # -- learning rate (Keras keeps it in a float32 variable: its value is rounded to float32)
    @property
    def learning_rate(self) -> float:
        lr = self._learning_rate
        if callable(lr):
            lr = lr(self.iterations)
        return float(np.float32(float(lr)))

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        self._learning_rate = value
        # a constant rate is rounded once (Keras keeps it in a float32 variable); schedules per step
        self._lr_const = None if callable(value) else float(np.float32(float(value)))

    def build(self, var_list: Iterable[Variable]) -> None:
        """Creates the optimizer's slots for `var_list` (called on the first apply otherwise)."""
        var_list = list(var_list)
        with _BUILD_LOCK:
            for v in var_list:
                if v._id not in self._index:
                    # slots first, then the variable list, and only then publish the position in `_index`:
                    # a concurrent apply_gradients that finds `v` there finds its slots too
                    position = len(self._trainable_variables)
                    self._build_slots(v)
                    self._trainable_variables.append(v)
                    self._index[v._id] = position
            if _checkpoint._PENDING:  # a checkpoint restored before the slots existed: their values apply now
                _checkpoint._restore_deferred()
            self.built = True

    def _build_slots(self, v: Variable) -> None:
        pass

    @property
    def variables(self) -> List[Variable]:
        return [self.iterations] + self._slot_variables()

    def _slot_variables(self) -> List[Variable]:
        return []

    def apply_gradients(self, grads_and_vars: Iterable[Tuple[Any, Variable]]) -> Variable:
        """Applies (gradient, variable) pairs from any iterable (``zip(...)`` included) in one native call.
        None gradients are skipped with Keras's warning; all None raises ``ValueError``."""
        pairs = grads_and_vars if isinstance(grads_and_vars, list) else list(grads_and_vars)
        if self.built:  # the common case, every pair a gradient and a known variable: split natively
            split = _core.split_pairs(pairs, self._index)
            if split is not None:
                self._update(split[0], split[1], self._current_lr(), split[2])
                return self.iterations
        if not self.built:  # Keras builds with every variable passed, None gradients included
            for _, v in pairs:
                if not isinstance(v, _core.VariableBase):
                    raise TypeError(f"{type(self).__name__}.apply_gradients: {v!r} is not a Variable")
            with _BUILD_LOCK:  # another thread may be building: wait for it, then build once
                if not self.built:
                    self.build([v for _, v in pairs])
        index = self._index
        grads: List[Any] = []
        variables: List[Variable] = []
        missing: List[Variable] = []
        for g, v in pairs:
            try:
                known = v._id in index
            except AttributeError:
                known = False
            if not known:
                if not isinstance(v, _core.VariableBase):
                    raise TypeError(f"{type(self).__name__}.apply_gradients: {v!r} is not a Variable")
                raise ValueError(f"Unknown variable: {v!r}. This optimizer can only be called for the variables it "
                                 "was originally built with. When working with a new set of variables, you should "
                                 "recreate a new optimizer instance.")
            if g is None:
                missing.append(v)
            else:
                grads.append(g)
                variables.append(v)
        if missing:
            if not variables:
                raise ValueError("No gradients provided for any variable." + self._explain_missing(missing))
            warnings.warn(f"Gradients do not exist for variables {[v.name for v in missing]} when minimizing the "
                          "loss. If using `model.compile()`, did you forget to provide a `loss` argument?"
                          + self._explain_missing(missing), stacklevel=2)
        self._update(grads, variables, self._current_lr())
        return self.iterations

    def apply(self, grads: List[Any], trainable_variables: Optional[List[Variable]] = None) -> None:
        if trainable_variables is None:
            trainable_variables = self._trainable_variables
        self.apply_gradients(list(zip(grads, trainable_variables)))

    def _explain_missing(self, variables: List[Variable]) -> str:
        from ..tape import explain_missing_gradients
        return explain_missing_gradients(variables)

    def _current_lr(self) -> float:
        if self._lr_const is not None:
            return self._lr_const
        return self.learning_rate

    def _update(self, grads: List[Any], variables: List[Variable], lr: float,
                idx: Optional[List[int]] = None) -> None:
        """Updates `variables` in place; `idx`: their positions in the optimizer's variable list."""
        raise NotImplementedError


class SGD(Optimizer):
    """Keras 3 SGD: ``m = momentum*m - lr*g``; ``var += m`` (or ``var += momentum*m - lr*g`` with
    Nesterov); plain ``var -= lr*g`` without momentum."""

    def __init__(self, learning_rate: Any = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 name: str = "SGD", **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if not isinstance(momentum, (int, float)) or momentum < 0 or momentum > 1:
            raise ValueError("`momentum` must be a float between [0, 1].")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.momentums: List[Variable] = []

    def _build_slots(self, v: Variable) -> None:
        if self.momentum != 0:
            self.momentums.append(Variable(np.zeros(tuple(v.shape), dtype=v.dtype.as_numpy_dtype),
                                           trainable=False, name="momentum"))

    def _slot_variables(self) -> List[Variable]:
        return list(self.momentums)

    def _update(self, grads: List[Any], variables: List[Variable], lr: float,
                idx: Optional[List[int]] = None) -> None:
        if self.momentum != 0:
            moms = [self.momentums[i] for i in (idx if idx is not None else [self._index[v._id] for v in variables])]
        else:
            moms = []
        _core.sgd_apply(variables, grads, moms, lr, self.momentum, self.nesterov, self.iterations)


class Adam(Optimizer):
    """Keras 3 Adam: ``m += (g - m)(1 - b1)``, ``v += (g^2 - v)(1 - b2)``,
    ``var -= m * alpha / (sqrt(v) + eps)`` with ``alpha = lr sqrt(1 - b2^t) / (1 - b1^t)``;
    ``amsgrad`` uses the running maximum of v. One fused native update over all variables."""

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, name: str = "adam", **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)
        self.amsgrad = bool(amsgrad)
        self._momentums: List[Variable] = []
        self._velocities: List[Variable] = []
        self._velocity_hats: List[Variable] = []

    def _build_slots(self, v: Variable) -> None:
        zeros = lambda: np.zeros(tuple(v.shape), dtype=v.dtype.as_numpy_dtype)  # noqa: E731
        self._momentums.append(Variable(zeros(), trainable=False, name="momentum"))
        self._velocities.append(Variable(zeros(), trainable=False, name="velocity"))
        if self.amsgrad:
            self._velocity_hats.append(Variable(zeros(), trainable=False, name="velocity_hat"))

    def _slot_variables(self) -> List[Variable]:
        return list(self._momentums) + list(self._velocities) + list(self._velocity_hats)

    def _update(self, grads: List[Any], variables: List[Variable], lr: float,
                idx: Optional[List[int]] = None) -> None:
        if idx is None:
            idx = [self._index[v._id] for v in variables]
        _core.adam_apply(variables, grads, [self._momentums[i] for i in idx], [self._velocities[i] for i in idx],
                         [self._velocity_hats[i] for i in idx] if self.amsgrad else [], lr, self.beta_1,
                         self.beta_2, self.epsilon, self.iterations)


_BY_NAME = {"sgd": SGD, "adam": Adam}


def get(identifier: Any) -> Optimizer:
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")


__all__ = ["Optimizer", "SGD", "Adam", "get"]
