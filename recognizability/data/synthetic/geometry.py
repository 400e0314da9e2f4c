"""Head pose and orthographic ray casting onto the head and hair ellipsoids.

Camera coordinates: x right, y down (image coordinates u, v in [-1, 1] across the crop), z towards the
camera; every pixel is a ray along -z (orthographic projection: the crops are far from the camera). Head
coordinates (the face coordinates of :mod:`identities`, in units of the head's half-width) are camera
coordinates relative to the head centre, divided by the head size and rotated by the inverse of the pose.

The head is an ellipsoid with half-axes (1, height, depth) whose width tapers towards the chin; a ray's
first hit is the larger root of a quadratic (closed form, one ``sqrt``). The taper divides the ray's x by the
local width at the height where it enters, which is exact for rays of constant height (no pitch) and close
otherwise.

All pixel arithmetic is float32 +, -, *, /, sqrt, min/max; rotations are 3 x 3 Python floats per image built
with ``math.cos``/``math.sin`` and applied as explicit sums (no matrix products on the pixel path).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .arrays import Array
from .arrays import per_image as _b

__all__ = ["Hit", "Pose", "cast_ellipsoid", "head_rays", "pose_matrices"]

#: Height (face Y) below which the head starts to narrow towards the chin.
TAPER_START = 0.15


def pose_matrices(
    yaw: NDArray[np.float64], pitch: NDArray[np.float64], roll: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Rotation head -> camera per image, ``R = R_roll R_pitch R_yaw``: shape (B, 3, 3), Python math."""
    out = np.zeros((len(yaw), 3, 3), dtype=np.float64)
    for i, (a, b, c) in enumerate(zip(yaw.tolist(), pitch.tolist(), roll.tolist(), strict=True)):
        ca, sa, cb, sb, cc, sc = math.cos(a), math.sin(a), math.cos(b), math.sin(b), math.cos(c), math.sin(c)
        ry = ((ca, 0.0, sa), (0.0, 1.0, 0.0), (-sa, 0.0, ca))
        rx = ((1.0, 0.0, 0.0), (0.0, cb, -sb), (0.0, sb, cb))
        rz = ((cc, -sc, 0.0), (sc, cc, 0.0), (0.0, 0.0, 1.0))
        rxy = [[sum(rx[r][k] * ry[k][s] for k in range(3)) for s in range(3)] for r in range(3)]
        out[i] = [[sum(rz[r][k] * rxy[k][s] for k in range(3)) for s in range(3)] for r in range(3)]
    return out


@dataclass(frozen=True)
class Pose:
    """Per-image rays in head coordinates: origins ``ox, oy, oz`` (B, S, S) on the plane z_camera = 0 and
    the direction ``d`` towards the camera (three (B, 1, 1) arrays)."""

    ox: Array
    oy: Array
    oz: Array
    dx: Array
    dy: Array
    dz: Array


def head_rays(
    u: Array, v: Array, centre: NDArray[np.float64], size: NDArray[np.float64], rotation: NDArray[np.float64]
) -> Pose:
    """The rays of pixel grid ``u`` (1, 1, S) and ``v`` (1, S, 1) in each image's head coordinates.

    Args:
        centre: (B, 2) head centre in image coordinates; size: (B,) head half-width in image units;
            rotation: (B, 3, 3) head -> camera.
    """
    a = (u - _b(centre[:, 0])) / _b(size)  # (B, 1, S)
    b = (v - _b(centre[:, 1])) / _b(size)  # (B, S, 1)
    r = rotation
    ox = a * _b(r[:, 0, 0]) + b * _b(r[:, 1, 0])
    oy = a * _b(r[:, 0, 1]) + b * _b(r[:, 1, 1])
    oz = a * _b(r[:, 0, 2]) + b * _b(r[:, 1, 2])
    return Pose(ox, oy, oz, _b(r[:, 2, 0]), _b(r[:, 2, 1]), _b(r[:, 2, 2]))


@dataclass(frozen=True)
class Hit:
    """First hit of each ray on an ellipsoid, in head coordinates.

    Attributes:
        coverage: (B, S, S) in [0, 1]: 1 well inside the silhouette, falling to 0 over about a pixel.
        x, y, z: the point; nx, ny, nz: the unit outward normal.
    """

    coverage: Array
    x: Array
    y: Array
    z: Array
    nx: Array
    ny: Array
    nz: Array


def cast_ellipsoid(
    pose: Pose,
    half_axes: tuple[Array, Array, Array],
    centre_y: Array | float,
    centre_z: Array | float,
    pixel: Array,
    taper: Array | None = None,
    taper_end: Array | None = None,
) -> Hit:
    """Intersect the rays with the ellipsoid of ``half_axes`` (each (B, 1, 1)) centred at (0, centre_y,
    centre_z); ``taper`` narrows its width by up to that share between face Y = TAPER_START and
    ``taper_end``. ``pixel`` is one pixel in head units (B, 1, 1) (for the anti-aliased silhouette)."""
    ax, ay, az = half_axes
    oy = pose.oy - centre_y
    oz = pose.oz - centre_z
    ox, dx = pose.ox, pose.dx
    w: Array | None = None
    slope: Array | None = None
    if taper is not None and taper_end is not None:
        span = taper_end - np.float32(TAPER_START)
        s = np.clip((pose.oy - np.float32(TAPER_START)) / span, 0.0, 1.0)
        w = np.float32(1.0) - taper * s * s
        slope = np.float32(-2.0) * taper * s / span  # dw / dy
        ox = ox / w
        dx = dx / w
    iax, iay, iaz = np.float32(1.0) / (ax * ax), np.float32(1.0) / (ay * ay), np.float32(1.0) / (az * az)
    qa = dx * dx * iax + pose.dy * pose.dy * iay + pose.dz * pose.dz * iaz
    qb = ox * dx * iax + oy * pose.dy * iay + oz * pose.dz * iaz  # half of b
    qc = ox * ox * iax + oy * oy * iay + oz * oz * iaz - np.float32(1.0)
    disc = qb * qb - qa * qc
    root = np.sqrt(np.maximum(disc, 0.0))
    t = (root - qb) / qa
    # Half the chord through the ellipsoid is sqrt(disc) / qa; it grows like sqrt(2 r e) at distance e
    # inside the silhouette, so disc / qa^2 / (2.4 pixel) is about 1 one pixel in.
    coverage = np.clip(disc / (qa * qa) / (np.float32(2.4) * pixel), 0.0, 1.0)
    x = ox + t * dx
    y = oy + t * pose.dy
    z = oz + t * pose.dz
    nx = x * iax
    ny = y * iay
    nz = z * iaz
    if w is not None and slope is not None:
        nx = nx / w
        ny = ny - x * x * iax * slope / w
        x = x * w
    norm = np.sqrt(nx * nx + ny * ny + nz * nz) + np.float32(1e-12)
    return Hit(coverage, x, y + centre_y, z + centre_z, nx / norm, ny / norm, nz / norm)
