"""ArcFace recognition head: class prototypes and the additive angular margin loss (the paper's L_cls)."""

from __future__ import annotations

from .._deprecation import deprecated_aliases
from ._prototypes import MarginHead, margin_option
from .head_output import OUTPUT_ALIAS_ADVICE, MarginHeadOutput
from .margins import ArcFaceMargin

__all__ = ["ArcFace"]


class ArcFace(MarginHead):
    """ArcFace head owning the class prototypes ``W`` as the parameter ``weight`` of shape ``(C, D)``:
    :class:`MarginHead` with :class:`~recognizability.nn.ArcFaceMargin`.

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

    margin = margin_option()

    def __init__(
        self, embedding_dim: int, num_classes: int, scale: float = 64.0, margin: float = 0.45
    ) -> None:
        component = ArcFaceMargin(scale, margin)
        super().__init__(embedding_dim, num_classes, component)

    def extra_repr(self) -> str:
        return self._options_repr()


__getattr__ = deprecated_aliases(
    __name__,
    {"ArcFaceOutput": "MarginHeadOutput"},
    {"MarginHeadOutput": MarginHeadOutput},
    advice=OUTPUT_ALIAS_ADVICE,
)
