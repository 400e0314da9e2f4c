"""Lighting and tone: ambient + Lambertian diffuse + a little Blinn-Phong specular, then the camera's tone
curve.

The light direction and the half-vector are turned into head coordinates once per image (3 x 3 Python floats),
so the per-pixel work is dot products with the normals. The specular power is 16 (four squarings). The tone
curve maps linear light to display values through a table built once with ``math.pow`` and indexed by the
square root of the light (fine steps in the shadows), so no transcendental function runs on the pixel grid.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from .arrays import Array
from .arrays import per_image as _b
from .variation import GAMMAS

__all__ = ["encode", "shade", "to_head"]

_LUT_LEVELS = 4096
# _TONE[g, i] = (i / (N - 1)) ** (2 * GAMMAS[g]): display value of linear light (i / (N - 1)) ** 2.
_TONE = np.array(
    [[math.pow(i / (_LUT_LEVELS - 1), 2.0 * g) for i in range(_LUT_LEVELS)] for g in GAMMAS], dtype=np.float32
)


def to_head(vectors: NDArray[np.float64], rotation: NDArray[np.float64]) -> NDArray[np.float64]:
    """Camera-coordinate vectors (B, 3) in head coordinates: ``R^T v`` per image (explicit sums)."""
    out = np.zeros_like(vectors)
    for i in range(len(vectors)):
        for j in range(3):
            out[i, j] = sum(float(rotation[i, k, j]) * float(vectors[i, k]) for k in range(3))
    return out


def shade(
    albedo: Array,
    normal: tuple[Array, Array, Array],
    light: NDArray[np.float64],
    half: NDArray[np.float64],
    ambient: NDArray[np.float64],
    specular: Array,
    occlusion: Array | float = 1.0,
) -> Array:
    """Radiance of surfaces with ``albedo`` (3, B, S, S) and unit ``normal`` (each (B, S, S)).

    Args:
        light, half: (B, 3) unit vectors towards the light and half-way to the camera, head coordinates.
        ambient: (B,) share of non-directional light.
        specular: (B, S, S) strength of the highlight (0 for matte surfaces).
        occlusion: ambient occlusion factor (B, S, S) in [0, 1] or 1.
    """
    nx, ny, nz = normal
    lam = np.maximum(nx * _b(light[:, 0]) + ny * _b(light[:, 1]) + nz * _b(light[:, 2]), 0.0)
    amb = _b(ambient)
    irradiance = amb * occlusion + (np.float32(1.0) - amb) * np.float32(1.3) * lam
    h = np.maximum(nx * _b(half[:, 0]) + ny * _b(half[:, 1]) + nz * _b(half[:, 2]), 0.0)
    h = h * h
    h = h * h
    h = h * h
    h = h * h
    glint = specular * h * (lam > 0)
    out: Array = albedo * irradiance + glint
    return out


def encode(
    radiance: Array,
    exposure: NDArray[np.float64],
    cast: NDArray[np.float64],
    gamma_index: NDArray[np.float64],
) -> NDArray[np.float32]:
    """Linear radiance (3, B, S, S) -> display values (B, S, S, 3) in [0, 1]: exposure and per-channel cast
    (B,) and (B, 3), clipping, then the tone curve ``GAMMAS[gamma_index]``."""
    n, size = radiance.shape[1], radiance.shape[2]
    out = np.empty((n, size, radiance.shape[3], 3), dtype=np.float32)
    offset = (gamma_index.astype(np.int64) * _LUT_LEVELS)[:, None, None]
    table = _TONE.reshape(-1)
    for k in range(3):
        light = np.clip(radiance[k] * _b(exposure * cast[:, k]), 0.0, 1.0)
        index = (np.sqrt(light) * np.float32(_LUT_LEVELS - 1) + np.float32(0.5)).astype(np.int64)
        out[..., k] = table[index + offset]
    return out
