"""CosFace head: class prototypes and the large margin cosine loss."""

from __future__ import annotations

from ._prototypes import MarginHead, margin_option
from .margins import CosFaceMargin

__all__ = ["CosFace"]


class CosFace(MarginHead):
    """CosFace head (Wang et al., CVPR 2018): target logit ``s * (cos(theta_y) - m)``, others
    ``s * cos(theta_j)``; :class:`MarginHead` with :class:`~recognizability.nn.CosFaceMargin`.

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

    margin = margin_option()

    def __init__(
        self, embedding_dim: int, num_classes: int, scale: float = 64.0, margin: float = 0.35
    ) -> None:
        component = CosFaceMargin(scale, margin)
        super().__init__(embedding_dim, num_classes, component)

    def extra_repr(self) -> str:
        return self._options_repr()
