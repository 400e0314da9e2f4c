"""Soft masks from polynomial smooth steps: the building blocks of albedo, occluders and the scene.

Every mask is a cubic smooth step of a signed distance-like value, so it is exact float32 arithmetic and its
edge is about ``soft`` wide.
"""

from __future__ import annotations

import numpy as np

from .arrays import Array

__all__ = ["blend", "ellipse", "inside", "smoothstep"]


def smoothstep(t: Array) -> Array:
    """``3 t^2 - 2 t^3`` of ``t`` clipped to [0, 1]."""
    c = np.clip(t, 0.0, 1.0)
    out: Array = c * c * (np.float32(3.0) - np.float32(2.0) * c)
    return out


def inside(distance: Array, soft: Array | float) -> Array:
    """Coverage of the region where ``distance`` < 0, with an edge ``soft`` wide."""
    return smoothstep(np.float32(0.5) - distance / soft)


def ellipse(
    x: Array,
    y: Array,
    cx: Array | float,
    cy: Array | float,
    rx: Array | float,
    ry: Array | float,
    soft: Array | float,
) -> Array:
    """Coverage of the ellipse centred (cx, cy) with half-axes (rx, ry); the distance is approximate."""
    dx = (x - cx) / rx
    dy = (y - cy) / ry
    q = np.sqrt(dx * dx + dy * dy)
    return inside((q - np.float32(1.0)) * np.minimum(rx, ry), soft)


def blend(image: Array, mask: Array, color: Array) -> None:
    """Composite ``color`` (3, B, 1, 1), or per pixel (3, B, S, S), over ``image`` (3, B, S, S) with coverage
    ``mask`` (B, S, S), in place."""
    for k in range(3):
        plane = image[k]
        plane += mask * (color[k] - plane)
