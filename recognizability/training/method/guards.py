"""Checks that run before a training step changes any state, and a mode guard that survives exceptions.

- :func:`check_training_batch`: the images, labels and UI centre of one training step, checked *before* the
  backbone runs, so a bad batch raises with the batch-norm running statistics untouched;
- :func:`check_batch_size_for_training`: the same batch-size rule, for the run's settings before any data is
  loaded (batch normalisation cannot train on one sample);
- :func:`check_frozen_batchnorm_has_weights`: frozen batch norm (the paper's fine-tuning) only with loaded
  weights: a randomly initialised backbone whose statistics are frozen at their initial values (mean 0,
  variance 1) lets the activations grow layer by layer (about 1e25 after iresnet50) and every loss is
  non-finite from the first step;
- :func:`evaluation_mode`: ``with evaluation_mode(model): ...`` puts the model in eval mode and restores the
  exact train/eval flag of every sub-module on every exit path, exceptions included.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TypeVar

import torch
from torch import Tensor, nn

from recognizability._validation import check_labels, value_checks_enabled
from recognizability.backbones import check_backbone_images, training_batchnorm_layers

from ..config import ModelConfig

__all__ = [
    "check_batch_size_for_training",
    "check_frozen_batchnorm_has_weights",
    "check_training_batch",
    "evaluation_mode",
]

_M = TypeVar("_M", bound=nn.Module)


def check_batch_size_for_training(model: nn.Module, batch_size: object) -> int:
    """Check the per-process batch size of a training run before any data is loaded.

    Batch normalisation computes a per-channel variance over the batch: with one sample it has nothing to
    average (PyTorch raises deep inside the backbone), so a model with batch-norm layers that train needs
    ``batch_size >= 2``. Frozen layers (``freeze_batchnorm``) do not count.

    Returns:
        ``batch_size`` as an int.

    Raises:
        TypeError: ``batch_size`` is not an int.
        ValueError: ``batch_size`` < 1, or 1 with batch-norm layers that train (named in the message).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise TypeError(f"expected batch_size to be an int, got {type(batch_size).__name__}")
    if batch_size < 1:
        raise ValueError(f"expected batch_size >= 1, got {batch_size}")
    if batch_size == 1:
        layers = training_batchnorm_layers(model, assume_train=True)
        if layers:
            raise ValueError(
                f"expected batch_size >= 2 to train: batch normalisation cannot train on one sample, and the "
                f"model has {len(layers)} batch-norm layers that train (e.g. {layers[:3]}); got batch_size 1 "
                f"(use a larger batch)"
            )
    return batch_size


def check_frozen_batchnorm_has_weights(config: ModelConfig) -> None:
    """Refuse frozen batch norm on a backbone that loads no weights (``freeze_batchnorm`` without
    ``pretrained``).

    The paper fine-tunes pretrained backbones with their batch-norm statistics fixed. Frozen at a random
    initialisation's values (mean 0, variance 1), the statistics normalise nothing: the activations grow
    through the residual blocks (measured: about 1e25 at iresnet50's embedding) and the loss is non-finite
    from the first epoch.

    Raises:
        TypeError: ``config`` is not a ModelConfig.
        ValueError: ``freeze_batchnorm`` without ``pretrained``; the message says what to pass.
    """
    if not isinstance(config, ModelConfig):
        raise TypeError(f"expected a ModelConfig, got {type(config).__name__}")
    if config.freeze_batchnorm and config.pretrained is None:
        raise ValueError(
            f"expected --pretrained with frozen batch normalisation: the configuration freezes the "
            f"batch-norm statistics of {config.backbone} (the paper fine-tunes pretrained backbones), but no "
            f"weights are loaded, so they would stay at their random initial values and the loss would be "
            f"non-finite; got pretrained None. Pass --pretrained FILE (arcface_torch or AdaFace weights of "
            f"{config.backbone}), or --no-freeze-batchnorm to train the statistics from a random start"
        )


def check_training_batch(model: nn.Module, images: object, labels: object, num_classes: int) -> Tensor:
    """Check one training step's batch before any module runs; change nothing.

    The images get the backbones' one check (:func:`~recognizability.backbones.check_backbone_images`, over
    the whole ``model``: its parameters' dtype and device, the backbone's input size, its batch-norm layers)
    and, while value checks are on, a finiteness check; the labels the package's label check; a
    :class:`~recognizability.nn.UICenter` at ``model.ui_center`` must be fitted.

    Args:
        model: the model about to run (e.g. :class:`~recognizability.training.MethodModules`).
        images: (B, 3, H, W) floating images of the model's dtype (any floating dtype under autocast),
            finite while value checks are on (``recognizability._validation.value_checks_enabled()``: one
            NaN pixel would make every batch-norm running statistic NaN for good).
        labels: (B,) integer identity labels in ``[0, num_classes)`` (the range is checked while value checks
            are on: ``recognizability._validation.value_checks_enabled()``).
        num_classes: C.

    Returns:
        ``labels`` as int64.

    Raises:
        TypeError: a non-tensor, non-integer labels, or images that are not floating or not of the model's
            dtype outside autocast.
        ValueError: labels of the wrong shape, device or range; one sample while batch norm trains;
            non-finite images (value checks on).
        RuntimeError: ``model.ui_center`` (when the model has one) is not fitted yet.
    """
    backbone = getattr(model, "backbone", None)
    tensor = check_backbone_images(model, images, getattr(backbone, "input_size", None))
    if value_checks_enabled() and not bool(torch.isfinite(tensor).all()):
        bad = int((~torch.isfinite(tensor)).sum())
        raise ValueError(
            f"expected finite images, got {bad} NaN or infinite values in images of shape "
            f"{tuple(tensor.shape)} (checked before the backbone runs: batch norm would store them in its "
            f"running statistics)"
        )
    checked = check_labels(labels, num_classes, int(tensor.shape[0]), tensor, "images")
    ui_center = getattr(model, "ui_center", None)
    if ui_center is not None and not getattr(ui_center, "is_initialized", True):
        raise RuntimeError(
            "expected a fitted UI centre before a training step (the index of Eq. 1-3 needs it): call "
            "model.ui_center.fit(embeddings of the UI images) first; UICenter holds no centre yet "
            "(checked before the backbone runs: nothing changed)"
        )
    return checked


@contextlib.contextmanager
def evaluation_mode(model: _M) -> Iterator[_M]:
    """``model.eval()`` for the block; afterwards every sub-module's train/eval flag is what it was before.

    The flags are restored one by one (not by ``model.train(previous)``), so layers that were in eval mode
    inside a training model (frozen batch norm) stay so, and the restore runs on every exit path, exceptions
    included.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected model to be an nn.Module, got {type(model).__name__}")
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes:
            module.training = training
