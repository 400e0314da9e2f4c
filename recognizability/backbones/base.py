"""The interface every face backbone in this package shares.

The paper (Fig. 2) splits a face-recognition network in two: a *trunk* that maps an image to the last feature
map ``F`` (B, C, H, W) -- read by the perceptibility regression and attention modules -- and a *head* that
maps ``F`` to the embedding ``v`` (B, D) that the recognition module (ArcFace) consumes. Neither insightface's
arcface_torch nor AdaFace exposes ``F``; every backbone here does, through three methods:

    forward_features(images (B, 3, H, W)) -> F (B, C, h, w)        the trunk
    forward_head(F (B, C, h, w))          -> v (B, D)              the head
    forward(images)                       -> v (B, D)              head(trunk(images))
    forward_with_features(images)         -> BackboneOutput(embedding v, feature_map F)

``forward`` always returns a tensor and ``forward_with_features`` always returns a :class:`BackboneOutput`:
the return
type never depends on a flag, which keeps both methods ``torch.compile(fullgraph=True)`` friendly.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from .._validation import ArgumentTypeError, check_float_in_range, check_positive_int

__all__ = ["BackboneOutput", "ChannelOrder", "FaceBackbone"]

ChannelOrder = Literal["RGB", "BGR"]


class BackboneOutput(NamedTuple):
    """What :meth:`FaceBackbone.forward_with_features` returns.

    Attributes:
        embedding: ``v`` (B, D), the (un-normalised) face embedding the recognition module reads.
        feature_map: ``F`` (B, C, h, w), the trunk's last feature map (512 x 7 x 7 at 112 x 112 for the
        paper's
            backbones) read by the perceptibility regression and attention modules.
    """

    embedding: Tensor
    feature_map: Tensor


class FaceBackbone(nn.Module):
    """Base class: input validation and the trunk/head split.

    Subclasses set the four attributes below in ``__init__`` and implement :meth:`_trunk` and :meth:`_head`.

    Attributes:
        embedding_dim: D, the size of the embedding ``v``.
        feature_shape: (C, h, w) of the feature map ``F`` for an input of :attr:`input_size`.
        input_size: (H, W) the backbone accepts; other sizes raise ``ValueError`` (the head's fully-connected
            layer is tied to one feature-map size).
        input_channel_order: ``"RGB"`` or ``"BGR"``, the colour order the released weights were trained with
            (see :func:`recognizability.backbones.normalize_for`).
    """

    embedding_dim: int
    feature_shape: tuple[int, int, int]
    input_size: tuple[int, int]
    input_channel_order: ChannelOrder

    def _trunk(self, images: Tensor) -> Tensor:
        raise NotImplementedError

    def _head(self, feature_map: Tensor) -> Tensor:
        raise NotImplementedError

    def forward_features(self, images: Tensor) -> Tensor:
        """Run the trunk.

        Args:
            images: (B, 3, H, W) floating-point images, already normalised (see ``normalize_for``), with
                (H, W) == :attr:`input_size`.

        Returns:
            F: (B, C, h, w) == (B, *feature_shape).
        """
        self._check_images(images)
        return self._trunk(images)

    def forward_head(self, feature_map: Tensor) -> Tensor:
        """Run the head: feature map ``F`` (B, C, h, w) -> embedding ``v`` (B, D)."""
        if not isinstance(feature_map, Tensor):
            raise TypeError(f"expected feature_map to be a torch.Tensor, got {type(feature_map).__name__}")
        if feature_map.dim() != 4 or tuple(feature_map.shape[1:]) != self.feature_shape:
            c, h, w = self.feature_shape
            raise ValueError(
                f"expected feature_map of shape (B, {c}, {h}, {w}) for {type(self).__name__}, "
                f"got shape {tuple(feature_map.shape)}"
            )
        return self._head(feature_map)

    def forward(self, images: Tensor) -> Tensor:
        """Images (B, 3, H, W) -> embedding ``v`` (B, D)."""
        return self.forward_head(self.forward_features(images))

    def forward_with_features(self, images: Tensor) -> BackboneOutput:
        """Images (B, 3, H, W) -> ``BackboneOutput(embedding, feature_map)`` in one pass."""
        feature_map = self.forward_features(images)
        return BackboneOutput(self.forward_head(feature_map), feature_map)

    def _check_images(self, images: Tensor) -> None:
        # Shape and dtype checks only: they read static metadata, so they cost no host sync and
        # torch.compile turns them into guards.
        if not isinstance(images, Tensor):
            raise TypeError(f"expected images to be a torch.Tensor, got {type(images).__name__}")
        if not torch.is_floating_point(images):
            raise TypeError(
                f"expected floating-point images (normalise uint8 images with "
                f"recognizability.backbones.normalize_for first), got dtype {images.dtype}"
            )
        h, w = self.input_size
        if images.dim() != 4 or images.shape[1] != 3 or tuple(images.shape[2:]) != (h, w):
            raise ValueError(
                f"expected images of shape (B, 3, {h}, {w}) for {type(self).__name__} "
                f"(resize them, e.g. bicubic up-sampling of very-low-resolution faces), "
                f"got shape {tuple(images.shape)}"
            )


def _check_dropout(dropout: object) -> float:
    """The dropout probability of a backbone constructor, in [0, 1) (the package's range check)."""
    return check_float_in_range(dropout, "dropout", 0, 1, high_closed=False)


def _check_stage_depths(layers: object) -> tuple[int, int, int, int]:
    """Validate the number of residual units in each of the four stages of an IResNet / AdaFace IR.

    Raises:
        ArgumentTypeError: ``layers`` is not a tuple or list, or holds something other than ints.
        ValueError: not four entries, or an entry < 1.
    """
    message = f"expected layers to be four positive ints, got {layers!r}"
    if not isinstance(layers, (tuple, list)):
        raise ArgumentTypeError(message)
    if len(layers) != 4:
        raise ValueError(message)
    try:
        depths = tuple(check_positive_int(depth, "layers") for depth in layers)
    except ArgumentTypeError:
        raise ArgumentTypeError(message) from None
    except ValueError:
        raise ValueError(message) from None
    return (depths[0], depths[1], depths[2], depths[3])
