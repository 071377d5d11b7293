"""Train, cache and look inside the Easy-TensorFlow tutorial's vanilla RNN on MNIST (no UI code here)."""

__version__ = "0.1.0"
