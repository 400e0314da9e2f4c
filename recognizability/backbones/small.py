"""``small_vlr_net``: a small CPU demo backbone for very-low-resolution faces. **Not from the paper.**

The paper fine-tunes ResNet-50 and MobileFaceNet on VLR faces bicubic-upsampled to 112 x 112; on a laptop CPU
that trains at about 11 images/s (MobileFaceNet). This network takes the faces near their native scale
(32 x 32 by default) so that the examples and tests can train in seconds, and exposes the same interface as
the paper's backbones: a feature map F (B, C, h, w) for the perceptibility regression and attention modules,
and a flatten -> dropout -> Linear -> BN1d head producing the embedding, as in IResNet.

Layout (32 x 32 input, ``width`` = 64):

    stem   3x3 conv, stride 2, 3 -> 32, BN, PReLU                        (B, 32, 16, 16)
    stage1 IBasicBlock(32 -> 64, stride 2)                               (B, 64, 8, 8)
    stage2 IBasicBlock(64 -> 128, stride 2), IBasicBlock(128 -> 128)     (B, 128, 4, 4)
    bn2    BN2d                                                          F = (B, 128, 4, 4)
    head   flatten -> dropout -> Linear(128*4*4, D) -> BN1d              v = (B, D)

Any input size divisible by 8 works by design: pass it as ``input_size``; F is then (B, 2*width, H/8, W/8).
There are no pretrained weights for it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .._validation import check_float_in_range, check_positive_int, check_size_pair
from .base import FaceBackbone
from .iresnet import IBasicBlock

__all__ = ["SmallVLRNet", "small_vlr_net"]


class SmallVLRNet(FaceBackbone):
    """Small IResNet-style backbone for ~32 x 32 faces (a demo/test backbone, not from the paper).

    Args:
        input_size: (H, W), both divisible by 8, or one int for a square input (``32`` is ``(32, 32)``).
        width: channels of the middle stage; the feature map has ``2 * width`` channels.
        dropout: dropout on the flattened feature map before the Linear.
        embedding_dim: D.

    Shapes: images (B, 3, H, W) -> F (B, 2*width, H/8, W/8) -> v (B, D).
    """

    def __init__(
        self,
        input_size: int | tuple[int, int] = (32, 32),
        width: int = 64,
        dropout: float = 0.0,
        embedding_dim: int = 512,
    ) -> None:
        super().__init__()
        size = check_size_pair(input_size, "input_size")
        if size[0] % 8 or size[1] % 8:
            raise ValueError(
                f"expected input_size to be two positive ints divisible by 8, got {input_size!r}"
            )
        width = check_positive_int(width, "width")
        if width % 2:
            raise ValueError(f"expected width to be an even positive int, got {width!r}")
        dropout = check_float_in_range(dropout, "dropout", 0, 1, high_closed=False)
        self.embedding_dim = check_positive_int(embedding_dim, "embedding_dim")
        self.input_size = size
        self.feature_shape = (2 * width, self.input_size[0] // 8, self.input_size[1] // 8)
        self.input_channel_order = "RGB"

        self.conv1 = nn.Conv2d(3, width // 2, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width // 2)
        self.prelu = nn.PReLU(width // 2)
        self.layer1 = nn.Sequential(IBasicBlock(width // 2, width, stride=2))
        self.layer2 = nn.Sequential(
            IBasicBlock(width, 2 * width, stride=2), IBasicBlock(2 * width, 2 * width)
        )
        self.bn2 = nn.BatchNorm2d(2 * width)
        self.dropout = nn.Dropout(dropout)
        c, h, w = self.feature_shape
        self.fc = nn.Linear(c * h * w, self.embedding_dim)
        self.features = nn.BatchNorm1d(self.embedding_dim)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _trunk(self, images: Tensor) -> Tensor:
        x = self.prelu(self.bn1(self.conv1(images)))
        out: Tensor = self.bn2(self.layer2(self.layer1(x)))
        return out

    def _head(self, feature_map: Tensor) -> Tensor:
        out: Tensor = self.features(self.fc(self.dropout(torch.flatten(feature_map, 1))))
        return out


def small_vlr_net(
    input_size: int | tuple[int, int] = (32, 32),
    width: int = 64,
    dropout: float = 0.0,
    embedding_dim: int = 512,
) -> SmallVLRNet:
    """The CPU demo backbone (not from the paper): 32 x 32 faces -> F (B, 128, 4, 4) -> v (B, 512)."""
    return SmallVLRNet(input_size, width, dropout, embedding_dim)
