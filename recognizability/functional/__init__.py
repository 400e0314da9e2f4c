"""Pure functions of the paper's method (Chai et al., CVPR 2023, Sec. 3): unit vectors and the UI cosine
(Eq. 2), cosines and the ArcFace margin (and the CosFace, AdaFace, CurricularFace and MagFace logits the
paper compares with), the Recognizability Index (Eq. 1-3, 6), the loss terms (Eq. 4, 5-7,
9) and the projection away from the UI centre (Eq. 8). Modules in :mod:`recognizability.nn` are thin
wrappers over these."""

from .geometry import l2_normalize, ui_cosine
from .index import recognizability_index, recognizability_index_from_parts, ui_index_statistics
from .losses import DEFAULT_TAU, attention_mse_loss, index_diversion_loss, perceptibility_regression_loss
from .margin_heads import (
    adaface_logits,
    adaface_norm_statistics,
    cosface_logits,
    curricularface_logits,
    curricularface_t_update,
    magface_logits,
    magface_margin,
    magface_regularizer,
    positive_and_nearest_negative_cosine,
)
from .margins import arcface_logits, cosine_logits
from .projection import project_away

__all__ = [
    "DEFAULT_TAU",
    "adaface_logits",
    "adaface_norm_statistics",
    "arcface_logits",
    "attention_mse_loss",
    "cosface_logits",
    "cosine_logits",
    "curricularface_logits",
    "curricularface_t_update",
    "index_diversion_loss",
    "l2_normalize",
    "magface_logits",
    "magface_margin",
    "magface_regularizer",
    "perceptibility_regression_loss",
    "positive_and_nearest_negative_cosine",
    "project_away",
    "recognizability_index",
    "recognizability_index_from_parts",
    "ui_cosine",
    "ui_index_statistics",
]
