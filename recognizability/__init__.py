"""recognizability: Recognizability Embedding Enhancement for very-low-resolution face recognition.

Implements Chai et al., "Recognizability Embedding Enhancement for Very Low-Resolution Face Recognition
and Quality Estimation", CVPR 2023. The paper's modules are exported here; the rest of the library lives in
subpackages imported on demand:

- :mod:`recognizability.functional`: the pure tensor math (Eq. 1-10);
- :mod:`recognizability.nn`: the modules below;
- :mod:`recognizability.backbones`: IResNet, MobileFaceNet, AdaFace IR and checkpoint loading;
- :mod:`recognizability.metrics`: verification, identification, error-versus-reject, benchmark protocols;
- :mod:`recognizability.data`: dataset readers, batched transforms and the synthetic benchmark;
- :mod:`recognizability.training`: what the reference training scripts share.
"""

from . import functional, nn
from ._validation import set_value_checks, value_checks, value_checks_enabled
from .nn import (
    MARGIN_HEAD_NAMES,
    AdaFace,
    ArcFace,
    ChunkedArcFace,
    CosFace,
    CurricularFace,
    IndexDiversionLoss,
    MagFace,
    MarginHeadOutput,
    PerceptibilityAttention,
    PerceptibilityRegression,
    RecognizabilityIndex,
    RecognizabilityLoss,
    RecognizabilityLossOutput,
    ShardedArcFace,
    UICenter,
    build_margin_head,
)
from .nn.head_output import deprecated_attribute

__version__ = "0.1.0"

__all__ = [
    "MARGIN_HEAD_NAMES",
    "AdaFace",
    "ArcFace",
    "ChunkedArcFace",
    "CosFace",
    "CurricularFace",
    "IndexDiversionLoss",
    "MagFace",
    "MarginHeadOutput",
    "PerceptibilityAttention",
    "PerceptibilityRegression",
    "RecognizabilityIndex",
    "RecognizabilityLoss",
    "RecognizabilityLossOutput",
    "ShardedArcFace",
    "UICenter",
    "__version__",
    "build_margin_head",
    "functional",
    "nn",
    "set_value_checks",
    "value_checks",
    "value_checks_enabled",
]


def __getattr__(name: str) -> object:
    return deprecated_attribute(__name__, name)
