"""MagFace head: class prototypes, the magnitude-aware margin and the magnitude regulariser."""

from __future__ import annotations

import torch
from torch import Tensor

from .._validation import check_finite, check_floating, check_positive_float, check_tensor
from ..functional._autocast import at_least_float32, float32_region
from ..functional.margin_heads import _check_magface_bounds, magface_logits, magface_regularizer
from ..functional.margins import cosine_logits
from ._prototypes import MarginHead
from .head_output import MarginHeadOutput

__all__ = ["MagFace"]


class MagFace(MarginHead):
    """MagFace head (Meng et al., CVPR 2021): the angular margin grows with the feature norm ``a = ||z||`` of
    the **un-normalised** embedding; ``loss = CE + lambda_g * mean g(a)``, ``g(a) = a / u_a^2 + 1 / a``.

    Gradients reach the embedding's norm through the margin and the regulariser (as in the released code), so
    the norm learns to encode quality. See :func:`~recognizability.functional.magface_logits` (it follows the
    authors' ``MagLinear`` with its default easy margin) and
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
        super().__init__(embedding_dim, num_classes, scale)
        bounds = _check_magface_bounds(lower_norm, upper_norm, lower_margin, upper_margin)
        self.lower_norm, self.upper_norm, self.lower_margin, self.upper_margin = bounds
        self.lambda_g = check_positive_float(lambda_g, "lambda_g", allow_zero=True)

    def forward(self, embeddings: Tensor, labels: Tensor) -> MarginHeadOutput:
        check_floating(check_tensor(embeddings, "embeddings"), "embeddings")
        check_finite(embeddings, "embeddings")
        # One upcast feeds the cosines and the norms, so a half-precision input's gradient is saturated once
        # (two saturated gradients could overflow in their half-precision sum).
        upcast = at_least_float32(embeddings)
        cosine = cosine_logits(upcast, self.weight)
        with float32_region(embeddings.device):
            norms = torch.linalg.vector_norm(upcast, dim=1)
        logits = magface_logits(
            cosine,
            norms,
            labels,
            scale=self.scale,
            lower_norm=self.lower_norm,
            upper_norm=self.upper_norm,
            lower_margin=self.lower_margin,
            upper_margin=self.upper_margin,
        )
        regulariser = self.lambda_g * magface_regularizer(norms, self.lower_norm, self.upper_norm)
        return self._output(cosine, logits, labels, regulariser=regulariser)

    def extra_repr(self) -> str:
        return (
            f"{self._head_repr()}, lower_norm={self.lower_norm}, upper_norm={self.upper_norm}, "
            f"lower_margin={self.lower_margin}, upper_margin={self.upper_margin}, lambda_g={self.lambda_g}"
        )
