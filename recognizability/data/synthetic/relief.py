"""The relief of the face: a height field over face coordinates made of smooth polynomial bumps.

Each bump is ``amp * max(0, 1 - r^2)^2`` with ``r^2 = ((X - cx) / rx)^2 + ((Y - cy) / ry)^2``: compactly
supported, continuously differentiable, and exact in floating point (no ``exp``). Brow ridge, eye sockets and
eyeballs, nose bridge, tip and nostril wings, cheekbones, the muzzle around the mouth, lips, mouth cavity
and chin are bumps whose centres, radii and heights come from the identity, moved by the expression (a smile
raises the cheeks, an open mouth drops the lower lip and chin).

:func:`relief` returns the height (towards the camera when frontal, head units) and, when asked, its
gradient, from which :mod:`shading` bends the head's normals.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .arrays import Array, Column, per_image

__all__ = ["Bump", "face_bumps", "relief"]

#: One bump: (cx, cy, rx, ry, amp), each (B, 1, 1) float32.
Bump = tuple[Array, Array, Array, Array, Array]


def _b(values: NDArray[Any] | float, n: int) -> Array:
    """:func:`~.arrays.per_image` of ``values``, a (B,) column or one number for all ``n`` images."""
    out: Array = per_image(np.broadcast_to(np.asarray(values, dtype=np.float32), (n,))).copy()
    return out


def face_bumps(idn: Column, var: Column) -> list[Bump]:
    """The bumps of a batch: identity columns ``idn(name)`` and variation columns ``var(name)``, each (B,)."""
    n = len(idn("eye_y"))
    smile, opened = var("smile"), var("mouth_open")
    eye_y, spacing, eye_w = idn("eye_y"), idn("eye_spacing"), idn("eye_width")
    socket, nose_len, nose_h = idn("socket_depth"), idn("nose_length"), idn("nose_height")
    mouth_y, mouth_w = idn("mouth_y"), idn("mouth_width")
    lip, full = idn("lip_thickness"), idn("lip_fullness")
    rows: list[tuple[Any, Any, Any, Any, Any]] = [
        (0.0, eye_y - idn("brow_y") * 0.8, 0.78, 0.17, idn("brow_ridge")),  # brow ridge
        (0.0, eye_y - 0.55, 0.9, 0.5, 0.04),  # forehead
        (
            0.0,
            (eye_y + nose_len) * 0.5 + 0.02,
            0.12,
            (nose_len - eye_y) * 0.5 + 0.07,
            nose_h * idn("nose_bridge") * 0.8,
        ),
        (0.0, nose_len - 0.04, 0.15, 0.14, nose_h * 0.75),  # nose tip
        (0.0, nose_len + 0.06, 0.16, 0.06, -0.03),  # under the nose
        (0.0, mouth_y - 0.08, 0.48, 0.34, 0.05),  # muzzle
        (0.0, mouth_y - lip * 0.8, mouth_w * 1.05, 0.085, full),  # upper lip
        (0.0, mouth_y + lip * 0.9 + 0.1 * opened, mouth_w * 0.9, 0.08, full * 1.1),  # lower lip
        (0.0, mouth_y + 0.02 + 0.05 * opened, mouth_w * 0.8, 0.02 + 0.1 * opened, -0.02 - 0.08 * opened),
        (0.0, idn("head_height") - 0.22 + 0.08 * opened, 0.36, 0.22, idn("chin")),  # chin
    ]
    for side in (-1.0, 1.0):
        rows += [
            (side * spacing, eye_y - 0.02, eye_w * 1.7, 0.17, -socket),  # eye socket
            (side * spacing, eye_y, eye_w * 1.05, 0.12, socket * 0.55),  # eyeball under the lids
            (side * idn("nose_width") * 0.8, nose_len + 0.0, 0.08, 0.07, nose_h * 0.3),  # nostril wing
            (side * 0.52, 0.36 - 0.08 * smile, 0.32, 0.3, idn("cheekbones") + 0.03 * smile),  # cheek
        ]
    return [tuple(_b(value, n) for value in row) for row in rows]  # type: ignore[misc]


def relief(
    x: Array, y: Array, bumps: list[Bump], gradient: bool = True
) -> tuple[Array, Array | None, Array | None]:
    """Height of the face at face coordinates ``x``, ``y`` (B, S, S) and, if ``gradient``, its partial
    derivatives d/dX and d/dY (else None)."""
    h = np.zeros(x.shape, dtype=np.float32)
    hx = np.zeros(x.shape, dtype=np.float32) if gradient else None
    hy = np.zeros(x.shape, dtype=np.float32) if gradient else None
    one = np.float32(1.0)
    for cx, cy, rx, ry, amp in bumps:
        if not np.any(amp):
            continue
        irx, iry = one / (rx * rx), one / (ry * ry)
        dx = x - cx
        dy = y - cy
        q = np.maximum(one - dx * dx * irx - dy * dy * iry, 0.0)
        h += amp * q * q
        if hx is not None and hy is not None:
            g = np.float32(-4.0) * amp * q
            hx += g * dx * irx
            hy += g * dy * iry
    return h, hx, hy
