"""Protocol evaluators: exactly the numbers the TinyFace, SCface and QMUL-SurvFace tables report.

Each returns a typed report (a dataclass with ``to_dict``/``to_json``) that states its conventions.
Protocols: datasets.md (TinyFace, SCface, QMUL-SurvFace sections).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .._validation import check_bool
from ..functional.geometry import degenerate_tolerance, l2_normalize, vector_norm_at_any_scale
from ._checks import Report, check_choice, check_features, check_labels
from ._ranking import CLOSED_SET_CONVENTION as _CLOSED_SET_CONVENTION
from ._ranking import DEFAULT_MAX_ELEMENTS as _DEFAULT_MAX_ELEMENTS
from ._ranking import OPEN_SET_CONVENTION as _OPEN_SET_CONVENTION
from .identification import cmc
from .open_set import tpir_at_fpir
from .verification import survface_grid_verification

__all__ = [
    "SCFaceReport",
    "SurvFaceReport",
    "TinyFaceReport",
    "evaluate_scface",
    "evaluate_survface",
    "evaluate_tinyface",
    "flip_fuse",
]


def flip_fuse(features: Tensor, flipped_features: Tensor) -> Tensor:
    """Flip fusion: L2-normalise the sum of an image's features and its horizontally flipped copy's, (N,
    D).

    A row whose two features cancel out (``x`` and ``-x``: a sum shorter than the rounding error of the longer
    of the two, the rule of :meth:`~recognizability.nn.UICenter.fit`) has no direction and raises
    :class:`ValueError` naming the row. The half-sum is normalised, so features near the largest float do
    not overflow.
    """
    x = check_features(features, "features")
    f = check_features(flipped_features, "flipped_features", dim=x.shape[1])
    if f.shape != x.shape:
        raise ValueError(f"expected flipped_features of shape {tuple(x.shape)}, got {tuple(f.shape)}")
    f = f.to(x.dtype)
    half_sum = x * 0.5 + f * 0.5  # same direction as x + f; exact halving, no overflow
    # float64 norms: those of features near the largest float32 stay finite
    longest = torch.maximum(
        vector_norm_at_any_scale(x.double(), dim=1), vector_norm_at_any_scale(f.double(), dim=1)
    )
    tolerance = degenerate_tolerance(x.shape[1], x.dtype)
    degenerate = ~(vector_norm_at_any_scale(half_sum.double(), dim=1) > 0.5 * tolerance * longest)
    if bool(degenerate.any()):
        rows = torch.nonzero(degenerate).squeeze(1)[:5].tolist()
        raise ValueError(
            f"expected features and flipped_features whose sum has a direction, got {int(degenerate.sum())} "
            f"row(s) (e.g. rows {rows}) that are zero or cancel out (e.g. x and -x)"
        )
    return l2_normalize(half_sum, dim=1)


@dataclass(frozen=True)
class TinyFaceReport(Report):
    """TinyFace closed-set identification (fractions in [0, 1])."""

    rank_1: float
    rank_5: float
    rank_10: float
    rank_20: float
    mean_average_precision: float
    num_probes: int
    num_gallery: int
    num_distractors: int
    with_distractors: bool
    flip_fusion: bool
    ranking: str
    num_excluded_probes: int
    convention: str = _CLOSED_SET_CONVENTION


def evaluate_tinyface(
    probe_features: Tensor,
    probe_labels: Tensor,
    gallery_features: Tensor,
    gallery_labels: Tensor,
    distractor_features: Tensor | None = None,
    *,
    flip_fusion: bool = False,
    ranking: str = "image",
    missing_probes: str = "error",
    max_elements: int = _DEFAULT_MAX_ELEMENTS,
) -> TinyFaceReport:
    """TinyFace protocol: Probe vs Gallery_Match (+ Gallery_Distractor), rank-1/5/10/20 and mAP.

    Args:
        probe_features: (P, D) (3,728 in TinyFace); probe_labels: (P,) int.
        gallery_features: (G, D) Gallery_Match (4,443); gallery_labels: (G,) int.
        distractor_features: (N, D) Gallery_Distractor (153,428) or None for "without distractors".
        flip_fusion: record that the features were flip-fused by the caller (see :func:`flip_fuse`); the
            features are used as given.
        ranking, missing_probes, max_elements: see :func:`~recognizability.metrics.identification.cmc`.
    """
    check_bool(flip_fusion, "flip_fusion")
    result = cmc(
        probe_features,
        probe_labels,
        gallery_features,
        gallery_labels,
        (1, 5, 10, 20),
        distractor_features=distractor_features,
        ranking=ranking,
        missing_probes=missing_probes,
        max_elements=max_elements,
    )
    rates = result.rates.tolist()
    return TinyFaceReport(
        rank_1=rates[0],
        rank_5=rates[1],
        rank_10=rates[2],
        rank_20=rates[3],
        mean_average_precision=result.mean_average_precision,
        num_probes=result.num_probes,
        num_gallery=int(gallery_features.shape[0]),
        num_distractors=0 if distractor_features is None else int(distractor_features.shape[0]),
        with_distractors=distractor_features is not None,
        flip_fusion=flip_fusion,
        ranking=ranking,
        num_excluded_probes=result.num_excluded_probes,
    )


@dataclass(frozen=True)
class SCFaceReport(Report):
    """SCface rank-1 per distance (d1 = 4.20 m farthest, d3 = 1.00 m) and their average."""

    rank_1_d1: float
    rank_1_d2: float
    rank_1_d3: float
    rank_1_average: float
    num_probes_per_distance: tuple[int, int, int]
    gallery: str
    num_gallery: int
    convention: str = _CLOSED_SET_CONVENTION


def evaluate_scface(
    probe_features: Tensor,
    probe_labels: Tensor,
    probe_distances: Tensor,
    gallery_features: Tensor,
    gallery_labels: Tensor,
    *,
    gallery: str = "all",
) -> SCFaceReport:
    """SCface protocol: surveillance probes (cameras 1-5) vs frontal mugshots, rank-1 per distance.

    Args:
        probe_features: (P, D); probe_labels: (P,) subject ids; probe_distances: (P,) int in {1, 2, 3}.
        gallery_features: (G, D) one mugshot per subject; gallery_labels: (G,) subject ids.
        gallery: ``"all"`` (all given mugshots, the paper's 130) or ``"probes"`` (only the probe subjects'
            mugshots, as some public code does).
    """
    probes = check_features(probe_features, "probe_features")
    labels = check_labels(probe_labels, "probe_labels", probes.shape[0])
    distances = check_labels(probe_distances, "probe_distances", probes.shape[0])
    g = check_features(gallery_features, "gallery_features", dim=probes.shape[1])
    g_labels = check_labels(gallery_labels, "gallery_labels", g.shape[0])
    check_choice(gallery, "gallery", ("all", "probes"))
    if not bool(torch.isin(distances, torch.tensor([1, 2, 3], device=distances.device)).all()):
        raise ValueError(f"expected probe_distances in {{1, 2, 3}}, got {torch.unique(distances).tolist()}")
    if gallery == "probes":
        keep = torch.nonzero(torch.isin(g_labels, labels.to(g_labels.device))).squeeze(1)
        g, g_labels = g[keep.to(g.device)], g_labels[keep]
    result = cmc(probes, labels, g, g_labels, (1,))
    ranks = result.ranks_of_probes
    per_distance, counts = [], []
    for d in (1, 2, 3):
        mask = (distances == d).cpu()
        counts.append(int(mask.sum()))
        if counts[-1] == 0:
            raise ValueError(f"expected probes at every distance 1, 2, 3, got none at distance {d}")
        per_distance.append(float((ranks[mask] < 1).to(torch.float64).mean()))
    return SCFaceReport(
        rank_1_d1=per_distance[0],
        rank_1_d2=per_distance[1],
        rank_1_d3=per_distance[2],
        rank_1_average=sum(per_distance) / 3,
        num_probes_per_distance=(counts[0], counts[1], counts[2]),
        gallery=gallery,
        num_gallery=int(g.shape[0]),
    )


@dataclass(frozen=True)
class SurvFaceReport(Report):
    """QMUL-SurvFace: open-set TPIR20@FPIR 0.3/0.2/0.1 + AUC; verification TAR@FAR 0.3/0.1/0.01/0.001 + AUC.

    Verification fields are None when no pairs were given.
    """

    tpir20_at_fpir_0_3: float
    tpir20_at_fpir_0_2: float
    tpir20_at_fpir_0_1: float
    tpir20_auc: float
    tar_at_far_0_3: float | None
    tar_at_far_0_1: float | None
    tar_at_far_0_01: float | None
    tar_at_far_0_001: float | None
    verification_auc: float | None
    verification_accuracy_10fold: float | None
    gallery: str
    num_mated: int
    num_unmated: int
    identification_convention: str = _OPEN_SET_CONVENTION
    verification_convention: str = (
        "official grid: Euclidean distance of L2-normalised features, t = 0.2:0.001:2.0, accept "
        "distance < t, "
        "nearest-FAR read-out, AUC = trapz(FAR, TAR)"
    )


def _pair_distances(pairs: tuple[Tensor, Tensor], name: str) -> Tensor:
    if not isinstance(pairs, tuple | list) or len(pairs) != 2:
        raise TypeError(
            f"expected {name} as a pair (features_a (N, D), features_b (N, D)), got {type(pairs)}"
        )
    a = check_features(pairs[0], f"{name}[0]")
    b = check_features(pairs[1], f"{name}[1]", dim=a.shape[1])
    if a.shape != b.shape:
        raise ValueError(f"expected {name}[1] of shape {tuple(a.shape)}, got {tuple(b.shape)}")
    a, b = l2_normalize(a, dim=1), l2_normalize(b.to(a.device), dim=1).to(a.dtype)
    distances: Tensor = torch.linalg.vector_norm(a - b, dim=1)
    return distances


def evaluate_survface(
    mated_features: Tensor,
    mated_labels: Tensor,
    unmated_features: Tensor,
    gallery_features: Tensor,
    gallery_labels: Tensor,
    positive_pairs: tuple[Tensor, Tensor] | None = None,
    negative_pairs: tuple[Tensor, Tensor] | None = None,
    *,
    gallery: str = "template",
    max_elements: int = _DEFAULT_MAX_ELEMENTS,
) -> SurvFaceReport:
    """QMUL-SurvFace protocol: open-set identification (and verification when pairs are given).

    Args:
        mated_features: (P_m, D); mated_labels: (P_m,); unmated_features: (P_u, D).
        gallery_features: (G, D); gallery_labels: (G,).
        positive_pairs / negative_pairs: ``(features_a, features_b)``, each (N, D), in the official pair
        order.
        gallery: ``"template"`` (default, per-identity averaged features, datasets.md decision) or
            ``"image"``.
    """
    result = tpir_at_fpir(
        mated_features,
        mated_labels,
        unmated_features,
        gallery_features,
        gallery_labels,
        (0.3, 0.2, 0.1),
        rank=20,
        gallery=gallery,
        max_elements=max_elements,
    )
    tpir = result.tpir.tolist()
    verification: list[float | None] = [None] * 6
    if (positive_pairs is None) != (negative_pairs is None):
        raise ValueError("expected both positive_pairs and negative_pairs or neither, got only one")
    if positive_pairs is not None and negative_pairs is not None:
        grid = survface_grid_verification(
            _pair_distances(positive_pairs, "positive_pairs"),
            _pair_distances(negative_pairs, "negative_pairs"),
            (0.3, 0.1, 0.01, 0.001),
        )
        verification = [*grid.tar.tolist(), grid.auc, grid.accuracy_10fold]
    return SurvFaceReport(
        tpir20_at_fpir_0_3=tpir[0],
        tpir20_at_fpir_0_2=tpir[1],
        tpir20_at_fpir_0_1=tpir[2],
        tpir20_auc=result.auc,
        tar_at_far_0_3=verification[0],
        tar_at_far_0_1=verification[1],
        tar_at_far_0_01=verification[2],
        tar_at_far_0_001=verification[3],
        verification_auc=verification[4],
        verification_accuracy_10fold=verification[5],
        gallery=gallery,
        num_mated=result.num_mated,
        num_unmated=result.num_unmated,
    )
