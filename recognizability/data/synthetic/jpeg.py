"""Baseline JPEG compression and decompression in numpy (the loss, not the file format).

What a JPEG camera or encoder does to the pixels: RGB -> YCbCr (ITU-R BT.601, full range), 4:2:0 chroma
subsampling (2 x 2 means), level shift, 8 x 8 type-II DCT, quantisation with the example tables of the JPEG
standard (ITU-T T.81 Annex K) scaled for a quality in 1..100 as the Independent JPEG Group's encoder scales
them, and the inverse of each step. The DCT basis is written out from exact decimal values of cos(k pi / 16)
and applied as explicit multiply-adds in a fixed order (no matrix library), in float64, so the result is the
same on any machine.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["jpeg_roundtrip", "quantisation_tables"]

_LUMA = np.array(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ],
    dtype=np.int64,
)
_CHROMA = np.array(
    [
        [17, 18, 24, 47, 99, 99, 99, 99],
        [18, 21, 26, 66, 99, 99, 99, 99],
        [24, 26, 56, 99, 99, 99, 99, 99],
        [47, 66, 99, 99, 99, 99, 99, 99],
        [99, 99, 99, 99, 99, 99, 99, 99],
        [99, 99, 99, 99, 99, 99, 99, 99],
        [99, 99, 99, 99, 99, 99, 99, 99],
        [99, 99, 99, 99, 99, 99, 99, 99],
    ],
    dtype=np.int64,
)
# cos(k pi / 16) for k = 0..8.
_COS = (
    1.0,
    0.98078528040323043,
    0.92387953251128674,
    0.83146961230254524,
    0.70710678118654752,
    0.55557023301960218,
    0.38268343236508977,
    0.19509032201612825,
    0.0,
)


def _cos16(k: int) -> float:
    """cos(k pi / 16) for any integer k, by symmetry from the table."""
    k %= 32
    if k > 16:
        k = 32 - k
    return _COS[k] if k <= 8 else -_COS[16 - k]


# _BASIS[u, x] = a(u) cos((2x + 1) u pi / 16), a(0) = sqrt(1/8), a(u > 0) = 1/2: orthonormal DCT-II.
_BASIS = np.array(
    [
        [(0.35355339059327376 if u == 0 else 0.5) * _cos16((2 * x + 1) * u) for x in range(8)]
        for u in range(8)
    ],
    dtype=np.float64,
)


def quantisation_tables(quality: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(luminance, chrominance) 8 x 8 tables for ``quality`` in 1..100 (integer arithmetic, entries
    1..255)."""
    if not 1 <= quality <= 100:
        raise ValueError(f"expected quality in 1..100, got {quality}")
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    tables = [np.clip((base * scale + 50) // 100, 1, 255).astype(np.float64) for base in (_LUMA, _CHROMA)]
    return tables[0], tables[1]


def _transform(blocks: NDArray[np.float64], basis: NDArray[np.float64]) -> NDArray[np.float64]:
    """``basis @ block @ basis.T`` for each block (N, 8, 8), as explicit multiply-adds in a fixed order."""
    half = np.zeros_like(blocks)
    for x in range(8):
        half += basis[None, :, x, None] * blocks[:, None, x, :]
    out = np.zeros_like(blocks)
    for y in range(8):
        out += half[:, :, y, None] * basis[None, None, :, y]
    return out


def _code_plane(plane: NDArray[np.float64], table: NDArray[np.float64]) -> NDArray[np.float64]:
    """Compress and decompress one level-shifted plane (H, W) with a quantisation table."""
    h, w = plane.shape
    ph, pw = -(-h // 8) * 8, -(-w // 8) * 8
    padded = np.pad(plane, ((0, ph - h), (0, pw - w)), mode="edge")
    blocks = padded.reshape(ph // 8, 8, pw // 8, 8).transpose(0, 2, 1, 3).reshape(-1, 8, 8)
    coefficients = np.round(_transform(blocks, _BASIS) / table) * table
    decoded = _transform(coefficients, np.ascontiguousarray(_BASIS.T))
    out: NDArray[np.float64] = decoded.reshape(ph // 8, pw // 8, 8, 8).transpose(0, 2, 1, 3).reshape(ph, pw)
    return out[:h, :w]


def jpeg_roundtrip(image: NDArray[np.uint8], quality: int) -> NDArray[np.uint8]:
    """The pixels of ``image`` (H, W, 3) uint8 RGB after JPEG compression at ``quality`` (1..100), 4:2:0."""
    luma_table, chroma_table = quantisation_tables(quality)
    rgb = image.astype(np.float64)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = -0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 0.5 * r - 0.418688 * g - 0.081312 * b
    h, w = y.shape
    eh, ew = h + h % 2, w + w % 2
    decoded = [np.round(_code_plane(y - 128.0, luma_table) + 128.0)]
    for plane in (cb, cr):
        even = np.pad(plane, ((0, eh - h), (0, ew - w)), mode="edge")
        small = (even[0::2, 0::2] + even[1::2, 0::2] + even[0::2, 1::2] + even[1::2, 1::2]) * 0.25
        coded = np.round(_code_plane(small, chroma_table))
        decoded.append(np.repeat(np.repeat(coded, 2, axis=0), 2, axis=1)[:h, :w])
    yy, cbb, crr = decoded
    out = np.stack([yy + 1.402 * crr, yy - 0.344136 * cbb - 0.714136 * crr, yy + 1.772 * cbb], axis=-1)
    result: NDArray[np.uint8] = np.clip(np.round(out), 0, 255).astype(np.uint8)
    return result
