"""Albedo of the face in face coordinates: skin, brows, eyes, nostrils, lips, mouth, beard, scalp hair.

Computed at the face point each pixel sees (after parallax, see :mod:`render`), so the features turn with
the head. Colours are linear RGB, held channel-planar as (3, B, S, S). Besides the colour, the function
returns the share of each pixel that is skin (for the skin's sheen) and the eye-opening mask (for the glint
of the cornea).
"""

from __future__ import annotations

import numpy as np

from .arrays import Array, Column
from .arrays import per_image as _b
from .arrays import per_image_rgb as _rgb
from .masks import blend, ellipse, inside, smoothstep

__all__ = ["face_albedo", "hair_region"]


def hair_region(x: Array, y: Array, z: Array, idn: Column, soft: Array) -> Array:
    """Where the head (or hair shell) point (x, y, z) is covered by hair, in [0, 1]: above the hairline
    (lowered by the fringe at the centre, raised at the parting), down the sides for medium and long styles,
    and all over the back; 0 for bald identities."""
    style = _b(idn("hair_style"))
    fringe = _b(idn("fringe"))
    parting = _b(idn("parting")) * np.float32(0.35)
    centre = np.float32(1.0) - (x - parting) * (x - parting) / np.float32(0.3)
    top = _b(idn("hairline")) + fringe * np.maximum(centre, 0.0) + np.float32(0.12) * x * x
    side_end = np.where(
        style >= 3, np.float32(0.9), np.where(style >= 2, np.float32(0.05), np.float32(-0.25))
    )
    # The hairline runs down to the sideburns (or the hanging hair) beyond the temples.
    line = top + (side_end - top) * smoothstep((np.abs(x) - np.float32(0.74)) / np.float32(0.16))
    region = inside(y - line, soft)
    back = smoothstep((np.float32(0.1) - z) / np.float32(0.3)) * inside(y - side_end - np.float32(0.3), soft)
    region = np.maximum(region, back)
    out: Array = region * (style >= 1)
    return out


def face_albedo(x: Array, y: Array, idn: Column, var: Column, soft: Array) -> tuple[Array, Array, Array]:
    """Albedo at face coordinates ``x``, ``y`` (B, S, S); ``soft`` is about one pixel in face units.

    Returns:
        (albedo (3, B, S, S) linear RGB, skin share (B, S, S), eye-opening mask (B, S, S)).
    """
    n = x.shape[0]
    skin = _rgb(idn("skin"))
    image = np.empty((3, *x.shape), dtype=np.float32)
    for k in range(3):
        image[k] = skin[k]
    f32 = np.float32
    smile, opened = _b(var("smile")), _b(var("mouth_open"))
    eye_y, spacing = _b(idn("eye_y")), _b(idn("eye_spacing"))
    eye_w, eye_h = _b(idn("eye_width")), _b(idn("eye_height")) * _b(var("eye_open"))
    hair = _rgb(idn("hair"))

    # Flush on the cheeks and nose, shade round the eyes: a little colour in the skin.
    for side in (-1.0, 1.0):
        cheek = ellipse(x, y, f32(side * 0.5), f32(0.38), f32(0.3), f32(0.25), f32(0.25))
        for k, gain in enumerate((1.06, 0.93, 0.93)):
            image[k] *= f32(1.0) + (f32(gain) - f32(1.0)) * cheek
        orbit = ellipse(x, y, spacing * f32(side), eye_y, eye_w * f32(1.6), f32(0.16), f32(0.1))
        for k, gain in enumerate((0.72, 0.66, 0.68)):
            image[k] *= f32(1.0) + (f32(gain) - f32(1.0)) * orbit

    # Brows: an arched band above each eye, thinning outwards.
    brow_colour = np.minimum(hair * f32(0.9), skin * f32(0.35))
    darkness = _b(idn("brow_darkness"))
    brows = np.zeros(x.shape, dtype=np.float32)
    for side in (-1.0, 1.0):
        cx = spacing * f32(side) + f32(side * 0.02)
        half = _b(idn("brow_length"))
        s = (x - cx) / half
        line = eye_y - _b(idn("brow_y")) - _b(idn("brow_arch")) * (f32(1.0) - s * s)
        thick = _b(idn("brow_thickness")) * (f32(1.0) - f32(0.45) * np.clip(s * f32(side), 0.0, 1.0))
        distance = np.maximum(np.abs(y - line) - thick, (np.abs(x - cx) - half) * f32(0.5))
        brow = inside(distance, soft) * darkness
        brows = np.maximum(brows, brow)
        blend(image, brow, brow_colour)

    # Eyes: almond opening with sclera, iris and pupil; lashes along the upper lid, a crease above it.
    eyes = np.zeros(x.shape, dtype=np.float32)
    gaze = var("gaze")
    iris = _rgb(idn("iris")) * np.float32(0.6)
    for side in (-1.0, 1.0):
        cx = spacing * f32(side)
        s = (x - cx) / eye_w
        shape = np.maximum(f32(1.0) - s * s, 0.0)
        tilt = _b(idn("eye_tilt")) * s * f32(side)
        upper = eye_y - tilt - eye_h * shape
        lower = eye_y - tilt + eye_h * f32(0.75) * shape
        opening = inside(np.maximum(upper - y, y - lower), soft) * (shape > 0)
        eyes = np.maximum(eyes, opening)
        blend(image, opening, np.full((3, n, 1, 1), 0.22, dtype=np.float32))
        ix = cx + _b(gaze[:, 0]) * eye_w * f32(0.35)
        iy = eye_y + _b(gaze[:, 1]) * eye_h * f32(0.3)
        r = eye_w * f32(0.5)
        blend(image, ellipse(x, y, ix, iy, r, r, soft) * opening, iris)
        blend(
            image,
            ellipse(x, y, ix, iy, r * f32(0.42), r * f32(0.42), soft) * opening,
            np.zeros((3, n, 1, 1), np.float32),
        )
        lash = inside(np.abs(y - upper + f32(0.006)) - f32(0.014), soft) * inside(
            np.abs(s) - f32(1.05), f32(0.1)
        )
        blend(image, lash, np.full((3, n, 1, 1), 0.02, dtype=np.float32))
        crease = inside(np.abs(y - upper + f32(0.06)) - f32(0.008), soft) * (shape > 0)
        blend(image, crease * f32(0.5), skin * f32(0.5))

    # Nostrils.
    nose_y = _b(idn("nose_length")) + f32(0.045)
    for side in (-1.0, 1.0):
        nostril = ellipse(
            x, y, _b(idn("nose_width")) * f32(side * 0.45), nose_y, f32(0.045), f32(0.022), soft
        )
        blend(image, nostril, skin * f32(0.15))

    # Mouth: lips bent by the smile, a dark opening (teeth when smiling) when open.
    width = _b(idn("mouth_width")) * (f32(1.0) + f32(0.15) * smile)
    s = x / width
    shape = np.maximum(f32(1.0) - s * s, 0.0)
    line = _b(idn("mouth_y")) + smile * f32(0.03) - smile * f32(0.09) * s * s
    lip = _b(idn("lip_thickness"))
    gap = opened * f32(0.12) * shape
    upper = inside(np.maximum(line - lip * np.sqrt(shape) - y, y - line), soft) * (shape > 0)
    lower = inside(np.maximum(line + gap - y, y - line - gap - lip * f32(1.25) * np.sqrt(shape)), soft)
    lips = _rgb(idn("lips"))
    blend(image, np.maximum(upper, lower * (shape > 0)), lips)
    interior = inside(np.maximum(line - y, y - line - gap), soft) * (shape > 0) * (opened > 0)
    blend(image, interior, np.full((3, n, 1, 1), 0.015, dtype=np.float32))
    teeth = interior * inside(y - line - gap * f32(0.35), soft) * (smile > 0.4)
    blend(image, teeth, np.full((3, n, 1, 1), 0.45, dtype=np.float32))
    seam = inside(np.abs(y - line) - f32(0.008), soft) * (shape > 0.05)
    blend(image, seam, lips * f32(0.25))

    # Beard: stubble darkens the lower face, the other styles cover parts of it with hair.
    style = idn("beard")
    if np.any(style > 0):
        density = _b(idn("beard_density")) * (_b(style) > 0)
        mouth_y = _b(idn("mouth_y"))
        cheek_line = _b(idn("nose_length")) + f32(0.12) + f32(0.2) * np.abs(x)
        lower_face = inside(cheek_line - y, f32(0.08))
        moustache = inside(
            np.maximum(np.abs(x) - width * f32(1.1), np.abs(y - (mouth_y - lip - f32(0.05))) - f32(0.045)),
            soft,
        )
        goatee = inside(np.maximum(np.abs(x) - width * f32(0.8), mouth_y + lip - y), f32(0.05))
        full = lower_face * inside(np.abs(x) - f32(0.95), f32(0.1))
        beard = np.where(
            _b(style) == 1,
            full * f32(0.45),
            np.where(
                _b(style) == 2,
                moustache,
                np.where(_b(style) == 3, np.maximum(goatee, moustache), np.maximum(full, moustache)),
            ),
        )
        beard = beard * density
        blend(image, beard, hair * f32(0.8))

    skin_share = (f32(1.0) - eyes) * (f32(1.0) - upper) * (f32(1.0) - brows)
    return image, skin_share.astype(np.float32), eyes
