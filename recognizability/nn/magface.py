"""MagFace head: class prototypes, the magnitude-aware margin and the magnitude regulariser."""

from __future__ import annotations

from ._prototypes import MarginHead, margin_option
from .margins import MagFaceMargin

__all__ = ["MagFace"]


class MagFace(MarginHead):
    """MagFace head (Meng et al., CVPR 2021): the angular margin grows with the feature norm ``a = ||z||`` of
    the **un-normalised** embedding; ``loss = CE + lambda_g * mean g(a)``, ``g(a) = a / u_a^2 + 1 / a``.

    Gradients reach the embedding's norm through the margin and the regulariser (as in the released code), so
    the norm learns to encode quality. :class:`MarginHead` with :class:`~recognizability.nn.MagFaceMargin`.
    See :func:`~recognizability.functional.magface_logits` (it follows the authors' ``MagLinear`` with its
    default easy margin) and
    :func:`~recognizability.functional.magface_regularizer`. With the defaults, ``lambda_g = 35`` is above the
    lower bound ``s k u_a^2 l_a^2 / (u_a^2 - l_a^2)`` (about 22.6, ``k = (u_m - l_m) / (u_a - l_a)``) that the
    paper's convergence argument needs.

    Args:
        embedding_dim: ``D``.
        num_classes: ``C >= 2``.
        scale: ``s`` (paper: 64).
        lower_norm, upper_norm: ``l_a``, ``u_a`` (paper: 10, 110).
        lower_margin, upper_margin: ``l_m``, ``u_m`` in radians (paper: 0.45, 0.8).
        lambda_g: weight of the regulariser (the authors' training script: 35).

    Shape:
        forward(embeddings ``(B, D)``, labels ``(B,)``) -> :class:`MarginHeadOutput` (``loss``: cross-entropy
        plus ``lambda_g * g``).
    """

    lower_norm = margin_option()
    upper_norm = margin_option()
    lower_margin = margin_option()
    upper_margin = margin_option()
    lambda_g = margin_option()

    def __init__(
        self,
        embedding_dim: int,
        num_classes: int,
        scale: float = 64.0,
        lower_norm: float = 10.0,
        upper_norm: float = 110.0,
        lower_margin: float = 0.45,
        upper_margin: float = 0.8,
        lambda_g: float = 35.0,
    ) -> None:
        component = MagFaceMargin(scale, lower_norm, upper_norm, lower_margin, upper_margin, lambda_g)
        super().__init__(embedding_dim, num_classes, component)

    def extra_repr(self) -> str:
        return self._options_repr()
