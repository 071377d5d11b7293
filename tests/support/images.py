"""Pictures for the tests of the upload path, made without holding their pixels in memory."""

from __future__ import annotations

import struct
import zlib

ROWS_PER_BLOCK = 100


def blank_png(width: int, height: int) -> bytes:
    """A complete, valid 8-bit grayscale PNG of a white width x height picture, as Pillow's
    Image.new("L", (width, height), 255).save(...) writes it (20000 x 20000: 444 KB), built in
    well under a second: every ROWS_PER_BLOCK rows compress to the same bytes once the compressor's
    history is reset (Z_FULL_FLUSH), so one block's bytes are repeated. height must be a multiple
    of ROWS_PER_BLOCK."""
    if height % ROWS_PER_BLOCK:
        raise ValueError(f"height={height} is not a multiple of {ROWS_PER_BLOCK}")
    block = (b"\x00" + b"\xff" * width) * ROWS_PER_BLOCK  # each row: filter type 0, then its pixels
    compressor = zlib.compressobj(9)
    first = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)  # with the zlib header
    repeated = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    checksum = 1
    for _ in range(height // ROWS_PER_BLOCK):
        checksum = zlib.adler32(block, checksum)
    # b"\x03\x00" is an empty final deflate block; the zlib stream ends with the data's Adler-32.
    image_data = first + repeated * (height // ROWS_PER_BLOCK - 1) + b"\x03\x00" + struct.pack(">I", checksum)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8 bits, grayscale, no interlace
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", image_data) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
