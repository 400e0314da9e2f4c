"""Vectorised numpy rendering of procedural faces at 112 x 112.

:func:`render_faces` draws a batch of faces at once: every shape is a soft (anti-aliased) mask evaluated on
the whole (B, H, W) pixel grid with per-image parameters broadcast as (B, 1, 1), then alpha-composited back to
front: background gradient and clutter, hair (back), neck, ears, face outline with jaw, beard, hairline, eyes
(white, iris, pupil), brows, nose, mouth, glasses, occluder, then illumination (direction, strength,
brightness, colour cast) and a gamma curve.

Determinism: the pixel path uses only IEEE-754 arithmetic ufuncs (+, -, *, /, sqrt, min/max) whose results do
not depend on the CPU's vector extensions; per-image trigonometry uses Python's ``math``; gamma is a table
lookup built once with ``math.pow``. So the same parameters give the same pixels on any machine.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..._validation import check_positive_int
from .identities import (
    GAMMAS,
    IDENTITY_SCHEMA,
    NUM_CLUTTER_SHAPES,
    NUM_GAMMAS,
    VARIATION_SCHEMA,
    ParameterTable,
)

# GAMMAS and NUM_GAMMAS are defined with the variation parameters that index them and stay importable here.
__all__ = ["GAMMAS", "NUM_GAMMAS", "RENDER_SIZE", "occlusion_fraction", "render_faces"]

#: Side of the rendered (high-resolution) image, pixels.
RENDER_SIZE = 112
_LUT_LEVELS = 4096
_GAMMA_LUT = np.array(
    [[math.pow(i / (_LUT_LEVELS - 1), g) for i in range(_LUT_LEVELS)] for g in GAMMAS], dtype=np.float32
)

Array = NDArray[np.floating[Any]]
Coordinate = Array | float


def _b(values: NDArray[np.float64]) -> Array:
    """(B,) -> (B, 1, 1) float32 for broadcasting over the pixel grid."""
    return values.astype(np.float32)[:, None, None]


def _rgb(values: NDArray[np.float64]) -> Array:
    """(B, 3) -> (3, B, 1, 1) float32 (the image is held channel-planar, (3, B, H, W), for speed)."""
    return np.ascontiguousarray(values.astype(np.float32).T)[:, :, None, None]


def _soft(distance: Array, pixel: float) -> Array:
    """Anti-aliased coverage from a signed distance (negative inside), one pixel wide ramp."""
    out: Array = np.clip(np.float32(0.5) - distance / np.float32(pixel), 0.0, 1.0)
    return out


def _ellipse(
    x: Array, y: Array, cx: Coordinate, cy: Coordinate, a: Coordinate, b: Coordinate, pixel: float
) -> Array:
    """Coverage of the ellipse centred (cx, cy) with half-axes (a, b); approximate signed distance."""
    q = np.sqrt(((x - cx) / a) ** 2 + ((y - cy) / b) ** 2)
    return _soft((q - 1.0) * np.minimum(a, b), pixel)


def _box(
    x: Array, y: Array, cx: Coordinate, cy: Coordinate, a: Coordinate, b: Coordinate, pixel: float
) -> Array:
    """Coverage of the axis-aligned box centred (cx, cy) with half-sides (a, b)."""
    return _soft(np.maximum(np.abs(x - cx) - a, np.abs(y - cy) - b), pixel)


def _over(image: Array, mask: Array, color: Array) -> None:
    """Composite ``color`` (3,B,1,1) over ``image`` (3,B,H,W) with coverage ``mask`` (B,H,W), in place."""
    for k in range(3):
        plane = image[k]
        plane += mask * (color[k] - plane)


def occlusion_fraction(
    identities: ParameterTable, variations: ParameterTable, size: int = 48
) -> NDArray[np.float64]:
    """Share of the face ellipse covered by the occluder, per image: shape (B,), values in [0, 1].

    Computed by counting grid points (at ``size`` x ``size``) inside both shapes, so it is exact integer
    arithmetic.
    """
    grid = (np.arange(size, dtype=np.float64) + 0.5) / size * 2.0 - 1.0
    x, y = grid[None, None, :], grid[None, :, None]
    fx, fy, a, b, cx, cy, ow, oh, present = _occlusion_geometry(identities, variations)
    face = ((x - fx[:, None, None]) / a[:, None, None]) ** 2 + (
        (y - fy[:, None, None]) / b[:, None, None]
    ) ** 2 <= 1.0
    occ = (np.abs(x - cx[:, None, None]) <= ow[:, None, None]) & (
        np.abs(y - cy[:, None, None]) <= oh[:, None, None]
    )
    inside = face.sum(axis=(1, 2))
    both = (face & occ).sum(axis=(1, 2))
    fraction = np.where(inside > 0, both / np.maximum(inside, 1), 0.0) * present
    return np.asarray(fraction, dtype=np.float64)


def _occlusion_geometry(
    identities: ParameterTable, variations: ParameterTable
) -> tuple[NDArray[np.float64], ...]:
    """Face ellipse and occluder box in image coordinates (ignoring rotation, which the occluder does not
    share)."""
    scale = variations.column("scale")
    shift = variations.column("shift")
    fx = shift[:, 0]
    fy = shift[:, 1] + identities.column("face_center_y") * scale
    a = identities.column("face_width") * scale
    b = identities.column("face_height") * scale
    occ = variations.column("occluder")
    present = occ[:, 0] * variations.column("face_present")
    return fx, fy, a, b, occ[:, 1], occ[:, 2], occ[:, 3], occ[:, 4], present


def render_faces(
    identities: ParameterTable, variations: ParameterTable, size: int = RENDER_SIZE
) -> NDArray[np.float32]:
    """Render one face per row.

    Args:
        identities: table with :data:`IDENTITY_SCHEMA`, shape (B, P).
        variations: table with :data:`VARIATION_SCHEMA`, shape (B, V).
        size: side of the pixel grid (default 112). The scene is resolution-free (shapes are defined in [-1,
        1]
            coordinates), so a smaller grid samples the same face more coarsely; the layout writers use 64
            for images that are then downsampled to 32 pixels or fewer, which the resampling prefilter makes
            indistinguishable from a 112 render while costing a third.

    Returns:
        float32 array of shape (B, size, size, 3), RGB in [0, 1].
    """
    check_positive_int(size, "size", minimum=8)
    if dict(identities.schema) != IDENTITY_SCHEMA or dict(variations.schema) != VARIATION_SCHEMA:
        raise ValueError("expected identities with IDENTITY_SCHEMA and variations with VARIATION_SCHEMA")
    if len(identities) != len(variations):
        raise ValueError(
            f"expected as many variations as identities, got {len(variations)} variations "
            f"and {len(identities)} identities"
        )
    n = len(identities)
    px = 2.0 / size
    idn, var = identities.column, variations.column
    grid = (
        (np.arange(size, dtype=np.float32) + np.float32(0.5)) / np.float32(size) * np.float32(2.0)
    ) - np.float32(1.0)
    u = np.broadcast_to(grid[None, None, :], (n, size, size))
    v = np.broadcast_to(grid[None, :, None], (n, size, size))

    # Background: vertical gradient between two colours, then clutter shapes.
    bg = var("background")
    t = (v + 1.0) * 0.5
    image = (_rgb(bg[:, :3]) * (1.0 - t) + _rgb(bg[:, 3:]) * t).astype(np.float32)
    clutter = var("clutter").reshape(n, NUM_CLUTTER_SHAPES, 8)
    for s in range(NUM_CLUTTER_SHAPES):
        c = clutter[:, s]
        if not np.any(c[:, 2] > 1e-3):
            continue
        hw, hh = _b(np.maximum(c[:, 2], 1e-3)), _b(np.maximum(c[:, 3], 1e-3))
        ell = _ellipse(u, v, _b(c[:, 0]), _b(c[:, 1]), hw, hh, px)
        box = _box(u, v, _b(c[:, 0]), _b(c[:, 1]), hw, hh, px)
        is_ell = _b(c[:, 7])
        mask = (ell * is_ell + box * (1.0 - is_ell)) * _b((c[:, 2] > 1e-3).astype(np.float64))
        _over(image, mask, _rgb(c[:, 4:7]))

    # Face frame: undo shift, rotation and scale of the head.
    present = _b(var("face_present"))
    cos_r = np.array([math.cos(r) for r in var("rotation")])
    sin_r = np.array([math.sin(r) for r in var("rotation")])
    shift, scale = var("shift"), var("scale")
    du, dv = u - _b(shift[:, 0]), v - _b(shift[:, 1])
    x = (_b(cos_r) * du + _b(sin_r) * dv) / _b(scale)
    y = (-_b(sin_r) * du + _b(cos_r) * dv) / _b(scale)
    fpx = px / float(np.min(scale)) if n else px

    yaw = var("yaw")
    squeeze = 1.0 - 0.30 * np.abs(yaw)  # features crowd towards the turned side
    fw, fh, fcy = idn("face_width") * (1.0 - 0.12 * np.abs(yaw)), idn("face_height"), idn("face_center_y")
    fcx = 0.07 * yaw
    skin, hair = idn("skin"), idn("hair")

    def feature_x(offset: NDArray[np.float64], depth: float = 1.0) -> Array:
        return _b(fcx + offset * fw / idn("face_width") * squeeze + depth * 0.20 * yaw)

    # Hair behind the head.
    hair_mask = _ellipse(
        x,
        y,
        _b(fcx),
        _b(fcy - 0.10 + 0.25 * idn("hair_length")),
        _b(fw * (1.08 + idn("hair_volume"))),
        _b(fh * (0.95 + 0.35 * idn("hair_length")) + 0.04),
        fpx,
    )
    long_hair = idn("hair_amount") * (idn("hair_length") > 0.35)
    if np.any(long_hair):
        _over(image, hair_mask * _b(long_hair) * present, _rgb(hair))
    # Neck and ears.
    neck = _box(x, y, _b(fcx * 0.5), _b(fcy + fh * 0.9), _b(fw * 0.45), _b(fh * 0.5), fpx)
    _over(image, neck * present, _rgb(skin * 0.82))
    for side in (-1.0, 1.0):
        ear = _ellipse(
            x,
            y,
            _b(fcx + side * fw * 0.98),
            _b(fcy - 0.02),
            _b(idn("ear_size") * 0.6),
            _b(idn("ear_size")),
            fpx,
        )
        _over(image, ear * present, _rgb(skin * 0.9))
    # Face outline with a narrowing jaw below the centre.
    below = np.clip((y - _b(fcy)) / _b(fh), 0.0, 1.0)
    width = _b(fw) * (1.0 - (1.0 - _b(idn("jaw"))) * below * below)
    q = np.sqrt(((x - _b(fcx)) / width) ** 2 + ((y - _b(fcy)) / _b(fh)) ** 2)
    face = _soft((q - 1.0) * _b(fw), fpx) * present
    _over(image, face, _rgb(skin))
    # Beard over the lower face.
    mouth_y = fcy * 0.0 + idn("mouth_y") + fcy * 0.5
    if np.any(idn("beard")):
        beard = face * _soft(_b(mouth_y + idn("beard_top")) - y, fpx) * _b(idn("beard"))
        _over(image, beard, _rgb(hair * 0.9 + skin * 0.1))
    # Hair on top of the head down to the hairline.
    hairline = _b(fcy - fh * (0.62 - idn("fringe")))
    cap = _ellipse(
        x, y, _b(fcx), _b(fcy - fh * 0.25), _b(fw * (1.04 + 0.5 * idn("hair_volume"))), _b(fh * 0.83), fpx
    )
    cap = cap * _soft(y - hairline, fpx) * _b(idn("hair_amount")) * present
    _over(image, cap, _rgb(hair))

    # Eyes: white, iris, pupil.
    eye_y = _b(idn("eye_y") + fcy * 0.5)
    ew = _b(idn("eye_width") * squeeze)
    eh = _b(idn("eye_width") * idn("eye_aspect") * var("eye_open"))
    gaze = var("gaze")
    brow_y = eye_y - _b(idn("brow_gap") + var("brow_raise"))
    for side in (-1.0, 1.0):
        ex = feature_x(side * idn("eye_spacing"))
        white = _ellipse(x, y, ex, eye_y, ew, eh, fpx) * present
        _over(image, white, _rgb(np.full((n, 3), 0.93)))
        ix, iy = ex + _b(gaze[:, 0]) * ew * 0.5, eye_y + _b(gaze[:, 1]) * eh * 0.3
        iris = _ellipse(x, y, ix, iy, ew * 0.48, ew * 0.48, fpx) * white
        _over(image, iris, _rgb(idn("iris")))
        pupil = _ellipse(x, y, ix, iy, ew * 0.2, ew * 0.2, fpx) * white
        _over(image, pupil, _rgb(np.full((n, 3), 0.03)))
        # Brow: a tilted thin ellipse above the eye (tilt mirrored per side).
        tilt = _b(idn("brow_tilt") * side)
        bx = ex
        bu = (x - bx) + tilt * 0.0
        bv = (y - brow_y) - tilt * (x - bx)
        brow = _ellipse(bu, bv, 0.0, 0.0, _b(idn("brow_length") * squeeze), _b(idn("brow_thickness")), fpx)
        _over(image, brow * present, _rgb(hair * 0.8 + skin * 0.05))

    # Nose: shaded ridge and nostrils.
    nose_top = _b(idn("eye_y") + fcy * 0.5)
    nose_len = _b(idn("nose_length"))
    nx = feature_x(np.zeros(n), depth=1.6)
    ridge = _ellipse(x, y, nx, nose_top + nose_len * 0.55, _b(idn("nose_width")) * 0.55, nose_len * 0.55, fpx)
    _over(image, ridge * face, _rgb(skin * 0.80))
    nostrils = _ellipse(
        x, y, nx, nose_top + nose_len, _b(idn("nose_width")), _b(idn("nose_width")) * 0.35, fpx
    )
    _over(image, nostrils * face, _rgb(skin * 0.55))

    # Mouth: lips bent by the smile, dark interior when open.
    mx = feature_x(np.zeros(n), depth=1.1)
    my = _b(mouth_y)
    mw = _b(idn("mouth_width") * squeeze)
    bend = (y - my) + _b(var("smile")) * 0.06 * ((x - mx) / mw) ** 2
    lip_h = _b(idn("lip_thickness") + var("mouth_open") * 0.05)
    lips = _ellipse(x, bend, mx, 0.0, mw, lip_h, fpx) * present
    _over(image, lips, _rgb(idn("lips")))
    inner = _ellipse(x, bend, mx, 0.0, mw * 0.8, _b(var("mouth_open") * 0.04 + 0.004), fpx) * present
    _over(image, inner, _rgb(np.full((n, 3), 0.12)))

    # Glasses: two rings and a bridge.
    if np.any(idn("glasses")):
        gsize = _b(idn("glasses_size"))
        has_glasses = _b(idn("glasses")) * present
        frame = _rgb(idn("glasses_frame"))
        for side in (-1.0, 1.0):
            ex = feature_x(side * idn("eye_spacing"))
            outer = _ellipse(x, y, ex, eye_y, ew * gsize, ew * gsize * 0.8, fpx)
            inner_ring = _ellipse(x, y, ex, eye_y, ew * gsize - 0.018, ew * gsize * 0.8 - 0.018, fpx)
            _over(image, (outer - inner_ring) * has_glasses, frame)
        bridge = _box(
            x, y, feature_x(np.zeros(n)), eye_y - ew * 0.2, _b(idn("eye_spacing")) * 0.35, 0.01, fpx
        )
        _over(image, bridge * has_glasses, frame)

    # Occluder (in image coordinates: a hand, a scarf, another head...).
    occ = var("occluder")
    if np.any(occ[:, 0]):
        occ_mask = (
            _box(u, v, _b(occ[:, 1]), _b(occ[:, 2]), _b(occ[:, 3]), _b(occ[:, 4]), px)
            * _b(occ[:, 0])
            * present
        )
        _over(image, occ_mask, _rgb(occ[:, 5:8]))

    # Illumination: directional ramp, brightness, colour cast, then gamma via lookup table.
    light = var("light_direction")
    ramp = 1.0 + _b(var("light_strength")) * (_b(light[:, 0]) * u + _b(light[:, 1]) * v)
    gain = ramp * _b(var("brightness"))
    cast = _rgb(var("color_cast"))
    gamma = var("gamma_index").astype(np.int64)
    out = np.empty((n, size, size, 3), dtype=np.float32)
    for k in range(3):
        plane = np.clip(image[k] * gain * cast[k], 0.0, 1.0)
        index = (plane * np.float32(_LUT_LEVELS - 1) + np.float32(0.5)).astype(np.int64)
        index += (gamma * _LUT_LEVELS)[:, None, None]
        out[..., k] = _GAMMA_LUT.reshape(-1)[index]
    return out
