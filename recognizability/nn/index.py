"""Module form of the Recognizability Index (paper Eq. 1-3)."""

from __future__ import annotations

from torch import Tensor, nn

from .._validation import check_positive_float
from ..functional.index import recognizability_index

__all__ = ["RecognizabilityIndex"]


class RecognizabilityIndex(nn.Module):
    """``xi = d_UI * d_N / (d_P + eps)`` (paper Eq. 1-3).

    See :func:`~recognizability.functional.recognizability_index`.

    Shape:
        forward(cosine ``(B, C)``, labels ``(B,)``, ui_cosine ``(B,)``) -> ``(B,)`` float32.
    """

    def __init__(self, eps: float = 1e-7) -> None:
        super().__init__()
        self.eps = check_positive_float(eps, "eps")

    def forward(self, cosine: Tensor, labels: Tensor, ui_cosine: Tensor) -> Tensor:
        return recognizability_index(cosine, labels, ui_cosine, eps=self.eps)

    def extra_repr(self) -> str:
        return f"eps={self.eps}"
