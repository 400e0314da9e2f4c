"""ArcFace recognition head: class prototypes and the additive angular margin loss (the paper's L_cls)."""

from __future__ import annotations

from torch import Tensor

from .._validation import check_finite, check_tensor
from ..functional.margin_heads import _check_margin
from ..functional.margins import arcface_logits, cosine_logits
from ._prototypes import MarginHead
from .head_output import MarginHeadOutput, deprecated_attribute

__all__ = ["ArcFace"]


class ArcFace(MarginHead):
    """ArcFace head owning the class prototypes ``W`` as the parameter ``weight`` of shape ``(C, D)``.

    Keep it inside the model so the normal optimiser, DDP and AMP see the prototypes. The prototypes are
    initialised from ``N(0, 0.01^2)`` (as the ArcFace authors' ``arcface_torch`` partial-FC head does);
    only their direction matters. See :func:`~recognizability.functional.arcface_logits` for the margin.

    Args:
        embedding_dim: ``D``.
        num_classes: ``C >= 2``.
        scale: ``s`` (paper Table 5: 64).
        margin: ``m`` in radians (paper Table 5: 0.45).

    Shape:
        forward(embeddings ``(B, D)``, labels ``(B,)``) -> :class:`MarginHeadOutput` with ``logits`` and
        ``cosine`` ``(B, C)``, ``loss`` (the cross-entropy ``L_cls``), and the pre-margin
        ``positive_cosine`` and ``nearest_negative_cosine`` ``(B,)``.
    """

    def __init__(
        self, embedding_dim: int, num_classes: int, scale: float = 64.0, margin: float = 0.45
    ) -> None:
        super().__init__(embedding_dim, num_classes, scale)
        self.margin = _check_margin(margin)

    def forward(self, embeddings: Tensor, labels: Tensor) -> MarginHeadOutput:
        check_finite(check_tensor(embeddings, "embeddings"), "embeddings")
        cosine = cosine_logits(embeddings, self.weight)
        logits = arcface_logits(cosine, labels, scale=self.scale, margin=self.margin)
        return self._output(cosine, logits, labels)

    def extra_repr(self) -> str:
        return f"{self._head_repr()}, margin={self.margin}"


def __getattr__(name: str) -> object:
    return deprecated_attribute(__name__, name)
