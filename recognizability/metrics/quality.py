"""Face-image quality evaluation: error-versus-reject curves (ERC/EDC), quality baselines, Spearman
correlation.

ERC conventions (metrics.md, Face image quality): pair quality = min of the two images' qualities; three
threshold conventions offered by name:

- ``"fixed"`` (ISO/IEC 29794-1 style EDC): threshold set once on all impostor scores by the library TAR@FAR
  rule; only genuine pairs are rejected, lowest quality first, ties in quality dropped together; at a grid
  fraction f the curve is read stepwise (the largest tie-aligned discard <= f). Also the EDC pAUC up to
  ``discard_limit`` (stepwise) and the same minus the theoretical-best area, as in
  dasec/quality-assessment-evaluation ``edc.py``.
- ``"recomputed"``: at each f drop the lowest-quality pairs (genuine and impostor, ties together, the largest
  tie-aligned count <= f * N) and recompute the threshold on the remaining impostors by the TAR@FAR rule.
- ``"crfiqa"``: what fdbtrs/CR-FIQA ``ERC/erc.py`` ``getFNMRFixedTH`` computes: angular distance
  ``arccos(clip(cos)) / pi``; drop the lowest-quality ``int(f * N)`` pairs (quality ties kept in input order,
  where the original's numpy quicksort leaves their order unspecified); ROC of the remaining pairs over their
  distinct distances; threshold = the first (largest-distance) one whose FMR = #(impostor <= t)/N_i is nearest
  the target; FNMR = 1 - share of genuine distances strictly below it. Scores must be cosine similarities.

Area under the ERC: trapezoid over the fractions (CR-FIQA convention, sklearn ``auc``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from .._validation import check_bool, check_float_in_range, check_positive_int
from ..functional.geometry import l2_normalize, ui_cosine, vector_norm_at_any_scale
from ._checks import (
    Report,
    as_tensor,
    check_choice,
    check_features,
    check_fractions,
    check_labels,
    check_mask,
    check_scores,
)
from ._ranking import threshold_at_rate as _threshold_at_rate

__all__ = [
    "ERCResult",
    "crfiqa_quality",
    "error_versus_reject",
    "ers_quality",
    "hard_share_in_lowest_quality",
    "magface_quality",
    "pair_quality",
    "serfiq_quality",
    "serfiq_score",
    "spearman_correlation",
]

_CONVENTIONS = {
    "fixed": (
        "ISO/IEC 29794-1 EDC: threshold once on all impostors (smallest impostor score with realised "
        "FMR <= target);"
        " only genuine pairs rejected, lowest quality first, quality ties dropped together; stepwise read-out"
    ),
    "recomputed": (
        "drop the lowest-quality pairs (genuine and impostor; ties together, largest tie-aligned "
        "count <= f*N);"
        " threshold recomputed on remaining impostors with realised FMR <= target"
    ),
    "crfiqa": (
        "CR-FIQA ERC/erc.py getFNMRFixedTH: angular distance arccos(cos)/pi; drop lowest-quality "
        "int(f*N) pairs;"
        " threshold = ROC point of the remaining pairs with FMR nearest the target; FNMR = 1 - "
        "share(genuine < t)"
    ),
}


@dataclass(frozen=True)
class ERCResult(Report):
    """Error-versus-reject curve.

    ``reject_fractions``: (F,) requested fractions; ``realised_reject_fractions``: (F,) fraction actually
    dropped (of genuine pairs for ``"fixed"``, of all pairs otherwise); ``fnmr``: (F,); ``thresholds``: (F,)
    score (or distance for ``"crfiqa"``) thresholds; ``auc``: trapezoid of FNMR over the fractions. For
    ``"fixed"`` also ``edc_pauc`` and ``edc_pauc_minus_best`` up to ``discard_limit`` (NaN for the other
    conventions).
    """

    reject_fractions: Tensor
    realised_reject_fractions: Tensor
    fnmr: Tensor
    thresholds: Tensor
    auc: float
    fmr: float
    threshold_convention: str
    edc_pauc: float
    edc_pauc_minus_best: float
    discard_limit: float
    convention: str


def pair_quality(quality_a: Tensor | Sequence[float], quality_b: Tensor | Sequence[float]) -> Tensor:
    """Pair quality = element-wise min of the two images' qualities.

    Args:
        quality_a, quality_b: (N,) finite qualities of the first and second image of each pair (same shape:
            nothing is broadcast).

    Returns:
        (N,) pair quality.
    """
    a = check_scores(quality_a, "quality_a")
    b = check_scores(quality_b, "quality_b")
    if a.shape != b.shape:
        raise ValueError(
            f"expected quality_b of shape ({a.numel()},) like quality_a, got shape ({b.numel()},)"
        )
    if a.device != b.device:
        raise ValueError(f"expected quality_b on the device of quality_a ({a.device}), got {b.device}")
    return torch.minimum(a, b.to(torch.promote_types(a.dtype, b.dtype)))


def _tie_aligned_counts(sorted_quality: Tensor, fractions: Tensor) -> Tensor:
    """For each fraction f, the largest count c <= f*N at a quality-group boundary (c/N <= f, float64)."""
    n = sorted_quality.numel()
    boundaries = torch.ones(n, dtype=torch.bool)
    boundaries[1:] = sorted_quality[1:] != sorted_quality[:-1]
    starts = torch.nonzero(boundaries).squeeze(1).to(torch.float64)  # discard counts allowed (0 always)
    index = torch.searchsorted(starts / n, fractions, right=True) - 1
    return starts[index].to(torch.int64)


def _edc_pauc(fractions: Tensor, errors: Tensor, limit: float) -> float:
    """Stepwise partial area of an EDC ``(discard fractions ascending, error fractions)`` up to ``limit``."""
    if limit == 0:
        return 0.0
    area = 0.0
    f, e = fractions.tolist(), errors.tolist()
    for i in range(len(f)):
        if i == len(f) - 1 or f[i + 1] >= limit:
            area += e[i] * (limit - f[i])
            break
        area += e[i] * (f[i + 1] - f[i])
    return area


def error_versus_reject(
    scores: Tensor | Sequence[float],
    is_genuine: Tensor | Sequence[bool],
    pair_quality: Tensor | Sequence[float],
    fmr: float,
    reject_fractions: Sequence[float] | Tensor | None = None,
    threshold: str = "recomputed",
    *,
    discard_limit: float = 0.20,
) -> ERCResult:
    """FNMR at a target FMR against the fraction of lowest-quality pairs rejected (metrics.md, ERC).

    Args:
        scores: (N,) similarity scores of the pairs (cosine similarities for ``"crfiqa"``).
        is_genuine: (N,) bool, True for mated pairs.
        pair_quality: (N,) quality of each pair (see :func:`pair_quality`: min of the two images').
        fmr: target false match rate in (0, 1).
        reject_fractions: fractions in [0, 1), increasing, without duplicates; default 0, 0.05, ..., 0.95
            (``numpy.arange(0, 0.98, 0.05)``).
        threshold: ``"fixed"``, ``"recomputed"`` or ``"crfiqa"``.
        discard_limit: discard-fraction limit of the EDC pAUC (``"fixed"`` only).
    """
    s = check_scores(scores, "scores").detach().cpu().to(torch.float64)
    genuine = check_mask(is_genuine, "is_genuine", s.numel()).cpu()
    quality = check_scores(pair_quality, "pair_quality").detach().cpu().to(torch.float64)
    if quality.numel() != s.numel():
        raise ValueError(f"expected pair_quality of shape ({s.numel()},), got shape ({quality.numel()},)")
    check_choice(threshold, "threshold", tuple(_CONVENTIONS))
    fmr = check_float_in_range(fmr, "fmr", 0, 1, low_closed=False, high_closed=False)
    discard_limit = check_float_in_range(discard_limit, "discard_limit", 0, 1)
    if reject_fractions is None:
        fractions = torch.from_numpy(np.arange(0, 0.98, 0.05))
    else:
        fractions = check_fractions(reject_fractions, "reject_fractions")
    n_gen, n_imp = int(genuine.sum()), int((~genuine).sum())
    if n_gen == 0 or n_imp == 0:
        raise ValueError(f"expected genuine and impostor pairs, got {n_gen} genuine and {n_imp} impostor")

    fnmr, thresholds, realised = [], [], []
    pauc = pauc_best = math.nan
    if threshold == "fixed":
        t, _ = _threshold_at_rate(s[~genuine], torch.tensor([fmr], dtype=torch.float64))
        order = torch.argsort(quality[genuine], stable=True)
        g_quality, g_scores = quality[genuine][order], s[genuine][order]
        errors = (g_scores < t[0]).to(torch.int64)
        remaining_errors = torch.flip(torch.cumsum(torch.flip(errors, [0]), 0), [0])
        counts = _tie_aligned_counts(g_quality, torch.cat([fractions, torch.tensor([1.0])]))
        boundaries = torch.ones(n_gen, dtype=torch.bool)
        boundaries[1:] = g_quality[1:] != g_quality[:-1]
        discard = torch.nonzero(boundaries).squeeze(1)
        edc_errors = remaining_errors[discard].to(torch.float64) / (n_gen - discard).to(torch.float64)
        edc_fractions = discard.to(torch.float64) / n_gen
        if float(edc_fractions[-1]) != 1.0:
            edc_fractions = torch.cat([edc_fractions, torch.tensor([1.0], dtype=torch.float64)])
            edc_errors = torch.cat([edc_errors, torch.tensor([0.0], dtype=torch.float64)])
        pauc = _edc_pauc(edc_fractions, edc_errors, discard_limit)
        start = float(edc_errors[0])
        best = start**2 / 2 - ((start - discard_limit) ** 2 / 2 if discard_limit < start else 0.0)
        pauc_best = pauc - best
        for c in counts[:-1].tolist():
            fnmr.append(float(remaining_errors[c]) / (n_gen - c))
            thresholds.append(float(t[0]))
            realised.append(c / n_gen)
    elif threshold == "recomputed":
        order = torch.argsort(quality, stable=True)
        q_sorted, s_sorted, g_sorted = quality[order], s[order], genuine[order]
        for f, c in zip(fractions.tolist(), _tie_aligned_counts(q_sorted, fractions).tolist(), strict=True):
            keep_s, keep_g = s_sorted[c:], g_sorted[c:]
            if not bool(keep_g.any()) or bool(keep_g.all()):
                raise ValueError(
                    f"expected genuine and impostor pairs left after rejecting fraction {f}, got "
                    f"{int(keep_g.sum())} genuine and {int((~keep_g).sum())} impostor"
                )
            t, _ = _threshold_at_rate(keep_s[~keep_g], torch.tensor([fmr], dtype=torch.float64))
            fnmr.append(float((keep_s[keep_g] < t[0]).to(torch.float64).mean()))
            thresholds.append(float(t[0]))
            realised.append(c / s.numel())
    else:
        distance = torch.arccos(s.clamp(-1.0, 1.0)) / math.pi
        order = torch.argsort(quality, stable=True)
        d_sorted, g_sorted = distance[order], genuine[order]
        for f in fractions.tolist():
            c = int(f * s.numel())
            keep_d, keep_g = d_sorted[c:], g_sorted[c:]
            pos, neg = keep_d[keep_g], keep_d[~keep_g]
            if pos.numel() == 0 or neg.numel() == 0:
                raise ValueError(
                    f"expected genuine and impostor pairs left after rejecting fraction {f}, got "
                    f"{pos.numel()} genuine and {neg.numel()} impostor"
                )
            levels = torch.unique(keep_d, sorted=True).flip(0)  # distance thresholds, descending
            neg_sorted, pos_sorted = torch.sort(neg).values, torch.sort(pos).values
            fm_rates = torch.searchsorted(neg_sorted, levels, right=True).to(torch.float64) / neg.numel()
            index = int(torch.argmin((fm_rates - fmr).abs()))  # first minimum = largest distance among ties
            t = levels[index]
            below = int(torch.searchsorted(pos_sorted, t.reshape(1), right=False))
            fnmr.append(1 - below / pos.numel())
            thresholds.append(float(t))
            realised.append(c / s.numel())
    fnmr_t = torch.tensor(fnmr, dtype=torch.float64)
    auc = float(torch.trapezoid(fnmr_t, fractions)) if fractions.numel() > 1 else 0.0
    return ERCResult(
        reject_fractions=fractions,
        realised_reject_fractions=torch.tensor(realised, dtype=torch.float64),
        fnmr=fnmr_t,
        thresholds=torch.tensor(thresholds, dtype=torch.float64),
        auc=auc,
        fmr=float(fmr),
        threshold_convention=threshold,
        edc_pauc=pauc,
        edc_pauc_minus_best=pauc_best,
        discard_limit=discard_limit,
        convention=_CONVENTIONS[threshold],
    )


def ers_quality(embeddings: Tensor, ui_center: Tensor, clip_at_one: bool = False) -> Tensor:
    """Embedding Recognizability Score (Deng et al. 2021): ``1 - cos(f, u)``, u the UI centre.

    The cosine is :func:`~recognizability.functional.ui_cosine` (right at any scale of either input).

    Args:
        embeddings: (B, D) finite, no zero row (a zero embedding has no direction: its ERS would be 1 whatever
            the image); ui_center: (D,) finite and non-zero. clip_at_one: return ``min(1 - cos, 1)`` (the form
            in datasets.md).

    Returns:
        (B,) quality (float32, float64 for float64 input), higher = farther from the unrecognisable cluster.
    """
    x = check_features(embeddings, "embeddings")
    u = as_tensor(ui_center, "ui_center")
    if u.dim() != 1 or u.shape[0] != x.shape[1]:
        raise ValueError(f"expected ui_center of shape ({x.shape[1]},), got shape {tuple(u.shape)}")
    if not u.is_floating_point():
        raise TypeError(f"expected floating-point ui_center, got dtype {u.dtype}")
    if not bool(torch.isfinite(u).all()):
        raise ValueError(
            f"expected a finite ui_center, got {int((~torch.isfinite(u)).sum())} NaN/inf value(s)"
        )
    if not bool((u != 0).any()):
        raise ValueError("expected a non-zero ui_center (a direction), got the zero vector")
    check_bool(clip_at_one, "clip_at_one")
    zero_rows = ~(x != 0).any(dim=1)
    if bool(zero_rows.any()):
        rows = torch.nonzero(zero_rows).squeeze(1)[:5].tolist()
        raise ValueError(
            f"expected embeddings without zero rows (a zero embedding has no direction), got "
            f"{int(zero_rows.sum())} zero row(s) (e.g. rows {rows})"
        )
    ers = 1 - ui_cosine(x, u.to(x.device))
    return ers.clamp(max=1.0) if clip_at_one else ers


def magface_quality(embeddings: Tensor) -> Tensor:
    """MagFace quality: L2 norm of the un-normalised embedding, (B, D) -> (B,).

    The norm is right for finite embeddings of any magnitude (each row is rescaled by its largest entry
    before squaring, see :func:`~recognizability.functional.geometry.vector_norm_at_any_scale`); computed
    and returned in float32 (float64 for float64 input), so a float16 norm above 65504 is not ``inf``.
    """
    return vector_norm_at_any_scale(check_features(embeddings, "embeddings"), dim=1)


def crfiqa_quality(
    embeddings: Tensor, labels: Tensor, prototypes: Tensor, offset: float = 1.0 + 1e-9
) -> Tensor:
    """CR-FIQA certainty ratio ``CCS / (NNCCS + offset)`` (training-time target of CR-FIQA).

    CCS = cosine to the own class centre (prototype), NNCCS = highest cosine to another class centre.
    ``offset = 1 + 1e-9`` (the CR-FIQA paper's ``1 + epsilon``) keeps the denominator positive: NNCCS can be
    as low as -1, so ``offset`` must be a finite float ``> 1``. (A smaller offset makes the denominator 0 or
    negative for some embeddings: an infinite ratio, or one whose sign flips the quality order.)

    Args:
        embeddings: (B, D); labels: (B,) in [0, C); prototypes: (C, D), C >= 2; offset: finite, > 1.
    """
    x = check_features(embeddings, "embeddings")
    w = check_features(prototypes, "prototypes", dim=x.shape[1])
    y = check_labels(labels, "labels", x.shape[0]).to(x.device)
    offset = check_float_in_range(offset, "offset", 1, math.inf, low_closed=False, high_closed=False)
    if w.shape[0] < 2:
        raise ValueError(f"expected prototypes of shape (C, D) with C >= 2, got {tuple(w.shape)}")
    if bool(((y < 0) | (y >= w.shape[0])).any()):
        raise ValueError(f"expected labels with values in [0, {w.shape[0]}), got values outside")
    unit_x = l2_normalize(x, dim=1)
    cos = unit_x @ l2_normalize(w.to(x.device), dim=1).to(unit_x.dtype).T
    ccs = cos.gather(1, y[:, None]).squeeze(1)
    nnccs = cos.scatter(1, y[:, None], -torch.inf).amax(1)
    return ccs / (nnccs + offset)


#: Stochastic embeddings of at most this many images are compared at once by :func:`serfiq_score` (its
#: ``(images, m, m)`` distance tensor stays below ~40 MB in float32 at m = 100).
_SERFIQ_IMAGES_PER_CHUNK = 1024


def serfiq_score(stochastic_embeddings: Tensor) -> Tensor:
    """SER-FIQ quality of each image from its ``m`` stochastic embeddings: ``2 * sigmoid(-mean distance)``.

    Source: Terhörst, Kolf, Damer, Kirchbuchner and Kuijper, "SER-FIQ: Unsupervised Estimation of Face Image
    Quality Based on Stochastic Embedding Robustness", CVPR 2020, Sec. 3: the quality of an image is
    ``q = 2 * sigmoid(-d)`` with ``d`` the mean Euclidean distance between its ``m`` L2-normalised stochastic
    embeddings (``m`` forward passes with dropout on the last layers). The mean is over the
    ``m (m - 1) / 2`` distinct pairs, as in the authors' released implementation (pterhoer/FaceImageQuality,
    ``face_image_quality.py``: the upper triangle of the distance matrix, ``2 / (1 + exp(mean))``); the
    paper's equation writes the pair sum with the factor ``2 / m**2``, i.e. the distance scaled by
    ``(m - 1) / m`` inside a monotone function, which ranks images identically.

    Vectorised over images and pairs (``torch.cdist`` on groups of images, no Python loop over samples);
    float32 (float64 for float64 input).

    Args:
        stochastic_embeddings: ``(B, m, D)`` finite, ``m >= 2`` (un-normalised embeddings are accepted: they
            are L2-normalised first).

    Returns:
        ``(B,)`` quality in ``(0, 1]``; 1 when every pass gives the same direction, lower = less robust.
    """
    x = as_tensor(stochastic_embeddings, "stochastic_embeddings")
    if x.dim() != 3 or x.shape[1] < 2 or x.shape[2] < 1:
        raise ValueError(
            "expected stochastic_embeddings of shape (B, m, D) with m >= 2 passes, got shape "
            f"{tuple(x.shape)}"
        )
    if not x.is_floating_point():
        raise TypeError(f"expected floating-point stochastic_embeddings, got dtype {x.dtype}")
    if x.numel() and not bool(torch.isfinite(x).all()):
        raise ValueError("expected finite stochastic_embeddings, got NaN/inf values")
    unit = l2_normalize(x, dim=2)
    passes = x.shape[1]
    means = [
        torch.cdist(group, group, compute_mode="donot_use_mm_for_euclid_dist").sum((1, 2))
        for group in torch.split(unit, _SERFIQ_IMAGES_PER_CHUNK)
    ]
    mean_distance = (torch.cat(means) if means else unit.new_zeros(0)) / (passes * (passes - 1))
    return 2 * torch.sigmoid(-mean_distance)


@torch.no_grad()
def serfiq_quality(model: nn.Module, images: Tensor, passes: int = 100) -> Tensor:
    """SER-FIQ (Terhörst et al. 2020) of a whole model: :func:`serfiq_score` of ``passes`` stochastic passes.

    The model runs in eval mode except its dropout modules, which are put in train mode; every module's
    mode is restored afterwards. Each pass runs the whole model; for a face backbone whose last layers alone
    need repeating, :func:`recognizability.deploy.serfiq_quality_of_backbone` runs those alone, batched.

    Args:
        model: maps (B, ...) images to (B, D) embeddings and contains at least one dropout module.
        images: (B, ...) model input.
        passes: T >= 2 stochastic passes.

    Returns:
        (B,) quality in (0, 1], higher = more stable = better.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected model to be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(images, Tensor):
        raise TypeError(f"expected images to be a torch.Tensor, got {type(images).__name__}")
    passes = check_positive_int(passes, "passes", minimum=2)
    dropouts = [m for m in model.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]
    if not dropouts:
        raise ValueError("expected a model with at least one dropout module for SER-FIQ, got none")
    modes = {m: m.training for m in model.modules()}
    try:
        model.eval()
        for m in dropouts:
            m.train()
        runs = torch.stack([model(images).float() for _ in range(passes)], 1)
    finally:
        for module, mode in modes.items():
            module.train(mode)
    return serfiq_score(runs)


def _average_ranks(x: Tensor) -> Tensor:
    """1-based ranks with ties given their average rank, (N,) float64."""
    _values, inverse, counts = torch.unique(x, sorted=True, return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, 0).to(torch.float64)
    average = ends - (counts.to(torch.float64) - 1) / 2
    ranks: Tensor = average[inverse]
    return ranks


def spearman_correlation(x: Tensor | Sequence[float], y: Tensor | Sequence[float]) -> float:
    """Spearman rank correlation: Pearson correlation of average ranks (ties share their mean rank)."""
    a = check_scores(x, "x").detach().cpu().to(torch.float64)
    b = check_scores(y, "y").detach().cpu().to(torch.float64)
    if a.numel() != b.numel() or a.numel() < 2:
        raise ValueError(f"expected x and y of the same length >= 2, got {a.numel()} and {b.numel()}")
    ra, rb = _average_ranks(a), _average_ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denominator = math.sqrt(float((ra * ra).sum()) * float((rb * rb).sum()))
    if denominator == 0:
        raise ValueError("expected x and y each with at least two distinct values, got a constant input")
    return float((ra * rb).sum()) / denominator


def hard_share_in_lowest_quality(quality: Tensor, hard: Tensor, fraction: float = 0.1) -> float:
    """Share of hard-to-recognise images among the lowest-quality ``fraction`` (default the lowest decile).

    The lowest ``ceil(fraction * N)`` images by quality are taken (ties kept in input order). A fraction that
    holds no whole image (``fraction * N < 1``, e.g. the lowest 1% of 10 images) is an error: the share of
    the one image rounding up would take is not the share of that fraction.
    """
    q = check_scores(quality, "quality").detach().cpu()
    h = check_mask(hard, "hard", q.numel()).cpu()
    fraction = check_float_in_range(fraction, "fraction", 0, 1, low_closed=False)
    if fraction * q.numel() < 1:
        raise ValueError(
            f"expected a fraction that selects at least one of the {q.numel()} images "
            f"(fraction * N >= 1), got fraction={fraction!r}: {fraction * q.numel():g} images"
        )
    k = math.ceil(fraction * q.numel())
    lowest = torch.argsort(q, stable=True)[:k]
    return float(h[lowest].to(torch.float64).mean())
