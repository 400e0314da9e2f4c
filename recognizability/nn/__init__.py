"""Modules of the paper's method (Chai et al., CVPR 2023, Sec. 3), each a thin wrapper over
:mod:`recognizability.functional`: the margin heads (ArcFace, the paper's, and CosFace, AdaFace,
CurricularFace, MagFace it compares with) as margin components held dense, chunked or class-sharded for very
many classes, with one registry that builds them by name; the Recognizability Index, the index diversion loss,
the UI centre, the perceptibility attention and regression modules, and the combined criterion (Eq. 10)."""

from __future__ import annotations

from collections import ChainMap

from .._deprecation import deprecated_aliases
from . import head_registry as _head_registry
from ._prototypes import MarginHead
from .adaface import AdaFace
from .arcface import ArcFace
from .attention import PerceptibilityAttention
from .chunked import ChunkedArcFace, ChunkedMarginHead
from .cosface import CosFace
from .criterion import RecognizabilityLoss, RecognizabilityLossOutput
from .curricularface import CurricularFace
from .diversion import IndexDiversionLoss
from .head_output import (
    OUTPUT_ALIAS_ADVICE,
    HeadOutputLike,
    HeadOutputWithCosine,
    HeadOutputWithIndexParts,
    MarginHeadOutput,
)
from .head_registry import PARALLEL_MODES, available_heads, build_head, register_head
from .index import RecognizabilityIndex
from .magface import MagFace
from .margins import AdaFaceMargin, ArcFaceMargin, CosFaceMargin, CurricularFaceMargin, MagFaceMargin, Margin
from .regression import PerceptibilityRegression
from .sharded import ShardedArcFace, ShardedMarginHead
from .ui_center import UICenter

__all__ = [
    "PARALLEL_MODES",
    "AdaFace",
    "AdaFaceMargin",
    "ArcFace",
    "ArcFaceMargin",
    "ChunkedArcFace",
    "ChunkedMarginHead",
    "CosFace",
    "CosFaceMargin",
    "CurricularFace",
    "CurricularFaceMargin",
    "HeadOutputLike",
    "HeadOutputWithCosine",
    "HeadOutputWithIndexParts",
    "IndexDiversionLoss",
    "MagFace",
    "MagFaceMargin",
    "Margin",
    "MarginHead",
    "MarginHeadOutput",
    "PerceptibilityAttention",
    "PerceptibilityRegression",
    "RecognizabilityIndex",
    "RecognizabilityLoss",
    "RecognizabilityLossOutput",
    "ShardedArcFace",
    "ShardedMarginHead",
    "UICenter",
    "available_heads",
    "build_head",
    "register_head",
]

__getattr__ = deprecated_aliases(
    __name__,
    {
        "ArcFaceOutput": "MarginHeadOutput",
        "MARGIN_HEADS": "MARGIN_HEADS",
        "MARGIN_HEAD_NAMES": "MARGIN_HEAD_NAMES",
        "build_margin_head": "build_margin_head",
    },
    ChainMap(globals(), vars(_head_registry)),
    advice={
        **OUTPUT_ALIAS_ADVICE,
        "MARGIN_HEADS": "use build_head(name, ...) and available_heads() (recognizability.nn)",
        "MARGIN_HEAD_NAMES": "use available_heads() (recognizability.nn.available_heads)",
        "build_margin_head": "use build_head(name, embedding_dim, num_classes, **options) "
        "(recognizability.nn.build_head)",
    },
)
