"""Train, cache and look inside the Easy-TensorFlow tutorial's vanilla RNN on MNIST (no UI code here)."""

import os

# Keep TensorFlow's C++ start-up chatter off our log; a user's own setting wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
