"""MobileFaceNet with insightface arcface_torch's state-dict names (``get_mbf``).

Configuration of the released ``mbf``: blocks (1, 4, 6, 2), scale 2.

Facts taken from deepinsight/insightface ``recognition/arcface_torch/backbones/mobilefacenet.py`` (read, not
copied; that file credits cavalleria/cavaface.pytorch):

- ``ConvBlock`` = conv (no bias) -> BN2d -> PReLU, keys ``layers.{0,1,2}``; ``LinearBlock`` = conv -> BN2d, no
  activation;
- ``DepthWise`` = 1x1 ConvBlock (in -> g) -> depth-wise 3x3 ConvBlock (g groups, carries the stride) -> 1x1
  LinearBlock (g -> out), optionally residual; ``Residual`` = a stack of residual DepthWise blocks;
- the trunk is ``layers`` (stem 3x3/2 ConvBlock to 128 channels, a 3x3 ConvBlock with 64 groups, then
  DepthWise / Residual stages down to 256 x 7 x 7) followed by ``conv_sep`` (1x1 ConvBlock to 512);
- the head ``features`` is the GDC: 7x7 depth-wise LinearBlock -> flatten -> Linear(512, D, no bias) -> BN1d;
- init: Kaiming-normal (fan_out, relu) for conv and linear weights, BN weight 1 / bias 0;
- no dropout in arcface_torch. The ``dropout`` option here (Table 5) drops the flattened 512-d GDC output
  before the Linear; it has no parameters, so the state dict is unchanged and ``dropout=0`` is the released
  network.

``forward_features`` returns the output of ``conv_sep``: F (B, 512, 7, 7) at 112 x 112.
"""

from __future__ import annotations

from typing import cast

from torch import Tensor, nn

from .._validation import check_bool, check_float_in_range, check_positive_int
from ..functional._autocast import float32_region
from .base import FaceBackbone

__all__ = ["MobileFaceNet", "mobilefacenet"]


class _ConvBlock(nn.Module):
    """conv -> BN2d (-> PReLU when ``activation``); keys ``layers.0/1/2``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 1,
        stride: int = 1,
        padding: int = 0,
        groups: int = 1,
        activation: bool = True,
    ) -> None:
        super().__init__()
        modules: list[nn.Module] = [
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        if activation:
            modules.append(nn.PReLU(out_channels))
        self.layers = nn.Sequential(*modules)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.layers(x)
        return out


class _DepthWise(nn.Module):
    """1x1 expand (-> ``groups`` channels) -> depth-wise 3x3 (stride) -> 1x1 linear projection (+ input)."""

    def __init__(self, in_channels: int, out_channels: int, groups: int, stride: int, residual: bool) -> None:
        super().__init__()
        self.residual = residual
        self.layers = nn.Sequential(
            _ConvBlock(in_channels, groups),
            _ConvBlock(groups, groups, kernel_size=3, stride=stride, padding=1, groups=groups),
            _ConvBlock(groups, out_channels, activation=False),
        )

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.layers(x)
        return out + x if self.residual else out


class _Residual(nn.Module):
    """``num_blocks`` residual depth-wise blocks at constant shape."""

    def __init__(self, channels: int, num_blocks: int, groups: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            *[_DepthWise(channels, channels, groups, stride=1, residual=True) for _ in range(num_blocks)]
        )

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.layers(x)
        return out


class _GDC(nn.Module):
    """Global depth-wise convolution head: (B, 512, 7, 7) -> (B, D). Keys ``layers.0`` (dw conv + BN),
    ``layers.1`` (flatten), ``layers.2`` (Linear), ``layers.3`` (BN1d); ``dropout`` sits between 1 and 2."""

    def __init__(self, embedding_dim: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            _ConvBlock(512, 512, kernel_size=7, groups=512, activation=False),
            nn.Flatten(),
            nn.Linear(512, embedding_dim, bias=False),
            nn.BatchNorm1d(embedding_dim),
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = self.dropout(self.layers[1](self.layers[0](x)))
        out: Tensor = self.layers[3](self.layers[2](x))
        return out


class MobileFaceNet(FaceBackbone):
    """MobileFaceNet, keys and shapes identical to arcface_torch's ``mbf`` (2,059,520 parameters at D = 512).

    Args:
        dropout: dropout on the 512-d GDC vector before its Linear (Table 5: 0.2 or 0.4); 0 = the released
        model.
        embedding_dim: D (arcface_torch ``num_features``).
        head_in_float32: run the GDC head in float32 even under autocast (arcface_torch's ``fp16`` mode does).

    Shapes: images (B, 3, 112, 112) -> F (B, 512, 7, 7) -> v (B, D).
    """

    def __init__(self, dropout: float = 0.0, embedding_dim: int = 512, head_in_float32: bool = True) -> None:
        super().__init__()
        dropout = check_float_in_range(dropout, "dropout", 0, 1, high_closed=False)
        self.embedding_dim = check_positive_int(embedding_dim, "embedding_dim")
        self.input_size = (112, 112)
        self.feature_shape = (512, 7, 7)
        self.input_channel_order = "RGB"
        self.head_in_float32 = check_bool(head_in_float32, "head_in_float32")
        self.layers = nn.ModuleList(
            [
                _ConvBlock(3, 128, kernel_size=3, stride=2, padding=1),  # 112 -> 56
                _ConvBlock(128, 128, kernel_size=3, stride=1, padding=1, groups=64),
                _DepthWise(128, 128, groups=128, stride=2, residual=False),  # 56 -> 28
                _Residual(128, num_blocks=4, groups=128),
                _DepthWise(128, 256, groups=256, stride=2, residual=False),  # 28 -> 14
                _Residual(256, num_blocks=6, groups=256),
                _DepthWise(256, 256, groups=512, stride=2, residual=False),  # 14 -> 7
                _Residual(256, num_blocks=2, groups=256),
            ]
        )
        self.conv_sep = _ConvBlock(256, 512)
        self.features = _GDC(self.embedding_dim, dropout)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _trunk(self, images: Tensor) -> Tensor:
        x = images
        for layer in self.layers:
            x = layer(x)
        out: Tensor = self.conv_sep(x)
        return out

    def _head(self, feature_map: Tensor) -> Tensor:
        if self.head_in_float32:
            with float32_region(feature_map.device):
                out: Tensor = self.features(
                    feature_map.to(cast(nn.Linear, self.features.layers[2]).weight.dtype)
                )
                return out
        out = self.features(feature_map)
        return out


def mobilefacenet(
    dropout: float = 0.0, embedding_dim: int = 512, head_in_float32: bool = True
) -> MobileFaceNet:
    """MobileFaceNet (arcface_torch ``mbf``), the paper's light backbone."""
    return MobileFaceNet(dropout, embedding_dim, head_in_float32)
