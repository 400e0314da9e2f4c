"""Things in front of the face: glasses (the identity's), and per image a hat, a face mask or a hand.

Glasses and masks are drawn in face coordinates, so they turn with the head; a hat covers the top of the hair
shell down to a line above the brows (a cap adds the shadow of its brim); a hand is a palm and four fingers
in image coordinates, in front of everything. Each function returns the coverage it adds, from which
:mod:`render` measures the occluded share of the face.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .arrays import Array, Column
from .arrays import per_image as _b
from .arrays import per_image_rgb as _rgb
from .masks import blend, ellipse, inside

__all__ = ["draw_glasses", "draw_mask", "hand", "hat_region"]


def draw_glasses(albedo: Array, x: Array, y: Array, idn: Column, soft: Array) -> Array:
    """Frames (rims, bridge, arms) and lenses (dark for sunglasses) onto ``albedo`` in place; returns the
    dark lenses' coverage (an occlusion of the eyes)."""
    kind = _b(idn("glasses"))
    f32 = np.float32
    if not np.any(kind > 0):
        return np.zeros(x.shape, dtype=np.float32)
    wear = (kind > 0).astype(np.float32)
    dark = (kind > 1).astype(np.float32)
    spacing, eye_y = _b(idn("eye_spacing")), _b(idn("eye_y")) + f32(0.01)
    rx = _b(idn("eye_width")) * _b(idn("glasses_size"))
    ry = rx * f32(0.78)
    rim = f32(0.022)
    frame = _rgb(idn("glasses_frame"))
    lenses = np.zeros(x.shape, dtype=np.float32)
    frames = np.zeros(x.shape, dtype=np.float32)
    for side in (-1.0, 1.0):
        cx = spacing * f32(side)
        outer = ellipse(x, y, cx, eye_y, rx, ry, soft)
        inner = ellipse(x, y, cx, eye_y, rx - rim, ry - rim, soft)
        frames = np.maximum(frames, outer - inner)
        lenses = np.maximum(lenses, inner)
        arm_start = cx + f32(side) * rx
        arm = inside(
            np.maximum(np.abs(y - eye_y + ry * f32(0.4)) - rim * f32(0.5), (arm_start - x) * f32(side)), soft
        )
        frames = np.maximum(frames, arm * inside(np.abs(x) - f32(1.05), soft))
    bridge = inside(
        np.maximum(np.abs(y - eye_y + ry * f32(0.3)) - rim * f32(0.5), np.abs(x) - (spacing - rx + rim)), soft
    )
    frames = np.maximum(frames, bridge)
    tint = np.full((3, x.shape[0], 1, 1), 0.02, dtype=np.float32)
    for k in range(3):
        albedo[k] *= f32(1.0) - lenses * wear * (f32(0.12) + dark * f32(0.8))
    blend(albedo, lenses * wear * dark * f32(0.8), tint)
    blend(albedo, frames * wear, frame)
    out: Array = lenses * wear * dark
    return out


def draw_mask(albedo: Array, x: Array, y: Array, idn: Column, var: Column, soft: Array) -> Array:
    """A face mask from the nose's middle to under the chin onto ``albedo`` in place; returns its coverage."""
    worn = _b(var("mask")[:, 0])
    if not np.any(worn):
        return np.zeros(x.shape, dtype=np.float32)
    f32 = np.float32
    top = _b(idn("nose_length")) - f32(0.16) + f32(0.1) * x * x
    bottom = _b(idn("head_height")) - f32(0.02)
    region = inside(np.maximum(np.maximum(top - y, y - bottom), np.abs(x) - f32(0.93)), soft) * worn
    pleats = f32(0.92) + f32(0.08) * inside(np.abs(y - top - f32(0.25)) - f32(0.015), soft)
    colour = _rgb(var("mask")[:, 1:]) * pleats[None]
    blend(albedo, region, colour)
    return region


def hat_region(x: Array, y: Array, var: Column, idn: Column, soft: Array) -> tuple[Array, Array]:
    """(coverage of the hat on the hair shell at head point (x, y), shadow of a cap's brim on the face)."""
    hat = var("hat")
    worn = _b(hat[:, 0])
    if not np.any(worn):
        zero = np.zeros(x.shape, dtype=np.float32)
        return zero, zero
    f32 = np.float32
    line = _b(idn("eye_y")) - f32(0.5) + f32(0.1) * x * x
    cover = inside(y - line, soft) * worn
    cap = (_b(hat[:, 1]) < 0.5).astype(np.float32)
    brim = inside(np.maximum(y - line - f32(0.35), line - y), f32(0.1)) * inside(
        np.abs(x) - f32(0.8), f32(0.2)
    )
    return cover, brim * cap * worn


def hand(
    u: Array, v: Array, centre: NDArray[np.float64], size: NDArray[np.float64], var: Column, soft: float
) -> tuple[Array, Array]:
    """(coverage of a hand in front of the face, its shading factor), both (B, S, S): a palm, four fingers
    and a thumb placed and tilted by the ``hand`` parameters relative to the head (``centre``, ``size``);
    ``soft`` is one pixel in image units."""
    h = var("hand")
    worn = _b(h[:, 0])
    if not np.any(worn):
        zero = np.zeros((len(size), v.shape[1], u.shape[2]), dtype=np.float32)
        return zero, zero
    f32 = np.float32
    a = _b(size)
    cx = _b(centre[:, 0]) + a * _b(h[:, 1])
    cy = _b(centre[:, 1]) + a * _b(h[:, 2])
    r = a * _b(h[:, 3])
    c, s = _b(h[:, 4]), _b(h[:, 5])
    p = ((u - cx) * c + (v - cy) * s) / r
    q = (-(u - cx) * s + (v - cy) * c) / r
    edge = f32(soft) / r  # one pixel in hand units
    cover = ellipse(p, q, f32(0.0), f32(0.2), f32(0.55), f32(0.75), edge)
    for i, (fx, length) in enumerate(((-0.36, 0.42), (-0.12, 0.5), (0.12, 0.48), (0.36, 0.38))):
        finger = ellipse(p, q, f32(fx), f32(-0.45 - length * 0.5 + 0.02 * i), f32(0.12), f32(length), edge)
        cover = np.maximum(cover, finger)
    thumb = ellipse(p, q, f32(0.62), f32(0.15), f32(0.13), f32(0.36), edge)
    cover = np.maximum(cover, thumb) * worn
    shading = f32(0.75) + f32(0.25) * inside(q, f32(1.5))
    return cover, shading
