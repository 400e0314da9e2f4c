"""AdaFace IR-50 / IR-101 with the state-dict names of mk-minchul/AdaFace ``net.py``.

Facts taken from AdaFace ``net.py`` (``Backbone``, ``BasicBlockIR``, ``get_blocks``; read, not copied) and
``inference.py``:

- ``input_layer`` = 3x3 conv (stride 1, no bias) -> BN2d -> PReLU(64), at 112 x 112;
- ``body`` = a flat Sequential of ``BasicBlockIR`` units, [3, 4, 14, 3] (IR-50) or [3, 13, 30, 3] (IR-101) per
  stage with 64/128/256/512 channels; the first unit of every stage has stride 2;
- unit: ``res_layer`` = BN -> 3x3 conv -> BN -> PReLU -> 3x3 conv (stride) -> BN; ``shortcut_layer`` =
  ``MaxPool2d(1, stride)`` (parameter-free sub-sampling) when the channel count is unchanged, else 1x1 conv
  (stride) -> BN;
- ``output_layer`` = BN2d(512) -> Dropout(0.4) -> flatten -> Linear(512*7*7, 512) -> BN1d(512, affine=False);
- AdaFace's ``forward`` returns ``(v / |v|, |v|)``. Here ``forward`` returns the un-normalised ``v`` like
  every other
  backbone: ``torch.nn.functional.normalize(v)`` and ``v.norm(dim=1, keepdim=True)`` give AdaFace's pair;
- the released weights expect **BGR** input normalised as ``(x / 255 - 0.5) / 0.5`` (``inference.py``).

``forward_features`` returns the output of ``output_layer.0`` (BN2d): F (B, 512, 7, 7).
"""

from __future__ import annotations

from torch import Tensor, nn

from .._validation import check_bool, check_float_in_range, check_positive_int
from ..functional._autocast import float32_region
from ._checks import check_stage_depths
from .base import FaceBackbone

__all__ = ["AdaFaceIR", "adaface_ir50", "adaface_ir101"]

_STAGE_CHANNELS = (64, 128, 256, 512)


class _Subsample(nn.Module):
    """``x[:, :, ::s, ::s]``: what AdaFace's ``MaxPool2d(kernel_size=1, stride=s)`` shortcut computes."""

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        if self.stride == 1:
            return x
        return x[:, :, :: self.stride, :: self.stride]


class BasicBlockIR(nn.Module):
    """AdaFace's IR unit. (B, in_channels, H, W) -> (B, channels, H / stride, W / stride)."""

    def __init__(self, in_channels: int, channels: int, stride: int) -> None:
        super().__init__()
        self.shortcut_layer: nn.Module
        if in_channels == channels:
            self.shortcut_layer = _Subsample(stride)
        else:
            self.shortcut_layer = nn.Sequential(
                nn.Conv2d(in_channels, channels, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(channels),
            )
        self.res_layer = nn.Sequential(
            nn.BatchNorm2d(in_channels),
            nn.Conv2d(in_channels, channels, kernel_size=3, stride=1, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.PReLU(channels),
            nn.Conv2d(channels, channels, kernel_size=3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.res_layer(x) + self.shortcut_layer(x)
        return out


class AdaFaceIR(FaceBackbone):
    """AdaFace IR backbone, keys and shapes identical to AdaFace ``net.py`` (IR-50: 43,585,600 parameters).

    Args:
        layers: units per stage, (3, 4, 14, 3) for IR-50, (3, 13, 30, 3) for IR-101.
        dropout: dropout after ``output_layer.0`` (AdaFace hard-codes 0.4, the default here; Table 5: 0.2 /
            0.4).
        embedding_dim: D; the released weights use 512.
        head_in_float32: run the Linear + BN1d in float32 even under autocast.

    Shapes: images (B, 3, 112, 112), **BGR** -> F (B, 512, 7, 7) -> v (B, D).
    """

    def __init__(
        self,
        layers: tuple[int, int, int, int],
        dropout: float = 0.4,
        embedding_dim: int = 512,
        head_in_float32: bool = True,
    ) -> None:
        super().__init__()
        layers = check_stage_depths(layers)
        dropout = check_float_in_range(dropout, "dropout", 0, 1, high_closed=False)
        self.embedding_dim = check_positive_int(embedding_dim, "embedding_dim")
        self.input_size = (112, 112)
        self.feature_shape = (512, 7, 7)
        self.input_channel_order = "BGR"
        self.head_in_float32 = check_bool(head_in_float32, "head_in_float32")
        self.input_layer = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False), nn.BatchNorm2d(64), nn.PReLU(64)
        )
        # Registered before ``body`` as in AdaFace, so the state-dict key order matches too.
        self.output_layer = nn.Sequential(
            nn.BatchNorm2d(512),
            nn.Dropout(dropout),
            nn.Flatten(),
            nn.Linear(512 * 7 * 7, self.embedding_dim),
            nn.BatchNorm1d(self.embedding_dim, affine=False),
        )
        units: list[nn.Module] = []
        in_channels = 64
        for channels, num_units in zip(_STAGE_CHANNELS, layers, strict=True):
            units.append(BasicBlockIR(in_channels, channels, stride=2))
            units += [BasicBlockIR(channels, channels, stride=1) for _ in range(num_units - 1)]
            in_channels = channels
        self.body = nn.Sequential(*units)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _trunk(self, images: Tensor) -> Tensor:
        out: Tensor = self.output_layer[0](self.body(self.input_layer(images)))
        return out

    def _head(self, feature_map: Tensor) -> Tensor:
        x = self.output_layer[2](self.output_layer[1](feature_map))
        linear, bn = self.output_layer[3], self.output_layer[4]
        if self.head_in_float32:
            with float32_region(x.device):
                out: Tensor = bn(linear(x.to(linear.weight.dtype)))
                return out
        out = bn(linear(x))
        return out


def adaface_ir50(dropout: float = 0.4, embedding_dim: int = 512, head_in_float32: bool = True) -> AdaFaceIR:
    """AdaFace IR-50 (``net.build_model("ir_50")``); weights expect BGR input."""
    return AdaFaceIR((3, 4, 14, 3), dropout, embedding_dim, head_in_float32)


def adaface_ir101(dropout: float = 0.4, embedding_dim: int = 512, head_in_float32: bool = True) -> AdaFaceIR:
    """AdaFace IR-101 (``net.build_model("ir_101")``); weights expect BGR input."""
    return AdaFaceIR((3, 13, 30, 3), dropout, embedding_dim, head_in_float32)
