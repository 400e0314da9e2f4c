"""The trainable model of the paper's Fig. 2: backbone + ArcFace recognition module + recognizability loss.

Data through one step (``RecognizabilityModel.forward``)::

    images (B,3,S,S) -> backbone.forward_features -> F (B,C,H,W)
    F                -> backbone.forward_head     -> v (B,D)
    v, labels        -> ArcFace                   -> logits, cosine, L_cls
    F, v, cosine     -> RecognizabilityLoss        -> xi (Eq. 1-3), xi_hat, L_L1 (Eq. 4), L_ID (Eq. 5-7),
                                                     L_MSE with the UI-projected v (Eq. 8-9), total (Eq. 10)

The UI centre ``u`` is a buffer of :class:`~recognizability.nn.UICenter` refreshed by the training loop.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from recognizability.backbones import FaceBackbone
from recognizability.nn import UICenter

from .config import TrainingConfig
from .guards import check_training_batch
from .modules import MethodModules, build_backbone, build_criterion, build_head, parameter_groups

__all__ = ["RecognizabilityModel", "build_model"]


class RecognizabilityModel(MethodModules):
    """Backbone, margin head (recognition module), RecognizabilityLoss (PRM + PAM) and the UI centre, built
    from a configuration, with the forward pass of one training step.

    The reference scripts (``examples/train_*.py``) build the same pieces one by one
    (:class:`~recognizability.training.MethodModules`); this class builds them from ``settings`` in one call
    and keeps the checkpoint layout (``backbone.*``, ``head.*``, ``criterion.*``, ``ui_center.*``).

    Args:
        backbone: any library backbone (``forward_features``, ``forward_head``, ``feature_shape``,
            ``embedding_dim``).
        num_classes: C, number of training identities.
        settings: the run's :class:`~recognizability.training.TrainingConfig` (its head and loss sections).

    Attributes:
        backbone, head (the margin head), criterion (RecognizabilityLoss), ui_center (UICenter).
    """

    def __init__(self, backbone: FaceBackbone, num_classes: int, settings: TrainingConfig) -> None:
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"expected num_classes to be an int >= 2, got {num_classes!r}")
        head = build_head(settings.head, backbone.embedding_dim, num_classes)
        criterion = build_criterion(settings, backbone)
        super().__init__(backbone, head, criterion, UICenter(backbone.embedding_dim))
        self.num_classes = num_classes

    def forward(self, images: Tensor, labels: Tensor) -> Any:
        """One training step's forward pass (Fig. 2).

        Args:
            images: (B, 3, S, S) normalised float images.
            labels: (B,) int64 identity labels in [0, num_classes).

        Returns:
            ``RecognizabilityLossOutput`` (total, classification, regression, diversion, attention, index,
            predicted_index), every field present whatever terms are switched off.

        Raises:
            TypeError, ValueError: bad labels (type, shape, device, range), images of another dtype than the
                model's (outside autocast), non-finite images (value checks on) or a single image while batch
                norm trains (:func:`~recognizability.training.guards.check_training_batch`);
            RuntimeError: the UI centre is not fitted yet.
            All raised before the backbone runs: a failed call changes no statistic.
        """
        labels = check_training_batch(self, images, labels, self.num_classes)
        if not self.ui_center.is_initialized:
            raise RuntimeError(
                "expected a fitted UI centre before a training step (the index of Eq. 1-3 needs it): call "
                "model.ui_center.fit(embeddings of the UI images) first; UICenter holds no centre yet "
                "(checked before the backbone runs: nothing changed)"
            )
        feature_map = self.backbone.forward_features(images)
        embeddings = self.backbone.forward_head(feature_map)
        arcface = self.head(embeddings, labels)
        return self.criterion(feature_map, embeddings, labels, arcface, self.ui_center)

    def parameter_groups(self, settings: TrainingConfig) -> list[dict[str, Any]]:
        """Adam parameter groups with the per-module learning rates of ``settings.optim`` (Table 5):
        backbone, recognition (the head's prototypes W), attention (PAM), regression (PRM)."""
        groups = parameter_groups(
            settings.optim, backbone=self.backbone, recognition=self.head,
            attention=self.criterion.attention, regression=self.criterion.regression,
        )  # fmt: skip
        seen = {id(p) for g in groups for p in g["params"]}
        leftover = [n for n, p in self.named_parameters() if p.requires_grad and id(p) not in seen]
        if leftover:
            raise ValueError(f"expected every trainable parameter in a group, got ungrouped {leftover}")
        return groups


def build_model(
    settings: TrainingConfig, num_classes: int, device: str | torch.device = "cpu"
) -> RecognizabilityModel:
    """Build the backbone of ``settings.model`` (``create_backbone``, ``pretrained``, frozen BatchNorm) and
    wrap it in a :class:`RecognizabilityModel` on ``device``."""
    model = RecognizabilityModel(build_backbone(settings.model), num_classes, settings)
    return model.to(device)
