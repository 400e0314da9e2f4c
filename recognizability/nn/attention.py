"""Perceptibility attention module (paper Sec. 3.4): CBAM on the feature map, then a linear map to ``v_attn``.

CBAM: Woo et al., "CBAM: Convolutional Block Attention Module", ECCV 2018 - channel attention (average- and
max-pooled descriptors through one shared bottleneck MLP, summed, sigmoid) followed by spatial attention
(channel-wise average and max maps, concatenated, through a ``k x k`` convolution, sigmoid).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .._validation import check_floating, check_nonempty, check_positive_int, check_shape

__all__ = ["PerceptibilityAttention"]


class PerceptibilityAttention(nn.Module):
    """CBAM (channel, then spatial attention) on ``F`` ``(B, C, H, W)``, flatten, linear -> ``v_attn``.

    ``v_attn`` is trained towards ``v' = v - <v, u> u`` with the MSE of Eq. 9.

    Args:
        in_channels: ``C`` of the feature map (512 for the paper's backbones).
        embedding_dim: ``D`` of the output.
        spatial_size: ``(H, W)`` of the feature map ((7, 7) at 112 x 112 input).
        reduction: bottleneck ratio of the channel MLP (CBAM: 16); hidden width ``max(1, C // reduction)``.
        kernel_size: odd size of the spatial-attention convolution (CBAM: 7).

    Feature maps of any floating dtype autocast can produce (float16, bfloat16, float32, float64) are
    accepted, in training and in evaluation alike: they are cast to the dtype of the module's parameters
    (under autocast, autocast then picks the dtype of each layer as usual).

    Shape:
        forward(feature_map ``(B, C, H, W)``) -> ``(B, D)`` float32.
    """

    def __init__(
        self,
        in_channels: int,
        embedding_dim: int,
        spatial_size: tuple[int, int] = (7, 7),
        reduction: int = 16,
        kernel_size: int = 7,
    ) -> None:
        super().__init__()
        check_positive_int(in_channels, "in_channels")
        check_positive_int(embedding_dim, "embedding_dim")
        check_positive_int(reduction, "reduction")
        if check_positive_int(kernel_size, "kernel_size") % 2 == 0:
            raise ValueError(f"expected an odd kernel_size, got {kernel_size!r}")
        if not (isinstance(spatial_size, (tuple, list)) and len(spatial_size) == 2):
            raise ValueError(f"expected spatial_size to be a pair (H, W), got {spatial_size!r}")
        height, width = (check_positive_int(s, "spatial_size") for s in spatial_size)
        self.in_channels = in_channels
        self.embedding_dim = embedding_dim
        self.spatial_size = (height, width)
        hidden = max(1, in_channels // reduction)
        self.channel_mlp = nn.Sequential(
            nn.Linear(in_channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, in_channels)
        )
        self.spatial_conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.fc = nn.Linear(in_channels * height * width, embedding_dim)

    def forward(self, feature_map: Tensor) -> Tensor:
        check_shape(feature_map, "feature_map", ("B", self.in_channels, *self.spatial_size))
        check_floating(feature_map, "feature_map")
        check_nonempty(feature_map, "feature_map")
        x = feature_map.to(self.fc.weight.dtype)
        # Channel attention: shared MLP over the spatially average- and max-pooled descriptors (B, C).
        channel_logits = self.channel_mlp(x.mean(dim=(2, 3))) + self.channel_mlp(x.amax(dim=(2, 3)))
        x = x * channel_logits.sigmoid()[:, :, None, None]
        # Spatial attention: conv over the channel-wise average and max maps (B, 2, H, W).
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        x = x * self.spatial_conv(pooled).sigmoid()
        attended: Tensor = self.fc(x.flatten(1))
        return attended.float()

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, embedding_dim={self.embedding_dim}, "
            f"spatial_size={self.spatial_size}"
        )
