"""Margin heads for very many classes on one device: the prototypes are walked in chunks and no ``(B, C)``
tensor is ever stored (see :mod:`recognizability.functional.chunked`)."""

from __future__ import annotations

from torch import Tensor

from ..functional._autocast import at_least_float32
from ..functional._heads import check_head_call
from ..functional.chunked import (
    DEFAULT_CHUNK_SIZE,
    check_chunk_size,
    chunked_cosine_parts,
    label_cosine,
    margin_cross_entropy,
)
from ._prototypes import PrototypeHolder, margin_option
from .head_output import MarginHeadOutput
from .margins import ArcFaceMargin, Margin

__all__ = ["ChunkedArcFace", "ChunkedMarginHead"]


class ChunkedMarginHead(PrototypeHolder):
    """A margin head that computes its loss and the index's two cosines chunk by chunk over the prototypes.

    Any margin component (:class:`~recognizability.nn.ArcFaceMargin`, :class:`~recognizability.nn.
    CosFaceMargin`, :class:`~recognizability.nn.AdaFaceMargin`, :class:`~recognizability.nn.
    CurricularFaceMargin`, :class:`~recognizability.nn.MagFaceMargin` or one of your own): the same
    prototypes (parameter ``weight`` of shape ``(C, D)``) and running statistics as the dense
    :class:`MarginHead` with that margin, so state dicts load either way, and the same loss, positive and
    nearest-negative cosines, statistics and gradients up to rounding; but the ``(B, C)`` cosines and logits
    are never stored: memory beyond the prototypes and their gradient is a few ``(B, chunk_size)`` blocks.
    The backward pass recomputes each chunk's cosines (one more ``B x C x D`` matrix product than the dense
    head).

    Args:
        embedding_dim: ``D``.
        num_classes: ``C >= 2`` (the nearest negative of the index needs a second class).
        margin: the margin component.
        chunk_size: prototypes per chunk (default 16384).

    Shape:
        forward(embeddings ``(B, D)``, labels ``(B,)``) -> :class:`MarginHeadOutput` with ``logits`` and
        ``cosine`` set to ``None`` and ``positive_cosine``, ``nearest_negative_cosine`` of shape ``(B,)``.
    """

    def __init__(
        self, embedding_dim: int, num_classes: int, margin: Margin, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> None:
        super().__init__(embedding_dim, num_classes, margin)
        self.chunk_size = check_chunk_size(chunk_size)

    def forward(self, embeddings: Tensor, labels: Tensor) -> MarginHeadOutput:
        index = check_head_call(embeddings, labels, self.weight, self.embedding_dim, self.num_classes)
        loss, positive, nearest_negative, statistics = self._streamed_loss(embeddings, index, self.weight)
        self._commit(statistics)  # every argument has been checked: now the statistics may change
        return MarginHeadOutput(
            logits=None,
            cosine=None,
            loss=loss,
            positive_cosine=positive,
            nearest_negative_cosine=nearest_negative,
        )

    # ------------------------------------------------------------------------------------------------------
    # The walk, with the two places where a class-sharded head reduces across processes
    # ------------------------------------------------------------------------------------------------------

    def _streamed_loss(
        self, embeddings: Tensor, labels: Tensor, prototypes: Tensor
    ) -> tuple[Tensor, Tensor, Tensor, dict[str, Tensor]]:
        """Loss, ``cos_y``, ``max_{j != y} cos_j`` and this call's statistics (not stored yet) of ``(N, D)``
        embeddings against ``(k, D)`` prototypes; labels outside ``[0, k)`` are classes held elsewhere."""
        margin = self.margin_component
        upcast = at_least_float32(embeddings)
        norms = self._norms(upcast)
        target_cosine = None
        if margin.needs_target_cosine:
            target_cosine = self._reduce_target_cosine(label_cosine(upcast, prototypes, labels))
        statistics = self._batch_statistics(target_cosine, norms)
        negative_logits = margin.negative_logits(target_cosine, statistics)
        parts = chunked_cosine_parts(
            upcast, prototypes, labels, margin.scale, self.chunk_size, negative_logits
        )
        nontarget_lse, positive, nearest_negative = self._reduce_parts(*parts)
        target = margin.target_logits(positive, norms, statistics)
        loss = self._with_regularizer(margin_cross_entropy(nontarget_lse, target).mean(), norms)
        return loss, positive, nearest_negative, statistics

    def _reduce_target_cosine(self, target_cosine: Tensor) -> Tensor:
        """The detached ``cos_y`` of every row, from the holders of the labels' prototypes (here: this
        head)."""
        return target_cosine

    def _reduce_parts(
        self, nontarget_lse: Tensor, positive: Tensor, nearest_negative: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """The three row reductions over all classes (here: this head holds them all)."""
        return nontarget_lse, positive, nearest_negative

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, chunk_size={self.chunk_size}"


class ChunkedArcFace(ChunkedMarginHead):
    """ArcFace head that computes ``L_cls`` and the index's two cosines chunk by chunk over the prototypes:
    :class:`ChunkedMarginHead` with :class:`~recognizability.nn.ArcFaceMargin`.

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

    margin = margin_option()

    def __init__(
        self,
        embedding_dim: int,
        num_classes: int,
        scale: float = 64.0,
        margin: float = 0.45,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> None:
        chunk_size = check_chunk_size(chunk_size)
        component = ArcFaceMargin(scale, margin)
        super().__init__(embedding_dim, num_classes, component, chunk_size)

    def extra_repr(self) -> str:
        return f"{self._options_repr()}, chunk_size={self.chunk_size}"
