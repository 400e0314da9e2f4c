"""The deterministic PNG encoder: Pillow decodes exactly the encoded array; bad input is refused."""

from __future__ import annotations

import io
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recognizability.data.synthetic.png import encode_png

Image = pytest.importorskip("PIL.Image")


@settings(max_examples=40, deadline=None)
@given(
    height=st.integers(1, 40),
    width=st.integers(1, 40),
    channels=st.sampled_from([0, 3]),
    seed=st.integers(0, 2**32 - 1),
)
def test_pillow_decodes_the_encoded_array(height: int, width: int, channels: int, seed: int) -> None:
    shape = (height, width, 3) if channels else (height, width)
    image = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    decoded = np.asarray(Image.open(io.BytesIO(encode_png(image))))
    assert decoded.dtype == np.uint8 and decoded.shape == shape
    np.testing.assert_array_equal(decoded, image)


def test_large_image_spans_several_stored_blocks() -> None:
    # 160 x 160 x 3 + 160 filter bytes = 76,960 raw bytes > 65,535: two stored deflate blocks.
    image = np.random.default_rng(0).integers(0, 256, (160, 160, 3), dtype=np.uint8)
    data = encode_png(image)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(data))), image)
    idat = data[data.index(b"IDAT") + 4 :]
    raw = zlib.decompress(idat[: len(idat) - 12 - 4])  # the zlib stream, without the CRC and the IEND chunk
    assert raw == b"".join(b"\x00" + row.tobytes() for row in image)  # filter byte 0 + the row, every row


def test_bytes_depend_only_on_the_array() -> None:
    image = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
    assert encode_png(image) == encode_png(image.copy())
    assert encode_png(image) != encode_png(image[::-1].copy())
    # Signature, IHDR with width 7, height 5, bit depth 8, colour type 2.
    data = encode_png(image)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR" and data[16:29] == bytes([0, 0, 0, 7, 0, 0, 0, 5, 8, 2, 0, 0, 0])


@pytest.mark.parametrize(
    ("image", "error", "match"),
    [
        (np.zeros((4, 4, 3), dtype=np.float32), TypeError, "dtype uint8"),
        (np.zeros((4, 4, 4), dtype=np.uint8), ValueError, r"shape \(H, W, 3\) or \(H, W\)"),
        (np.zeros((0, 4, 3), dtype=np.uint8), ValueError, "H, W >= 1"),
        ([[1, 2]], TypeError, "numpy.ndarray"),
    ],
)
def test_bad_input(image: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        encode_png(image)  # type: ignore[arg-type]
