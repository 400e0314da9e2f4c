"""How close a backbone maps hard faces to the cluster of unrecognisable identities (the paper's Fig. 1).

Fig. 1 of the paper is a histogram of the distance ``d_UI = 1 - cos(v, u)`` (Eq. 2) between each training
embedding and the UI centre ``u``, under a backbone pretrained on clean faces: hard very-low-resolution faces
pile up close to the UI centre, apart from the rest. :func:`ui_cluster_statistics` puts numbers on that
picture:

- the Spearman correlation of the distance with a ground-truth difficulty (the synthetic benchmark's
  severity): negative when harder faces lie closer to the UI centre;
- the share of hard faces among the 10 % of faces nearest the UI centre;
- Sarle's bimodality coefficient of the distances (above 5/9 hints at two modes, as in Fig. 1);
- the histograms of the distance for hard and not-hard faces, on shared bins.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import torch
from torch import Tensor

from ._checks import check_mask, check_scores
from .quality import hard_share_in_lowest_quality, spearman_correlation

__all__ = ["BIMODALITY_THRESHOLD", "UIClusterStatistics", "bimodality_coefficient", "ui_cluster_statistics"]

#: Sarle's bimodality coefficient of a uniform distribution; larger values hint at two modes.
BIMODALITY_THRESHOLD = 5.0 / 9.0


def bimodality_coefficient(values: Tensor | Sequence[float]) -> float:
    """Sarle's bimodality coefficient ``b = (g^2 + 1) / (k + 3 (n - 1)^2 / ((n - 2)(n - 3)))``.

    ``g`` is the sample skewness and ``k`` the sample excess kurtosis, both with the usual small-sample
    corrections (as ``scipy.stats.skew(bias=False)`` / ``kurtosis(bias=False)``; SAS's definition). ``b`` lies
    in (0, 1]; 5/9 is the value of a uniform distribution, larger values hint at bimodality.

    Args:
        values: ``(N,)`` finite values, ``N >= 4``, not all equal.
    """
    x = check_scores(values, "values").detach().cpu().to(torch.float64)
    n = x.numel()
    if n < 4:
        raise ValueError(f"expected values of shape (N,) with N >= 4, got N = {n}")
    centred = x - x.mean()
    m2 = float((centred**2).mean())
    if m2 == 0.0:
        raise ValueError("expected values with at least two distinct values, got a constant input")
    m3 = float((centred**3).mean())
    m4 = float((centred**4).mean())
    g1 = m3 / m2**1.5
    skewness = g1 * math.sqrt(n * (n - 1)) / (n - 2)
    g2 = m4 / m2**2 - 3.0
    excess_kurtosis = (n - 1) / ((n - 2) * (n - 3)) * ((n + 1) * g2 + 6.0)
    return float(skewness**2 + 1.0) / (excess_kurtosis + 3.0 * (n - 1) ** 2 / ((n - 2) * (n - 3)))


@dataclasses.dataclass(frozen=True)
class UIClusterStatistics:
    """The Fig. 1 figures of one backbone on one image set.

    Attributes:
        count: number of faces.
        hard_count: number of hard faces among them.
        spearman_with_severity: Spearman correlation of ``d_UI`` with the severity (negative: harder faces
            closer to the UI centre).
        hard_share_nearest: share of hard faces among the ``nearest_fraction`` of faces nearest the UI
            centre.
        hard_share_overall: share of hard faces in the whole set (the reference for ``hard_share_nearest``).
        nearest_fraction: the fraction used (0.1).
        bimodality: Sarle's bimodality coefficient of ``d_UI`` (above :data:`BIMODALITY_THRESHOLD` hints at
            two modes).
        mean_distance_hard, mean_distance_not_hard: mean ``d_UI`` of each group.
        bin_edges: ``bins + 1`` shared histogram edges of ``d_UI``.
        histogram_hard, histogram_not_hard: counts per bin of each group.
    """

    count: int
    hard_count: int
    spearman_with_severity: float
    hard_share_nearest: float
    hard_share_overall: float
    nearest_fraction: float
    bimodality: float
    mean_distance_hard: float
    mean_distance_not_hard: float
    bin_edges: tuple[float, ...]
    histogram_hard: tuple[int, ...]
    histogram_not_hard: tuple[int, ...]

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-able dict."""
        return dataclasses.asdict(self)


def ui_cluster_statistics(
    distance_to_ui: Tensor,
    severity: Tensor,
    hard: Tensor,
    *,
    nearest_fraction: float = 0.1,
    bins: int = 20,
) -> UIClusterStatistics:
    """The Fig. 1 figures: how the distance to the UI centre separates hard from not-hard faces.

    Args:
        distance_to_ui: ``(N,)`` ``d_UI = 1 - cos(v, u)`` of every face (Eq. 2).
        severity: ``(N,)`` ground-truth difficulty (the synthetic benchmark's severity, higher = harder).
        hard: ``(N,)`` bool, the hard flags; both groups must be non-empty.
        nearest_fraction: the share of faces nearest the UI centre in which the hard share is measured.
        bins: number of histogram bins (shared edges from the smallest to the largest distance).
    """
    d = check_scores(distance_to_ui, "distance_to_ui").detach().cpu().to(torch.float64)
    s = check_scores(severity, "severity").detach().cpu().to(torch.float64)
    if s.numel() != d.numel():
        raise ValueError(
            f"expected severity of shape (N,) = ({d.numel()},) to match distance_to_ui, got ({s.numel()},)"
        )
    h = check_mask(hard, "hard", d.numel()).cpu()
    hard_count = int(h.sum())
    if hard_count in (0, d.numel()):
        raise ValueError(
            f"expected hard to flag some but not all of the {d.numel()} faces, got {hard_count} hard"
        )
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"expected bins to be an int >= 1, got {bins!r}")
    low, high = float(d.min()), float(d.max())
    edges = torch.linspace(low, high if high > low else low + 1.0, bins + 1, dtype=torch.float64)
    hist_hard = torch.histc(d[h], bins=bins, min=float(edges[0]), max=float(edges[-1]))
    hist_rest = torch.histc(d[~h], bins=bins, min=float(edges[0]), max=float(edges[-1]))
    return UIClusterStatistics(
        count=d.numel(),
        hard_count=hard_count,
        spearman_with_severity=spearman_correlation(d, s),
        hard_share_nearest=hard_share_in_lowest_quality(d, h, nearest_fraction),
        hard_share_overall=hard_count / d.numel(),
        nearest_fraction=float(nearest_fraction),
        bimodality=bimodality_coefficient(d),
        mean_distance_hard=float(d[h].mean()),
        mean_distance_not_hard=float(d[~h].mean()),
        bin_edges=tuple(float(e) for e in edges),
        histogram_hard=tuple(int(c) for c in hist_hard),
        histogram_not_hard=tuple(int(c) for c in hist_rest),
    )
