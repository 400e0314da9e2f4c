"""The shapes the renderer computes in, for a batch of B images: float32 planes (B, S, S), per-image scalars
(B, 1, 1) that broadcast against them, colours (3, B, 1, 1), and the per-image parameter columns.

The modules of the renderer import :func:`per_image` as ``_b`` and :func:`per_image_rgb` as ``_rgb``, to
keep their formulas short.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["Array", "Column", "per_image", "per_image_rgb"]

#: A float32 plane stack (B, S, S) or anything that broadcasts against one.
Array = NDArray[np.float32]
#: A parameter table's column by name: (B,) float64 values, one per image.
Column = Callable[[str], NDArray[np.float64]]


def per_image(values: NDArray[Any]) -> Array:
    """(B,) -> (B, 1, 1) float32."""
    return np.asarray(values, dtype=np.float32)[:, None, None]


def per_image_rgb(values: NDArray[Any]) -> Array:
    """(B, 3) -> (3, B, 1, 1) float32."""
    return np.ascontiguousarray(np.asarray(values, dtype=np.float32).T)[:, :, None, None]
