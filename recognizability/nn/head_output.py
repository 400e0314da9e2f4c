"""The one output type of every margin head (ArcFace, CosFace, AdaFace, CurricularFace, MagFace, and the
chunked and class-sharded heads), and what :class:`~recognizability.nn.RecognizabilityLoss` reads from it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Protocol, TypeAlias

from torch import Tensor

__all__ = [
    "OUTPUT_ALIAS_ADVICE",
    "HeadOutputLike",
    "HeadOutputWithCosine",
    "HeadOutputWithIndexParts",
    "MarginHeadOutput",
]


@dataclasses.dataclass(frozen=True)
class MarginHeadOutput:
    """Result of a margin head.

    The Recognizability Index (paper Eq. 1-3) needs, per sample, only the pre-margin cosine with the sample's
    own prototype and the largest pre-margin cosine with any other prototype; every head returns those two
    parts, so heads that never hold the whole ``(B, C)`` cosine (chunked, class-sharded) work with the
    criterion too.

    Attributes:
        logits: ``(B, C)`` float32 margin logits, or ``None`` for heads that never build them.
        cosine: ``(B, C)`` float32 pre-margin cosines, or ``None`` for heads that never build them.
        loss: float32 scalar classification loss ``L_cls`` (mean over the batch, plus any regulariser the
            head's method defines, e.g. MagFace's ``g(a)``).
        positive_cosine: ``(B,)`` pre-margin ``cos_y = cos(v, W_y)`` (Eq. 1's ``d_P = 1 - cos_y``).
        nearest_negative_cosine: ``(B,)`` pre-margin ``max_{j != y} cos(v, W_j)`` (Eq. 1's ``d_N``).
    """

    logits: Tensor | None
    cosine: Tensor | None
    loss: Tensor
    positive_cosine: Tensor
    nearest_negative_cosine: Tensor

    def __iter__(self) -> Iterator[Tensor | None]:
        """Unpack like the earlier three-field output: ``logits, cosine, loss = head(embeddings, labels)``."""
        return iter((self.logits, self.cosine, self.loss))


class HeadOutputWithIndexParts(Protocol):
    """What :class:`~recognizability.nn.RecognizabilityLoss` reads from a head that reduces each row itself:
    the classification loss and the two pre-margin cosines of Eq. 1, each ``(B,)``.
    :class:`MarginHeadOutput` is one; so is any object with these three attributes."""

    @property
    def loss(self) -> Tensor: ...

    @property
    def positive_cosine(self) -> Tensor: ...

    @property
    def nearest_negative_cosine(self) -> Tensor: ...


class HeadOutputWithCosine(Protocol):
    """What :class:`~recognizability.nn.RecognizabilityLoss` reads from a head that returns the whole
    pre-margin cosine: the classification loss and ``cosine`` ``(B, C)`` (the criterion takes the two index
    parts from it with the labels)."""

    @property
    def loss(self) -> Tensor: ...

    @property
    def cosine(self) -> Tensor: ...


#: Any head output the criterion accepts.
HeadOutputLike: TypeAlias = HeadOutputWithIndexParts | HeadOutputWithCosine


#: What the deprecated name of the output type says, wherever it is asked for.
OUTPUT_ALIAS_ADVICE = {
    "ArcFaceOutput": "use MarginHeadOutput (recognizability.nn.MarginHeadOutput), "
    "the output of every margin head"
}
