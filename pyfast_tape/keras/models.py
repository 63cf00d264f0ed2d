"""``keras.Sequential``, ``keras.Input`` and the ``Model`` base."""
from __future__ import annotations

from typing import Any, Iterable, List, Optional, Sequence

import numpy as np

from .. import _core
from ..dtypes import as_dtype, float32
from ..variables import Variable
from .layers import InputLayer, Layer, _unique_name


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
    """Base for models: a Layer made of layers."""

    @property
    def layers(self) -> List[Layer]:
        return list(getattr(self, "_layers", []))

    @property
    def weights(self) -> List[Variable]:
        return [w for layer in self.layers for w in layer.weights]

    @property
    def variables(self) -> List[Variable]:
        return self.weights

    @property
    def trainable_variables(self) -> List[Variable]:
        if not self.trainable:
            return []
        return [w for layer in self.layers for w in layer.trainable_variables]

    trainable_weights = trainable_variables

    @property
    def non_trainable_variables(self) -> List[Variable]:
        return [w for layer in self.layers for w in layer.non_trainable_variables]

    def get_weights(self) -> List[np.ndarray]:
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        weights = list(weights)
        if len(weights) != len(self.weights):
            raise ValueError(f"Model {self.name} expects {len(self.weights)} weights, received {len(weights)}")
        i = 0
        for layer in self.layers:
            n = len(layer.weights)
            layer.set_weights(weights[i:i + n])
            i += n


class Sequential(Model):
    """A linear stack of layers; builds on the first call (or at construction with an Input/input_shape)."""

    def __init__(self, layers: Optional[Iterable[Any]] = None, trainable: bool = True,
                 name: Optional[str] = None) -> None:
        super().__init__(trainable=trainable, name=name or _unique_name("sequential"))
        self._layers: List[Layer] = []
        self._input_shape: Optional[tuple] = None
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
        if not self._layers and getattr(layer, "_input_shape_arg", None) is not None:
            self._input_shape = (None,) + layer._input_shape_arg
        self._layers.append(layer)
        self._build_from_input()

    def _build_from_input(self) -> None:
        if self._input_shape is None:
            return
        shape = self._input_shape
        for layer in self._layers:
            if not layer.built:
                layer.build(shape)
                layer.built = True
            shape = layer.compute_output_shape(shape)
        self.built = True

    def pop(self) -> Layer:
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
            self._input_shape = (None,) + tuple(inputs.shape[1:])
        self._build_from_input()
        return self.call(inputs)

    def summary(self, print_fn: Any = None) -> None:
        print_fn = print_fn or print
        rows = []
        shape = self._input_shape
        for layer in self._layers:
            out = layer.compute_output_shape(shape) if shape is not None else "?"
            rows.append((f"{layer.name} ({type(layer).__name__})", str(out), str(layer.count_params())))
            shape = out if shape is not None else None
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
