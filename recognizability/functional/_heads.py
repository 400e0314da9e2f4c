"""What the margin heads share, dense, chunked or class-sharded: one place for each argument check, the two
cosines of the index, and the margin kernels that turn the target cosine ``cos(theta_y)`` into the target
logit (and, where a method changes them, the non-target cosines into their logits).

Public names in a private module: :mod:`recognizability.functional` and :mod:`recognizability.nn` import them;
users call the checked functions (:func:`~recognizability.functional.arcface_logits`,
:func:`~recognizability.functional.cosface_logits`, ..., :mod:`recognizability.functional.chunked`) and the
margin components of :mod:`recognizability.nn`. The kernels check nothing; they are elementwise in their
tensor arguments (any broadcastable shapes: a ``(B, 1)`` column of a dense head, a ``(B,)`` vector of a
chunked one) and compute in the dtype of the cosine they are given.

* ArcFace: Deng et al., CVPR 2019. CosFace: Wang et al., CVPR 2018. AdaFace: Kim, Jain and Liu, CVPR 2022.
  CurricularFace: Huang et al., CVPR 2020. MagFace: Meng et al., CVPR 2021.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .._validation import (
    check_finite,
    check_float_in_range,
    check_floating,
    check_labels,
    check_nonempty,
    check_positive_float,
    check_same_device,
    check_shape,
    check_tensor,
    value_checks_enabled,
)
from ._autocast import at_least_float32

__all__ = [
    "ADAFACE_EPS",
    "ADAFACE_NORM_RANGE",
    "adaface_negative_logits",
    "adaface_target_logits",
    "angular_margin_cosine",
    "arcface_target_logits",
    "check_adaface_values",
    "check_cosine_and_labels",
    "check_embeddings_and",
    "check_finite_statistic",
    "check_head_call",
    "check_magface_bounds",
    "check_margin",
    "check_momentum",
    "check_one_element",
    "check_per_sample",
    "cosface_target_logits",
    "curricularface_negative_logits",
    "finite_or_old",
    "index_parts",
    "magface_margin_of_norms",
    "magface_target_logits",
    "safe_norms",
    "sine_of",
]

#: ``eps`` of the AdaFace authors' ``head.py``: cosines are clamped to ``[-1 + eps, 1 - eps]`` and angles to
#: ``[eps, pi - eps]``; also added to the norm standard deviation.
ADAFACE_EPS = 1e-3
#: AdaFace's clip of the feature norms before their statistics are taken (``head.py``: 0.001 and 100).
ADAFACE_NORM_RANGE = (0.001, 100.0)


# ----------------------------------------------------------------------------------------------------------
# Checks
# ----------------------------------------------------------------------------------------------------------


def check_embeddings_and(
    embeddings: object, other: object, name: str, shape: tuple[int | str, ...] = ()
) -> tuple[Tensor, Tensor]:
    """``(B, D)`` floating, non-empty embeddings and a floating tensor ``other`` of shape ``(*shape, D)`` on
    their device: the class prototypes ``(C, D)`` (``shape=("C",)``) or the UI centre ``(D,)``.

    The order of the checks (shapes, dtypes, device, size) fixes which one a bad call reports.
    """
    vectors = check_shape(embeddings, "embeddings", ("B", "D"))
    against = check_shape(other, name, (*shape, vectors.shape[1]))
    check_floating(vectors, "embeddings")
    check_floating(against, name)
    check_same_device(against, name, vectors, "embeddings")
    check_nonempty(vectors, "embeddings")
    return vectors, against


def check_head_call(
    embeddings: object, labels: object, prototypes: Tensor, embedding_dim: int, num_classes: int
) -> Tensor:
    """The call of a head module: ``(B, D)`` embeddings of the head's ``D = embedding_dim`` (a wrong width is
    the embeddings' fault, not the prototypes'), floating, non-empty, on the device of the head's
    ``prototypes``; labels ``(B,)`` in ``[0, num_classes)``; and, while value checks are on, finite
    embeddings (one host sync). Returns the labels as int64.
    """
    vectors = check_shape(embeddings, "embeddings", ("B", embedding_dim))
    check_floating(vectors, "embeddings")
    check_same_device(vectors, "embeddings", prototypes, "the head's weight")
    check_nonempty(vectors, "embeddings")
    index = check_labels(labels, num_classes, vectors.shape[0], vectors, "embeddings")
    check_finite(vectors, "embeddings")
    return index


def check_cosine_and_labels(cosine: Tensor, labels: Tensor) -> Tensor:
    """Check ``(B, C)`` floating cosines, ``C >= 2``, and labels in ``[0, C)``; return labels ``(B, 1)``."""
    check_shape(cosine, "cosine", ("B", "C"))
    check_floating(cosine, "cosine")
    check_nonempty(cosine, "cosine")
    if cosine.shape[1] < 2:
        raise ValueError(
            f"expected cosine of shape (B, C) with C >= 2 classes (a nearest negative must exist), "
            f"got shape ({cosine.shape[0]}, {cosine.shape[1]})"
        )
    return check_labels(labels, cosine.shape[1], cosine.shape[0], cosine, "cosine").unsqueeze(1)


def check_per_sample(value: Tensor, name: str, reference: Tensor, reference_name: str) -> None:
    """A floating ``(B,)`` tensor with the batch size and device of ``reference``."""
    check_shape(value, name, (reference.shape[0],))
    check_floating(value, name)
    check_same_device(value, name, reference, reference_name)


def check_one_element(value: object, name: str, reference: Tensor, reference_name: str) -> Tensor:
    """A floating tensor with one element (shape ``()`` or ``(1,)``: a running statistic) on the device of
    ``reference``."""
    tensor = check_tensor(value, name)
    if tensor.numel() != 1:
        raise ValueError(
            f"expected {name} with one element (shape () or (1,)), got shape {tuple(tensor.shape)}"
        )
    check_floating(tensor, name)
    check_same_device(tensor, name, reference, reference_name)
    return tensor


def check_margin(margin: object, name: str = "margin") -> float:
    """An angular margin in radians, ``0 <= m < pi`` (ArcFace, CurricularFace, MagFace's bounds)."""
    return check_float_in_range(margin, name, 0, math.pi, high_closed=False, high_text="pi")


def check_momentum(momentum: object, name: str = "momentum") -> float:
    """The momentum of a running statistic, in ``(0, 1]``."""
    return check_float_in_range(momentum, name, 0, 1, low_closed=False)


def check_magface_bounds(
    lower_norm: object, upper_norm: object, lower_margin: object, upper_margin: object
) -> tuple[float, float, float, float]:
    """MagFace's ``0 < l_a < u_a`` and ``0 <= l_m <= u_m < pi``; returns ``(l_a, u_a, l_m, u_m)``."""
    l_a = check_positive_float(lower_norm, "lower_norm")
    u_a = check_positive_float(upper_norm, "upper_norm")
    if not l_a < u_a:
        raise ValueError(f"expected lower_norm < upper_norm, got {lower_norm!r} and {upper_norm!r}")
    l_m = check_margin(lower_margin, "lower_margin")
    u_m = check_margin(upper_margin, "upper_margin")
    if not l_m <= u_m:
        raise ValueError(f"expected lower_margin <= upper_margin, got {lower_margin!r} and {upper_margin!r}")
    return l_a, u_a, l_m, u_m


def check_adaface_values(norms: Tensor, batch_mean: Tensor, batch_std: Tensor) -> None:
    """While value checks are on: norms ``>= 0`` (not NaN), ``batch_mean`` finite, ``batch_std`` finite and
    ``>= 0``; one host sync for the three."""
    if not value_checks_enabled():
        return
    verdicts = torch.stack(
        [
            (norms >= 0).all(),
            torch.isfinite(batch_mean).all(),
            (torch.isfinite(batch_std) & (batch_std >= 0)).all(),
        ]
    )
    if bool(verdicts.all()):
        return
    norms_ok, mean_ok, _ = verdicts.tolist()
    if not norms_ok:
        bad = int((~(norms >= 0)).sum())
        raise ValueError(f"expected norms >= 0 (feature norms), got {bad} negative or NaN value(s)")
    if not mean_ok:
        raise ValueError(f"expected a finite batch_mean, got {batch_mean.detach().reshape(-1).tolist()}")
    raise ValueError(f"expected a finite batch_std >= 0, got {batch_std.detach().reshape(-1).tolist()}")


def check_finite_statistic(value: Tensor, name: str) -> None:
    """While value checks are on, a running statistic must be finite (one host sync)."""
    if value_checks_enabled() and not bool(torch.isfinite(value).all()):
        raise ValueError(f"expected a finite {name}, got {value.detach().reshape(-1).tolist()}")


# ----------------------------------------------------------------------------------------------------------
# The two cosines of the index, running statistics
# ----------------------------------------------------------------------------------------------------------


def index_parts(cos: Tensor, index: Tensor) -> tuple[Tensor, Tensor]:
    """``(cos_y, max_{j != y} cos_j)`` (paper Eq. 1), each ``(B,)``, of checked ``(B, C)`` cosines and labels
    ``index`` ``(B, 1)``: a gather and the top-2 of each row (the first of the two whose class is not the
    label; ties give the same value either way), so no second ``(B, C)`` tensor is allocated."""
    positive = cos.gather(1, index).squeeze(1)
    top_values, top_classes = cos.topk(2, dim=1)
    nearest_negative = torch.where(top_classes[:, 0] == index[:, 0], top_values[:, 1], top_values[:, 0])
    return positive, nearest_negative


def finite_or_old(new: Tensor, old: Tensor) -> Tensor:
    """``new`` where it is finite, else ``old``: a running statistic never takes a NaN or inf (no sync)."""
    return torch.where(torch.isfinite(new), new, old)


def safe_norms(norms: Tensor) -> Tensor:
    """AdaFace's ``clip(||z||, 0.001, 100)`` with the gradient stopped (the paper's stop-gradient)."""
    low, high = ADAFACE_NORM_RANGE
    return at_least_float32(norms.detach()).clamp(low, high)


# ----------------------------------------------------------------------------------------------------------
# Margin kernels: target cosine -> target logit, non-target cosines -> their logits
# ----------------------------------------------------------------------------------------------------------


def sine_of(cos: Tensor) -> Tensor:
    """``sin(theta) = sqrt(1 - cos^2)`` for ``theta`` in ``[0, pi]``, with a zero (not NaN) gradient at
    ``|cos| >= 1`` (where the ``sqrt``'s own gradient is infinite)."""
    sin_sq = 1.0 - cos * cos
    positive = sin_sq > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, sin_sq, torch.ones_like(sin_sq))), 0.0)


def angular_margin_cosine(cos_y: Tensor, margin: float | Tensor) -> Tensor:
    """``cos(theta_y + m) = cos(theta_y) cos(m) - sin(theta_y) sin(m)`` with the exact gradient; ``margin``
    a float or a tensor broadcastable with ``cos_y`` (MagFace's per-sample margin)."""
    if isinstance(margin, Tensor):
        return cos_y * torch.cos(margin) - sine_of(cos_y) * torch.sin(margin)
    return cos_y * math.cos(margin) - sine_of(cos_y) * math.sin(margin)


def arcface_target_logits(cos_y: Tensor, scale: float, margin: float) -> Tensor:
    """ArcFace's target logit ``s cos(theta_y + m)``, or ``s (cos(theta_y) - m sin(m))`` when
    ``theta_y + m > pi`` (``cos(theta_y) <= cos(pi - m)``; the fallback of the ArcFace authors' released code,
    ``easy_margin=False``, which keeps the logit decreasing in ``theta_y``). Also CurricularFace's target."""
    fallback = cos_y - margin * math.sin(margin)  # = cos(theta) - m sin(pi - m)
    target = torch.where(cos_y > math.cos(math.pi - margin), angular_margin_cosine(cos_y, margin), fallback)
    return target * scale


def cosface_target_logits(cos_y: Tensor, scale: float, margin: float) -> Tensor:
    """CosFace's target logit ``s (cos(theta_y) - m)``."""
    return (cos_y - margin) * scale


def adaface_target_logits(
    cos_y: Tensor, norms: Tensor, batch_mean: Tensor, batch_std: Tensor, scale: float, margin: float, h: float
) -> Tensor:
    """AdaFace's target logit ``s (cos(clip(theta_y + g_angle, eps, pi - eps)) - g_add)`` with
    ``norm_hat = clip(h (n - mu) / (sigma + eps), -1, 1)`` of the clipped, gradient-stopped norms ``n``,
    ``g_angle = -m norm_hat`` and ``g_add = m norm_hat + m``; ``cos_y`` is first clamped to
    ``[-1 + eps, 1 - eps]`` (the authors' ``head.py``). ``batch_mean``, ``batch_std``: one element each."""
    eps = ADAFACE_EPS
    dtype = cos_y.dtype
    mean = batch_mean.detach().reshape(()).to(dtype)
    std = batch_std.detach().reshape(()).to(dtype)
    norm_hat = ((safe_norms(norms).to(dtype) - mean) / (std + eps) * h).clamp(-1.0, 1.0)
    g_angle = -margin * norm_hat
    g_add = margin * norm_hat + margin
    theta_y = torch.acos(cos_y.clamp(-1.0 + eps, 1.0 - eps)).add(g_angle).clamp(eps, math.pi - eps)
    return (torch.cos(theta_y) - g_add) * scale


def adaface_negative_logits(cosine: Tensor, scale: float) -> Tensor:
    """AdaFace's non-target logits ``s clip(cos(theta_j), -1 + eps, 1 - eps)`` (every cosine is clamped in
    the authors' ``head.py``). A fresh tensor."""
    return cosine.clamp(-1.0 + ADAFACE_EPS, 1.0 - ADAFACE_EPS).mul_(scale)


def curricularface_negative_logits(cosine: Tensor, threshold: Tensor, t: Tensor, scale: float) -> Tensor:
    """CurricularFace's non-target logits: ``s cos(theta_j) (t + cos(theta_j))`` for a hard negative
    (``cos(theta_j) > threshold``, the row's ``cos(theta_y + m)`` before the fallback, as in the authors'
    ``head/metrics.py``), ``s cos(theta_j)`` otherwise. ``threshold`` ``(B, 1)`` and ``t`` are constants
    (detached here: the authors update ``t`` under ``no_grad``). A fresh tensor."""
    curriculum = t.detach().reshape(()).to(cosine.dtype)
    hard = cosine > threshold.detach()
    return torch.where(hard, cosine * (curriculum + cosine), cosine).mul_(scale)


def magface_margin_of_norms(norms: Tensor, l_a: float, u_a: float, l_m: float, u_m: float) -> Tensor:
    """MagFace's ``m(a) = (u_m - l_m) / (u_a - l_a) (a - l_a) + l_m`` with ``a = clip(||z||, l_a, u_a)``."""
    a = at_least_float32(norms).clamp(l_a, u_a)
    return (u_m - l_m) / (u_a - l_a) * (a - l_a) + l_m


def magface_target_logits(cos_y: Tensor, margins: Tensor, scale: float) -> Tensor:
    """MagFace's target logit ``s cos(theta_y + m(a))``, or the plain ``s cos(theta_y)`` where
    ``cos(theta_y) <= 0`` (the authors' ``MagLinear`` with its default ``easy_margin=True``). The gradient
    reaches the norm through ``margins``."""
    cos_y = cos_y.clamp(-1.0, 1.0)
    return torch.where(cos_y > 0, angular_margin_cosine(cos_y, margins.to(cos_y.dtype)), cos_y) * scale
