"""The camera that turns a render into a stored very-low-resolution image (see :mod:`degrade` for the
parameters).

For one image: the centre of the square render is cropped to the stored aspect ratio; optical blur and the
sensor's area sampling are one separable resampling to the sensor size with a polynomial kernel
``(1 - (d / R)^2)^3`` of the combined spread (std ``f * sqrt(0.42^2 + gaussian_sigma^2)`` render pixels for a
reduction by ``f``; 0.42 sensor pixels approximates the box of a pixel's area); motion blur averages bilinear
samples along a segment; sensor noise is Gaussian-like (a sum of three uniforms) per channel plus a shared
luminance part; the 8-bit image is JPEG-compressed (:mod:`jpeg`) and finally upsampled bilinearly to the
stored size when the pipeline enlarged it.

Every sum is an explicit loop of float64 multiply-adds in a fixed order (no matrix products), every weight a
polynomial, so the bytes are the same on any machine.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from .degrade import DegradationParameters
from .jpeg import jpeg_roundtrip

__all__ = ["degrade_images"]

Taps = tuple[NDArray[np.int64], NDArray[np.float64]]


def _normalised(weights: NDArray[np.float64]) -> NDArray[np.float64]:
    total = np.zeros(weights.shape[0], dtype=np.float64)
    for t in range(weights.shape[1]):
        total += weights[:, t]
    out: NDArray[np.float64] = weights / total[:, None]
    return out


def _reduce_taps(out_size: int, start: float, span: float, in_size: int, sigma_out: float) -> Taps:
    """Taps of a reduction of input pixels [start, start + span) to ``out_size`` pixels with blur
    ``sigma_out`` (output pixels): indices (out, K) clamped to the input, weights (out, K) summing to 1."""
    factor = span / out_size
    spread = max(factor * math.sqrt(0.42**2 + sigma_out**2), 0.5)
    radius = 3.0 * spread  # (1 - (d/R)^2)^3 has std R / 3
    reach = math.ceil(radius)
    centres = start + (np.arange(out_size, dtype=np.float64) + 0.5) * factor - 0.5
    first = np.floor(centres).astype(np.int64) - reach
    taps = first[:, None] + np.arange(2 * reach + 2, dtype=np.int64)[None, :]
    distance = (taps - centres[:, None]) / radius
    weights = np.maximum(1.0 - distance * distance, 0.0)
    weights = weights * weights * weights
    return np.clip(taps, 0, in_size - 1), _normalised(weights)


def _linear_taps(out_size: int, in_size: int) -> Taps:
    """Bilinear taps of an enlargement from ``in_size`` to ``out_size`` pixels (edge-clamped)."""
    centres = (np.arange(out_size, dtype=np.float64) + 0.5) * (in_size / out_size) - 0.5
    left = np.floor(centres)
    frac = centres - left
    taps = left.astype(np.int64)[:, None] + np.array([0, 1], dtype=np.int64)[None, :]
    weights = np.stack([1.0 - frac, frac], axis=1)
    return np.clip(taps, 0, in_size - 1), weights


def _apply_rows(image: NDArray[np.float64], taps: Taps) -> NDArray[np.float64]:
    """Resample the first axis of ``image`` (H, W, C) with ``taps``."""
    index, weights = taps
    out = np.zeros((index.shape[0], *image.shape[1:]), dtype=np.float64)
    for t in range(index.shape[1]):
        out += weights[:, t, None, None] * image[index[:, t]]
    return out


def _resample(image: NDArray[np.float64], rows: Taps, cols: Taps) -> NDArray[np.float64]:
    across = _apply_rows(image, rows)
    return np.ascontiguousarray(_apply_rows(across.transpose(1, 0, 2), cols).transpose(1, 0, 2))


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


def _gaussian_like(rng: np.random.Generator, shape: tuple[int, ...]) -> NDArray[np.float64]:
    """Zero-mean, unit-variance noise: ``2 (u1 + u2 + u3 - 1.5)`` of uniforms (no ``log`` or ``exp``)."""
    draws = rng.uniform(0.0, 1.0, (3, *shape))
    out: NDArray[np.float64] = (draws[0] + draws[1] + draws[2] - 1.5) * 2.0
    return out


def _to_uint8(image: NDArray[np.float64]) -> NDArray[np.uint8]:
    return np.floor(np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def degrade_image(
    image: NDArray[np.float32], p: DegradationParameters, rng: np.random.Generator
) -> NDArray[np.uint8]:
    """One render (S, S, 3) in [0, 1] -> the stored uint8 image (p.height, p.width, 3)."""
    size_h, size_w = image.shape[:2]
    sensor_h, sensor_w = p.sensor_size()
    x = image.astype(np.float64)
    aspect = p.width / p.height
    span_w = min(float(size_w), size_h * aspect)
    span_h = min(float(size_h), size_w / aspect)
    if (sensor_h, sensor_w) != (size_h, size_w) or p.gaussian_sigma > 0:
        rows = _reduce_taps(sensor_h, (size_h - span_h) / 2.0, span_h, size_h, p.gaussian_sigma)
        cols = _reduce_taps(sensor_w, (size_w - span_w) / 2.0, span_w, size_w, p.gaussian_sigma)
        x = _resample(x, rows, cols)
    x = _motion_blur(x, p.motion_length, p.motion_angle)
    if p.noise_sigma > 0:
        x = x + p.noise_sigma * _gaussian_like(rng, x.shape)
        x = x + 0.5 * p.noise_sigma * _gaussian_like(rng, (*x.shape[:2], 1))
    x = np.clip(x, 0.0, 1.0)
    if p.quantisation_levels < 256:
        q = p.quantisation_levels - 1
        x = np.floor(x * q + 0.5) / q
    out = _to_uint8(x)
    if p.jpeg_quality < 100:
        out = jpeg_roundtrip(out, p.jpeg_quality)
    if (sensor_h, sensor_w) != (p.height, p.width):
        big = _resample(
            out.astype(np.float64) / 255.0, _linear_taps(p.height, sensor_h), _linear_taps(p.width, sensor_w)
        )
        out = _to_uint8(big)
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
    return [degrade_image(image, p, rng) for image, p, rng in zip(images, parameters, rngs, strict=True)]
