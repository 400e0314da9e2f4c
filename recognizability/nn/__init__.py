"""Modules of the paper's method (Chai et al., CVPR 2023, Sec. 3), each a thin wrapper over
:mod:`recognizability.functional`: the ArcFace head, the Recognizability Index, the index diversion loss,
the UI centre, the perceptibility attention and regression modules, and the combined criterion (Eq. 10)."""

from .arcface import ArcFace, ArcFaceOutput
from .attention import PerceptibilityAttention
from .criterion import RecognizabilityLoss, RecognizabilityLossOutput
from .diversion import IndexDiversionLoss
from .index import RecognizabilityIndex
from .regression import PerceptibilityRegression
from .ui_center import UICenter

__all__ = [
    "ArcFace",
    "ArcFaceOutput",
    "IndexDiversionLoss",
    "PerceptibilityAttention",
    "PerceptibilityRegression",
    "RecognizabilityIndex",
    "RecognizabilityLoss",
    "RecognizabilityLossOutput",
    "UICenter",
]
