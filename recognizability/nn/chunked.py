"""ArcFace head for very many classes on one device: the prototypes are walked in chunks and no ``(B, C)``
tensor is ever stored (see :mod:`recognizability.functional.chunked`)."""

from __future__ import annotations

from torch import Tensor

from .._validation import check_finite, check_tensor
from ..functional.chunked import DEFAULT_CHUNK_SIZE, check_chunk_size, chunked_arcface
from .arcface import ArcFace
from .head_output import MarginHeadOutput

__all__ = ["ChunkedArcFace"]


class ChunkedArcFace(ArcFace):
    """ArcFace head that computes ``L_cls`` and the index's two cosines chunk by chunk over the prototypes.

    The same prototypes (parameter ``weight`` of shape ``(C, D)``, same initialisation and state dict as
    :class:`ArcFace`, so checkpoints load either way), the same loss, positive and nearest-negative cosines
    and the same gradients as :class:`ArcFace` up to rounding, but the ``(B, C)`` cosines and logits are never
    stored: memory beyond the prototypes and their gradient is one ``(B, chunk_size)`` block. The backward
    pass recomputes each chunk's cosines (one more ``B x C x D`` matrix product than the dense head).

    Args:
        embedding_dim: ``D``.
        num_classes: ``C >= 2`` (the nearest negative of the index needs a second class).
        scale: ``s`` (paper Table 5: 64).
        margin: ``m`` in radians (paper Table 5: 0.45).
        chunk_size: prototypes per chunk (default 16384).

    Shape:
        forward(embeddings ``(B, D)``, labels ``(B,)``) -> :class:`MarginHeadOutput` with ``logits`` and
        ``cosine`` set to ``None`` and ``positive_cosine``, ``nearest_negative_cosine`` of shape ``(B,)``.
    """

    def __init__(
        self,
        embedding_dim: int,
        num_classes: int,
        scale: float = 64.0,
        margin: float = 0.45,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> None:
        chunk_size = check_chunk_size(chunk_size)
        super().__init__(embedding_dim, num_classes, scale=scale, margin=margin)
        self.chunk_size = chunk_size

    def forward(self, embeddings: Tensor, labels: Tensor) -> MarginHeadOutput:
        check_finite(check_tensor(embeddings, "embeddings"), "embeddings")
        loss, positive, nearest_negative = chunked_arcface(
            embeddings, self.weight, labels, self.scale, self.margin, self.chunk_size
        )
        return MarginHeadOutput(
            logits=None,
            cosine=None,
            loss=loss,
            positive_cosine=positive,
            nearest_negative_cosine=nearest_negative,
        )

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, chunk_size={self.chunk_size}"
