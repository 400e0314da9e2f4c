"""Freeze batch normalisation in a backbone trunk: statistics *and* affine parameters.

Fine-tuning on small VLR datasets with batch statistics from a few dozen blurry faces degrades a pretrained
trunk; the recipe keeps BN fixed. Two things must hold for the whole run, not just until the next
``model.train()``:

1. running statistics do not move: the BN layer must stay in eval mode;
2. ``weight`` and ``bias`` receive no gradient: ``requires_grad = False``.

Mechanism (robust to ``model.train()``): every frozen layer's class is switched in place to a subclass of its
own class (``nn.BatchNorm2d`` -> ``FrozenBatchNorm2d``, ``nn.SyncBatchNorm`` -> ``FrozenSyncBatchNorm``) whose
``train()`` always puts it in eval mode. ``nn.Module.train`` reaches every child through
``child.train(mode)``, so no call to ``model.train()`` can switch a frozen layer back to batch statistics. The
module object, its parameters, buffers and state-dict keys are unchanged (``isinstance(layer,
nn.BatchNorm2d)`` still holds, optimiser references stay valid, and the forward is a plain eval-mode BN, so
``torch.compile`` sees nothing unusual). :func:`unfreeze_batchnorm` reverses it.

Note: ``nn.SyncBatchNorm.convert_sync_batchnorm`` builds *new* modules; call :func:`freeze_batchnorm` after
it.
"""

from __future__ import annotations

from typing import TypeVar

from torch import nn

__all__ = [
    "FrozenBatchNorm2d",
    "FrozenSyncBatchNorm",
    "freeze_batchnorm",
    "is_frozen",
    "training_batchnorm_layers",
    "unfreeze_batchnorm",
]

_M = TypeVar("_M", bound=nn.Module)


class FrozenBatchNorm2d(nn.BatchNorm2d):
    """A ``BatchNorm2d`` that stays in eval mode whatever ``train()`` is asked; see ``freeze_batchnorm``."""

    def train(self: _M, mode: bool = True) -> _M:
        return nn.Module.train(self, False)


class FrozenSyncBatchNorm(nn.SyncBatchNorm):
    """A ``SyncBatchNorm`` that stays in eval mode whatever ``train()`` is asked; see ``freeze_batchnorm``."""

    def train(self: _M, mode: bool = True) -> _M:
        return nn.Module.train(self, False)


_FROZEN: dict[type[nn.Module], type[nn.Module]] = {
    nn.BatchNorm2d: FrozenBatchNorm2d,
    nn.SyncBatchNorm: FrozenSyncBatchNorm,
}
_UNFROZEN: dict[type[nn.Module], type[nn.Module]] = {v: k for k, v in _FROZEN.items()}


def _check_module(value: object, name: str) -> nn.Module:
    """TypeError naming ``name`` unless ``value`` is an ``nn.Module``."""
    if not isinstance(value, nn.Module):
        raise TypeError(f"expected {name} to be an nn.Module, got {type(value).__name__}")
    return value


def freeze_batchnorm(module: _M) -> _M:
    """Freeze every ``BatchNorm2d`` / ``SyncBatchNorm`` in ``module`` (statistics and affine), in place.

    ``BatchNorm1d`` (the embedding BN of the heads) is left alone. For MobileFaceNet the GDC head contains a
    ``BatchNorm2d``, which is frozen too; pass a sub-module to freeze only part of a network. Layers of a
    user-defined BN subclass raise ``TypeError`` rather than being skipped silently; the check covers every
    layer before any is changed, so a call that raises leaves ``module`` as it was.

    Returns:
        ``module`` itself, for chaining.

    Raises:
        TypeError: ``module`` is not an ``nn.Module``, or holds a layer of a BN subclass.
    """
    _check_module(module, "module")
    for name, layer in module.named_modules():
        cls = type(layer)
        if (
            cls not in _FROZEN
            and cls not in _UNFROZEN
            and isinstance(layer, (nn.BatchNorm2d, nn.SyncBatchNorm))
        ):
            raise TypeError(
                f"cannot freeze {name or 'module'!r} of class {cls.__name__}: expected nn.BatchNorm2d or "
                "nn.SyncBatchNorm exactly (a subclass's own train() could not be overridden safely)"
            )
    for layer in module.modules():
        cls = type(layer)
        if cls not in _FROZEN:
            continue  # not batch norm 2d, or already frozen
        layer.__class__ = _FROZEN[cls]
        layer.train(False)
        for param in layer.parameters(recurse=False):
            param.requires_grad_(False)
    return module


def unfreeze_batchnorm(module: _M) -> _M:
    """Undo :func:`freeze_batchnorm`: restore the classes, make the affine parameters trainable and
    the layers' mode to ``module.training``.

    Raises:
        TypeError: ``module`` is not an ``nn.Module``.
    """
    _check_module(module, "module")
    for layer in module.modules():
        cls = type(layer)
        if cls in _UNFROZEN:
            layer.__class__ = _UNFROZEN[cls]
            layer.train(module.training)
            for param in layer.parameters(recurse=False):
                param.requires_grad_(True)
    return module


def is_frozen(layer: nn.Module) -> bool:
    """Whether ``layer`` is a batch-norm layer frozen by :func:`freeze_batchnorm`.

    Raises:
        TypeError: ``layer`` is not an ``nn.Module`` (a name or a state dict is not a layer).
    """
    return type(_check_module(layer, "layer")) in _UNFROZEN


def training_batchnorm_layers(model: nn.Module, *, assume_train: bool = False) -> list[str]:
    """Names of the batch-norm layers of ``model`` that update batch statistics in a forward pass.

    A layer counts when it is in training mode (or, with ``assume_train``, would be after ``model.train()``:
    layers frozen by :func:`freeze_batchnorm` stay in eval mode whatever is asked). Such a layer cannot
    normalise one sample, and counts every batch it sees, an empty one included.

    Raises:
        TypeError: ``model`` is not an ``nn.Module``.
    """
    _check_module(model, "model")
    names = []
    for name, layer in model.named_modules():
        if isinstance(layer, nn.modules.batchnorm._BatchNorm):
            trains = not is_frozen(layer) if assume_train else layer.training
            if trains:
                names.append(name or type(layer).__name__)
    return names
