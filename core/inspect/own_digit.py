"""Turn a user's own digit (a drawing or a PNG/JPEG) into a 28x28 image made the way MNIST was made.

MNIST's recipe (LeCun et al.): the digit is size-normalised to fit a 20x20 box keeping its aspect
ratio, anti-aliased to grey levels, then centred in a 28x28 field by its centre of mass. MNIST
stores bright ink (1.0) on a black background (0.0), so dark ink on light paper is inverted first.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFile, JpegImagePlugin, PngImagePlugin

from core.data.mnist import IMAGE_SIZE

DIGIT_BOX = 20  # the longer side of the digit after scaling
MNIST_CENTRE = IMAGE_SIZE // 2  # row and column index of the centre of mass
# Streamlit's uploader counts a megabyte as 1,000,000 bytes; the page passes MAX_UPLOAD_MB to it,
# so the browser and this module refuse the same files.
MAX_UPLOAD_MB = 5
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1_000_000
# 16.8 megapixels: more than a 12 MP phone photo of a digit needs. A larger picture is refused from
# its header, before it is decoded (a 30 KB PNG can hold a picture of gigabytes).
MAX_PIXELS = 4096 * 4096
# Pictures are shrunk to this many pixels on the longer side while still 8-bit, before anything is
# turned into floats: a digit fills a 20x20 box in the end, and 512 px leaves room for a small one.
WORKING_SIZE = 512
# The allowed formats: the first bytes every file of the format starts with (from the formats'
# specifications), and Pillow's reader of it. A file is read by its own format's reader, not by
# Image.open, which would try every format Pillow knows on untrusted bytes, and which warns
# (DecompressionBombWarning) or raises for a large picture before this module's limit can refuse it.
READERS: dict[str, tuple[bytes, type[ImageFile.ImageFile]]] = {
    "PNG": (b"\x89PNG\r\n\x1a\n", PngImagePlugin.PngImageFile),
    "JPEG": (b"\xff\xd8\xff", JpegImagePlugin.JpegImageFile),
}
# Other picture formats a user may try, named in the refusal by their first bytes (never decoded).
OTHER_FORMATS = {"GIF": (b"GIF87a", b"GIF89a"), "TIFF": (b"II*\x00", b"MM\x00*"), "BMP": (b"BM",)}
MIN_CONTRAST = 0.15  # ink must differ from the paper by this much (of full scale) to count
NOISE_LEVEL = 0.1  # after normalising, fainter pixels are paper texture, not ink


@dataclass(frozen=True)
class PreprocessSteps:
    """Every stage of the recipe, for showing the user what happened to their digit."""

    grayscale: np.ndarray  # (h, w) in [0, 1], as given (alpha composited over white paper)
    inverted: bool  # True when the input was dark ink on light paper
    ink: np.ndarray  # (h, w) in [0, 1]: 1 is ink, 0 is background
    cropped: np.ndarray  # (ink height, ink width): the bounding box of the ink
    scaled: np.ndarray  # longer side DIGIT_BOX pixels
    image: np.ndarray  # (28, 28) float32 in [0, 1], centred by centre of mass: the network's input


@contextmanager
def image_library_errors(what: str) -> Iterator[None]:
    """Run Pillow inside: any exception it raises becomes ValueError(f"{what} ({the error})").

    Pillow fails in many ways (OSError, SyntaxError, struct.error, DecompressionBombError,
    MemoryError, its own ValueErrors, ...); every decoder path goes through here, so none of them
    reaches the page as a traceback. Keep only Pillow's calls inside: the caller's own checks raise
    their own messages outside it.
    """
    try:
        yield
    except Exception as error:  # see the docstring: every failure becomes one message
        detail = " ".join(str(error).split())[:200] or type(error).__name__
        raise ValueError(f"{what} ({detail})") from error


def decode_image(data: bytes) -> np.ndarray:
    """PNG or JPEG bytes -> (h, w) grayscale float in [0, 1], at most WORKING_SIZE pixels on the
    longer side; transparency is laid on white paper. ValueError says what is wrong with the file,
    whatever Pillow raised."""
    if not isinstance(data, (bytes, bytearray)):
        raise ValueError(f"image data must be bytes, got {type(data).__name__}")
    if len(data) == 0:
        raise ValueError("the file is empty; upload a PNG or JPEG picture of one digit")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValueError(f"the file is {len(data):,} bytes; the limit is {MAX_UPLOAD_MB} MB ({MAX_UPLOAD_BYTES:,} "
                         "bytes); a digit needs far less: crop or shrink the picture")
    file_format = next((name for name, (signature, _) in READERS.items() if data.startswith(signature)), None)
    if file_format is None:
        other = next((name for name, signatures in OTHER_FORMATS.items() if data.startswith(signatures)), None)
        if other is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            other = "WebP"
        if other is not None:
            raise ValueError(f"the file is a {other} image; allowed formats are PNG and JPEG")
        raise ValueError("the file is not an image that can be read; upload a PNG or JPEG picture")
    with image_library_errors(f"the {file_format} file is damaged and cannot be read"):
        picture = READERS[file_format][1](io.BytesIO(data))  # reads the header only
        width, height = picture.size
    if width * height > MAX_PIXELS:
        raise ValueError(f"the picture is {width}x{height} pixels; the limit is {MAX_PIXELS:,} pixels "
                         "(4096x4096), far more than a photo of one digit needs: crop or shrink it")
    with image_library_errors(f"the {file_format} file is damaged and cannot be decoded"):
        picture.draft("RGB", (WORKING_SIZE, WORKING_SIZE))  # JPEG: decode at 1/2, 1/4 or 1/8 size
        picture.load()
        picture.thumbnail((WORKING_SIZE, WORKING_SIZE), Image.Resampling.BILINEAR, reducing_gap=2.0)
        # Transparent means white paper; compositing in 8 bits keeps one small grey layer.
        paper = Image.new("RGBA", picture.size, (255, 255, 255, 255))
        gray = Image.alpha_composite(paper, picture.convert("RGBA")).convert("L")
        return np.asarray(gray, dtype=np.float64) / 255.0


def _to_grayscale(pixels: np.ndarray) -> np.ndarray:
    """(h, w), (h, w, 3) or (h, w, 4) uint8 or float -> (h, w) float64 in [0, 1]."""
    try:
        pixels = np.asarray(pixels)
        pixels = pixels.astype(np.float64) / 255.0 if pixels.dtype == np.uint8 else pixels.astype(np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"pixels must be numbers, got an array of {getattr(pixels, 'dtype', type(pixels))}") from error
    if not np.isfinite(pixels).all():
        raise ValueError("pixels must be finite numbers; the picture holds NaN or infinity")
    pixels = np.clip(pixels, 0.0, 1.0)
    if pixels.ndim == 2:
        return pixels
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise ValueError(f"pixels must have shape (h, w), (h, w, 3) or (h, w, 4), got {pixels.shape}")
    # ITU-R 601 luma, the weights Pillow's convert("L") uses.
    gray = pixels[..., :3] @ np.array([0.299, 0.587, 0.114])
    if pixels.shape[2] == 4:
        alpha = pixels[..., 3]
        gray = gray * alpha + 1.0 * (1.0 - alpha)  # transparent means white paper
    return gray


def find_ink(gray: np.ndarray) -> tuple[np.ndarray, bool]:
    """(ink in [0, 1] with 0 as background, inverted?) from a grayscale picture.

    The paper is whatever the border of the picture mostly is; when it is light, the ink is dark
    and the picture is inverted. Raises ValueError when nothing stands out from the paper.
    """
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    paper = float(np.median(border))
    inverted = paper > 0.5
    ink = (1.0 - gray) if inverted else gray.copy()
    paper_level = (1.0 - paper) if inverted else paper
    strongest = float(ink.max())
    if strongest - paper_level < MIN_CONTRAST:
        raise ValueError("no digit found: the picture is empty or blank (draw or upload one digit, "
                         "dark on light or light on dark)")
    ink = np.clip((ink - paper_level) / (strongest - paper_level), 0.0, 1.0)
    ink[ink < NOISE_LEVEL] = 0.0
    return ink, inverted


def _centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    total = image.sum()
    rows, columns = np.indices(image.shape)
    return float((rows * image).sum() / total), float((columns * image).sum() / total)


def mnist_steps(pixels: np.ndarray) -> PreprocessSteps:
    """Run MNIST's recipe on a picture (h, w[, 3 or 4]) and keep every stage (the drawing's path:
    the canvas gives its pixels). ValueError says what is wrong, whatever Pillow raised."""
    gray = _to_grayscale(pixels)
    if gray.shape[0] < 1 or gray.shape[1] < 1:
        raise ValueError(f"the picture has no pixels (shape {gray.shape})")
    ink, inverted = find_ink(gray)
    rows = np.flatnonzero(ink.any(axis=1))
    columns = np.flatnonzero(ink.any(axis=0))
    cropped = ink[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]

    height, width = cropped.shape
    scale = DIGIT_BOX / max(height, width)
    new_height = max(1, round(height * scale))
    new_width = max(1, round(width * scale))
    # Bilinear resampling averages over the source pixels when shrinking: MNIST's anti-aliasing.
    with image_library_errors("the digit could not be scaled to 20x20"):
        resized = Image.fromarray(cropped.astype(np.float32), mode="F").resize(
            (new_width, new_height), Image.Resampling.BILINEAR)
    scaled = np.clip(np.asarray(resized, dtype=np.float64), 0.0, 1.0)
    if scaled.max() <= 0:
        raise ValueError("no digit found: the ink vanished when scaled to 20x20 (draw a bolder stroke)")
    scaled = scaled / scaled.max()

    # Put the centre of mass on pixel (14, 14), shifting by whole pixels, as MNIST did (its test
    # images have their centre of mass at 14.0 +- 0.3 on both axes). A wide margin first, so a
    # lopsided digit is shifted rather than cut.
    margin = IMAGE_SIZE
    field = np.zeros((new_height + 2 * margin, new_width + 2 * margin))
    field[margin : margin + new_height, margin : margin + new_width] = scaled
    centre_row, centre_column = _centre_of_mass(field)
    top = int(round(centre_row - MNIST_CENTRE))
    left = int(round(centre_column - MNIST_CENTRE))
    image = field[top : top + IMAGE_SIZE, left : left + IMAGE_SIZE].astype(np.float32)
    return PreprocessSteps(grayscale=gray, inverted=inverted, ink=ink, cropped=cropped, scaled=scaled, image=image)


def steps_from_bytes(data: bytes) -> PreprocessSteps:
    """PNG or JPEG bytes -> every stage of MNIST's recipe; ValueError names what is wrong."""
    return mnist_steps(decode_image(data))
