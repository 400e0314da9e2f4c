"""Perceptibility regression module (paper Sec. 3.2): flatten, dropout, linear -> ``xi_hat``."""

from __future__ import annotations

from torch import Tensor, nn

from .._validation import check_floating, check_nonempty, check_tensor, format_shape

__all__ = ["PerceptibilityRegression"]


class PerceptibilityRegression(nn.Module):
    """Predicts the Recognizability Index from the feature map: ``xi_hat`` (paper Sec. 3.2, Fig. 2).

    At test time ``xi_hat`` is the face-quality score; no UI centre is needed.

    Args:
        in_features: ``C * H * W`` of the flattened feature map (512 * 7 * 7 for the paper's backbones).
        dropout: dropout probability before the linear layer (paper Table 5: 0.9).

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
        self.dropout = nn.Dropout(float(dropout))
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
        predicted: Tensor = self.fc(self.dropout(x.flatten(1)))
        return predicted.squeeze(1).float()

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}"
