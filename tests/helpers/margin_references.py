"""Slow float64 loop references of the margin heads, written from each paper's equations (with the details of
the authors' released code where it is more specific): logits of pre-margin cosine rows, the cross-entropy,
AdaFace's statistics and MagFace's regulariser. Shared by the dense and the chunked/sharded tests."""

from __future__ import annotations

import math

import torch

__all__ = [
    "Rows",
    "cos_rows",
    "norms_of",
    "reference_adaface",
    "reference_adaface_statistics",
    "reference_arcface",
    "reference_cosface",
    "reference_cross_entropy",
    "reference_curricularface",
    "reference_magface",
    "reference_magface_g",
]

Rows = list[list[float]]


def _clip(x: float, low: float, high: float) -> float:
    return min(max(x, low), high)


def reference_cross_entropy(logits: Rows, labels: list[int]) -> float:
    total = 0.0
    for row, y in zip(logits, labels, strict=True):
        top = max(row)
        total += -(row[y] - top - math.log(sum(math.exp(v - top) for v in row)))
    return total / len(labels)


def reference_arcface(cos: Rows, labels: list[int], s: float, m: float) -> Rows:
    """ArcFace: s cos(theta_y + m) at the label (s (cos theta_y - m sin m) past pi), s cos theta_j
    elsewhere."""
    out = []
    for row, y in zip(cos, labels, strict=True):
        theta_y = math.acos(_clip(row[y], -1.0, 1.0))
        target = math.cos(theta_y + m) if theta_y + m <= math.pi else row[y] - m * math.sin(m)
        out.append([s * (target if j == y else c) for j, c in enumerate(row)])
    return out


def reference_cosface(cos: Rows, labels: list[int], s: float, m: float) -> Rows:
    """CosFace: s (cos theta_y - m) at the label, s cos theta_j elsewhere."""
    return [
        [s * (c - m if j == y else c) for j, c in enumerate(row)] for row, y in zip(cos, labels, strict=True)
    ]


def reference_adaface(
    cos: Rows, norms: list[float], labels: list[int], mean: float, std: float, s: float, m: float, h: float
) -> Rows:
    """AdaFace margins g_angle, g_add; head.py's eps = 1e-3 clamps (cosine, angle), norm clip [0.001, 100]."""
    eps, out = 1e-3, []
    for row, n, y in zip(cos, norms, labels, strict=True):
        norm_hat = _clip(h * (_clip(n, 0.001, 100.0) - mean) / (std + eps), -1.0, 1.0)
        g_angle, g_add = -m * norm_hat, m * norm_hat + m
        new_row = []
        for j, c in enumerate(row):
            theta = math.acos(_clip(c, -1 + eps, 1 - eps))
            if j == y:
                new_row.append(s * (math.cos(_clip(theta + g_angle, eps, math.pi - eps)) - g_add))
            else:
                new_row.append(s * math.cos(_clip(theta, eps, math.pi - eps)))
        out.append(new_row)
    return out


def reference_adaface_statistics(
    norms: list[float], mean: float, std: float, alpha: float
) -> tuple[float, float]:
    """EMA of the batch mean and unbiased std of the clipped norms (AdaFace)."""
    clipped = [_clip(n, 0.001, 100.0) for n in norms]
    batch_mean = sum(clipped) / len(clipped)
    batch_std = math.sqrt(sum((x - batch_mean) ** 2 for x in clipped) / (len(clipped) - 1))
    return alpha * batch_mean + (1 - alpha) * mean, alpha * batch_std + (1 - alpha) * std


def reference_curricularface(cos: Rows, labels: list[int], t: float, s: float, m: float) -> Rows:
    """CurricularFace: target cos(theta_y + m) (ArcFace fallback past pi); a negative with
    cos theta_j > cos(theta_y + m) becomes cos theta_j (t + cos theta_j)."""
    out = []
    for row, y in zip(cos, labels, strict=True):
        theta_y = math.acos(_clip(row[y], -1.0, 1.0))
        with_margin = math.cos(theta_y + m)
        new_row = []
        for j, c in enumerate(row):
            if j == y:
                value = with_margin if theta_y + m < math.pi else c - m * math.sin(m)
            else:
                value = c * (t + c) if c > with_margin else c
            new_row.append(s * value)
        out.append(new_row)
    return out


def reference_magface(
    cos: Rows, norms: list[float], labels: list[int], s: float, l_a: float, u_a: float, l_m: float, u_m: float
) -> Rows:
    """MagFace loss, m(a) linear on [l_a, u_a]; easy margin (plain cos theta_y where cos theta_y <= 0)."""
    out = []
    for row, n, y in zip(cos, norms, labels, strict=True):
        a = _clip(n, l_a, u_a)
        margin = (u_m - l_m) / (u_a - l_a) * (a - l_a) + l_m
        new_row = []
        for j, c in enumerate(row):
            if j == y and c > 0:
                c = math.cos(math.acos(_clip(c, -1.0, 1.0)) + margin)
            new_row.append(s * c)
        out.append(new_row)
    return out


def reference_magface_g(norms: list[float], l_a: float, u_a: float) -> float:
    """MagFace regulariser g(a) = a / u_a^2 + 1 / a, averaged over the batch on clipped norms."""
    clipped = [_clip(n, l_a, u_a) for n in norms]
    return sum(a / u_a**2 + 1 / a for a in clipped) / len(clipped)


def norms_of(e: torch.Tensor) -> list[float]:
    return [math.sqrt(sum(float(v) ** 2 for v in row)) for row in e]


def cos_rows(e: torch.Tensor, w: torch.Tensor) -> Rows:
    out = []
    for v in e.tolist():
        row = []
        for p in w.tolist():
            dot = sum(a * b for a, b in zip(v, p, strict=True))
            row.append(dot / (math.sqrt(sum(a * a for a in v)) * math.sqrt(sum(b * b for b in p))))
        out.append(row)
    return out
