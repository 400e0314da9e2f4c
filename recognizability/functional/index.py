"""The Recognizability Index (paper Sec. 3.1, Eq. 1-3) and the UI index statistics (Eq. 6)."""

from __future__ import annotations

import torch
from torch import Tensor

from .._validation import (
    check_finite,
    check_floating,
    check_positive_float,
    check_same_device,
    check_shape,
)
from ._autocast import at_least_float32, common_float, float32_region
from ._cosines import COSINE_ROUNDING_TOLERANCE as COSINE_ROUNDING_TOLERANCE  # re-exported
from ._cosines import check_cosine_values as check_cosine_values  # re-exported: the criterion's rule too
from ._heads import check_cosine_and_labels, index_parts

__all__ = ["recognizability_index", "recognizability_index_from_parts", "ui_index_statistics"]


def recognizability_index(cosine: Tensor, labels: Tensor, ui_cosine: Tensor, eps: float = 1e-7) -> Tensor:
    """Recognizability Index ``xi = d_UI * d_N / (d_P + eps)`` (paper Eq. 1-3).

    * ``d_P = 1 - cos_y``: cosine distance to the sample's own class prototype (Eq. 1);
    * ``d_N = 1 - max_{j != y} cos_j``: to the nearest negative prototype (Eq. 1), taken from the top-2 of
      each row as :func:`~recognizability.functional.positive_and_nearest_negative_cosine` does (no second
      ``(B, C)`` tensor);
    * ``d_UI = 1 - cos(v, u)``: to the UI (unrecognisable identities) centre ``u`` (Eq. 2).

    Distances are clamped at 0 to absorb cosines a rounding error above 1, so the index is ``>= 0`` and
    finite: at ``cos_y = 1`` it is ``d_UI * d_N / eps``. While value checks are on
    (:func:`~recognizability.set_value_checks`; one host sync), NaN/inf cosines and cosines beyond
    ``[-1, 1]`` by more than rounding (e.g. scaled logits) raise :class:`ValueError`. Arithmetic is float32
    under autocast. The function is differentiable; callers using the index as a regression target (Eq. 4)
    detach it.

    Args:
        cosine: ``(B, C)`` pre-margin cosines of the embeddings with the class prototypes, ``C >= 2``.
        labels: ``(B,)`` integer labels in ``[0, C)``.
        ui_cosine: ``(B,)`` cosine of each embedding with the UI centre.
        eps: ``epsilon > 0`` of Eq. 3 (paper: 1e-7).

    Returns:
        ``(B,)`` float32 index (float64 for float64 inputs).
    """
    index = check_cosine_and_labels(cosine, labels)
    check_shape(ui_cosine, "ui_cosine", (cosine.shape[0],))
    check_floating(ui_cosine, "ui_cosine")
    check_same_device(ui_cosine, "ui_cosine", cosine, "cosine")
    eps = check_positive_float(eps, "eps")
    check_cosine_values((cosine, "cosine"), (ui_cosine, "ui_cosine"))

    with float32_region(cosine.device):
        positive_cosine, nearest_negative_cosine = index_parts(at_least_float32(cosine), index)
    return _index_from_parts(positive_cosine, nearest_negative_cosine, ui_cosine, eps)


def recognizability_index_from_parts(
    positive_cosine: Tensor, nearest_negative_cosine: Tensor, ui_cosine: Tensor, eps: float = 1e-7
) -> Tensor:
    """Recognizability Index ``xi = d_UI * d_N / (d_P + eps)`` (paper Eq. 1-3) from the three cosines.

    For heads that never build the ``(B, C)`` cosine matrix (chunked or sharded prototypes): they reduce
    each row to the cosine with the sample's own prototype and the largest cosine with any other prototype.

    * ``d_P = 1 - positive_cosine`` (Eq. 1);
    * ``d_N = 1 - nearest_negative_cosine`` (Eq. 1);
    * ``d_UI = 1 - ui_cosine`` (Eq. 2).

    Distances are clamped at 0 as in :func:`recognizability_index`, so the index is ``>= 0`` and finite;
    the cosines are value-checked as there. Arithmetic is float32 under autocast (float64 stays float64).
    Differentiable.

    Args:
        positive_cosine: ``(B,)`` cosine ``cos_y`` of each embedding with its own class prototype.
        nearest_negative_cosine: ``(B,)`` ``max_{j != y} cos_j``.
        ui_cosine: ``(B,)`` cosine of each embedding with the UI centre.
        eps: ``epsilon > 0`` of Eq. 3 (paper: 1e-7).

    Returns:
        ``(B,)`` float32 index (float64 if any input is float64).
    """
    check_shape(positive_cosine, "positive_cosine", ("B",))
    check_floating(positive_cosine, "positive_cosine")
    batch = positive_cosine.shape[0]
    for value, name in ((nearest_negative_cosine, "nearest_negative_cosine"), (ui_cosine, "ui_cosine")):
        check_shape(value, name, (batch,))
        check_floating(value, name)
        check_same_device(value, name, positive_cosine, "positive_cosine")
    eps = check_positive_float(eps, "eps")
    check_cosine_values(
        (positive_cosine, "positive_cosine"),
        (nearest_negative_cosine, "nearest_negative_cosine"),
        (ui_cosine, "ui_cosine"),
    )
    return _index_from_parts(positive_cosine, nearest_negative_cosine, ui_cosine, eps)


def _index_from_parts(
    positive_cosine: Tensor, nearest_negative_cosine: Tensor, ui_cosine: Tensor, eps: float
) -> Tensor:
    """Eq. 1-3 on checked ``(B,)`` cosines, in float32 (float64 if any input is float64)."""
    dtype = common_float(positive_cosine, nearest_negative_cosine, ui_cosine)
    with float32_region(positive_cosine.device):
        # at_least_float32 first: a gradient reaching a half-precision input saturates, never overflows
        d_positive = (1.0 - at_least_float32(positive_cosine).to(dtype)).clamp(min=0.0)
        d_negative = (1.0 - at_least_float32(nearest_negative_cosine).to(dtype)).clamp(min=0.0)
        d_ui = (1.0 - at_least_float32(ui_cosine).to(dtype)).clamp(min=0.0)
        return d_ui * d_negative / (d_positive + eps)


def ui_index_statistics(predicted_index_of_ui_images: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and unbiased standard deviation of the predicted index of K UI images (paper Eq. 6).

    The paper uses K = 5,000 random UI images and then adopts the standard normal (``mu = 0``, ``sigma = 1``);
    these estimates are the option of :class:`~recognizability.nn.IndexDiversionLoss`.

    Args:
        predicted_index_of_ui_images: ``(K,)`` predicted index ``xi_hat`` of UI images, ``K >= 2``.

    Returns:
        ``(mu, sigma)``: two 0-dim float32 (or float64) tensors, detached (they are constants of Eq. 5).
    """
    scores = check_shape(predicted_index_of_ui_images, "predicted_index_of_ui_images", ("K",))
    check_floating(scores, "predicted_index_of_ui_images")
    if scores.shape[0] < 2:
        raise ValueError(
            f"expected predicted_index_of_ui_images of shape (K,) with K >= 2 (unbiased std), "
            f"got shape ({scores.shape[0]},)"
        )
    check_finite(scores, "predicted_index_of_ui_images")
    with torch.no_grad(), float32_region(scores.device):
        sigma, mu = torch.std_mean(at_least_float32(scores), correction=1)
    return mu, sigma
