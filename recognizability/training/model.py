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
from torch import Tensor, nn

from recognizability.backbones import create_backbone, freeze_batchnorm, load_pretrained
from recognizability.nn import ArcFace, RecognizabilityLoss, UICenter

from .settings import TrainingSettings

__all__ = ["RecognizabilityModel", "build_model"]


class RecognizabilityModel(nn.Module):
    """Backbone, ArcFace head (recognition module), RecognizabilityLoss (PRM + PAM) and the UI centre.

    Args:
        backbone: any library backbone (``forward_features``, ``forward_head``, ``feature_shape``,
            ``embedding_dim``).
        num_classes: C, number of training identities.
        settings: the run's :class:`~recognizability.training.TrainingSettings` (s, m, alpha, beta, gamma,
            tau, switched-on terms, regression dropout).

    Attributes:
        backbone, head (ArcFace), criterion (RecognizabilityLoss), ui_center (UICenter).
    """

    backbone: Any  # a library backbone (FaceBackbone interface)
    criterion: RecognizabilityLoss
    ui_center: UICenter
    head: ArcFace

    def __init__(self, backbone: nn.Module, num_classes: int, settings: TrainingSettings) -> None:
        super().__init__()
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"expected num_classes to be an int >= 2, got {num_classes!r}")
        feature_shape: tuple[int, int, int] = getattr(backbone, "feature_shape")  # noqa: B009 - (C, H, W)
        channels, height, width = (int(x) for x in feature_shape)
        embedding_dim = int(getattr(backbone, "embedding_dim"))  # noqa: B009
        self.backbone = backbone
        self.head = ArcFace(embedding_dim, num_classes, scale=settings.scale, margin=settings.margin)
        self.criterion = RecognizabilityLoss(
            channels,
            (height, width),
            embedding_dim,
            tau=settings.tau,
            regression_weight=settings.regression_weight,
            diversion_weight=settings.diversion_weight,
            attention_weight=settings.attention_weight,
            use_regression=settings.use_regression,
            use_diversion=settings.use_diversion,
            use_attention=settings.use_attention,
            regression_dropout=settings.regression_dropout,
        )
        self.ui_center = UICenter(embedding_dim)
        self.num_classes = num_classes

    def forward(self, images: Tensor, labels: Tensor) -> Any:
        """One training step's forward pass (Fig. 2).

        Args:
            images: (B, 3, S, S) normalised float images.
            labels: (B,) int64 identity labels in [0, num_classes).

        Returns:
            ``RecognizabilityLossOutput`` (total, classification, regression, diversion, attention, index,
            predicted_index), every field present whatever terms are switched off.
        """
        feature_map = self.backbone.forward_features(images)
        embeddings = self.backbone.forward_head(feature_map)
        arcface = self.head(embeddings, labels)
        return self.criterion(feature_map, embeddings, labels, arcface, self.ui_center)

    @torch.no_grad()
    def embed_and_score(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """Test-time outputs: the embedding v (B, D), un-normalised, and the learned index xi_hat (B,).

        xi_hat comes from the perceptibility regression module on F; it needs no UI centre (paper Sec. 3.2).
        Call in eval mode (dropout off).
        """
        feature_map = self.backbone.forward_features(images)
        embeddings = self.backbone.forward_head(feature_map)
        predicted_index = self.criterion.regression(feature_map)
        return embeddings, predicted_index

    def parameter_groups(self, settings: TrainingSettings) -> list[dict[str, Any]]:
        """Adam parameter groups with Table 5's per-module learning rates.

        Groups (named by ``"name"``): backbone, recognition (the ArcFace prototypes W), attention (PAM),
        regression (PRM). Every trainable parameter is in exactly one group; weight decay is
        ``settings.weight_decay`` for all. Frozen parameters (``requires_grad=False``) are left out.
        """
        groups: list[tuple[str, nn.Module, float]] = [
            ("backbone", self.backbone, settings.lr.backbone),
            ("recognition", self.head, settings.lr.recognition),
            ("attention", self.criterion.attention, settings.lr.attention),
            ("regression", self.criterion.regression, settings.lr.regression),
        ]
        out: list[dict[str, Any]] = []
        seen: set[int] = set()
        for name, module, lr in groups:
            params = [p for p in module.parameters() if p.requires_grad]
            seen.update(id(p) for p in params)
            out.append({"name": name, "params": params, "lr": lr, "weight_decay": settings.weight_decay})
        leftover = [n for n, p in self.named_parameters() if p.requires_grad and id(p) not in seen]
        if leftover:
            raise ValueError(f"expected every trainable parameter in a group, got ungrouped {leftover}")
        return out


def build_model(
    settings: TrainingSettings, num_classes: int, device: str | torch.device = "cpu"
) -> RecognizabilityModel:
    """Create the backbone named in ``settings``, load ``settings.pretrained`` if set, freeze its BatchNorm if
    ``settings.freeze_batchnorm``, and wrap it in a :class:`RecognizabilityModel` on ``device``."""
    options: dict[str, Any] = {"dropout": settings.backbone_dropout, "embedding_dim": settings.embedding_dim}
    if settings.backbone == "small_vlr_net":  # the only backbone that takes its input size as an argument
        options["input_size"] = (settings.input_size, settings.input_size)
    backbone = create_backbone(settings.backbone, **options)
    if settings.pretrained is not None:
        load_pretrained(backbone, settings.pretrained)
    if settings.freeze_batchnorm:
        freeze_batchnorm(backbone)
    model = RecognizabilityModel(backbone, num_classes, settings)
    return model.to(device)
