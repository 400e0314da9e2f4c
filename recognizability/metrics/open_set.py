"""Open-set identification (NIST FRVT / ISO 19795-1): FPIR, FNIR/TPIR at rank r, TPIR@FPIR and the curve.

- FPIR(t) = share of non-mated searches with at least one gallery candidate scoring >= t;
- FNIR(t, r) = share of mated searches whose mate is not within the top r (rank >= r, ties against the probe)
  or scores below t; TPIR = 1 - FNIR;
- threshold for a target FPIR: the library rule on the top score of each non-mated search (smallest t with
  realised FPIR <= target, see :func:`~recognizability.metrics.verification.threshold_at_rate`);
- gallery ``"image"`` (every image a candidate) or ``"template"`` (one averaged, re-normalised feature per
  identity, see :func:`~recognizability.metrics.identification.identity_templates`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from .._deprecation import deprecated_aliases
from .._validation import check_bool
from ..functional._autocast import common_float
from ._checks import Report, check_choice, check_features, check_labels, check_positive_int, check_rates
from ._ranking import DEFAULT_MAX_ELEMENTS as _DEFAULT_MAX_ELEMENTS
from ._ranking import OPEN_SET_CONVENTION as _OPEN_SET_CONVENTION
from ._ranking import check_finite_scores as _check_finite_scores
from ._ranking import mate_statistics as _mate_statistics
from ._ranking import normalized as _normalized
from ._ranking import threshold_at_rate as _threshold_at_rate
from .identification import identity_templates

__all__ = ["OpenSetResult", "tpir_at_fpir", "unmated_top_scores"]


@dataclass(frozen=True)
class OpenSetResult(Report):
    """TPIR at rank ``rank`` for target FPIR(s), with the full TPIR-FPIR curve.

    ``tpir``, ``threshold``, ``realised_fpir``, ``fpir``: shaped like the requested ``fpir`` (0-d for a
    float). ``curve_fpir``, ``curve_tpir``: (T,) float64 at every distinct threshold (descending); ``auc``:
    trapezoid.
    """

    tpir: Tensor
    threshold: Tensor
    realised_fpir: Tensor
    fpir: Tensor
    rank: int
    curve_fpir: Tensor
    curve_tpir: Tensor
    auc: float
    gallery: str
    num_mated: int
    num_unmated: int
    convention: str = _OPEN_SET_CONVENTION


def unmated_top_scores(
    probe_features: Tensor,
    gallery_features: Tensor,
    normalize: bool = True,
    max_elements: int = _DEFAULT_MAX_ELEMENTS,
) -> Tensor:
    """(P,) highest gallery score of each probe, computed in blocks of at most ``max_elements`` scores.

    Args:
        probe_features: (P, D); gallery_features: (G, D); normalize: cosine scores of L2-normalised
            features (``False``: raw dot products; a product that overflows the score dtype raises
            :class:`ValueError`); max_elements: scores held at once.
    """
    probe_features = check_features(probe_features, "probe_features")
    gallery_features = check_features(gallery_features, "gallery_features", dim=probe_features.shape[1])
    check_bool(normalize, "normalize")
    max_elements = check_positive_int(max_elements, "max_elements")
    device = probe_features.device
    dtype = common_float(probe_features, gallery_features)
    gallery = _normalized(gallery_features, normalize, dtype, device)
    block = max(1, max_elements // gallery.shape[0])
    tops = []
    for p0 in range(0, probe_features.shape[0], block):
        probes = _normalized(probe_features[p0 : p0 + block], normalize, dtype, device)
        scores = probes @ gallery.T
        _check_finite_scores(scores, normalize)
        tops.append(scores.amax(1))
    return torch.cat(tops)


def tpir_at_fpir(
    mated_features: Tensor,
    mated_labels: Tensor,
    unmated_features: Tensor,
    gallery_features: Tensor,
    gallery_labels: Tensor,
    fpir: float | Sequence[float] | Tensor,
    rank: int = 20,
    *,
    gallery: str = "image",
    normalize: bool = True,
    max_elements: int = _DEFAULT_MAX_ELEMENTS,
) -> OpenSetResult:
    """True positive identification rate at rank ``rank`` for target false positive identification rate(s).

    Args:
        mated_features: (P_m, D) searches whose identity is in the gallery; mated_labels: (P_m,) int.
        unmated_features: (P_u, D) searches whose identity is not in the gallery.
        gallery_features: (G, D); gallery_labels: (G,) int >= 0.
        fpir: target FPIR in [0, 1] or a sequence of targets.
        rank: candidate-list length r (mate must have rank < r).
        gallery: ``"image"`` (every gallery image a candidate) or ``"template"`` (per-identity mean features).
    """
    mated = check_features(mated_features, "mated_features")
    dim = mated.shape[1]
    unmated = check_features(unmated_features, "unmated_features", dim=dim)
    gallery_x = check_features(gallery_features, "gallery_features", dim=dim)
    labels = check_labels(mated_labels, "mated_labels", mated.shape[0])
    g_labels = check_labels(gallery_labels, "gallery_labels", gallery_x.shape[0])
    targets, scalar = check_rates(fpir, "fpir")
    rank = check_positive_int(rank, "rank")
    check_choice(gallery, "gallery", ("image", "template"))
    check_bool(normalize, "normalize")
    max_elements = check_positive_int(max_elements, "max_elements")
    if bool((g_labels < 0).any()):
        raise ValueError("expected gallery_labels >= 0 in an open-set gallery, got negative labels")
    missing = ~torch.isin(labels.to(g_labels.device), g_labels)
    if bool(missing.any()):
        raise ValueError(
            f"expected every mated probe identity in gallery_labels, got {int(missing.sum())} mated probe(s) "
            "without a gallery mate (e.g. labels "
            f"{torch.unique(labels[missing.to(labels.device)])[:5].tolist()})"
        )
    if gallery == "template":
        gallery_x, g_labels = identity_templates(gallery_x, g_labels, normalize=normalize)
    mates, counts, _ = _mate_statistics(
        mated,
        labels.to(mated.device),
        gallery_x,
        g_labels,
        ranking="image",
        all_mates=False,
        normalize=normalize,
        max_elements=max_elements,
    )
    mate_score = mates[:, 0].cpu().to(torch.float64)
    in_list = counts[:, 0].cpu() < rank
    tops = unmated_top_scores(unmated, gallery_x, normalize, max_elements).cpu().to(torch.float64)
    thresholds, realised = _threshold_at_rate(tops, targets)
    tpir = ((mate_score[None, :] >= thresholds[:, None]) & in_list[None, :]).to(torch.float64).mean(1)

    # full curve: thresholds at every distinct score of unmated tops and in-list mates, descending, then -inf
    candidates = torch.cat([tops, mate_score[in_list]])
    levels = torch.unique(candidates, sorted=True).flip(0)
    levels = torch.cat([torch.tensor([torch.inf], dtype=torch.float64), levels])
    tops_sorted = torch.sort(tops).values
    mates_sorted = torch.sort(mate_score[in_list]).values
    curve_fpir = (tops.numel() - torch.searchsorted(tops_sorted, levels, right=False)).to(
        torch.float64
    ) / tops.numel()
    curve_tpir = (mates_sorted.numel() - torch.searchsorted(mates_sorted, levels, right=False)).to(
        torch.float64
    ) / mate_score.numel()
    # extend to FPIR = 1 at the final TPIR (reached at the lowest threshold)
    auc = float(
        torch.trapezoid(
            torch.cat([curve_tpir, curve_tpir[-1:]]), torch.cat([curve_fpir, curve_fpir.new_ones(1)])
        )
    )
    if scalar:
        return OpenSetResult(
            tpir[0],
            thresholds[0],
            realised[0],
            targets[0],
            rank,
            curve_fpir,
            curve_tpir,
            auc,
            gallery,
            mated.shape[0],
            unmated.shape[0],
        )
    return OpenSetResult(
        tpir,
        thresholds,
        realised,
        targets,
        rank,
        curve_fpir,
        curve_tpir,
        auc,
        gallery,
        mated.shape[0],
        unmated.shape[0],
    )


__getattr__ = deprecated_aliases(__name__, {"OPEN_SET_CONVENTION": "_OPEN_SET_CONVENTION"}, globals())
