"""Exact, chunked evaluation metrics for verification, closed/open-set identification and face quality.

Every function takes tensors (CPU or CUDA, float32 or float64) and returns a dataclass report that states its
convention and serialises with ``to_dict()``/``to_json()``. Definitions: ``docs/metrics.md``.
"""

from .identification import CMCAccumulator, CMCResult, cmc, identity_templates
from .open_set import OpenSetResult, tpir_at_fpir, unmated_top_scores
from .protocols import (
    SCFaceReport,
    SurvFaceReport,
    TinyFaceReport,
    evaluate_scface,
    evaluate_survface,
    evaluate_tinyface,
    flip_fuse,
)
from .quality import (
    ERCResult,
    crfiqa_quality,
    error_versus_reject,
    ers_quality,
    hard_share_in_lowest_quality,
    magface_quality,
    pair_quality,
    serfiq_quality,
    serfiq_score,
    spearman_correlation,
)
from .verification import (
    EERResult,
    GridVerificationResult,
    ROCCurve,
    TARAtFARResult,
    VerificationAccumulator,
    area_under_roc,
    equal_error_rate,
    roc_curve,
    survface_grid_verification,
    tar_at_far,
)

__all__ = [
    "CMCAccumulator",
    "CMCResult",
    "EERResult",
    "ERCResult",
    "GridVerificationResult",
    "OpenSetResult",
    "ROCCurve",
    "SCFaceReport",
    "SurvFaceReport",
    "TARAtFARResult",
    "TinyFaceReport",
    "VerificationAccumulator",
    "area_under_roc",
    "cmc",
    "crfiqa_quality",
    "equal_error_rate",
    "error_versus_reject",
    "ers_quality",
    "evaluate_scface",
    "evaluate_survface",
    "evaluate_tinyface",
    "flip_fuse",
    "hard_share_in_lowest_quality",
    "identity_templates",
    "magface_quality",
    "pair_quality",
    "roc_curve",
    "serfiq_quality",
    "serfiq_score",
    "spearman_correlation",
    "survface_grid_verification",
    "tar_at_far",
    "tpir_at_fpir",
    "unmated_top_scores",
]
