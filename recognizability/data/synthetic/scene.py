"""The scene behind the head: a multi-scale texture like a photograph's background, a straight edge (a wall,
a door frame, a window), and the body below the head (neck, clothed shoulders).

The texture is value noise: random values on grids of 3, 5, 9 and 17 points across the crop (from the
image's own PCG64 stream, ``texture_seed``), interpolated with a cubic smooth step and summed with amplitudes
falling as 1/f, as the spectra of natural images do. Interpolation weights depend only on the grid, so they
are computed once per size.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .arrays import Array, Column
from .arrays import per_image as _b
from .arrays import per_image_rgb as _rgb
from .masks import blend, ellipse, inside, smoothstep

__all__ = ["body", "scene"]

_OCTAVES = ((3, 1.0), (5, 0.6), (9, 0.35), (17, 0.2))


def _taps(points: int, size: int) -> tuple[NDArray[np.int64], Array]:
    """Left grid index and smooth-stepped weight of each of ``size`` pixel centres on a ``points`` grid."""
    position = (
        (np.arange(size, dtype=np.float32) + np.float32(0.5)) / np.float32(size) * np.float32(points - 1)
    )
    left = np.minimum(np.floor(position).astype(np.int64), points - 2)
    return left, smoothstep(position - left.astype(np.float32))


def texture(seeds: NDArray[np.float64], size: int) -> Array:
    """Value noise in about [-1, 1], shape (B, size, size), one field per image seed."""
    n = len(seeds)
    grids = [
        np.stack([np.random.default_rng(int(seed) + 7919 * o).uniform(-1.0, 1.0, (p, p)) for seed in seeds])
        .astype(np.float32)
        .reshape(n, p, p)
        for o, (p, _) in enumerate(_OCTAVES)
    ]
    out = np.zeros((n, size, size), dtype=np.float32)
    for grid, (points, amp) in zip(grids, _OCTAVES, strict=True):
        i, w = _taps(points, size)
        rows = grid[:, i, :] * (np.float32(1.0) - w)[None, :, None] + grid[:, i + 1, :] * w[None, :, None]
        out += np.float32(amp) * (
            rows[:, :, i] * (np.float32(1.0) - w)[None, None, :] + rows[:, :, i + 1] * w[None, None, :]
        )
    scaled: Array = out * np.float32(1.0 / 1.5)
    return scaled


def scene(u: Array, v: Array, var: Column) -> Array:
    """The background, linear RGB (3, B, S, S), for the pixel grid ``u`` (1, 1, S), ``v`` (1, S, 1)."""
    size = u.shape[-1]
    background = var("background")
    t = np.clip((v + np.float32(1.0)) * np.float32(0.5), 0.0, 1.0)
    first, second = _rgb(background[:, :3]), _rgb(background[:, 3:])
    noise = texture(var("texture_seed"), size)
    gain = np.float32(1.0) + _b(var("texture_strength")) * noise
    image = (first * (np.float32(1.0) - t) + second * t) * np.maximum(gain, np.float32(0.05))
    edge = var("edge")
    along = u * _b(edge[:, 0]) + v * _b(edge[:, 1]) - _b(edge[:, 2])
    softness = np.float32(0.02) + _b(edge[:, 4]) * np.float32(0.3)
    step = smoothstep(along / softness + np.float32(0.5))
    contrast = np.float32(0.35) + _b(edge[:, 3]) * np.float32(1.3)
    out: Array = image * (np.float32(1.0) + (contrast - np.float32(1.0)) * step)[None]
    return out


def body(
    image: Array,
    u: Array,
    v: Array,
    centre: NDArray[np.float64],
    size: NDArray[np.float64],
    chin: NDArray[np.float64],
    skin: Array,
    var: Column,
    present: Array,
    soft: float,
) -> None:
    """Draw the neck and clothed shoulders below each head onto ``image`` (3, B, S, S), in place.

    ``centre`` (B, 2) and ``size`` (B,) place the head as in :func:`geometry.head_rays`; ``chin`` (B,) is the
    chin's height in head units; ``skin`` (3, B, 1, 1) colours the neck (in its own shadow)."""
    cx, cy, a = _b(centre[:, 0]), _b(centre[:, 1]), _b(size)
    neck_top = cy + a * _b(chin) * np.float32(0.55)
    neck = inside(np.maximum(np.abs(u - cx) - a * np.float32(0.48), neck_top - v), soft) * present
    blend(image, neck, skin * np.float32(0.35))
    shoulders = ellipse(
        u, v, cx, cy + a * (_b(chin) + np.float32(0.75)), a * np.float32(2.4), a * np.float32(0.8), soft
    )
    shade = np.float32(0.7) + np.float32(0.3) * smoothstep(np.float32(0.5) - (v - cy) / (a * np.float32(4.0)))
    clothing = _rgb(var("clothing"))
    blend(image, shoulders * present, clothing * shade[None])
