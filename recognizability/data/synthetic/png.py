"""A tiny deterministic PNG encoder (no Pillow needed to write).

The bytes depend only on the pixel array: 8-bit RGB or greyscale, filter type 0 on every row, and the zlib
stream written with *stored* (uncompressed) deflate blocks. Stored blocks avoid any dependence on the zlib
build (zlib, zlib-ng and different versions compress differently); the chunk CRC-32 and the zlib Adler-32 are
fixed checksums. Very-low-resolution images are a few hundred bytes, so skipping compression costs little.

Format facts from the PNG specification (ISO/IEC 15948, W3C PNG 2nd edition): signature, IHDR/IDAT/IEND
chunks, chunk CRC over type + data; zlib container from RFC 1950, stored deflate blocks from RFC 1951 section
3.2.4.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

__all__ = ["encode_png", "write_png"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAX_STORED_BLOCK = 65535


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def _zlib_stored(raw: bytes) -> bytes:
    """RFC 1950 zlib stream made of RFC 1951 stored blocks (BTYPE=00)."""
    parts = [b"\x78\x01"]  # CM=8 (deflate), CINFO=7 (32K window), FLEVEL=0; (0x7801 % 31 == 0)
    if not raw:
        parts.append(b"\x01\x00\x00\xff\xff")
    for start in range(0, len(raw), _MAX_STORED_BLOCK):
        block = raw[start : start + _MAX_STORED_BLOCK]
        final = 1 if start + _MAX_STORED_BLOCK >= len(raw) else 0
        parts.append(struct.pack("<BHH", final, len(block), len(block) ^ 0xFFFF))
        parts.append(block)
    parts.append(struct.pack(">I", zlib.adler32(raw) & 0xFFFFFFFF))
    return b"".join(parts)


def encode_png(image: NDArray[np.uint8]) -> bytes:
    """Encode an 8-bit image as PNG bytes.

    Args:
        image: uint8 array of shape (H, W, 3) (RGB) or (H, W) (greyscale), H, W >= 1.

    Returns:
        The PNG file contents; identical for identical arrays on any machine.
    """
    if not isinstance(image, np.ndarray):
        raise TypeError(f"expected image as a numpy.ndarray, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise TypeError(f"expected image of dtype uint8, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 3:
        color_type = 2
    elif image.ndim == 2:
        color_type = 0
    else:
        raise ValueError(f"expected image of shape (H, W, 3) or (H, W), got shape {tuple(image.shape)}")
    height, width = int(image.shape[0]), int(image.shape[1])
    if height < 1 or width < 1:
        raise ValueError(f"expected image with H, W >= 1, got shape {tuple(image.shape)}")
    rows = np.ascontiguousarray(image).reshape(height, -1)
    raw = np.concatenate([np.zeros((height, 1), dtype=np.uint8), rows], axis=1).tobytes()
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return _SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", _zlib_stored(raw)) + _chunk(b"IEND", b"")


def write_png(path: Path, image: NDArray[np.uint8]) -> None:
    """Write ``image`` (see :func:`encode_png`) to ``path``."""
    Path(path).write_bytes(encode_png(image))
