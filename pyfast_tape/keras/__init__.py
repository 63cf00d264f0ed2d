"""``tf.keras``: the Keras 3 subset pyfast_tape supports."""
from . import optimizers

__all__ = ["optimizers"]
