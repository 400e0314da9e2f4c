"""Vectorised numpy rendering of procedural faces: 3-D heads under directional light in a scene.

:func:`render_batch` draws a batch of faces at once on the whole (B, S, S) pixel grid, parameters broadcast
as (B, 1, 1):

1. the scene (:mod:`scene`) and the body below the head;
2. each pixel's ray is cast onto the rotated, jaw-tapered head ellipsoid and onto a larger hair shell
   (:mod:`geometry`);
3. the face point a pixel sees is moved along the ray by the relief's height (parallax, two fixed-point
   steps), so the nose stands out of the face as the head turns; the relief's gradient bends the normals
   (:mod:`relief`);
4. albedo in face coordinates (:mod:`albedo`), glasses and masks (:mod:`occluders`), hair and hats on the
   shell, then ambient + diffuse + specular shading (:mod:`shading`), a hand in front, and the camera's
   exposure, colour cast and tone curve.

The crop is framed as a face detector frames a face: the eyes about 40 % down, the chin near the bottom, the
face filling most of the width. Determinism: the pixel path uses only float32 +, -, *, /, sqrt, min/max,
floor and table lookups; per-image trigonometry uses Python's ``math``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from ..._validation import check_positive_int
from .albedo import face_albedo, hair_region
from .arrays import Array
from .arrays import per_image as _b
from .arrays import per_image_rgb as _rgb
from .geometry import cast_ellipsoid, head_rays, pose_matrices
from .identities import IDENTITY_SCHEMA, VARIATION_SCHEMA, ParameterTable
from .masks import blend, ellipse, inside, smoothstep
from .occluders import draw_glasses, draw_mask, hand, hat_region
from .relief import face_bumps, relief
from .scene import body, scene
from .shading import encode, shade, to_head

__all__ = ["EYE_LINE", "RENDER_SIZE", "render_batch", "render_faces"]

#: Side of the rendered (high-resolution) image, pixels.
RENDER_SIZE = 112
#: Height of the eye line in the crop (image coordinates, -1 top, 1 bottom) before the per-image shift.
EYE_LINE = -0.2


def _auto_exposure(skin: NDArray[np.float64]) -> NDArray[np.float64]:
    """Exposure gain of a camera metering on the face: ``(0.2 / skin luminance) ** 0.35`` in [1, 2.2], per
    image with Python's math."""
    gains = []
    for r, g, b in skin.tolist():
        luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
        gains.append(min(max(math.pow(0.2 / max(luminance, 1e-3), 0.35), 1.0), 2.2))
    return np.array(gains, dtype=np.float64)


def _ears(
    image: Array,
    u: Array,
    v: Array,
    centre: NDArray[np.float64],
    size: NDArray[np.float64],
    rotation: NDArray[np.float64],
    skin: Array,
    ambient: NDArray[np.float64],
    present: Array,
    pixel: float,
) -> None:
    """Ears: flat skin-coloured ovals at the sides of the head, projected with the pose, drawn behind the
    head (which hides the part facing away), in place on ``image``."""
    f32 = np.float32
    for side in (-1.0, 1.0):
        point = (side * 1.03, 0.22, -0.15)  # head coordinates of the ear's centre
        cx = [
            c + s * sum(r[0][k] * point[k] for k in range(3))
            for c, s, r in zip(centre[:, 0], size, rotation.tolist(), strict=True)
        ]
        cy = [
            c + s * sum(r[1][k] * point[k] for k in range(3))
            for c, s, r in zip(centre[:, 1], size, rotation.tolist(), strict=True)
        ]
        facing = [
            abs(r[2][0]) * 0.6 + 0.4 for r in rotation.tolist()
        ]  # the ear is seen edge-on from the front
        a = _b(size)
        ear = ellipse(
            u,
            v,
            _b(np.array(cx)),
            _b(np.array(cy)),
            a * f32(0.13) * _b(np.array(facing)),
            a * f32(0.27),
            f32(pixel),
        )
        blend(image, ear * present, skin * (_b(ambient) + f32(0.35))[None] * f32(0.8))


def _check(identities: ParameterTable, variations: ParameterTable, size: int) -> None:
    check_positive_int(size, "size", minimum=8)
    if dict(identities.schema) != IDENTITY_SCHEMA or dict(variations.schema) != VARIATION_SCHEMA:
        raise ValueError("expected identities with IDENTITY_SCHEMA and variations with VARIATION_SCHEMA")
    if len(identities) != len(variations):
        raise ValueError(
            f"expected as many variations as identities, got {len(variations)} variations "
            f"and {len(identities)} identities"
        )


def render_faces(
    identities: ParameterTable, variations: ParameterTable, size: int = RENDER_SIZE
) -> NDArray[np.float32]:
    """Render one face per row: float32 (B, size, size, 3), display RGB in [0, 1] (see
    :func:`render_batch`)."""
    return render_batch(identities, variations, size)[0]


def render_batch(
    identities: ParameterTable, variations: ParameterTable, size: int = RENDER_SIZE
) -> tuple[NDArray[np.float32], NDArray[np.float64]]:
    """Render one face per row and measure how much of each face is hidden.

    Args:
        identities: table with :data:`IDENTITY_SCHEMA`, shape (B, P).
        variations: table with :data:`VARIATION_SCHEMA`, shape (B, V).
        size: side of the pixel grid (default 112). The scene is resolution-free (defined on [-1, 1]), so a
            smaller grid samples the same picture more coarsely; the layout writers use 64 for images that are
            then reduced to 32 pixels or fewer.

    Returns:
        (images float32 (B, size, size, 3) in [0, 1]; occluded share of each face, float64 (B,) in [0, 1]:
        face pixels under a hat, a mask, a hand or dark glasses over all face pixels, counted on the grid).
    """
    _check(identities, variations, size)
    idn, var = identities.column, variations.column
    f32 = np.float32
    grid = (np.arange(size, dtype=np.float32) + f32(0.5)) / f32(size) * f32(2.0) - f32(1.0)
    u, v = grid[None, None, :], grid[None, :, None]
    pixel = 2.0 / size
    present = _b(var("face_present"))

    image = scene(u, v, var)
    shift = var("shift")
    centre = np.stack([shift[:, 0], shift[:, 1] + EYE_LINE], axis=1)
    head_size = idn("head_width") * var("scale")
    rotation = pose_matrices(var("yaw"), var("pitch"), var("roll"))
    skin = _rgb(idn("skin"))
    body(image, u, v, centre, head_size, idn("head_height"), skin, var, present, pixel)

    hair = _rgb(idn("hair"))
    style = idn("hair_style")
    if np.any(style >= 4):  # long hair falls behind the shoulders
        cx, cy, a = _b(centre[:, 0]), _b(centre[:, 1]), _b(head_size)
        width = a * (f32(1.1) + _b(idn("hair_volume")))
        below = np.maximum(v - cy, 0.0) / (a * f32(2.0))
        reach = width * (f32(1.0) - f32(0.25) * below * below)
        curtain = inside(np.maximum(np.abs(u - cx) - reach, v - cy - a * f32(2.0)), f32(pixel * 2)) * (
            v > cy - a
        )
        shade_curtain = f32(0.35) + f32(0.25) * smoothstep(f32(1.0) - below)
        blend(image, curtain * present * _b(style >= 4), hair * shade_curtain[None])

    _ears(image, u, v, centre, head_size, rotation, skin, var("ambient"), present, pixel)

    rays = head_rays(u, v, centre, head_size, rotation)
    unit = f32(pixel) / _b(head_size)  # one pixel in head units
    height, depth, taper = _b(idn("head_height")), _b(idn("head_depth")), _b(idn("jaw_taper"))
    one = np.ones_like(height)
    head = cast_ellipsoid(rays, (one, height, depth), 0.0, 0.0, unit, taper, height)

    # Parallax: the face point seen through each pixel, raised by the relief.
    bumps = face_bumps(idn, var)
    dz = np.maximum(rays.dz, f32(0.25))
    kx, ky = rays.dx / dz, rays.dy / dz
    front = smoothstep(head.z / (f32(0.45) * depth))
    x, y = head.x, head.y
    for _ in range(2):
        lift = relief(x, y, bumps, gradient=False)[0] * front
        x, y = head.x + lift * kx, head.y + lift * ky
    lift, gx, gy = relief(x, y, bumps, gradient=True)
    assert gx is not None and gy is not None
    bend = front * head.nz
    nx, ny, nz = head.nx - bend * gx, head.ny - bend * gy, head.nz
    norm = np.sqrt(nx * nx + ny * ny + nz * nz)
    normal = (nx / norm, ny / norm, nz / norm)

    soft = unit * f32(1.2)
    albedo, skin_share, eyes = face_albedo(x, y, idn, var, soft)
    scalp = hair_region(head.x, head.y, head.z, idn, soft)
    blend(albedo, scalp, hair)
    hidden = draw_glasses(albedo, x, y, idn, soft) * front
    hidden = np.maximum(hidden, draw_mask(albedo, x, y, idn, var, soft) * front)
    hat, brim = hat_region(head.x, head.y, var, idn, soft)
    light = to_head(var("light_direction"), rotation)
    view = rotation[:, 2, :]  # the camera direction in head coordinates
    half = light + view
    half = half / np.sqrt((half * half).sum(axis=1, keepdims=True))
    cavity = np.clip(f32(1.0) + f32(3.0) * np.minimum(lift, 0.0), f32(0.35), f32(1.0))
    cavity = cavity * (f32(1.0) - f32(0.6) * brim)
    gloss = _b(var("specular")) * skin_share * (f32(1.0) - scalp) * (f32(1.0) - hidden)
    gloss = gloss + f32(0.6) * eyes * _b(var("specular"))
    ambient = var("ambient")
    face = shade(albedo, normal, light, half, ambient, gloss, cavity)
    blend(image, head.coverage * present, face)

    # Hair shell (and hat) over the head.
    volume = f32(1.0) + _b(idn("hair_volume"))
    shell = cast_ellipsoid(rays, (volume, height * volume, depth * volume), f32(-0.06), f32(-0.05), unit)
    scale = f32(1.0) / volume
    on_shell = hair_region(shell.x * scale, shell.y * scale, shell.z * scale, idn, soft)
    capped = hat_region(shell.x * scale, shell.y * scale, var, idn, soft)[0]
    cover = np.maximum(on_shell, capped) * shell.coverage
    strands = np.abs(shell.x * f32(31.0) + shell.y * f32(5.0))
    strands = np.abs(strands - np.floor(strands) - f32(0.5)) * f32(2.0)
    shell_albedo = hair * (f32(0.85) + f32(0.2) * strands)[None]
    hat_colour = _rgb(var("hat")[:, 2:])
    shell_albedo = shell_albedo + capped[None] * (hat_colour - shell_albedo)
    shell_light = shade(
        shell_albedo,
        (shell.nx, shell.ny, shell.nz),
        light,
        half,
        ambient,
        _b(var("specular")) * f32(0.5) * (f32(1.0) - capped),
    )
    blend(image, cover * present, shell_light)

    # A hand in front of the face.
    held, held_light = hand(u, v, centre, head_size, var, pixel)
    hand_colour = skin * (held_light * f32(0.9))[None] * (_b(ambient) + f32(0.6))[None]
    blend(image, held * present, hand_colour)

    # The occluded share of the face, counted on the grid.
    facial = (head.coverage > 0.5) & (front > 0.2) & (scalp < 0.5) & (y < height) & (present > 0)
    hatted = np.maximum(hat * head.coverage, capped * shell.coverage)
    covered = facial & ((hidden > 0.5) | (held > 0.5) | (hatted > 0.5))
    count = facial.sum(axis=(1, 2))
    occlusion = np.where(count > 0, covered.sum(axis=(1, 2)) / np.maximum(count, 1), 0.0)
    out = encode(image, var("exposure") * _auto_exposure(idn("skin")), var("color_cast"), var("gamma_index"))
    return out, np.asarray(occlusion, dtype=np.float64)
