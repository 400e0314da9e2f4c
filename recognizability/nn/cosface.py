"""CosFace head: class prototypes and the large margin cosine loss."""

from __future__ import annotations

from torch import Tensor

from .._validation import check_finite, check_positive_float, check_tensor
from ..functional.margin_heads import cosface_logits
from ..functional.margins import cosine_logits
from ._prototypes import MarginHead
from .head_output import MarginHeadOutput

__all__ = ["CosFace"]


class CosFace(MarginHead):
    """CosFace head (Wang et al., CVPR 2018): target logit ``s * (cos(theta_y) - m)``, others
    ``s * cos(theta_j)``.

    Owns the prototypes ``weight`` ``(C, D)`` like :class:`ArcFace`. See
    :func:`~recognizability.functional.cosface_logits`.

    Args:
        embedding_dim: ``D``.
        num_classes: ``C >= 2``.
        scale: ``s`` (CosFace paper: 64).
        margin: cosine margin ``m`` (CosFace paper: 0.35; insightface ``arcface_torch`` configurations: 0.4).

    Shape:
        forward(embeddings ``(B, D)``, labels ``(B,)``) -> :class:`MarginHeadOutput` (``loss``: the
        cross-entropy).
    """

    def __init__(
        self, embedding_dim: int, num_classes: int, scale: float = 64.0, margin: float = 0.35
    ) -> None:
        super().__init__(embedding_dim, num_classes, scale)
        self.margin = check_positive_float(margin, "margin", allow_zero=True)

    def forward(self, embeddings: Tensor, labels: Tensor) -> MarginHeadOutput:
        check_finite(check_tensor(embeddings, "embeddings"), "embeddings")
        cosine = cosine_logits(embeddings, self.weight)
        logits = cosface_logits(cosine, labels, scale=self.scale, margin=self.margin)
        return self._output(cosine, logits, labels)

    def extra_repr(self) -> str:
        return f"{self._head_repr()}, margin={self.margin}"
