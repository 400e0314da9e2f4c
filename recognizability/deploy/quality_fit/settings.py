"""What a quality fit may choose, checked once: :class:`QualityFitSettings`."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from recognizability._validation import (
    check_choice,
    check_finite_float,
    check_float_in_range,
    check_positive_float,
    check_positive_int,
)
from recognizability.functional import DEFAULT_TAU

from ..quality_file import REGRESSION_INPUTS, RegressionInput

__all__ = [
    "PSEUDO_UI_IMAGES",
    "PSEUDO_UI_SIZE",
    "REGRESSION_INPUTS",
    "TARGETS",
    "QualityFitSettings",
    "RegressionInput",
    "Target",
]

Target = Literal["index", "certainty_ratio"]
#: The regression targets: the paper's Recognizability Index (Eq. 1-3) and CR-FIQA's certainty ratio.
TARGETS: tuple[Target, ...] = ("index", "certainty_ratio")
#: Side (pixels) the labelled faces are shrunk to for the pseudo-UI set before being enlarged back.
PSEUDO_UI_SIZE = 2
#: At most this many labelled faces are degraded into the pseudo-UI set (the paper's K = 5,000 UI images).
PSEUDO_UI_IMAGES = 5000
#: Smooth-L1 threshold of each target's loss: the paper's 0.75 (Eq. 4) and CR-FIQA's 0.5.
SMOOTH_L1_BETA: dict[str, float] = {"index": 0.75, "certainty_ratio": 0.5}
#: Dropout of the regression module by input: Table 5's 0.9 on the feature map; none on the embedding, as
#: CR-FIQA's branch (a plain Linear on v).
DEFAULT_DROPOUT: dict[str, float] = {"feature_map": 0.9, "embedding": 0.0}
#: Weight of the index diversion term by target: 0.4 (Table 5's 2 : 5 against the smooth-L1 term) on the
#: index, decided by the protocol of docs/quality.md; the term acts on an index, so none on the ratio.
DEFAULT_DIVERSION_WEIGHT: dict[str, float] = {"index": 0.4, "certainty_ratio": 0.0}


@dataclass(frozen=True)
class QualityFitSettings:
    """The choices of a quality fit (stored in the quality model's file).

    Attributes:
        target: ``"index"`` (default: the paper's Recognizability Index, Eq. 1-3, with leave-one-out class
            prototypes and the UI centre of a UI set or a pseudo-UI set) or ``"certainty_ratio"`` (CR-FIQA's
            ``CCS / (NNCCS + 1 + eps)`` with the same prototypes; no UI set needed). The default follows the
            protocol of docs/quality.md: on generator version 2 the ratio's EDC pAUC at FMR 1e-3 was lower,
            but its Spearman correlation with severity worse, both resolved.
        regression_input: ``"feature_map"`` (the paper's module on the flattened F) or ``"embedding"`` (on v).
        dropout: dropout of the regression module while it is fitted; None: 0.9 on the feature map (Table 5),
            0.0 on the embedding (CR-FIQA's branch).
        diversion_weight: weight of the index diversion term (Eq. 7, ``mu_UI = 0``, ``sigma_UI = 1`` as the
            paper) added to the smooth-L1 term; 0 leaves it out. None: 0.4 with the index target (the
            paper's Table 5 weighs it 2 against 5 for the smooth-L1 term; on by the rule of docs/quality.md),
            0 with the ratio.
        tau: tau of the diversion term.
        steps: Adam steps of the fit (a one-cycle learning-rate schedule over them); the cost of a fit does
            not grow with the number of faces.
        batch_size: faces per step.
        learning_rate: the schedule's peak learning rate.
        calibration_share: share of the identities held out of the fit to calibrate the quality score on
            (0: no calibration is fitted).
        fmr: FMR of the calibration's comparison threshold.
        pseudo_ui_size: side the faces are shrunk to for the pseudo-UI set.
        pseudo_ui_images: at most this many faces (evenly spaced in the folder's order) form it.
        seed: seeds the identity split, the module's initialisation, the batches and the dropout.
    """

    target: Target = "index"
    regression_input: RegressionInput = "feature_map"
    dropout: float | None = None
    diversion_weight: float | None = None
    tau: float = DEFAULT_TAU
    steps: int = 1500
    batch_size: int = 256
    learning_rate: float = 3e-3
    calibration_share: float = 0.2
    fmr: float = 1e-3
    pseudo_ui_size: int = PSEUDO_UI_SIZE
    pseudo_ui_images: int = PSEUDO_UI_IMAGES
    seed: int = 0

    def __post_init__(self) -> None:
        check_choice(self.target, "target", TARGETS)
        check_choice(self.regression_input, "regression_input", REGRESSION_INPUTS)
        if self.dropout is not None:
            check_float_in_range(self.dropout, "dropout", 0, 1, high_closed=False)
        if self.diversion_weight is not None:
            check_positive_float(self.diversion_weight, "diversion_weight", allow_zero=True)
        check_finite_float(self.tau, "tau")
        check_positive_int(self.steps, "steps")
        check_positive_int(self.batch_size, "batch_size", minimum=2)
        check_positive_float(self.learning_rate, "learning_rate")
        check_float_in_range(self.calibration_share, "calibration_share", 0, 1, high_closed=False)
        check_float_in_range(self.fmr, "fmr", 0, 1, low_closed=False, high_closed=False)
        check_positive_int(self.pseudo_ui_size, "pseudo_ui_size")
        check_positive_int(self.pseudo_ui_images, "pseudo_ui_images", minimum=2)
        check_positive_int(self.seed, "seed", minimum=0)
        if self.diversion_weight is not None and self.diversion_weight > 0 and self.target != "index":
            raise ValueError(
                f"expected diversion_weight 0 with target={self.target!r}: the index diversion term (Eq. 7) "
                f"acts on a predicted Recognizability Index, got diversion_weight={self.diversion_weight}"
            )

    @property
    def module_dropout(self) -> float:
        """The dropout the regression module is fitted with (``dropout``, or the default of the input)."""
        return DEFAULT_DROPOUT[self.regression_input] if self.dropout is None else float(self.dropout)

    @property
    def diversion_term_weight(self) -> float:
        """The weight of the index diversion term in the fit: ``diversion_weight`` or the target's default."""
        if self.diversion_weight is None:
            return DEFAULT_DIVERSION_WEIGHT[self.target]
        return float(self.diversion_weight)

    @property
    def smooth_l1_beta(self) -> float:
        """The smooth-L1 threshold of the target's loss (0.75 for the index, 0.5 for the ratio)."""
        return SMOOTH_L1_BETA[self.target]

    @property
    def calibrated(self) -> bool:
        return self.calibration_share > 0

    def replace(self, **changes: Any) -> QualityFitSettings:
        """A copy with ``changes`` (checked like the constructor)."""
        return QualityFitSettings(**{**asdict(self), **changes})

    def resolved(self) -> QualityFitSettings:
        """A copy with the defaults that depend on the target and input written out (``dropout``,
        ``diversion_weight``): what a quality model file records, so it says what the fit used."""
        return self.replace(dropout=self.module_dropout, diversion_weight=self.diversion_term_weight)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityFitSettings:
        """Inverse of :meth:`to_dict`; ValueError naming unknown keys."""
        if not isinstance(data, dict):
            raise TypeError(f"expected quality fit settings as a dict, got {type(data).__name__}")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"expected quality fit settings with keys among {sorted(names)}, got {unknown}")
        return cls(**data)

    def needed_non_mated(self) -> int:
        """Non-mated comparisons the calibration needs at ``fmr``: ``ceil(1 / fmr)``."""
        return math.ceil(1.0 / self.fmr)
