"""Input colour order and normalisation each checkpoint format expects.

Both public formats normalise pixel values the same way, ``(x / 255 - 0.5) / 0.5`` (range [-1, 1]), but feed
different colour orders:

- insightface arcface_torch: **RGB** (``recognition/arcface_torch/inference.py`` converts OpenCV's BGR to
  RGB, then ``img.div_(255).sub_(0.5).div_(0.5)``);
- AdaFace: **BGR** (``inference.py`` ``to_input``: ``((np_img[:, :, ::-1] / 255.) - 0.5) / 0.5`` on an RGB
  PIL image).

The library's data readers decode images as RGB, so :func:`normalize_for` takes RGB images and flips the
channels when the target expects BGR. Feeding the wrong order costs accuracy silently, hence a helper keyed by
the model.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from .._validation import check_positive_float
from .base import ChannelOrder

__all__ = ["CHECKPOINT_FORMATS", "InputFormat", "channel_order_for", "normalize_for"]

InputFormat = Literal["insightface", "arcface_torch", "adaface"]

#: Colour order each public checkpoint format expects (the normalisation is the same for all).
CHECKPOINT_FORMATS: dict[str, ChannelOrder] = {"insightface": "RGB", "arcface_torch": "RGB", "adaface": "BGR"}


def channel_order_for(model_or_format: nn.Module | str) -> ChannelOrder:
    """The colour order (``"RGB"`` or ``"BGR"``) a backbone or a checkpoint format name expects."""
    if isinstance(model_or_format, str):
        key = model_or_format.lower()
        if key not in CHECKPOINT_FORMATS:
            raise ValueError(
                f"expected model_or_format to be a backbone or one of {sorted(CHECKPOINT_FORMATS)}, "
                f"got {model_or_format!r}"
            )
        return CHECKPOINT_FORMATS[key]
    if isinstance(model_or_format, nn.Module):
        order = getattr(model_or_format, "input_channel_order", None)
        if order not in ("RGB", "BGR"):
            raise ValueError(
                f"expected model_or_format to have input_channel_order 'RGB' or 'BGR' "
                f"(a recognizability backbone), got {type(model_or_format).__name__} with {order!r}"
            )
        return "RGB" if order == "RGB" else "BGR"
    raise TypeError(
        f"expected model_or_format to be an nn.Module or a format name, got {type(model_or_format).__name__}"
    )


def normalize_for(
    model_or_format: nn.Module | str,
    images: Tensor,
    max_value: float = 255.0,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Turn RGB images into the input a backbone/checkpoint format expects.

    ``out = (x / max_value - 0.5) / 0.5``, channels reversed to BGR when the target expects BGR.

    Args:
        model_or_format: a backbone (its ``input_channel_order`` decides) or ``"insightface"`` /
        ``"arcface_torch"``
            (RGB) / ``"adaface"`` (BGR).
        images: (3, H, W) or (B, 3, H, W), **RGB**, uint8 in [0, 255] or floating point in [0, ``max_value``].
        max_value: the value of a white pixel; 255 for uint8 and for floats on the 0..255 scale, 1.0 for
        floats in
            [0, 1]. It is never guessed from the data.
        dtype: floating output dtype (float32 by default).

    Returns:
        Tensor of the same shape, ``dtype``, values in [-1, 1] for in-range input.
    """
    order = channel_order_for(model_or_format)
    if not isinstance(images, Tensor):
        raise TypeError(f"expected images to be a torch.Tensor, got {type(images).__name__}")
    if images.dim() not in (3, 4) or images.shape[-3] != 3:
        raise ValueError(
            f"expected images of shape (3, H, W) or (B, 3, H, W), got shape {tuple(images.shape)}"
        )
    if not (images.dtype == torch.uint8 or torch.is_floating_point(images)):
        raise TypeError(f"expected uint8 or floating-point images, got dtype {images.dtype}")
    white = check_positive_float(max_value, "max_value")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"expected dtype to be a floating-point torch.dtype, got {dtype!r}")
    x = images.to(dtype)
    if order == "BGR":
        x = x.flip(-3)
    return (x / white - 0.5) / 0.5
