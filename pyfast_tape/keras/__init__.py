"""``tf.keras``: the Keras 3 subset pyfast_tape supports (Sequential, Dense, losses, SGD/Adam)."""
from . import activations, callbacks, initializers, layers, losses, metrics, optimizers, utils
from .layers import Layer
from .models import Input, Model, Sequential

__all__ = ["activations", "callbacks", "metrics", "initializers", "layers", "losses", "optimizers", "utils", "Input", "Layer", "Model",
           "Sequential"]
