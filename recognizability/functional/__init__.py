"""Pure functions of the paper's method (Chai et al., CVPR 2023, Sec. 3): unit vectors and the UI cosine
(Eq. 2), cosines and the ArcFace margin, the Recognizability Index (Eq. 1-3, 6), the loss terms (Eq. 4, 5-7,
9) and the projection away from the UI centre (Eq. 8). Modules in :mod:`recognizability.nn` are thin
wrappers over these."""

from .geometry import l2_normalize, ui_cosine
from .index import recognizability_index, recognizability_index_from_parts, ui_index_statistics
from .losses import DEFAULT_TAU, attention_mse_loss, index_diversion_loss, perceptibility_regression_loss
from .margins import arcface_logits, cosine_logits
from .projection import project_away

__all__ = [
    "DEFAULT_TAU",
    "arcface_logits",
    "attention_mse_loss",
    "cosine_logits",
    "index_diversion_loss",
    "l2_normalize",
    "perceptibility_regression_loss",
    "project_away",
    "recognizability_index",
    "recognizability_index_from_parts",
    "ui_cosine",
    "ui_index_statistics",
]
