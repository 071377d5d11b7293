"""Tests for core.inspect.own_digit: MNIST's recipe on synthetic strokes and on real digits, and bad files."""

from __future__ import annotations

import io
import struct
import tracemalloc
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from PIL import Image, PngImagePlugin

from core.inspect.own_digit import (
    MAX_PIXELS,
    MAX_UPLOAD_BYTES,
    WORKING_SIZE,
    decode_image,
    mnist_steps,
    steps_from_bytes,
)


def preprocess_pixels(pixels: np.ndarray) -> np.ndarray:
    return mnist_steps(pixels).image


def preprocess_image_bytes(data: bytes) -> np.ndarray:
    return steps_from_bytes(data).image


def _centre_of_mass(image: np.ndarray) -> np.ndarray:
    rows, columns = np.indices(image.shape)
    return np.array([(rows * image).sum(), (columns * image).sum()]) / image.sum()


def _ink_box(image: np.ndarray) -> tuple[int, int]:
    rows = np.flatnonzero(image.any(axis=1))
    columns = np.flatnonzero(image.any(axis=0))
    return rows[-1] - rows[0] + 1, columns[-1] - columns[0] + 1


def _encode(pixels: np.ndarray, file_format: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=file_format)
    return buffer.getvalue()


def _stroke_canvas(top: int, left: int, height: int = 120, width: int = 30, size: int = 300) -> np.ndarray:
    """A white uint8 canvas with one dark vertical bar (a '1') at (top, left)."""
    canvas = np.full((size, size), 255, dtype=np.uint8)
    canvas[top : top + height, left : left + width] = 20
    return canvas


@pytest.mark.parametrize("top, left", [(5, 5), (170, 260), (90, 120)])
def test_shifted_stroke_comes_out_centred_and_20_high(top, left):
    """Check a bar drawn anywhere on the canvas ends up centred by mass, 20 pixels tall, aspect kept."""
    image = preprocess_pixels(_stroke_canvas(top, left))
    assert image.shape == (28, 28) and image.dtype == np.float32
    assert image.min() >= 0.0 and image.max() == pytest.approx(1.0)
    assert_allclose(_centre_of_mass(image), [14.0, 14.0], atol=0.5)
    height, width = _ink_box(image)
    assert height == 20
    assert width == 5  # 30/120 of 20 pixels: the aspect ratio is kept


def test_wide_stroke_fits_20_wide():
    """Check a wide shape is scaled by its longer side, the width."""
    canvas = np.full((200, 300), 255, dtype=np.uint8)
    canvas[80:110, 20:260] = 0
    height, width = _ink_box(preprocess_pixels(canvas))
    assert (height, width) == (2, 20)  # 30/240 of 20 pixels is 2.5 rows: the resize keeps 2


def test_real_digits_survive_the_round_trip(mnist):
    """Check real MNIST digits, enlarged, inverted and moved off-centre, come back as themselves."""
    for index in range(20):
        original = mnist.test_images[index]
        enlarged = np.kron(original, np.ones((6, 6)))  # 168x168
        paper = np.ones((320, 280))
        paper[17 : 17 + 168, 101 : 101 + 168] = 1.0 - enlarged  # dark ink on white, off-centre
        steps = mnist_steps((paper * 255).astype(np.uint8))
        assert steps.inverted
        correlation = np.corrcoef(steps.image.ravel(), original.ravel())[0, 1]
        assert correlation > 0.95, f"test image {index}: correlation {correlation:.3f}"


def test_light_ink_on_dark_is_not_inverted(mnist):
    """Check an MNIST-style picture (light ink on black) is taken as it is."""
    steps = mnist_steps((mnist.test_images[0] * 255).astype(np.uint8))
    assert not steps.inverted
    assert np.corrcoef(steps.image.ravel(), mnist.test_images[0].ravel())[0, 1] > 0.95


def test_transparent_canvas_strokes_count_as_ink():
    """Check RGBA strokes on a transparent background (how a drawing canvas may return them) work."""
    rgba = np.zeros((280, 280, 4), dtype=np.uint8)
    rgba[60:220, 130:154] = [0, 0, 0, 255]
    image = preprocess_pixels(rgba)
    assert _ink_box(image) == (20, 3)
    assert_allclose(_centre_of_mass(image), [14.0, 14.0], atol=0.5)


@pytest.mark.parametrize("file_format", ["PNG", "JPEG"])
def test_png_and_jpeg_uploads_are_read(file_format):
    """Check PNG and JPEG bytes of a drawn bar give the same centred digit."""
    image = preprocess_image_bytes(_encode(_stroke_canvas(40, 40), file_format))
    assert _ink_box(image)[0] == 20
    assert_allclose(_centre_of_mass(image), [14.0, 14.0], atol=0.5)


def test_colour_photo_is_read_as_grayscale():
    """Check a colour picture (blue ink on cream paper) is turned into ink the same way."""
    photo = np.zeros((200, 200, 3), dtype=np.uint8)
    photo[:] = [250, 245, 230]
    photo[40:160, 90:110] = [20, 30, 120]
    image = preprocess_image_bytes(_encode(photo, "PNG"))
    assert _ink_box(image)[0] == 20


@pytest.mark.parametrize("data, message", [
    (b"", "the file is empty"),
    (b"this is a text file, not a picture", "not an image"),
    (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "not an image"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not an image|damaged"),
])
def test_files_that_are_not_images_are_refused(data, message):
    """Check non-images raise ValueError with a message the page can show."""
    with pytest.raises(ValueError, match=message):
        preprocess_image_bytes(data)


def test_other_image_formats_are_refused():
    """Check a GIF is refused by name: only PNG and JPEG are allowed."""
    with pytest.raises(ValueError, match="GIF image; allowed formats are PNG and JPEG"):
        decode_image(_encode(_stroke_canvas(40, 40), "GIF"))


def test_upload_limit_is_streamlits_5_mb():
    """Check the limit is 5 MB as Streamlit's uploader counts them (10^6 bytes), so one byte more is
    refused by its size alone, with the size and the limit in bytes."""
    assert MAX_UPLOAD_BYTES == 5_000_000
    with pytest.raises(ValueError, match=r"5,000,001 bytes; the limit is 5 MB \(5,000,000 bytes\)"):
        decode_image(b"\x89PNG" + b"\x00" * (MAX_UPLOAD_BYTES - 3))


def test_large_picture_is_shrunk_before_it_becomes_floats():
    """Check a 4096x4096 PNG (a few KB) comes back shrunk to the working size with its digit intact,
    and no array of its full size is ever made (4096^2 float64 would be 134 MB)."""
    paper = np.full((4096, 4096), 255, dtype=np.uint8)
    paper[1000:3000, 1900:2200] = 0  # a '1', 2000 x 300 pixels
    data = _encode(paper, "PNG")
    assert len(data) < 100_000 and MAX_PIXELS >= 4096 * 4096
    tracemalloc.start()
    try:
        gray = decode_image(data)
        steps = mnist_steps(gray)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert gray.shape == (WORKING_SIZE, WORKING_SIZE)
    assert peak < 4096 * 4096  # less than one full-size array of single bytes
    assert _ink_box(steps.image) == (20, 3)
    assert_allclose(_centre_of_mass(steps.image), [14.0, 14.0], atol=0.5)


def test_large_jpeg_is_shrunk_too():
    """Check a large JPEG is decoded at reduced size and still read as the same digit."""
    data = _encode(_stroke_canvas(600, 900, height=1600, width=400, size=3000), "JPEG")
    gray = decode_image(data)
    assert max(gray.shape) <= WORKING_SIZE
    assert _ink_box(mnist_steps(gray).image)[0] == 20


def test_huge_picture_is_refused_before_decoding():
    """Check a small file that unpacks to a huge picture (a decompression bomb) is refused."""
    data = _encode(np.zeros((5000, 4000), dtype=np.uint8), "PNG")
    assert len(data) < MAX_UPLOAD_BYTES
    with pytest.raises(ValueError, match="4000x5000 pixels; the limit is 16,777,216 pixels"):
        decode_image(data)


@pytest.mark.parametrize("pixels", [
    np.full((280, 280), 255, dtype=np.uint8),  # an empty white canvas
    np.zeros((280, 280, 4), dtype=np.uint8),  # an empty transparent canvas
    np.full((100, 100), 128, dtype=np.uint8),  # a flat grey picture
])
def test_empty_drawings_are_refused(pixels):
    """Check a picture with no ink says so instead of predicting noise."""
    with pytest.raises(ValueError, match="no digit found"):
        preprocess_pixels(pixels)


def test_bad_array_shape_is_refused():
    """Check an array that is not a picture names the shapes allowed."""
    with pytest.raises(ValueError, match=r"\(h, w\), \(h, w, 3\) or \(h, w, 4\)"):
        preprocess_pixels(np.zeros((4, 4, 2)))


def test_blank_png_is_the_picture_pillow_writes():
    """Check the tests' PNG builder gives a file Pillow reads as the white picture it names."""
    from tests.support.images import blank_png

    with Image.open(io.BytesIO(blank_png(300, 200))) as picture:
        assert (picture.format, picture.mode, picture.size) == ("PNG", "L", (300, 200))
        assert np.asarray(picture).min() == 255


def test_picture_over_pillows_error_size_gets_our_message():
    """Check a 20000x20000 PNG (444 KB, under the upload limit), for which Image.open raises
    DecompressionBombError, is refused with this module's own message."""
    from tests.support.images import blank_png

    data = blank_png(20_000, 20_000)
    assert len(data) < MAX_UPLOAD_BYTES
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(data))
    with pytest.raises(ValueError, match="20000x20000 pixels; the limit is 16,777,216 pixels"):
        steps_from_bytes(data)


def test_picture_over_pillows_warning_size_is_refused_without_a_warning():
    """Check a 10000x10000 PNG, for which Image.open warns (DecompressionBombWarning), is refused with
    our message and raises no warning: with warnings as errors, as an entry point might set them, too."""
    from tests.support.images import blank_png

    data = blank_png(10_000, 10_000)
    with pytest.warns(Image.DecompressionBombWarning):
        Image.open(io.BytesIO(data))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="10000x10000 pixels; the limit is 16,777,216 pixels"):
            decode_image(data)


@pytest.mark.parametrize("failure", [Image.DecompressionBombError("too big"), OSError("truncated"),
                                     SyntaxError("broken PNG"), struct.error("unpack"), MemoryError(),
                                     RuntimeError("anything else"), ValueError("Pillow's own")])
def test_every_failure_of_the_image_library_becomes_our_message(monkeypatch, failure):
    """Check any exception Pillow raises while decoding an upload, or while scaling a drawing, comes
    out as a ValueError saying what could not be done, never as Pillow's exception."""
    upload = _encode(_stroke_canvas(40, 40), "PNG")

    def fail(*args, **kwargs):
        raise failure

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", fail)
    with pytest.raises(ValueError, match=r"^the PNG file is damaged and cannot be decoded \(") as raised:
        decode_image(upload)
    assert raised.value.__cause__ is failure
    monkeypatch.setattr(Image, "fromarray", fail)  # the drawing's path: the canvas gives pixels
    with pytest.raises(ValueError, match=r"^the digit could not be scaled to 20x20 \("):
        mnist_steps(_stroke_canvas(40, 40))


@pytest.mark.parametrize("pixels, message", [
    (np.full((50, 50), np.nan), "finite numbers"),
    (np.array([["a", "b"], ["c", "d"]]), "pixels must be numbers"),
])
def test_drawings_that_are_not_numbers_are_refused(pixels, message):
    """Check a drawing holding NaN or text is refused by name, not passed to the image library."""
    with pytest.raises(ValueError, match=message):
        mnist_steps(pixels)
