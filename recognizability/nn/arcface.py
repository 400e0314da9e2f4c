"""ArcFace recognition head: class prototypes and the additive angular margin loss (the paper's L_cls)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import torch
from torch import Tensor, nn

from .._validation import check_positive_float
from ..functional.margins import arcface_logits, cosine_logits

__all__ = ["ArcFace", "ArcFaceOutput"]


@dataclasses.dataclass(frozen=True)
class ArcFaceOutput:
    """Result of :class:`ArcFace`.

    Attributes:
        logits: ``(B, C)`` float32 margin logits ``s * cos(theta_j + m [j = y])``.
        cosine: ``(B, C)`` float32 pre-margin cosines (input of the Recognizability Index, Eq. 1).
        loss: float32 scalar cross-entropy of ``logits`` (mean over the batch), the paper's ``L_cls``.
    """

    logits: Tensor
    cosine: Tensor
    loss: Tensor

    def __iter__(self) -> Iterator[Tensor]:
        """Unpack like a named tuple: ``logits, cosine, loss = head(embeddings, labels)``."""
        return iter((self.logits, self.cosine, self.loss))


class ArcFace(nn.Module):
    """ArcFace head owning the class prototypes ``W`` as the parameter ``weight`` of shape ``(C, D)``.

    Keep it inside the model so the normal optimiser, DDP and AMP see the prototypes. The prototypes are
    initialised from ``N(0, 0.01^2)`` (as the ArcFace authors' ``arcface_torch`` partial-FC head does);
    only their direction matters.

    Args:
        embedding_dim: ``D``.
        num_classes: ``C >= 1``.
        scale: ``s`` (paper Table 5: 64).
        margin: ``m`` in radians (paper Table 5: 0.45).

    Shape:
        forward(embeddings ``(B, D)``, labels ``(B,)``) -> :class:`ArcFaceOutput`.
    """

    def __init__(
        self, embedding_dim: int, num_classes: int, scale: float = 64.0, margin: float = 0.45
    ) -> None:
        super().__init__()
        for name, value in (("embedding_dim", embedding_dim), ("num_classes", num_classes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"expected {name} to be a positive int, got {value!r}")
        self.embedding_dim = embedding_dim
        self.num_classes = num_classes
        self.scale = check_positive_float(scale, "scale")
        self.margin = check_positive_float(margin, "margin", allow_zero=True)
        self.weight = nn.Parameter(torch.empty(num_classes, embedding_dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw the prototypes from ``N(0, 0.01^2)``."""
        nn.init.normal_(self.weight, mean=0.0, std=0.01)

    def forward(self, embeddings: Tensor, labels: Tensor) -> ArcFaceOutput:
        cosine = cosine_logits(embeddings, self.weight)
        logits = arcface_logits(cosine, labels, scale=self.scale, margin=self.margin)
        loss = nn.functional.cross_entropy(logits, labels.long())
        return ArcFaceOutput(logits=logits, cosine=cosine, loss=loss)

    def extra_repr(self) -> str:
        return (
            f"embedding_dim={self.embedding_dim}, num_classes={self.num_classes}, "
            f"scale={self.scale}, margin={self.margin}"
        )
