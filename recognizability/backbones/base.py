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

from .._validation import (
    check_same_device,
    check_tensor,
)
from .freeze import training_batchnorm_layers

__all__ = ["BackboneOutput", "ChannelOrder", "FaceBackbone", "check_backbone_images"]

ChannelOrder = Literal["RGB", "BGR"]


class BackboneOutput(NamedTuple):
    """What :meth:`FaceBackbone.forward_with_features` returns.

    Attributes:
        embedding: ``v`` (B, D), the (un-normalised) face embedding the recognition module reads.
        feature_map: ``F`` (B, C, h, w), the trunk's last feature map (512 x 7 x 7 at 112 x 112 for the
            paper's backbones) read by the perceptibility regression and attention modules.
    """

    embedding: Tensor
    feature_map: Tensor


#: The dtypes torch.autocast casts to its own (float64 is left alone, and then meets float32 weights).
_AUTOCAST_INPUTS = (torch.float16, torch.bfloat16, torch.float32)


def _autocasting(device_type: str) -> bool:
    """Whether autocast is on for ``device_type`` (never on a device autocast does not know, e.g. meta)."""
    return torch.amp.is_autocast_available(device_type) and torch.is_autocast_enabled(device_type)


def _first_floating_parameter(model: nn.Module) -> Tensor | None:
    for parameter in model.parameters():
        if parameter.is_floating_point():
            return parameter
    return None


def _check_batch_for_batchnorm(model: nn.Module, tensor: Tensor, name: str, shape: str) -> None:
    """ValueError unless ``tensor`` holds >= 2 samples while a batch-norm layer of ``model`` trains.

    Only a batch of 0 or 1 in training mode lists the layers; otherwise this reads two Python values."""
    if tensor.shape[0] >= 2 or not model.training:
        return
    layers = training_batchnorm_layers(model)
    if layers:
        raise ValueError(
            f"expected {name} of shape {shape} with B >= 2 while batch norm trains, "
            f"got shape {tuple(tensor.shape)}: {type(model).__name__} has {len(layers)} batch-norm layers in "
            f"training mode (e.g. {layers[:3]}), which cannot normalise one sample and count every batch; "
            f"call model.eval() to embed fewer than two images"
        )


def check_backbone_images(
    model: nn.Module, images: object, input_size: tuple[int, int] | None = None
) -> Tensor:
    """Check a batch of images for ``model`` before any layer runs; change nothing.

    The checks read metadata only (no host sync), so they are free on an accelerator and ``torch.compile``
    turns them into guards:

    - ``images`` is a tensor of shape (B, 3, H, W), with (H, W) == ``input_size`` when given;
    - of a floating dtype (normalise uint8 images first: :func:`~recognizability.backbones.normalize_for`)
      equal to the dtype of ``model``'s parameters, unless autocast is on for the images' device: then
      float16, bfloat16 or float32 (autocast casts them per operation; it leaves float64 alone);
    - on the device of ``model``'s parameters;
    - B >= 2 while a batch-norm layer of ``model`` trains (training mode, not frozen by
      :func:`~recognizability.backbones.freeze_batchnorm`): batch normalisation cannot normalise one sample,
      and an empty batch would still count as a step. In eval mode any B >= 0 is accepted.

    Every :class:`FaceBackbone` runs it first in ``forward``, ``forward_features`` and
    ``forward_with_features``.

    Args:
        model: the module about to run (its parameters give the dtype and device, its batch-norm layers'
            modes decide whether a batch of one is allowed).
        images: the batch to check.
        input_size: the (H, W) the model accepts, or None for any size.

    Returns:
        ``images``, typed as a tensor.

    Raises:
        TypeError: not a tensor, not floating, or not of the parameters' dtype outside autocast.
        ValueError: a wrong shape or device; fewer than two images while batch norm trains.

    The checks run in this order: type, floating dtype, shape, device, dtype, batch size.
    """
    tensor = check_tensor(images, "images")
    if not tensor.is_floating_point():
        raise TypeError(
            f"expected floating-point images (normalise uint8 images with "
            f"recognizability.backbones.normalize_for first), got dtype {tensor.dtype}"
        )
    h, w = ("H", "W") if input_size is None else input_size
    expected = f"(B, 3, {h}, {w})"
    if (
        tensor.dim() != 4
        or tensor.shape[1] != 3
        or (input_size is not None and tuple(tensor.shape[2:]) != input_size)
    ):
        raise ValueError(
            f"expected images of shape {expected} for {type(model).__name__} "
            f"(resize them, e.g. bicubic up-sampling of very-low-resolution faces), "
            f"got shape {tuple(tensor.shape)}"
        )
    parameter = _first_floating_parameter(model)
    if parameter is not None:
        check_same_device(tensor, "images", parameter, f"{type(model).__name__}'s parameters")
        if tensor.dtype != parameter.dtype and not (
            tensor.dtype in _AUTOCAST_INPUTS and _autocasting(tensor.device.type)
        ):
            raise TypeError(
                f"expected images of dtype {parameter.dtype}, the dtype of {type(model).__name__}'s "
                f"parameters (or float16, bfloat16 or float32 under torch.autocast, which leaves float64 "
                f"as it is), got dtype {tensor.dtype}"
            )
    _check_batch_for_batchnorm(model, tensor, "images", expected)
    return tensor


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
                (H, W) == :attr:`input_size`, of the parameters' dtype (float16, bfloat16 or float32 under
                autocast), on their device; B >= 2 while batch norm trains (:func:`check_backbone_images`,
                run before any layer, so a refused batch changes no running statistic).

        Returns:
            F: (B, C, h, w) == (B, *feature_shape).
        """
        return self._trunk(check_backbone_images(self, images, self.input_size))

    def forward_head(self, feature_map: Tensor) -> Tensor:
        """Run the head: feature map ``F`` (B, C, h, w) -> embedding ``v`` (B, D); B >= 2 while batch norm
        trains (the head ends in a BatchNorm1d)."""
        if not isinstance(feature_map, Tensor):
            raise TypeError(f"expected feature_map to be a torch.Tensor, got {type(feature_map).__name__}")
        c, h, w = self.feature_shape
        expected = f"(B, {c}, {h}, {w})"
        if feature_map.dim() != 4 or tuple(feature_map.shape[1:]) != self.feature_shape:
            raise ValueError(
                f"expected feature_map of shape {expected} for {type(self).__name__}, "
                f"got shape {tuple(feature_map.shape)}"
            )
        _check_batch_for_batchnorm(self, feature_map, "feature_map", expected)
        return self._head(feature_map)

    def forward(self, images: Tensor) -> Tensor:
        """Images (B, 3, H, W) -> embedding ``v`` (B, D)."""
        return self.forward_head(self.forward_features(images))

    def forward_with_features(self, images: Tensor) -> BackboneOutput:
        """Images (B, 3, H, W) -> ``BackboneOutput(embedding, feature_map)`` in one pass."""
        feature_map = self.forward_features(images)
        return BackboneOutput(self.forward_head(feature_map), feature_map)
