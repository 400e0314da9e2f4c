"""IResNet-18/34/50/100 with insightface arcface_torch's state-dict names.

Facts taken from deepinsight/insightface ``recognition/arcface_torch/backbones/iresnet.py`` (read, not
copied):

- stem: 3x3 conv (stride 1, no bias) -> BN -> PReLU, at 112 x 112;
- four stages of "improved" basic blocks with 64/128/256/512 channels and [2,2,2,2], [3,4,6,3], [3,4,14,3] or
  [3,13,30,3] blocks; the first block of every stage halves the resolution and has a 1x1-conv + BN
  ``downsample``;
- block: BN -> 3x3 conv -> BN -> PReLU -> 3x3 conv (carries the stride) -> BN, plus the shortcut, no
  activation after the sum;
- head: BN2d -> flatten -> dropout -> Linear(512*7*7, D) -> BN1d ``features`` whose weight is fixed to 1 and
  frozen (``requires_grad = False``), so only its bias and running statistics change;
- init: conv weights ~ N(0, 0.1), BN weight 1 / bias 0. With this init a *fresh* model in eval mode (running
  statistics 0/1) lets activations grow through every block until they overflow to inf/nan; run a few
  training-mode batches first (a BN warm-up) or load trained weights.
- arcface_torch's ``fp16`` flag runs the trunk under fp16 autocast and the FC + BN1d in float32; here the
  caller owns autocast and ``head_in_float32`` (default True) keeps the head in float32 the same way.

The feature map ``F`` (B, 512, 7, 7) returned by ``forward_features`` is the output of ``bn2``, the tensor the
FC reads.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .._validation import check_bool, check_float_in_range, check_positive_int
from ..functional._autocast import float32_region
from ._checks import check_stage_depths
from .base import FaceBackbone

__all__ = ["IBasicBlock", "IResNet", "iresnet18", "iresnet34", "iresnet50", "iresnet100"]

_STAGE_CHANNELS = (64, 128, 256, 512)


def _conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)


class IBasicBlock(nn.Module):
    """Improved residual block: ``bn1 -> conv1 -> bn2 -> prelu -> conv2(stride) -> bn3`` plus shortcut.

    (B, in_channels, H, W) -> (B, channels, H / stride, W / stride). The shortcut is ``downsample``
    (1x1 conv with the stride + BN) when the shape changes, the identity otherwise.
    """

    def __init__(self, in_channels: int, channels: int, stride: int = 1) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels, eps=1e-5)
        self.conv1 = _conv3x3(in_channels, channels)
        self.bn2 = nn.BatchNorm2d(channels, eps=1e-5)
        self.prelu = nn.PReLU(channels)
        self.conv2 = _conv3x3(channels, channels, stride)
        self.bn3 = nn.BatchNorm2d(channels, eps=1e-5)
        self.downsample: nn.Sequential | None = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, channels, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(channels, eps=1e-5),
            )

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        shortcut: Tensor = x if self.downsample is None else self.downsample(x)
        return out + shortcut


class IResNet(FaceBackbone):
    """IResNet trunk + arcface_torch head; keys and shapes identical to arcface_torch's ``iresnet*``.

    Args:
        layers: blocks per stage, e.g. (3, 4, 14, 3) for IResNet-50.
        dropout: dropout probability on the flattened feature map before the FC (Table 5: 0.2 or 0.4).
        embedding_dim: D (arcface_torch ``num_features``), 512 for the released weights.
        head_in_float32: run FC + BN1d in float32 even under autocast (what arcface_torch's ``fp16`` mode
        does).

    Shapes: images (B, 3, 112, 112) -> F (B, 512, 7, 7) -> v (B, D).
    """

    def __init__(
        self,
        layers: tuple[int, int, int, int],
        dropout: float = 0.0,
        embedding_dim: int = 512,
        head_in_float32: bool = True,
    ) -> None:
        super().__init__()
        layers = check_stage_depths(layers)
        dropout = check_float_in_range(dropout, "dropout", 0, 1, high_closed=False)
        self.embedding_dim = check_positive_int(embedding_dim, "embedding_dim")
        self.input_size = (112, 112)
        self.feature_shape = (512, 7, 7)
        self.input_channel_order = "RGB"
        self.head_in_float32 = check_bool(head_in_float32, "head_in_float32")

        self.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64, eps=1e-5)
        self.prelu = nn.PReLU(64)
        in_channels = 64
        stages = []
        for channels, num_blocks in zip(_STAGE_CHANNELS, layers, strict=True):
            blocks = [IBasicBlock(in_channels, channels, stride=2)]
            blocks += [IBasicBlock(channels, channels) for _ in range(num_blocks - 1)]
            stages.append(nn.Sequential(*blocks))
            in_channels = channels
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.bn2 = nn.BatchNorm2d(512, eps=1e-5)
        # Not in-place (arcface_torch uses inplace=True): the flattened tensor may be a view of the
        # feature map that forward_with_features returns.
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(512 * 7 * 7, self.embedding_dim)
        self.features = nn.BatchNorm1d(self.embedding_dim, eps=1e-5)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, 0.1)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.ones_(self.features.weight)
        self.features.weight.requires_grad_(False)

    def _trunk(self, images: Tensor) -> Tensor:
        x = self.prelu(self.bn1(self.conv1(images)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        out: Tensor = self.bn2(x)
        return out

    def _head(self, feature_map: Tensor) -> Tensor:
        x = self.dropout(torch.flatten(feature_map, 1))
        if self.head_in_float32:
            with float32_region(x.device):
                out: Tensor = self.features(self.fc(x.to(self.fc.weight.dtype)))
                return out
        out = self.features(self.fc(x))
        return out


def iresnet18(dropout: float = 0.0, embedding_dim: int = 512, head_in_float32: bool = True) -> IResNet:
    """IResNet-18 (arcface_torch ``r18``): 24,025,600 parameters at D = 512."""
    return IResNet((2, 2, 2, 2), dropout, embedding_dim, head_in_float32)


def iresnet34(dropout: float = 0.0, embedding_dim: int = 512, head_in_float32: bool = True) -> IResNet:
    """IResNet-34 (arcface_torch ``r34``)."""
    return IResNet((3, 4, 6, 3), dropout, embedding_dim, head_in_float32)


def iresnet50(dropout: float = 0.0, embedding_dim: int = 512, head_in_float32: bool = True) -> IResNet:
    """IResNet-50 (arcface_torch ``r50``), the paper's ResNet-50: 43,590,848 parameters at D = 512."""
    return IResNet((3, 4, 14, 3), dropout, embedding_dim, head_in_float32)


def iresnet100(dropout: float = 0.0, embedding_dim: int = 512, head_in_float32: bool = True) -> IResNet:
    """IResNet-100 (arcface_torch ``r100``): 65,156,160 parameters at D = 512."""
    return IResNet((3, 13, 30, 3), dropout, embedding_dim, head_in_float32)
