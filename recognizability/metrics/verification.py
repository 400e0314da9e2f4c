"""Verification (1:1) metrics: ROC, TAR@FAR, EER, area under ROC, and the SurvFace official grid variant.

Convention (metrics.md): scores are similarities and a comparison is accepted when ``score >= t``.
FAR(t) = share of impostor scores >= t, TAR(t) = share of genuine scores >= t.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .._deprecation import deprecated_aliases
from .._validation import check_positive_int
from ._checks import Report, check_mask, check_rates, check_scores
from ._ranking import threshold_at_rate as _threshold_at_rate

__all__ = [
    "EERResult",
    "GridVerificationResult",
    "ROCCurve",
    "TARAtFARResult",
    "VerificationAccumulator",
    "area_under_roc",
    "equal_error_rate",
    "roc_curve",
    "survface_grid_verification",
    "tar_at_far",
]

_ROC_CONVENTION = "similarity scores; accept when score >= t; thresholds are +inf then every distinct score"
_TAR_AT_FAR_CONVENTION = (
    "threshold = smallest impostor score t with realised FAR(t) = #(impostor >= t)/N <= target "
    "(ties never split; just above the top impostor when no impostor score qualifies; bob.measure "
    "far_threshold)"
)


@dataclass(frozen=True)
class ROCCurve(Report):
    """ROC at every distinct threshold, thresholds descending (first ``+inf``: FAR = TAR = 0).

    ``far``, ``tar``: (T,) float64; ``thresholds``: (T,) in the scores' dtype; ``auc``: trapezoid of TAR over
    FAR.
    """

    far: Tensor
    tar: Tensor
    thresholds: Tensor
    auc: float
    convention: str = _ROC_CONVENTION


@dataclass(frozen=True)
class TARAtFARResult(Report):
    """TAR at target FAR(s). Tensors have the shape of the requested ``far`` (0-d for a float)."""

    tar: Tensor
    threshold: Tensor
    realised_far: Tensor
    far: Tensor
    convention: str = _TAR_AT_FAR_CONVENTION


@dataclass(frozen=True)
class EERResult(Report):
    """Equal error rate ``eer = (FAR + FRR) / 2`` at the threshold minimising ``|FAR - FRR|``."""

    eer: float
    threshold: float
    far: float
    frr: float
    convention: str = (
        "thresholds: +inf and every distinct score (accept score >= t); first one minimising |FAR - FRR|; "
        "EER = (FAR + FRR) / 2"
    )


def _roc_counts(genuine: Tensor, impostor: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Distinct thresholds (descending) with cumulative genuine/impostor counts ``>= t`` (int64)."""
    dtype = torch.promote_types(genuine.dtype, impostor.dtype)
    scores = torch.cat([genuine.to(dtype), impostor.to(dtype)])
    is_genuine = torch.cat(
        [torch.ones_like(genuine, dtype=torch.int64), torch.zeros_like(impostor, dtype=torch.int64)]
    )
    order = torch.argsort(scores, descending=True, stable=True)
    sorted_scores = scores[order]
    cum_gen = torch.cumsum(is_genuine[order], 0)
    cum_imp = torch.arange(1, scores.numel() + 1, device=scores.device) - cum_gen
    # last index of every run of equal scores
    last = torch.ones_like(sorted_scores, dtype=torch.bool)
    last[:-1] = sorted_scores[:-1] != sorted_scores[1:]
    return sorted_scores[last], cum_gen[last], cum_imp[last]


def roc_curve(
    genuine_scores: Tensor | Sequence[float], impostor_scores: Tensor | Sequence[float]
) -> ROCCurve:
    """ROC over all thresholds; equals scikit-learn's ``roc_curve(..., drop_intermediate=False)``.

    Args:
        genuine_scores: (N_g,) similarity scores of mated pairs.
        impostor_scores: (N_i,) similarity scores of non-mated pairs.
    """
    genuine = check_scores(genuine_scores, "genuine_scores")
    impostor = check_scores(impostor_scores, "impostor_scores")
    thresholds, cum_gen, cum_imp = _roc_counts(genuine, impostor)
    zero = torch.zeros(1, dtype=torch.float64, device=thresholds.device)
    tar = torch.cat([zero, cum_gen.to(torch.float64) / genuine.numel()])
    far = torch.cat([zero, cum_imp.to(torch.float64) / impostor.numel()])
    inf = torch.full((1,), math.inf, dtype=thresholds.dtype, device=thresholds.device)
    thresholds = torch.cat([inf, thresholds])
    auc = float(torch.trapezoid(tar, far))
    return ROCCurve(far=far, tar=tar, thresholds=thresholds, auc=auc)


def area_under_roc(
    genuine_scores: Tensor | Sequence[float], impostor_scores: Tensor | Sequence[float]
) -> float:
    """Area under the ROC (trapezoid; a tie between a genuine and an impostor score counts 1/2)."""
    return roc_curve(genuine_scores, impostor_scores).auc


def tar_at_far(
    genuine_scores: Tensor | Sequence[float],
    impostor_scores: Tensor | Sequence[float],
    far: float | Sequence[float] | Tensor,
) -> TARAtFARResult:
    """True accept rate at target false accept rate(s), with the realised FAR (metrics.md, Verification).

    Args:
        genuine_scores: (N_g,) similarity scores of mated pairs.
        impostor_scores: (N_i,) similarity scores of non-mated pairs.
        far: a target in [0, 1] or a sequence of targets.

    Returns:
        ``.tar``, ``.threshold``, ``.realised_far`` (realised FAR <= target always), each shaped like ``far``.
    """
    genuine = check_scores(genuine_scores, "genuine_scores")
    impostor = check_scores(impostor_scores, "impostor_scores")
    targets, scalar = check_rates(far, "far")
    thresholds, realised = _threshold_at_rate(impostor, targets.to(impostor.device))
    dtype = torch.promote_types(genuine.dtype, thresholds.dtype)
    accepted = (genuine.to(dtype)[None, :] >= thresholds.to(dtype)[:, None]).sum(1)
    tar = accepted.to(torch.float64).cpu() / genuine.numel()
    thresholds = thresholds.cpu()
    if scalar:
        return TARAtFARResult(tar[0], thresholds[0], realised[0], targets[0])
    return TARAtFARResult(tar, thresholds, realised, targets)


def equal_error_rate(
    genuine_scores: Tensor | Sequence[float], impostor_scores: Tensor | Sequence[float]
) -> EERResult:
    """Equal error rate: sweep +inf and every distinct score, take the first minimising ``|FAR - FRR|``.

    Args:
        genuine_scores: (N_g,) similarity scores of mated pairs.
        impostor_scores: (N_i,) similarity scores of non-mated pairs.
    """
    roc = roc_curve(genuine_scores, impostor_scores)
    frr = 1.0 - roc.tar
    index = int(torch.argmin((roc.far - frr).abs()))
    far_value, frr_value = float(roc.far[index]), float(frr[index])
    return EERResult(
        eer=(far_value + frr_value) / 2,
        threshold=float(roc.thresholds[index]),
        far=far_value,
        frr=frr_value,
    )


@dataclass(frozen=True)
class GridVerificationResult(Report):
    """SurvFace official verification read-out on a distance grid (datasets.md, QMUL-SurvFace).

    ``tar``, ``threshold``, ``realised_far``: (R,) per requested FAR; ``auc`` = trapz(FAR, TAR) over the grid;
    ``accuracy_10fold``: mean accuracy of contiguous folds with the threshold chosen on the other folds.
    """

    tar: Tensor
    threshold: Tensor
    realised_far: Tensor
    far: Tensor
    auc: float
    accuracy_10fold: float
    convention: str = (
        "distances (smaller = more alike); grid t = 0.2:0.001:2.0; FAR(t) = mean(impostor < t), "
        "TAR(t) = mean(genuine < t); read at the first grid point whose FAR is nearest the target (no "
        "interpolation); AUC = trapz(FAR, TAR); 10 contiguous folds (genuine and impostor split "
        "alike), threshold "
        "= first grid point maximising accuracy on the other nine"
    )


def _survface_grid(dtype: torch.dtype = torch.float64) -> Tensor:
    """The MATLAB grid ``0.2:0.001:2.0`` (1,801 points, computed as 0.2 + k * 0.001)."""
    return torch.from_numpy(0.2 + np.arange(1801) * 0.001).to(dtype)


def survface_grid_verification(
    genuine_distances: Tensor | Sequence[float],
    impostor_distances: Tensor | Sequence[float],
    far: float | Sequence[float] | Tensor = (0.3, 0.1, 0.01, 0.001),
    folds: int = 10,
) -> GridVerificationResult:
    """SurvFace official verification variant (distances, fixed grid, nearest-FAR read-out).

    For unit-norm features use Euclidean distances ``sqrt(2 - 2 cos)`` (range 0..2).

    Args:
        genuine_distances: (N_g,) distances of mated pairs, in pair-list order (folds are contiguous).
        impostor_distances: (N_i,) distances of non-mated pairs, in pair-list order.
        far: target FAR(s); default the four SurvFace reports.
        folds: number of contiguous folds for the secondary accuracy figure.

    Raises:
        ValueError: distances that are not 1-D, empty, non-finite or negative (a distance is never negative:
            cosine similarities passed here by mistake), a FAR outside [0, 1], or more folds than pairs.
    """
    genuine = check_scores(genuine_distances, "genuine_distances", distances=True).to(torch.float64).cpu()
    impostor = check_scores(impostor_distances, "impostor_distances", distances=True).to(torch.float64).cpu()
    targets, _ = check_rates(far, "far")
    folds = check_positive_int(folds, "folds", minimum=2)
    if folds > min(genuine.numel(), impostor.numel()):
        raise ValueError(
            f"expected folds in [2, min(N_g, N_i)] = [2, {min(genuine.numel(), impostor.numel())}], "
            f"got {folds}"
        )
    grid = _survface_grid()
    far_curve = (impostor[None, :] < grid[:, None]).to(torch.float64).mean(1)
    tar_curve = (genuine[None, :] < grid[:, None]).to(torch.float64).mean(1)
    index = torch.argmin((far_curve[None, :] - targets[:, None]).abs(), dim=1)  # first minimum, as MATLAB min
    auc = float(torch.trapezoid(tar_curve, far_curve))

    accuracies = []
    g_bounds = torch.linspace(0, genuine.numel(), folds + 1).round().long().tolist()
    i_bounds = torch.linspace(0, impostor.numel(), folds + 1).round().long().tolist()
    g_correct = genuine[None, :] < grid[:, None]  # (T, N_g) accepted
    i_correct = impostor[None, :] >= grid[:, None]  # (T, N_i) rejected
    g_fold = torch.zeros(folds, genuine.numel(), dtype=torch.bool)
    i_fold = torch.zeros(folds, impostor.numel(), dtype=torch.bool)
    for k in range(folds):
        g_fold[k, g_bounds[k] : g_bounds[k + 1]] = True
        i_fold[k, i_bounds[k] : i_bounds[k + 1]] = True
    g_per_fold = (g_correct[:, None, :] & g_fold[None]).sum(2)  # (T, folds)
    i_per_fold = (i_correct[:, None, :] & i_fold[None]).sum(2)
    correct = g_per_fold + i_per_fold
    sizes = g_fold.sum(1) + i_fold.sum(1)
    for k in range(folds):
        train_correct = correct.sum(1) - correct[:, k]
        best = int(torch.argmax(train_correct))
        accuracies.append(float(correct[best, k]) / float(sizes[k]))
    return GridVerificationResult(
        tar=tar_curve[index],
        threshold=grid[index],
        realised_far=far_curve[index],
        far=targets,
        auc=auc,
        accuracy_10fold=float(np.mean(accuracies)),
    )


class VerificationAccumulator:
    """Collects verification scores batch by batch; ``compute`` gives ROC, TAR@FAR and EER of all batches.

    Example:
        >>> acc = VerificationAccumulator()
        >>> acc.update(torch.tensor([0.9, 0.1]), torch.tensor([True, False]))
        >>> float(acc.tar_at_far(0.0).tar)
        1.0
    """

    def __init__(self) -> None:
        self._genuine: list[Tensor] = []
        self._impostor: list[Tensor] = []

    def reset(self) -> None:
        self._genuine.clear()
        self._impostor.clear()

    def update(self, scores: Tensor, is_genuine: Tensor) -> None:
        """Add a batch: ``scores`` (B,), ``is_genuine`` (B,) bool. Scores are kept on their device."""
        scores = check_scores(scores, "scores", allow_empty=True)
        mask = check_mask(is_genuine, "is_genuine", scores.numel()).to(scores.device)
        self._genuine.append(scores[mask].detach())
        self._impostor.append(scores[~mask].detach())

    def _scores(self) -> tuple[Tensor, Tensor]:
        if not self._genuine:
            raise ValueError("expected at least one update() before compute, got none")
        return torch.cat(self._genuine), torch.cat(self._impostor)

    def roc_curve(self) -> ROCCurve:
        return roc_curve(*self._scores())

    def tar_at_far(self, far: float | Sequence[float] | Tensor) -> TARAtFARResult:
        return tar_at_far(*self._scores(), far)

    def equal_error_rate(self) -> EERResult:
        return equal_error_rate(*self._scores())


__getattr__ = deprecated_aliases(
    __name__,
    {
        "ROC_CONVENTION": "_ROC_CONVENTION",
        "TAR_AT_FAR_CONVENTION": "_TAR_AT_FAR_CONVENTION",
        "threshold_at_rate": "_threshold_at_rate",
        "survface_grid": "_survface_grid",
    },
    globals(),
)
