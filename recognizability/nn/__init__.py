"""Modules of the paper's method (Chai et al., CVPR 2023, Sec. 3), each a thin wrapper over
:mod:`recognizability.functional`: the margin heads (ArcFace, the paper's, and CosFace, AdaFace,
CurricularFace, MagFace it compares with; ChunkedArcFace and ShardedArcFace for very many classes), the
Recognizability Index, the index diversion loss, the UI centre, the perceptibility attention and regression
modules, and the combined criterion (Eq. 10)."""

from __future__ import annotations

from ._prototypes import MarginHead
from .adaface import AdaFace
from .arcface import ArcFace
from .attention import PerceptibilityAttention
from .chunked import ChunkedArcFace
from .cosface import CosFace
from .criterion import RecognizabilityLoss, RecognizabilityLossOutput
from .curricularface import CurricularFace
from .diversion import IndexDiversionLoss
from .head_output import (
    HeadOutputLike,
    HeadOutputWithCosine,
    HeadOutputWithIndexParts,
    MarginHeadOutput,
    deprecated_attribute,
)
from .head_registry import MARGIN_HEAD_NAMES, MARGIN_HEADS, build_margin_head
from .index import RecognizabilityIndex
from .magface import MagFace
from .regression import PerceptibilityRegression
from .sharded import ShardedArcFace
from .ui_center import UICenter

__all__ = [
    "MARGIN_HEADS",
    "MARGIN_HEAD_NAMES",
    "AdaFace",
    "ArcFace",
    "ChunkedArcFace",
    "CosFace",
    "CurricularFace",
    "HeadOutputLike",
    "HeadOutputWithCosine",
    "HeadOutputWithIndexParts",
    "IndexDiversionLoss",
    "MagFace",
    "MarginHead",
    "MarginHeadOutput",
    "PerceptibilityAttention",
    "PerceptibilityRegression",
    "RecognizabilityIndex",
    "RecognizabilityLoss",
    "RecognizabilityLossOutput",
    "ShardedArcFace",
    "UICenter",
    "build_margin_head",
]


def __getattr__(name: str) -> object:
    return deprecated_attribute(__name__, name)
