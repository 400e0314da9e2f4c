"""Perceptibility regression module (paper Sec. 3.2): flatten, dropout, linear -> ``xi_hat``."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .._deprecation import deprecated_aliases
from .._validation import (
    check_float_in_range,
    check_floating,
    check_nonempty,
    check_positive_int,
    check_tensor,
    format_shape,
)
from ..functional._autocast import float32_region

__all__ = ["PerceptibilityRegression"]


#: Kept inputs drawn per row: the mean plus this many standard deviations of the Binomial count (see below).
_KEPT_SIGMAS = 10.0


def _kept_input_positions(rows: int, features: int, keep_probability: float, device: torch.device) -> Tensor:
    """Positions of the inputs kept by dropout, drawn as the gaps of a Bernoulli process.

    Dropout keeps each of ``features`` inputs independently with probability ``q = keep_probability``. The
    gaps between kept positions of such a process are geometric, ``gap = 1 + floor(log(1 - U) / log(1 - q))``
    for ``U`` uniform in [0, 1), and the kept positions are the cumulative sums of the gaps, minus one.
    Drawing the gaps instead of one uniform per input needs about ``q * features`` draws per row instead of
    ``features`` (10x fewer for the paper's dropout 0.9), and the positions select the kept inputs directly.

    ``K = min(features, ceil(q F + 10 sqrt(q (1 - q) F) + 10))`` gaps are drawn per row: a row keeps more than
    ``K`` inputs (whose positions would then be missing) only when a Binomial(F, q) count exceeds its mean by
    ten standard deviations, probability below 1e-20; with ``K = features`` it cannot happen at all.

    Returns:
        (rows, K) int64 positions, increasing along each row; entries >= ``features`` mark unused draws.
    """
    mean = keep_probability * features
    spread = math.sqrt(keep_probability * (1.0 - keep_probability) * features)
    draws = min(features, math.ceil(mean + _KEPT_SIGMAS * spread + 10.0))
    uniform = torch.rand((rows, draws), device=device)
    gaps = torch.floor(torch.log1p(-uniform) / math.log1p(-keep_probability)) + 1.0
    # float32 sums of integer gaps are exact while below 2**24; the positions that matter are below
    # ``features``, and larger sums (rounded or not) stay >= ``features``, i.e. unused.
    return (torch.cumsum(gaps, dim=1) - 1.0).long()


def _dropout_linear(x: Tensor, weight: Tensor, dropout: float, dtype: torch.dtype | None = None) -> Tensor:
    """``Dropout(dropout)`` then a linear map to one output without bias, from the kept inputs only.

    Equals ``(x * mask / (1 - dropout)) @ weight`` for a Bernoulli keep-mask (inverted dropout), but reads and
    differentiates only the kept entries: about ``(1 - dropout) * F`` per row. Its backward writes the input
    gradient once (zeros with the kept entries scattered in). Traceable by ``torch.compile``.

    Args:
        x: (B, F) inputs; weight: (F,) the linear layer's weights; dropout: drop probability in (0, 1);
        dtype: the dtype computed in (default: float32, or float64 for float64 ``x``).

    Returns:
        (B,) in ``dtype``.
    """
    keep = 1.0 - dropout
    positions = _kept_input_positions(x.shape[0], x.shape[1], keep, x.device)
    used = positions < x.shape[1]
    index = positions.clamp(max=x.shape[1] - 1)
    if dtype is None:
        dtype = torch.promote_types(x.dtype, torch.float32)
    # index_select (backward: index_add_) is much cheaper on a CPU than advanced indexing (index_put_).
    kept_weight = weight.to(dtype).index_select(0, index.flatten()).view(index.shape)
    kept = x.gather(1, index).to(dtype) * kept_weight
    return torch.where(used, kept, 0.0).sum(1) / keep


class PerceptibilityRegression(nn.Module):
    """Predicts the Recognizability Index from the feature map: ``xi_hat`` (paper Sec. 3.2, Fig. 2).

    At test time ``xi_hat`` is the face-quality score; no UI centre is needed.

    Args:
        in_features: ``C * H * W`` of the flattened feature map (512 * 7 * 7 for the paper's backbones).
        dropout: dropout probability before the linear layer (paper Table 5: 0.9). Inverted dropout, as
            ``nn.Dropout``; in training only the kept inputs are read (:func:`_dropout_linear`), which makes
            the paper's dropout 0.9 over the 25,088 flattened features cheap.

    Feature maps of any floating dtype autocast can produce (float16, bfloat16, float32, float64) are
    accepted, in training and in evaluation alike: the linear map runs in float32 (float64 for a module
    converted with ``.double()``), also under autocast, since the index it regresses reaches ``1e7``.

    Shape:
        forward(feature_map ``(B, C, H, W)`` or ``(B, F)``) -> ``(B,)`` float32.
    """

    def __init__(self, in_features: int, dropout: float = 0.9) -> None:
        super().__init__()
        self.in_features = check_positive_int(in_features, "in_features")
        self.dropout = check_float_in_range(dropout, "dropout", 0, 1, high_closed=False)
        self.fc = nn.Linear(in_features, 1)

    def forward(self, feature_map: Tensor) -> Tensor:
        x = check_tensor(feature_map, "feature_map")
        check_floating(x, "feature_map")
        if x.ndim not in (2, 4) or x[0].numel() != self.in_features:
            raise ValueError(
                f"expected feature_map of shape (B, C, H, W) or (B, F) with C*H*W = F = {self.in_features}, "
                f"got shape {format_shape(tuple(x.shape))}"
            )
        check_nonempty(x, "feature_map")
        x = x.flatten(1)
        dtype = torch.promote_types(self.fc.weight.dtype, torch.float32)
        weight, bias = self.fc.weight.to(dtype), self.fc.bias.to(dtype)
        with float32_region(x.device):
            if not self.training or self.dropout == 0.0:
                predicted = nn.functional.linear(x.to(dtype), weight, bias).squeeze(1)
            else:
                predicted = _dropout_linear(x, weight.reshape(-1), self.dropout, dtype) + bias
        return predicted.float()

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, dropout={self.dropout}"


__getattr__ = deprecated_aliases(
    __name__,
    {"dropout_linear": "_dropout_linear", "kept_input_positions": "_kept_input_positions"},
    globals(),
)
