"""``keras.layers``: ``Layer``, ``Dense`` (on the fused dense op), ``InputLayer``."""
from __future__ import annotations

import re
import threading
import warnings
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from .. import _core
from .. import checkpoint as _checkpoint
from ..dtypes import as_dtype, float32
from ..module import Module
from ..variables import Variable
from . import activations, initializers

_name_lock = threading.Lock()
_name_counts: Dict[str, int] = {}


def _unique_name(base: str) -> str:
    with _name_lock:
        n = _name_counts.get(base, 0)
        _name_counts[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Layer(Module):
    """Base layer: holds weights, builds lazily on the first call from the input shape. A ``tf.Module``
    (as in tf.keras), so a Module holding layers finds their variables and submodules."""

    name: str = ""  # a plain attribute set in __init__ (shadows tf.Module's read-only property)

    # Keras's ``InputSpec(min_ndim=...)``: the least rank the first input may have (None: any), checked on
    # every call (and by Sequential before it builds the layer from a shape), with Keras's message.
    _min_ndim: Optional[int] = None

    def _assert_input_compatibility(self, shape: Sequence[Optional[int]]) -> None:
        min_ndim = self._min_ndim
        if min_ndim is not None and len(shape) < min_ndim:
            raise ValueError(f"Input 0 with name 'None' of layer '{self.name}' is incompatible with the layer: "
                             f"expected min_ndim={min_ndim}, found ndim={len(shape)}. Full shape received: "
                             f"{tuple(shape)}")

    def __init__(self, trainable: bool = True, name: Optional[str] = None, dtype: Any = None,
                 input_shape: Optional[Sequence[int]] = None, input_dim: Optional[int] = None,
                 **kwargs: Any) -> None:
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword arguments {sorted(kwargs)}")
        self.name = name or _unique_name(_snake(type(self).__name__))
        self.trainable = trainable
        self.dtype = float32 if dtype is None else as_dtype(dtype)
        self.built = False
        self._weights: List[Variable] = []
        self._trainable_flags: List[bool] = []
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        self._input_shape_arg = None if input_shape is None else tuple(input_shape)
        if input_shape is not None:
            warnings.warn("Do not pass an `input_shape`/`input_dim` argument to a layer. When using Sequential "
                          "models, prefer using an `Input(shape)` object as the first layer in the model instead.",
                          UserWarning, stacklevel=3)

    def add_weight(self, shape: Sequence[int] = (), initializer: Any = "glorot_uniform", dtype: Any = None,
                   trainable: bool = True, name: Optional[str] = None, **kwargs: Any) -> Variable:
        init = initializers.get(initializer)
        dt = self.dtype if dtype is None else as_dtype(dtype)
        value = np.asarray(init(tuple(shape), dtype=dt), dtype=dt.as_numpy_dtype)
        v = Variable(value, trainable=trainable, dtype=dt)
        v._name = name or "variable"
        self._weights.append(v)
        self._trainable_flags.append(trainable)
        if _checkpoint._PENDING:  # a checkpoint restored before this layer was built: its value applies now
            _checkpoint._restore_deferred()
        return v

    def build(self, input_shape: Sequence[Optional[int]]) -> None:
        self.built = True

    def call(self, inputs: Any) -> Any:
        return inputs

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(inputs, (_core.Tensor, _core.VariableBase)):
            inputs = _core.convert(inputs, self.dtype if not hasattr(inputs, "dtype") else None)
        if inputs.dtype is not self.dtype and inputs.dtype != self.dtype and not inputs.dtype.is_bool:
            inputs = _core.cast(inputs, self.dtype)  # Keras autocasts inputs to the layer's dtype
        if self._min_ndim is not None:
            self._assert_input_compatibility(inputs._shape)
        if not self.built:
            self.build(tuple(inputs.shape))
            self.built = True
            if _checkpoint._PENDING:  # variables a custom build made without add_weight
                _checkpoint._restore_deferred()
        return self.call(inputs, *args, **kwargs)

    @property
    def weights(self) -> List[Variable]:
        return list(self._weights)

    @property
    def variables(self) -> List[Variable]:
        return list(self._weights)

    @property
    def trainable_variables(self) -> List[Variable]:
        if not self.trainable:
            return []
        return [v for v in self._weights if v.trainable]

    trainable_weights = trainable_variables

    @property
    def non_trainable_variables(self) -> List[Variable]:
        return [v for v in self._weights if not (self.trainable and v.trainable)]

    def get_weights(self) -> List[np.ndarray]:
        return [v.numpy() for v in self._weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        weights = list(weights)
        if len(weights) != len(self._weights):
            raise ValueError(f"Layer {self.name} expects {len(self._weights)} weights, but the received weights "
                             f"contain {len(weights)} arrays")
        for v, w in zip(self._weights, weights):
            w = np.asarray(w)
            if tuple(w.shape) != tuple(v.shape):
                raise ValueError(f"Layer {self.name} weight shape {tuple(v.shape)} is not compatible with provided "
                                 f"weight shape {tuple(w.shape)}.")
            v.assign(w.astype(v.dtype.as_numpy_dtype))

    def count_params(self) -> int:
        return int(sum(int(np.prod(tuple(v.shape))) for v in self._weights))

    def compute_output_shape(self, input_shape: Sequence[Optional[int]]) -> tuple:
        return tuple(input_shape)


class InputLayer(Layer):
    def __init__(self, shape: Optional[Sequence[int]] = None, batch_size: Optional[int] = None, dtype: Any = None,
                 name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(name=name or _unique_name("input_layer"), dtype=dtype)
        self.shape = (batch_size,) + tuple(shape or ())
        self.built = True


class Dense(Layer):
    """``activation(inputs @ kernel + bias)`` in one fused native op (GEMM, then bias and activation in
    one pass; backward: activation derivative and bias sum in one pass, then the dX and dW GEMMs).
    softmax and sigmoid outputs keep their logits for the cross-entropy losses, as in Keras."""

    _FUSED = frozenset({"linear", "relu", "tanh"})  # keys of _core.ACTIVATIONS fused into the GEMM epilogue
    _min_ndim = 2  # Keras: InputSpec(min_ndim=2), a batch axis and the features

    def __init__(self, units: int, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, activity_regularizer: Any = None,
                 kernel_constraint: Any = None, bias_constraint: Any = None, lora_rank: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"Received an invalid value for `units`, expected a positive integer. Received: "
                             f"units={units}")
        for k, v in {"kernel_regularizer": kernel_regularizer, "bias_regularizer": bias_regularizer,
                     "activity_regularizer": activity_regularizer, "kernel_constraint": kernel_constraint,
                     "bias_constraint": bias_constraint, "lora_rank": lora_rank}.items():
            if v is not None:
                raise NotImplementedError(f"Dense: {k} is not supported by pyfast_tape yet")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel: Optional[Variable] = None
        self.bias: Optional[Variable] = None
        name = activations.serialize(self.activation)
        fused = name in self._FUSED and self.activation in activations._BY_NAME.values()
        self._act_code = _core.ACTIVATIONS[name] if fused else -1

    def build(self, input_shape: Sequence[Optional[int]]) -> None:
        if len(input_shape) < 1 or input_shape[-1] is None:
            raise ValueError(f"Dense {self.name}: the last dimension of the inputs must be known, got {input_shape}")
        self.kernel = self.add_weight((int(input_shape[-1]), self.units), self.kernel_initializer, name="kernel")
        if self.use_bias:
            self.bias = self.add_weight((self.units,), self.bias_initializer, name="bias")
        self.built = True

    def call(self, inputs: Any) -> Any:
        if self._act_code >= 0:
            return _core.dense(inputs, self.kernel, self.bias, self._act_code)
        z = _core.dense(inputs, self.kernel, self.bias, _core.ACTIVATIONS["linear"])
        return self.activation(z)

    def compute_output_shape(self, input_shape: Sequence[Optional[int]]) -> tuple:
        return tuple(input_shape[:-1]) + (self.units,)
