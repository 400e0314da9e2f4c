"""The trainable pieces of the paper's Fig. 2, built from a :class:`~recognizability.training.TrainingConfig`.

    backbone   build_backbone(config.model)                    feature extractor: F (B,C,H,W) and v (B,D)
    head       build_head(config.head, D, C)                   recognition module: prototypes W (C,D), L_cls
    criterion  RecognizabilityLoss(C, (H, W), D, **config.loss.kwargs())   PRM, PAM, index, Eq. 4-10
    ui_center  UICenter(D)                                     u of Eq. 2 and 8, refit every epoch

:class:`MethodModules` holds the four in one module so that one state dict (one checkpoint) carries them,
under the keys ``backbone.*``, ``head.*``, ``criterion.*`` and ``ui_center.*``. :func:`parameter_groups`
gives Adam the per-module learning rates of Table 5.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from recognizability._validation import check_positive_float
from recognizability.backbones import FaceBackbone, create_backbone, freeze_batchnorm, load_pretrained
from recognizability.backbones.registry import available_pretrained
from recognizability.nn import RecognizabilityLoss, ShardedMarginHead, UICenter
from recognizability.nn import build_head as nn_build_head

from ..config import HeadConfig, LearningRates, ModelConfig, OptimConfig, TrainingConfig

__all__ = [
    "MethodModules",
    "build_backbone",
    "build_criterion",
    "build_head",
    "build_modules",
    "embed_and_score",
    "parameter_groups",
    "replicated_modules",
    "set_train_mode",
]


def build_head(config: HeadConfig, embedding_dim: int, num_classes: int) -> nn.Module:
    """The margin head named ``config.name`` (the recognition module of Fig. 2) over ``num_classes``
    prototypes of dimension ``embedding_dim``, from the one head registry
    (:func:`recognizability.nn.build_head`): dense, or with ``config.parallel`` "chunked"
    (:class:`~recognizability.nn.ChunkedMarginHead`: the same outputs without a (B, C) tensor) or "sharded"
    (:class:`~recognizability.nn.ShardedMarginHead`, whose process holds only its shard of the classes of the
    initialised process group of ``torchrun``; its gradients must not be averaged over the processes:
    :func:`replicated_modules`). Without a process group (e.g.
    :func:`~recognizability.deploy.load_trained_model` reading a sharded run's checkpoint, which holds the
    whole head) a sharded head holds every class. ``config.scale`` and ``config.margin`` when set, the head's
    own paper's values otherwise."""
    return nn_build_head(
        config.name, embedding_dim, num_classes, parallel=config.parallel, **config.options()
    )


def replicated_modules(model: MethodModules) -> tuple[nn.Module, ...]:
    """The modules of ``model`` that every torchrun process holds whole, whose gradients (and running
    statistics) are averaged over the processes: all of them, extra modules included, except a class-sharded
    head, whose processes hold disjoint prototypes (:class:`~recognizability.nn.ShardedMarginHead` already
    gives each shard the gradient of the whole batch)."""
    if isinstance(model.head, ShardedMarginHead):
        return tuple(module for name, module in model.named_children() if name != "head")
    return (model,)


def build_backbone(config: ModelConfig) -> FaceBackbone:
    """Create ``config.backbone``, load ``config.pretrained`` when set, and freeze its BatchNorm layers when
    ``config.freeze_batchnorm`` (the paper fine-tunes pretrained backbones with their statistics fixed).

    ``config.pretrained`` is a checkpoint file (arcface_torch or AdaFace format) or the tag of weights shipped
    in the package (``available_pretrained()``, e.g. ``"synthetic-hr"`` for ``small_vlr_net``).
    """
    options: dict[str, Any] = {
        "dropout": config.backbone_dropout,
        "embedding_dim": config.embedding_dim,
        "input_size": (config.input_size, config.input_size),
    }
    if config.pretrained in available_pretrained().get(config.backbone, []):
        return _frozen_if(create_backbone(config.backbone, pretrained=config.pretrained, **options), config)
    backbone = create_backbone(config.backbone, **options)
    if config.pretrained is not None:
        load_pretrained(backbone, config.pretrained)
    return _frozen_if(backbone, config)


def _frozen_if(backbone: FaceBackbone, config: ModelConfig) -> FaceBackbone:
    if config.freeze_batchnorm:
        freeze_batchnorm(backbone)
    return backbone


def build_criterion(config: TrainingConfig, backbone: FaceBackbone) -> RecognizabilityLoss:
    """``RecognizabilityLoss`` for ``backbone``'s feature map and embedding, with every field of
    ``config.loss`` passed as its keyword argument."""
    channels, height, width = backbone.feature_shape
    return RecognizabilityLoss(channels, (height, width), backbone.embedding_dim, **config.loss.kwargs())


class MethodModules(nn.Module):
    """The backbone, the margin head, ``RecognizabilityLoss``, the ``UICenter`` and any extra trainable
    modules of one run, in one module.

    Holds no step of its own: the training loop calls the pieces (``examples/train_*.py``). Its state dict is
    the checkpoint layout (``backbone.*``, ``head.*``, ``criterion.*``, ``ui_center.*`` and ``<name>.*`` of
    each extra module), so whatever it holds is saved, resumed and averaged over torchrun processes
    (:func:`replicated_modules`).

    Args:
        backbone, head, criterion, ui_center: the four pieces of Fig. 2.
        **extra: further trainable modules of a researcher's own step, by name (e.g. a new loss term's head);
            give each its learning rate in :func:`parameter_groups`.
    """

    #: The four pieces of Fig. 2, in order.
    PIECES: tuple[str, ...] = ("backbone", "head", "criterion", "ui_center")

    def __init__(
        self,
        backbone: FaceBackbone,
        head: nn.Module,
        criterion: RecognizabilityLoss,
        ui_center: UICenter,
        **extra: nn.Module,
    ) -> None:
        super().__init__()
        for name, module in extra.items():
            if not isinstance(module, nn.Module):
                raise TypeError(
                    f"expected the extra module {name!r} to be an nn.Module, got {type(module).__name__}"
                )
            if name in self.PIECES or hasattr(nn.Module, name):
                raise ValueError(
                    f"expected an extra module name other than {name!r} (taken by MethodModules)"
                )
        self.backbone = backbone
        self.head = head
        self.criterion = criterion
        self.ui_center = ui_center
        for name, module in extra.items():
            self.add_module(name, module)

    @property
    def extra_modules(self) -> dict[str, nn.Module]:
        """The extra modules, by name, in the order given."""
        return {name: module for name, module in self.named_children() if name not in self.PIECES}

    @torch.no_grad()
    def embed_and_score(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """Test-time outputs of normalised images: the embedding v (B, D), un-normalised, and the learned
        index xi_hat (B,) of the perceptibility regression module (no UI centre needed, paper Sec. 3.2).

        Call in eval mode (dropout off)."""
        return embed_and_score(self.backbone, self.criterion.regression, images)


def embed_and_score(backbone: nn.Module, regression: nn.Module, images: Tensor) -> tuple[Tensor, Tensor]:
    """The test-time forward pass of Fig. 2: ``F = forward_features(x)``, ``v = forward_head(F)`` and
    ``xi_hat = regression(F)`` (paper Sec. 3.2), for normalised images (B, 3, S, S)."""
    feature_map = backbone.forward_features(images)  # type: ignore[operator]
    embeddings: Tensor = backbone.forward_head(feature_map)  # type: ignore[operator]
    xi_hat: Tensor = regression(feature_map)
    return embeddings, xi_hat


def build_modules(config: TrainingConfig, num_classes: int) -> MethodModules:
    """All four pieces built from ``config`` (what the examples do step by step), on the CPU."""
    backbone = build_backbone(config.model)
    head = build_head(config.head, backbone.embedding_dim, num_classes)
    return MethodModules(backbone, head, build_criterion(config, backbone), UICenter(backbone.embedding_dim))


def parameter_groups(
    optim: OptimConfig, **modules: nn.Module | tuple[nn.Module, float]
) -> list[dict[str, Any]]:
    """Adam parameter groups with Table 5's per-module learning rates, and any extra module's own.

    Args:
        optim: the learning rates (one per field of :class:`LearningRates`) and the weight decay.
        **modules: one module per learning rate of Table 5, by its name: ``backbone``, ``recognition`` (the
            margin head's prototypes), ``attention`` (PAM), ``regression`` (PRM); and any further module as
            ``name=(module, learning_rate)`` (e.g. the head of a new loss term).

    Returns:
        One group per module, named by ``"name"``, with its trainable parameters (frozen ones are left out);
        weight decay ``optim.weight_decay`` for all. A parameter in two modules is an error.

    Example::

        parameter_groups(config.optim, backbone=backbone, recognition=head, attention=criterion.attention,
                         regression=criterion.regression, my_head=(my_head, 1e-3))
    """
    names = list(LearningRates.__dataclass_fields__)
    missing = [name for name in names if name not in modules]
    if missing:
        raise ValueError(f"expected one module for each of {names}, got none for {missing}")
    groups: list[dict[str, Any]] = []
    seen: set[int] = set()
    for name in [*names, *(extra for extra in modules if extra not in names)]:
        given = modules[name]
        if name in names:
            if not isinstance(given, nn.Module):
                raise TypeError(
                    f"expected {name} to be an nn.Module (its learning rate is Table 5's), got "
                    f"{type(given).__name__}"
                )
            module, lr = given, getattr(optim.lr, name)
        else:
            if not (isinstance(given, tuple) and len(given) == 2 and isinstance(given[0], nn.Module)):
                raise TypeError(
                    f"expected the extra module {name} as (module, learning rate), got {type(given).__name__}"
                )
            module, lr = given[0], check_positive_float(given[1], f"learning rate of {name}", allow_zero=True)
        params = [p for p in module.parameters() if p.requires_grad]
        if any(id(p) in seen for p in params):
            raise ValueError(f"expected each parameter in one group, got {name!r} sharing parameters")
        seen.update(id(p) for p in params)
        groups.append({"name": name, "params": params, "lr": lr, "weight_decay": optim.weight_decay})
    return groups


def set_train_mode(modules: nn.Module, freeze_batchnorm_layers: bool) -> None:
    """``modules.train()``, with the backbone's frozen BatchNorm layers kept in eval mode (they ignore
    ``train()`` once frozen by :func:`build_backbone`; re-freezing also covers a backbone built elsewhere)."""
    modules.train()
    backbone = getattr(modules, "backbone", None)
    if freeze_batchnorm_layers and isinstance(backbone, nn.Module):
        freeze_batchnorm(backbone)
