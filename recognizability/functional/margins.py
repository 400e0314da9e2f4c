"""Cosine logits and the ArcFace additive angular margin (the paper's recognition module, L_cls).

ArcFace: Deng et al., "ArcFace: Additive Angular Margin Loss for Deep Face Recognition", CVPR 2019. The
fallback for ``theta_y + m > pi`` (target logit ``cos(theta_y) - m * sin(m)``) is the one of the ArcFace
authors' released code (``easy_margin=False``); it keeps the target logit decreasing in ``theta_y``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._validation import check_floating, check_labels, check_nonempty, check_positive_float, check_shape
from ._autocast import at_least_float32, common_float, float32_region
from ._cosines import check_cosine_values
from ._heads import arcface_target_logits, check_embeddings_and, check_margin
from .geometry import l2_normalize

__all__ = ["arcface_logits", "cosine_logits"]


def cosine_logits(embeddings: Tensor, prototypes: Tensor) -> Tensor:
    """Cosine of every embedding with every class prototype.

    ``cos_j = <v / |v|, W_j / |W_j|>`` (paper Sec. 3.1). The product runs in float32 even under autocast:
    the Recognizability Index (Eq. 1-3) needs cosines near 1 to full precision. Rows are normalised with
    :func:`~recognizability.functional.l2_normalize`: right for finite entries of any magnitude, zero rows
    give cosine 0 and a zero gradient, and gradients stay finite in the inputs' dtype.

    Args:
        embeddings: ``(B, D)`` embeddings ``v`` (any scale).
        prototypes: ``(C, D)`` class prototypes ``W`` (any scale).

    Returns:
        ``(B, C)`` float32 cosines (float64 if an input is float64).

    Values are not read (no host sync): NaN or inf in an input propagate to the cosines of its rows
    (embeddings) or columns (prototypes), as in torch. :class:`recognizability.nn.ArcFace` and the other heads
    check their embeddings while value checks are on.
    """
    check_embeddings_and(embeddings, prototypes, "prototypes", ("C",))
    with float32_region(embeddings.device):
        dtype = common_float(embeddings, prototypes)
        unit_embeddings = l2_normalize(embeddings, dim=1).to(dtype)
        unit_prototypes = l2_normalize(prototypes, dim=1).to(dtype)
        return torch.nn.functional.linear(unit_embeddings, unit_prototypes)


def arcface_logits(cosine: Tensor, labels: Tensor, scale: float = 64.0, margin: float = 0.45) -> Tensor:
    """ArcFace logits: ``s * cos(theta_y + m)`` at the label, ``s * cos(theta_j)`` elsewhere.

    The margin is applied with the exact gradient: ``cos(theta + m) = cos(theta) cos(m) - sin(theta) sin(m)``
    with ``sin(theta) = sqrt(1 - cos^2)``; at ``|cos| = 1`` the ``sqrt`` term's gradient (infinite there) is
    set to 0 so gradients stay finite. When ``theta_y + m > pi`` (``cos(theta_y) <= cos(pi - m)``) the target
    logit falls back to ``s * (cos(theta_y) - m sin(m))``. Only the target column is computed separately
    (a gather and a scatter); ``cosine`` is never modified. With ``margin = 0`` this is ``s * cosine``.

    Values: while value checks are on (:func:`recognizability.value_checks`; one host sync), labels outside
    ``[0, C)`` and finite cosines outside ``[-1, 1]`` by more than rounding (1e-3, or 16 epsilons of the
    dtype: a scaled cosine or a logit passed by mistake, which the margin formula would take silently) raise
    :class:`ValueError`. NaN and inf cosines are not refused: they propagate to the logits, as in torch.

    Args:
        cosine: ``(B, C)`` cosines, e.g. from :func:`cosine_logits` (half precision is cast to float32).
        labels: ``(B,)`` integer class labels in ``[0, C)``.
        scale: ``s > 0`` (paper Table 5: 64).
        margin: ``m`` in radians, ``0 <= m < pi`` (paper Table 5: 0.45).

    Returns:
        ``(B, C)`` float32 logits for cross-entropy (float64 for float64 input).
    """
    check_shape(cosine, "cosine", ("B", "C"))
    check_floating(cosine, "cosine")
    check_nonempty(cosine, "cosine")
    scale = check_positive_float(scale, "scale")
    margin = check_margin(margin)
    index = check_labels(labels, cosine.shape[1], cosine.shape[0], cosine, "cosine").unsqueeze(1)
    check_cosine_values((cosine, "cosine"), propagate_nonfinite=True)
    cos = at_least_float32(cosine)
    logits = cos * scale  # the one (B, C) allocation; a fresh tensor, so the in-place scatter below is safe
    return logits.scatter_(1, index, arcface_target_logits(cos.gather(1, index), scale, margin))
