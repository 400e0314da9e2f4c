"""A quality score for a recognizer you already run (``recognizability fit-quality``). See docs/quality.md.

- :func:`fit_quality`: frozen backbone + labelled face folder + UI set -> a quality model file that the
  ``quality``, ``export``, ``calibrate`` and ``evaluate`` commands take as ``--checkpoint``, its calibration
  beside it;
- :class:`QualityFitSettings`: target (the Recognizability Index or CR-FIQA's certainty ratio), input of the
  regression module (feature map or embedding), diversion term, steps, calibration split;
- the pieces: :func:`embed_faces` (the one pass over the images, cached), :func:`leave_one_out_cosines`,
  :func:`quality_targets`, :func:`ui_center_of`, :func:`fit_regression`, :func:`fit_quality_head` (from cached
  features, no image read), :func:`load_frozen_backbone`, :func:`check_face_folder`, :func:`check_ui_folder`.
"""

from __future__ import annotations

from .features import CACHE_FORMAT, SHARD_IMAGES, FaceFeatures, embed_faces, pseudo_ui_positions
from .fit import (
    FrozenBackbone,
    QualityFitResult,
    QualityHead,
    check_face_folder,
    check_ui_folder,
    fit_quality,
    fit_quality_head,
    load_frozen_backbone,
    split_identities,
)
from .fitting import RegressionFit, fit_regression
from .settings import (
    PSEUDO_UI_IMAGES,
    PSEUDO_UI_SIZE,
    REGRESSION_INPUTS,
    TARGETS,
    QualityFitSettings,
    RegressionInput,
    Target,
)
from .targets import leave_one_out_cosines, quality_targets, ui_center_of

__all__ = [
    "CACHE_FORMAT",
    "PSEUDO_UI_IMAGES",
    "PSEUDO_UI_SIZE",
    "REGRESSION_INPUTS",
    "SHARD_IMAGES",
    "TARGETS",
    "FaceFeatures",
    "FrozenBackbone",
    "QualityFitResult",
    "QualityFitSettings",
    "QualityHead",
    "RegressionFit",
    "RegressionInput",
    "Target",
    "check_face_folder",
    "check_ui_folder",
    "embed_faces",
    "fit_quality",
    "fit_quality_head",
    "fit_regression",
    "leave_one_out_cosines",
    "load_frozen_backbone",
    "pseudo_ui_positions",
    "quality_targets",
    "split_identities",
    "ui_center_of",
]
