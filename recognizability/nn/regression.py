"""Perceptibility regression module (paper Sec. 3.2): flatten, dropout, linear -> ``xi_hat``."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .._validation import check_floating, check_nonempty, check_tensor, format_shape

__all__ = ["PerceptibilityRegression"]


def _keep_mask(shape: torch.Size, keep_probability: float, device: torch.device) -> tuple[Tensor, float]:
    """Boolean dropout keep-mask and its exact keep probability (a multiple of ``2**-16``).

    Uniform 16-bit integers are taken four at a time from 64-bit random words and compared with a threshold:
    a quarter of the generator calls of ``bernoulli_`` (about 4x faster on a CPU), and the mask is a bool
    tensor (1 byte per element) instead of float32.
    """
    numel = shape.numel()
    threshold = max(1, round(keep_probability * 65536))
    words = torch.empty((numel + 3) // 4, dtype=torch.int64, device=device).random_(-(2**63), None)
    draws = words.view(torch.int16)[:numel].view(shape)  # uniform over [-2**15, 2**15)
    return draws < threshold - 32768, threshold / 65536


class PerceptibilityRegression(nn.Module):
    """Predicts the Recognizability Index from the feature map: ``xi_hat`` (paper Sec. 3.2, Fig. 2).

    At test time ``xi_hat`` is the face-quality score; no UI centre is needed.

    Args:
        in_features: ``C * H * W`` of the flattened feature map (512 * 7 * 7 for the paper's backbones).
        dropout: dropout probability before the linear layer (paper Table 5: 0.9). In training each input
            is kept with probability ``1 - dropout`` rounded to a multiple of ``2**-16`` (0.100006 for 0.9),
            and the output is rescaled by the exact inverse of that probability (inverted dropout, unbiased);
            rescaling the ``(B,)`` output equals rescaling the kept inputs and saves a ``(B, F)`` pass.

    Shape:
        forward(feature_map ``(B, C, H, W)`` or ``(B, F)``) -> ``(B,)`` float32.
    """

    def __init__(self, in_features: int, dropout: float = 0.9) -> None:
        super().__init__()
        if isinstance(in_features, bool) or not isinstance(in_features, int) or in_features < 1:
            raise ValueError(f"expected in_features to be a positive int, got {in_features!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"expected dropout to be a float in [0, 1), got {dropout!r}")
        self.in_features = in_features
        self.dropout = float(dropout)
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
        if not self.training or self.dropout == 0.0:
            predicted: Tensor = self.fc(x)
            return predicted.squeeze(1).float()
        # Dropout then linear: mask the inputs, project, rescale the (B,) output rather than the (B, F) input.
        keep, keep_probability = _keep_mask(x.shape, 1.0 - self.dropout, x.device)
        kept = torch.where(keep, x, 0.0)
        projected = nn.functional.linear(kept, self.fc.weight).squeeze(1)
        return (projected / keep_probability + self.fc.bias).float()

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, dropout={self.dropout}"
