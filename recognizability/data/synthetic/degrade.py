"""Per-image degradation to very low resolution, and its ground-truth severity.

Pipeline for one image (high-resolution render in [0, 1] -> uint8 at a few pixels across):

1. Gaussian blur and downsampling in one separable resampling: each output pixel is a normalised
Gaussian-weighted
   sum of the render with standard deviation ``f * sqrt(0.42**2 + gaussian_sigma**2)`` render pixels, where
   ``f`` is the downsampling factor (0.42 output pixels approximates the box prefilter of area resizing) and
   ``gaussian_sigma`` is the optical blur in output pixels.
2. Motion blur: the average of bilinear samples along a segment of ``motion_length`` output pixels at
``motion_angle``.
3. Sensor noise: Gaussian, per channel with std ``noise_sigma`` plus a shared (luminance) part of half that
std.
4. Quantisation to ``quantisation_levels`` levels per channel, then to 8 bits.

Severity (:func:`severity`) is a fixed function of these parameters and of the occluded share of the face, in
[0, 1] and monotone in each (larger blur, noise, occlusion, smaller size or fewer levels never lower it).
Images with severity >= :data:`HARD_THRESHOLD` are *hard*.

All arithmetic is float64.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "HARD_THRESHOLD",
    "DegradationParameters",
    "degrade_images",
    "sample_degradation",
    "severity",
]

#: Severity at or above which an image is *hard*.
HARD_THRESHOLD = 0.5

# Severity model constants: effective resolution (geometric mean side over the blur spread) of _SHARP_SIDE
# pixels or more counts as sharp, _LOST_SIDE or fewer as lost; noise std and occlusion share that saturate
# their terms.
_SHARP_SIDE = 28.0
_LOST_SIDE = 5.0
_NOISE_SATURATION = 0.10
_OCCLUSION_SATURATION = 0.5
_WEIGHTS = {"resolution": 0.65, "noise": 0.15, "quantisation": 0.05, "occlusion": 0.15}


@dataclass(frozen=True)
class DegradationParameters:
    """The degradation applied to one image (the columns of ``synthetic_metadata.csv`` after path/identity).

    Attributes:
        height, width: output size in pixels.
        gaussian_sigma: optical blur std, output pixels.
        motion_length: motion-blur segment length, output pixels (0 = none).
        motion_angle: motion direction, radians.
        noise_sigma: sensor-noise std on the [0, 1] scale.
        quantisation_levels: levels per channel (256 = plain 8-bit).
        occlusion: share of the face covered by an occluder, in [0, 1] (set by the renderer's geometry).
    """

    height: int
    width: int
    gaussian_sigma: float
    motion_length: float
    motion_angle: float
    noise_sigma: float
    quantisation_levels: int
    occlusion: float = 0.0

    @classmethod
    def none(cls, height: int, width: int) -> DegradationParameters:
        """No degradation at ``height`` x ``width`` (high-resolution mugshots)."""
        return cls(height, width, 0.0, 0.0, 0.0, 0.0, 256, 0.0)

    @classmethod
    def column_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def severity(
    height: ArrayLike,
    width: ArrayLike,
    gaussian_sigma: ArrayLike = 0.0,
    motion_length: ArrayLike = 0.0,
    noise_sigma: ArrayLike = 0.0,
    quantisation_levels: ArrayLike = 256,
    occlusion: ArrayLike = 0.0,
) -> NDArray[np.float64]:
    """Ground-truth severity in [0, 1] from degradation parameters (broadcasting arrays or scalars).

    ``severity = clip(0.65 r + 0.15 n + 0.05 q + 0.15 o, 0, 1)`` with

    - r = resolution loss: ``clip((log2 28 - log2 s_eff) / (log2 28 - log2 5), 0, 1)``, where the effective
      side ``s_eff = sqrt(height * width) / sqrt(1 + gaussian_sigma**2 + (motion_length / 2)**2)``;
    - n = ``clip(noise_sigma / 0.10, 0, 1)``; q = ``clip((8 - log2 quantisation_levels) / 5, 0, 1)``;
    - o = ``clip(occlusion / 0.5, 0, 1)``.

    Each term is monotone in its parameters and the weights are positive, so severity is monotone in every
    parameter.
    """
    h = np.asarray(height, dtype=np.float64)
    w = np.asarray(width, dtype=np.float64)
    if np.any(h < 1) or np.any(w < 1):
        raise ValueError(f"expected height and width >= 1, got height={height!r}, width={width!r}")
    g = np.asarray(gaussian_sigma, dtype=np.float64)
    m = np.asarray(motion_length, dtype=np.float64)
    n = np.asarray(noise_sigma, dtype=np.float64)
    levels = np.asarray(quantisation_levels, dtype=np.float64)
    occ = np.asarray(occlusion, dtype=np.float64)
    for name, value in (("gaussian_sigma", g), ("motion_length", m), ("noise_sigma", n), ("occlusion", occ)):
        if np.any(value < 0) or not np.all(np.isfinite(value)):
            raise ValueError(f"expected {name} finite and >= 0, got {value!r}")
    if np.any(levels < 2):
        raise ValueError(f"expected quantisation_levels >= 2, got {quantisation_levels!r}")
    side = np.sqrt(h * w) / np.sqrt(1.0 + g * g + (m / 2.0) ** 2)
    r = np.clip(
        (math.log2(_SHARP_SIDE) - np.log2(side)) / (math.log2(_SHARP_SIDE) - math.log2(_LOST_SIDE)), 0.0, 1.0
    )
    noise = np.clip(n / _NOISE_SATURATION, 0.0, 1.0)
    quant = np.clip((8.0 - np.log2(levels)) / 5.0, 0.0, 1.0)
    o = np.clip(occ / _OCCLUSION_SATURATION, 0.0, 1.0)
    total = (
        _WEIGHTS["resolution"] * r
        + _WEIGHTS["noise"] * noise
        + _WEIGHTS["quantisation"] * quant
        + _WEIGHTS["occlusion"] * o
    )
    return np.asarray(np.clip(total, 0.0, 1.0), dtype=np.float64)


def sample_degradation(
    rng: np.random.Generator,
    level: float,
    *,
    min_size: int = 8,
    max_size: int = 32,
    aspect: tuple[float, float] = (0.72, 0.95),
) -> DegradationParameters:
    """Draw degradation parameters around a latent ``level`` (0 = mild, 1 = severe; above 1 = unrecognisable).

    The output height falls linearly from ``max_size`` at level 0 to ``min_size`` at level 1 (with jitter);
    width is height times a random aspect (faces are taller than wide: TinyFace averages 20 x 16). Blur, noise
    and quantisation grow with the level. ``occlusion`` is left 0: the renderer's geometry sets it.
    """
    if not 1 <= min_size <= max_size:
        raise ValueError(f"expected 1 <= min_size <= max_size, got min_size={min_size}, max_size={max_size}")
    span = max_size - min_size
    lvl = min(max(level, 0.0), 1.0)
    height = int(
        np.clip(round(max_size - span * lvl + rng.normal(0.0, 0.08 * span + 0.5)), min_size, max_size)
    )
    width = int(np.clip(round(height * rng.uniform(*aspect)), max(1, min_size - 2), max_size))
    extra = max(level - 1.0, 0.0)
    gaussian_sigma = float(lvl * rng.uniform(0.0, 1.0) + extra)
    motion = float(lvl * rng.uniform(0.5, 2.5)) if rng.uniform() < 0.35 else 0.0
    angle = float(rng.uniform(0.0, math.pi))
    noise_sigma = float(0.004 + lvl * rng.uniform(0.0, 0.09) + extra * 0.2)
    bits = 8.0
    if lvl > 0.4 and rng.uniform() < 0.5:
        bits = 8.0 - rng.uniform(0.0, 4.0) * (lvl - 0.4) / 0.6
    levels = int(max(8, round(2.0**bits)))
    return DegradationParameters(height, width, gaussian_sigma, motion, angle, noise_sigma, levels, 0.0)


def _resampling_weights(out_size: int, in_size: int, sigma_out: float) -> NDArray[np.float64]:
    """(out_size, in_size) Gaussian resampling matrix, rows summing to 1 (std in output pixels)."""
    factor = in_size / out_size
    sigma = factor * math.sqrt(0.42**2 + sigma_out**2)
    centres = (np.arange(out_size, dtype=np.float64) + 0.5) * factor - 0.5
    taps = np.arange(in_size, dtype=np.float64)
    weights = np.exp(-0.5 * ((taps[None, :] - centres[:, None]) / sigma) ** 2)
    out: NDArray[np.float64] = weights / weights.sum(axis=1, keepdims=True)
    return out


def _motion_blur(image: NDArray[np.float64], length: float, angle: float) -> NDArray[np.float64]:
    """Average of bilinear samples (edge-clamped) along a centred segment; image (h, w, 3)."""
    if length <= 0.0:
        return image
    h, w = image.shape[:2]
    steps = max(2, math.ceil(2.0 * length) + 1)
    dx, dy = math.cos(angle), math.sin(angle)
    ys = np.arange(h, dtype=np.float64)[:, None]
    xs = np.arange(w, dtype=np.float64)[None, :]
    total = np.zeros_like(image)
    for j in range(steps):
        t = (j / (steps - 1) - 0.5) * length
        yy = np.clip(ys + t * dy, 0.0, h - 1.0) + 0.0 * xs
        xx = np.clip(xs + t * dx, 0.0, w - 1.0) + 0.0 * ys
        y0, x0 = np.floor(yy).astype(np.int64), np.floor(xx).astype(np.int64)
        y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
        fy, fx = (yy - y0)[..., None], (xx - x0)[..., None]
        top = image[y0, x0] * (1.0 - fx) + image[y0, x1] * fx
        bottom = image[y1, x0] * (1.0 - fx) + image[y1, x1] * fx
        total += top * (1.0 - fy) + bottom * fy
    out: NDArray[np.float64] = total / steps
    return out


def degrade_images(
    images: NDArray[np.float32],
    parameters: list[DegradationParameters],
    rngs: list[np.random.Generator],
) -> list[NDArray[np.uint8]]:
    """Degrade a batch of renders.

    Args:
        images: float array (B, H, W, 3) in [0, 1] (the renders).
        parameters: B degradation parameter sets.
        rngs: B generators, one per image (the noise is drawn from them).

    Returns:
        B uint8 arrays, image i of shape (parameters[i].height, parameters[i].width, 3).
    """
    if images.ndim != 4 or images.shape[3] != 3:
        raise ValueError(f"expected images of shape (B, H, W, 3), got shape {tuple(images.shape)}")
    if not len(parameters) == len(rngs) == images.shape[0]:
        raise ValueError(
            f"expected {images.shape[0]} parameter sets and generators, got {len(parameters)} and {len(rngs)}"
        )
    in_h, in_w = images.shape[1:3]
    out: list[NDArray[np.uint8]] = []
    for image, p, rng in zip(images, parameters, rngs, strict=True):
        x = image.astype(np.float64)
        if (p.height, p.width) != (in_h, in_w) or p.gaussian_sigma > 0:
            rows = _resampling_weights(p.height, in_h, p.gaussian_sigma)
            cols = _resampling_weights(p.width, in_w, p.gaussian_sigma)
            x = (rows @ x.reshape(in_h, in_w * 3)).reshape(p.height, in_w, 3)
            x = (cols @ x.transpose(1, 0, 2).reshape(in_w, p.height * 3)).reshape(p.width, p.height, 3)
            x = np.ascontiguousarray(x.transpose(1, 0, 2))
        x = _motion_blur(x, p.motion_length, p.motion_angle)
        if p.noise_sigma > 0:
            x = (
                x
                + rng.normal(0.0, p.noise_sigma, x.shape)
                + rng.normal(0.0, 0.5 * p.noise_sigma, (*x.shape[:2], 1))
            )
        x = np.clip(x, 0.0, 1.0)
        if p.quantisation_levels < 256:
            q = p.quantisation_levels - 1
            x = np.floor(x * q + 0.5) / q
        out.append(np.floor(x * 255.0 + 0.5).astype(np.uint8))
    return out
