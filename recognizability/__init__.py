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

from collections import ChainMap

from . import functional, nn
from ._deprecation import deprecated_aliases
from ._validation import set_value_checks, value_checks, value_checks_enabled
from ._version import __version__
from .nn import (
    AdaFace,
    ArcFace,
    ChunkedArcFace,
    ChunkedMarginHead,
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
    ShardedMarginHead,
    UICenter,
    available_heads,
    build_head,
    register_head,
)

__all__ = [
    "AdaFace",
    "ArcFace",
    "ChunkedArcFace",
    "ChunkedMarginHead",
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
    "ShardedMarginHead",
    "UICenter",
    "__version__",
    "available_heads",
    "build_head",
    "functional",
    "nn",
    "register_head",
    "set_value_checks",
    "value_checks",
    "value_checks_enabled",
]


__getattr__ = deprecated_aliases(
    __name__,
    {
        "ArcFaceOutput": "MarginHeadOutput",
        "MARGIN_HEAD_NAMES": "MARGIN_HEAD_NAMES",
        "build_margin_head": "build_margin_head",
    },
    ChainMap(vars(nn.head_output), vars(nn.head_registry)),
    advice={
        "ArcFaceOutput": "use MarginHeadOutput (recognizability.MarginHeadOutput)",
        "MARGIN_HEAD_NAMES": "use available_heads() (recognizability.available_heads)",
        "build_margin_head": "use build_head(name, embedding_dim, num_classes, **options) "
        "(recognizability.build_head)",
    },
)
