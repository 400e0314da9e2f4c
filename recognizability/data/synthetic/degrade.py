"""Per-image degradation parameters of the camera model, and the ground-truth severity computed from them.

The camera (:mod:`camera`) applies, in this order: optical blur (``gaussian_sigma``) with the downsampling to
the sensor's ``height / upsample`` x ``width / upsample`` pixels, motion blur (``motion_length`` at
``motion_angle``) on the sensor, sensor noise (``noise_sigma``), optional posterisation
(``quantisation_levels``), JPEG compression at ``jpeg_quality`` (100 = none) and the pipeline's upsampling by
``upsample`` to the stored ``height`` x ``width``. Blur lengths are in sensor pixels.

Severity (:func:`severity`) is a fixed function of these parameters and of the occluded share of the face, in
[0, 1] and monotone in each (larger blur, noise, occlusion, upsampling, smaller size, fewer levels or lower
JPEG quality never lower it). Images with severity >= :data:`HARD_THRESHOLD` are *hard*.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "HARD_THRESHOLD",
    "DegradationParameters",
    "sample_degradation",
    "severity",
]

#: Severity at or above which an image is *hard*.
HARD_THRESHOLD = 0.5

# Severity model constants: effective resolution (geometric mean side of the sensor image over the blur
# spread) of _SHARP_SIDE pixels or more counts as sharp, _LOST_SIDE or fewer as lost; noise std, JPEG quality
# and occlusion share that saturate their terms (noise and JPEG at about the camera's level-1 extremes).
_SHARP_SIDE = 28.0
_LOST_SIDE = 5.0
_NOISE_SATURATION = 0.06
_JPEG_CLEAN = 95.0
_JPEG_LOST = 25.0
_OCCLUSION_SATURATION = 0.5
_WEIGHTS = {"resolution": 0.60, "noise": 0.12, "quantisation": 0.03, "jpeg": 0.10, "occlusion": 0.15}


@dataclass(frozen=True)
class DegradationParameters:
    """The degradation applied to one image (columns of ``synthetic_metadata.csv`` after path/identity).

    Attributes:
        height, width: stored size in pixels.
        gaussian_sigma: optical blur std, sensor pixels.
        motion_length: motion-blur segment length, sensor pixels (0 = none).
        motion_angle: motion direction, radians.
        noise_sigma: sensor-noise std on the [0, 1] scale.
        quantisation_levels: levels per channel (256 = plain 8-bit).
        occlusion: share of the face hidden by occluders, in [0, 1] (measured by the renderer).
        jpeg_quality: JPEG quality 1..100 (100 = not compressed).
        upsample: stored size / sensor size, >= 1 (1 = stored as captured).
    """

    height: int
    width: int
    gaussian_sigma: float
    motion_length: float
    motion_angle: float
    noise_sigma: float
    quantisation_levels: int
    occlusion: float = 0.0
    jpeg_quality: int = 100
    upsample: float = 1.0

    @classmethod
    def none(cls, height: int, width: int) -> DegradationParameters:
        """No degradation at ``height`` x ``width`` (clean high-resolution images)."""
        return cls(height, width, 0.0, 0.0, 0.0, 0.0, 256, 0.0, 100, 1.0)

    @classmethod
    def column_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)

    def sensor_size(self) -> tuple[int, int]:
        """(height, width) of the image the sensor captured, before the pipeline's upsampling."""
        return (
            max(1, round(self.height / self.upsample)),
            max(1, round(self.width / self.upsample)),
        )


def severity(
    height: ArrayLike,
    width: ArrayLike,
    gaussian_sigma: ArrayLike = 0.0,
    motion_length: ArrayLike = 0.0,
    noise_sigma: ArrayLike = 0.0,
    quantisation_levels: ArrayLike = 256,
    occlusion: ArrayLike = 0.0,
    jpeg_quality: ArrayLike = 100,
    upsample: ArrayLike = 1.0,
) -> NDArray[np.float64]:
    """Ground-truth severity in [0, 1] from degradation parameters (broadcasting arrays or scalars).

    ``severity = clip(0.60 r + 0.12 n + 0.03 q + 0.10 j + 0.15 o, 0, 1)`` with

    - r = resolution loss: ``clip((log2 28 - log2 s_eff) / (log2 28 - log2 5), 0, 1)``, where the effective
      side ``s_eff = sqrt(height * width) / upsample / sqrt(1 + gaussian_sigma**2 + (motion_length / 2)**2)``;
    - n = ``clip(noise_sigma / 0.06, 0, 1)``; q = ``clip((8 - log2 quantisation_levels) / 5, 0, 1)``;
    - j = ``clip((95 - jpeg_quality) / 70, 0, 1)``; o = ``clip(occlusion / 0.5, 0, 1)``.

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
    quality = np.asarray(jpeg_quality, dtype=np.float64)
    up = np.asarray(upsample, dtype=np.float64)
    for name, value in (("gaussian_sigma", g), ("motion_length", m), ("noise_sigma", n), ("occlusion", occ)):
        if np.any(value < 0) or not np.all(np.isfinite(value)):
            raise ValueError(f"expected {name} finite and >= 0, got {value!r}")
    if np.any(levels < 2):
        raise ValueError(f"expected quantisation_levels >= 2, got {quantisation_levels!r}")
    if np.any(quality < 1) or np.any(quality > 100):
        raise ValueError(f"expected jpeg_quality in [1, 100], got {jpeg_quality!r}")
    if np.any(up < 1) or not np.all(np.isfinite(up)):
        raise ValueError(f"expected upsample finite and >= 1, got {upsample!r}")
    side = np.sqrt(h * w) / up / np.sqrt(1.0 + g * g + (m / 2.0) ** 2)
    r = np.clip(
        (math.log2(_SHARP_SIDE) - np.log2(side)) / (math.log2(_SHARP_SIDE) - math.log2(_LOST_SIDE)), 0.0, 1.0
    )
    noise = np.clip(n / _NOISE_SATURATION, 0.0, 1.0)
    quant = np.clip((8.0 - np.log2(levels)) / 5.0, 0.0, 1.0)
    jpeg = np.clip((_JPEG_CLEAN - quality) / (_JPEG_CLEAN - _JPEG_LOST), 0.0, 1.0)
    o = np.clip(occ / _OCCLUSION_SATURATION, 0.0, 1.0)
    total = (
        _WEIGHTS["resolution"] * r
        + _WEIGHTS["noise"] * noise
        + _WEIGHTS["quantisation"] * quant
        + _WEIGHTS["jpeg"] * jpeg
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

    The stored height falls linearly from ``max_size`` at level 0 to ``min_size`` at level 1 (with jitter);
    width is height times a random aspect (faces are taller than wide: TinyFace averages 20 x 16). Blur, noise
    and JPEG compression grow with the level; a share of images is upsampled by the pipeline from a smaller
    sensor image. ``occlusion`` is left 0: the renderer measures it.
    """
    if not 1 <= min_size <= max_size:
        raise ValueError(f"expected 1 <= min_size <= max_size, got min_size={min_size}, max_size={max_size}")
    span = max_size - min_size
    lvl = min(max(level, 0.0), 1.0)
    jitter = (rng.uniform() + rng.uniform() + rng.uniform() - 1.5) * 0.16 * span
    height = int(np.clip(round(max_size - span * lvl + jitter), min_size, max_size))
    width = int(np.clip(round(height * rng.uniform(*aspect)), max(1, min_size - 2), max_size))
    extra = max(level - 1.0, 0.0)
    gaussian_sigma = float(lvl * rng.uniform(0.0, 0.9) + extra)
    motion = float(lvl * rng.uniform(0.5, 2.5)) if rng.uniform() < 0.3 else 0.0
    angle = float(rng.uniform(0.0, math.pi))
    noise_sigma = float(0.003 + lvl * rng.uniform(0.0, 0.06) + extra * 0.15)
    upsample = 1.0
    if rng.uniform() < 0.2 and height >= 8:
        upsample = round(1.0 + lvl * rng.uniform(0.0, 0.6), 3)
    quality = 100
    if rng.uniform() < 0.75:
        quality = int(max(5, round(95.0 - lvl * rng.uniform(15.0, 70.0) - extra * 40.0)))
    return DegradationParameters(
        height, width, gaussian_sigma, motion, angle, noise_sigma, 256, 0.0, quality, upsample
    )
