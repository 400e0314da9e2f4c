"""Logits of the margin heads the paper compares with (Tables 2-4), and the two cosines the index needs.

Every function takes the ``(B, C)`` pre-margin cosines of :func:`~recognizability.functional.cosine_logits`
and returns ``(B, C)`` float32 logits for cross-entropy (float64 for float64 input); ``cosine`` is never
modified. Gradients are exact: the target logit is differentiated through its formula, with no
straight-through shortcut. Statistics a method keeps across batches (AdaFace's feature-norm mean and standard
deviation, CurricularFace's ``t``) are inputs here and are updated by the pure helpers
:func:`adaface_norm_statistics` and :func:`curricularface_t_update`; the modules in :mod:`recognizability.nn`
hold them as buffers.

* CosFace: Wang et al., "CosFace: Large Margin Cosine Loss for Deep Face Recognition", CVPR 2018.
* AdaFace: Kim, Jain and Liu, "AdaFace: Quality Adaptive Margin for Face Recognition", CVPR 2022.
* CurricularFace: Huang et al., "CurricularFace: Adaptive Curriculum Learning Loss for Deep Face
  Recognition", CVPR 2020.
* MagFace: Meng et al., "MagFace: A Universal Representation for Face Recognition and Quality Assessment",
  CVPR 2021.

Where a paper and its authors' released code differ, the released code is followed; each function says where.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._validation import (
    check_floating,
    check_nonempty,
    check_positive_float,
    check_same_device,
    check_shape,
    check_tensor,
)
from ._autocast import at_least_float32
from ._cosines import check_cosine_values
from ._heads import (
    adaface_negative_logits,
    adaface_target_logits,
    angular_margin_cosine,
    arcface_target_logits,
    check_adaface_values,
    check_cosine_and_labels,
    check_finite_statistic,
    check_magface_bounds,
    check_margin,
    check_momentum,
    check_one_element,
    check_per_sample,
    cosface_target_logits,
    curricularface_negative_logits,
    finite_or_old,
    index_parts,
    magface_margin_of_norms,
    magface_target_logits,
    safe_norms,
)

__all__ = [
    "adaface_logits",
    "adaface_norm_statistics",
    "cosface_logits",
    "curricularface_logits",
    "curricularface_t_update",
    "magface_logits",
    "magface_margin",
    "magface_regularizer",
    "positive_and_nearest_negative_cosine",
]


def positive_and_nearest_negative_cosine(cosine: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """The two per-sample parts of the Recognizability Index that come from the class prototypes (Eq. 1).

    ``positive = cos_y`` (a gather) and ``nearest_negative = max_{j != y} cos_j``, the latter from the top-2
    of each row (the first of the two whose class is not the label; ties give the same value either way), so
    no second ``(B, C)`` tensor is allocated. Differentiable (gradients reach the gathered entries).

    Args:
        cosine: ``(B, C)`` pre-margin cosines, ``C >= 2``.
        labels: ``(B,)`` integer labels in ``[0, C)``.

    Returns:
        ``(positive_cosine, nearest_negative_cosine)``, each ``(B,)`` float32 (float64 for float64 input).
    """
    index = check_cosine_and_labels(cosine, labels)
    return index_parts(at_least_float32(cosine), index)


# ----------------------------------------------------------------------------------------------------------
# CosFace
# ----------------------------------------------------------------------------------------------------------


def cosface_logits(cosine: Tensor, labels: Tensor, scale: float = 64.0, margin: float = 0.35) -> Tensor:
    """CosFace (large margin cosine) logits: ``s * (cos(theta_y) - m)`` at the label, ``s * cos(theta_j)``
    elsewhere (the CosFace paper's large margin cosine loss).

    Defaults ``s = 64``, ``m = 0.35`` are the CosFace paper's; insightface's ``arcface_torch`` configurations
    use ``m = 0.4`` (its ``CombinedMarginLoss`` with ``m3 = 0.4``), which is the same formula.

    Args:
        cosine: ``(B, C)`` pre-margin cosines, ``C >= 2``.
        labels: ``(B,)`` integer labels in ``[0, C)``.
        scale: ``s > 0``.
        margin: additive cosine margin ``m >= 0``.

    Returns:
        ``(B, C)`` float32 logits (float64 for float64 input).
    """
    index = check_cosine_and_labels(cosine, labels)
    scale = check_positive_float(scale, "scale")
    margin = check_positive_float(margin, "margin", allow_zero=True)
    cos = at_least_float32(cosine)
    return (cos * scale).scatter_(1, index, cosface_target_logits(cos.gather(1, index), scale, margin))


# ----------------------------------------------------------------------------------------------------------
# AdaFace
# ----------------------------------------------------------------------------------------------------------


def adaface_norm_statistics(
    norms: Tensor, batch_mean: Tensor, batch_std: Tensor, momentum: float = 0.01
) -> tuple[Tensor, Tensor]:
    """AdaFace's running statistics of the feature norms after one batch (exponential moving average).

    ``mu <- alpha * mean(n) + (1 - alpha) * mu`` and ``sigma <- alpha * std(n) + (1 - alpha) * sigma`` over
    the batch's norms ``n = clip(||z||, 0.001, 100)`` with the gradient stopped (AdaFace paper; ``std``
    is the unbiased one, as ``torch.std`` in the authors' ``head.py``). ``alpha`` is ``t_alpha`` there (paper:
    0.01).

    Args:
        norms: ``(B,)`` feature norms ``||z_i||`` of the un-normalised embeddings, ``B >= 2``.
        batch_mean: running mean ``mu``, any shape broadcastable with a scalar (the module keeps ``(1,)``).
        batch_std: running standard deviation ``sigma``, same shape as ``batch_mean``.
        momentum: ``alpha`` in ``(0, 1]``.

    A batch whose statistic is not finite (NaN norms, e.g. from NaN embeddings) leaves that statistic as it
    was: the update is ``torch.where(isfinite(new), new, old)``, tensor arithmetic on the device with no host
    sync, so one bad batch cannot poison every later call.

    Returns:
        ``(new_batch_mean, new_batch_std)``, detached, in the dtype and shape of ``batch_mean``.
    """
    check_shape(norms, "norms", ("B",))
    check_floating(norms, "norms")
    if norms.shape[0] < 2:
        raise ValueError(
            f"expected norms of shape (B,) with B >= 2 (a batch standard deviation is needed), "
            f"got shape ({norms.shape[0]},)"
        )
    for value, name in ((batch_mean, "batch_mean"), (batch_std, "batch_std")):
        check_floating(check_tensor(value, name), name)
        check_same_device(value, name, norms, "norms")
    momentum = check_momentum(momentum)
    with torch.no_grad():
        safe = safe_norms(norms)
        mean = safe.mean().to(batch_mean.dtype)
        std = safe.std().to(batch_std.dtype)
        new_mean = mean * momentum + (1.0 - momentum) * batch_mean
        new_std = std * momentum + (1.0 - momentum) * batch_std
        return finite_or_old(new_mean, batch_mean), finite_or_old(new_std, batch_std)


def adaface_logits(
    cosine: Tensor,
    norms: Tensor,
    labels: Tensor,
    batch_mean: Tensor,
    batch_std: Tensor,
    scale: float = 64.0,
    margin: float = 0.4,
    h: float = 0.333,
) -> Tensor:
    """AdaFace logits with the feature-norm adaptive margin.

    With ``n_i = clip(||z_i||, 0.001, 100)`` (gradient stopped) and the running statistics ``mu``, ``sigma``:

    * ``norm_hat_i = clip(h * (n_i - mu) / (sigma + eps), -1, 1)``, the paper's normalised feature norm;
    * ``g_angle = -m * norm_hat_i``, ``g_add = m * norm_hat_i + m``, its angular and additive margins;
    * target logit ``s * (cos(clip(theta_y + g_angle, eps, pi - eps)) - g_add)``, others ``s * cos(theta_j)``.

    Follows the authors' released ``head.py`` where it is more specific than the paper: all cosines are
    first clamped to ``[-1 + eps, 1 - eps]`` and the shifted angle to ``[eps, pi - eps]`` with ``eps = 1e-3``,
    and no gradient flows through the norm (the paper's stop-gradient; the code's ``detach``). The gradient
    through the target's ``acos``/``cos`` is exact (finite thanks to the clamp). Defaults ``m = 0.4``,
    ``h = 0.333``, ``s = 64`` are the paper's and its released training scripts'.

    While value checks are on (:func:`~recognizability.set_value_checks`; one host sync), a NaN or negative
    norm, a non-finite ``batch_mean`` and a non-finite or negative ``batch_std`` raise :class:`ValueError`.
    ``batch_std = 0`` is valid (every norm clipped to the same value; the formula adds ``eps``), and so is an
    infinite norm (an overflowed ``||z||``, clipped to 100 like any norm above it).

    Args:
        cosine: ``(B, C)`` pre-margin cosines, ``C >= 2``.
        norms: ``(B,)`` feature norms ``||z_i|| >= 0`` of the un-normalised embeddings.
        labels: ``(B,)`` integer labels in ``[0, C)``.
        batch_mean, batch_std: running ``mu`` (finite) and ``sigma`` (finite, ``>= 0``) of the norms, scalars
            or ``(1,)`` (see :func:`adaface_norm_statistics`).
        scale: ``s > 0``.
        margin: ``m >= 0``.
        h: concentration ``h >= 0`` of the normalised norm.

    Returns:
        ``(B, C)`` float32 logits (float64 for float64 input).
    """
    index = check_cosine_and_labels(cosine, labels)
    check_per_sample(norms, "norms", cosine, "cosine")
    for value, name in ((batch_mean, "batch_mean"), (batch_std, "batch_std")):
        check_one_element(value, name, cosine, "cosine")
    scale = check_positive_float(scale, "scale")
    margin = check_positive_float(margin, "margin", allow_zero=True)
    h = check_positive_float(h, "h", allow_zero=True)
    check_adaface_values(norms, batch_mean, batch_std)

    cos = at_least_float32(cosine)
    target = adaface_target_logits(
        cos.gather(1, index), norms.unsqueeze(1), batch_mean, batch_std, scale, margin, h
    )
    # The one (B, C) allocation: the clamp's output, scaled and scattered into in place (neither the clamp's
    # nor the product's backward needs that output).
    return adaface_negative_logits(cos, scale).scatter_(1, index, target)


# ----------------------------------------------------------------------------------------------------------
# CurricularFace
# ----------------------------------------------------------------------------------------------------------


def curricularface_t_update(positive_cosine: Tensor, t: Tensor, momentum: float = 0.01) -> Tensor:
    """CurricularFace's adaptive ``t`` after one batch (CurricularFace paper, ``alpha = 0.01``):
    ``t <- alpha * mean_i(cos theta_{y_i}) + (1 - alpha) t``, detached, in the dtype and shape of ``t``.

    A batch whose mean cosine is not finite (a NaN or inf embedding row) leaves ``t`` as it was:
    ``torch.where(isfinite(new), new, t)``, on the device with no host sync.

    Args:
        positive_cosine: ``(B,)`` pre-margin ``cos(theta_y)``.
        t: the running ``t`` (the module keeps shape ``(1,)``, starting at 0).
        momentum: ``alpha`` in ``(0, 1]``.
    """
    check_shape(positive_cosine, "positive_cosine", ("B",))
    check_floating(positive_cosine, "positive_cosine")
    check_nonempty(positive_cosine, "positive_cosine")
    check_floating(check_tensor(t, "t"), "t")
    check_same_device(t, "t", positive_cosine, "positive_cosine")
    momentum = check_momentum(momentum)
    with torch.no_grad():
        mean = positive_cosine.mean().to(t.dtype)
        return finite_or_old(mean * momentum + (1.0 - momentum) * t, t)


def curricularface_logits(
    cosine: Tensor, labels: Tensor, t: Tensor, scale: float = 64.0, margin: float = 0.5
) -> Tensor:
    """CurricularFace logits: ArcFace's target with hard negatives re-weighted by the curriculum ``t``.

    * target: ``s * cos(theta_y + m)``, or ``s * (cos(theta_y) - m sin(m))`` when ``theta_y + m > pi`` (the
      ArcFace fallback the authors' code uses);
    * a negative ``j`` is hard when ``cos(theta_j) > cos(theta_y + m)``; its logit is
      ``s * cos(theta_j) * (t + cos(theta_j))`` (the paper's modulation of hard negatives), otherwise
      ``s * cos(theta_j)``.

    ``t`` is a statistic, not a parameter: it gets no gradient (the authors' code updates it under
    ``no_grad``). The hard-example test compares with ``cos(theta_y + m)`` before the fallback, as in the
    authors' ``head/metrics.py``. Defaults ``s = 64``, ``m = 0.5`` are the paper's.

    Args:
        cosine: ``(B, C)`` pre-margin cosines, ``C >= 2``; while value checks are on, finite cosines outside
            ``[-1, 1]`` by more than rounding raise :class:`ValueError`, as in :func:`arcface_logits` (NaN and
            inf propagate).
        labels: ``(B,)`` integer labels in ``[0, C)``.
        t: the adaptive parameter (scalar or ``(1,)``; see :func:`curricularface_t_update`); while value
            checks are on, a non-finite ``t`` raises :class:`ValueError` (one host sync).
        scale: ``s > 0``.
        margin: ``m`` in radians, ``0 <= m < pi``.

    Returns:
        ``(B, C)`` float32 logits (float64 for float64 input).
    """
    index = check_cosine_and_labels(cosine, labels)
    check_one_element(t, "t", cosine, "cosine")
    scale = check_positive_float(scale, "scale")
    margin = check_margin(margin)
    check_finite_statistic(t, "t")
    check_cosine_values((cosine, "cosine"), propagate_nonfinite=True)

    cos = at_least_float32(cosine)
    cos_y = cos.gather(1, index)
    threshold = angular_margin_cosine(cos_y, margin)
    logits = curricularface_negative_logits(cos, threshold, t, scale)
    return logits.scatter_(1, index, arcface_target_logits(cos_y, scale, margin))


# ----------------------------------------------------------------------------------------------------------
# MagFace
# ----------------------------------------------------------------------------------------------------------


def magface_margin(
    norms: Tensor,
    lower_norm: float = 10.0,
    upper_norm: float = 110.0,
    lower_margin: float = 0.45,
    upper_margin: float = 0.8,
) -> Tensor:
    """MagFace's magnitude-aware angular margin ``m(a)``, linear from ``l_m`` at ``l_a`` to ``u_m`` at ``u_a``
    with ``a = clip(||z||, l_a, u_a)`` (MagFace paper Sec. 3.2; the clip is the authors' ``MagLinear``).
    Differentiable in the norm inside ``[l_a, u_a]``.

    Args:
        norms: ``(B,)`` feature norms ``a_i = ||z_i||``.
        lower_norm, upper_norm: ``l_a``, ``u_a`` (paper: 10, 110).
        lower_margin, upper_margin: ``l_m``, ``u_m`` in radians (paper: 0.45, 0.8).

    Returns:
        ``(B,)`` margins.
    """
    check_shape(norms, "norms", ("B",))
    check_floating(norms, "norms")
    return magface_margin_of_norms(
        norms, *check_magface_bounds(lower_norm, upper_norm, lower_margin, upper_margin)
    )


def magface_regularizer(norms: Tensor, lower_norm: float = 10.0, upper_norm: float = 110.0) -> Tensor:
    """MagFace's magnitude regulariser ``mean_i g(a_i)`` with ``g(a) = a / u_a^2 + 1 / a`` (MagFace paper) on
    the clipped norms ``a = clip(||z||, l_a, u_a)`` (as the authors' ``MagLoss`` receives them).

    Args:
        norms: ``(B,)`` feature norms.
        lower_norm, upper_norm: ``l_a``, ``u_a`` (paper: 10, 110).

    Returns:
        float32 scalar (float64 for float64 input).
    """
    check_shape(norms, "norms", ("B",))
    check_floating(norms, "norms")
    check_nonempty(norms, "norms")
    l_a, u_a, _, _ = check_magface_bounds(lower_norm, upper_norm, 0.0, 0.0)
    a = at_least_float32(norms).clamp(l_a, u_a)
    return (a / (u_a * u_a) + 1.0 / a).mean()


def magface_logits(
    cosine: Tensor,
    norms: Tensor,
    labels: Tensor,
    scale: float = 64.0,
    lower_norm: float = 10.0,
    upper_norm: float = 110.0,
    lower_margin: float = 0.45,
    upper_margin: float = 0.8,
) -> Tensor:
    """MagFace logits: ``s * cos(theta_y + m(a))`` at the label (with :func:`magface_margin`),
    ``s * cos(theta_j)`` elsewhere (the MagFace paper's loss).

    Follows the authors' released ``MagLinear``, whose default (``easy_margin=True``, used by their training
    script) keeps the plain ``s * cos(theta_y)`` where ``cos(theta_y) <= 0``; the paper writes the margin
    without that condition. The gradient reaches the norm through ``m(a)`` (not detached, as in the released
    code). Add ``lambda_g * magface_regularizer(norms)`` to the cross-entropy for the MagFace loss.

    Args:
        cosine: ``(B, C)`` pre-margin cosines, ``C >= 2``.
        norms: ``(B,)`` feature norms of the un-normalised embeddings.
        labels: ``(B,)`` integer labels in ``[0, C)``.
        scale: ``s > 0`` (paper: 64).
        lower_norm, upper_norm, lower_margin, upper_margin: ``l_a, u_a, l_m, u_m`` (paper: 10, 110, 0.45,
            0.8).

    Returns:
        ``(B, C)`` float32 logits (float64 for float64 input).
    """
    index = check_cosine_and_labels(cosine, labels)
    check_per_sample(norms, "norms", cosine, "cosine")
    scale = check_positive_float(scale, "scale")
    bounds = check_magface_bounds(lower_norm, upper_norm, lower_margin, upper_margin)
    cos = at_least_float32(cosine)
    margins = magface_margin_of_norms(norms, *bounds).unsqueeze(1)
    target = magface_target_logits(cos.gather(1, index), margins, scale)
    return (cos * scale).scatter_(1, index, target)
