"""Face backbones exposing the last feature map F (B, C, h, w) and the embedding v (B, D).

- ``iresnet18/34/50/100`` and ``mobilefacenet``: insightface arcface_torch networks, identical state-dict
  keys;
- ``adaface_ir50`` / ``adaface_ir101``: AdaFace IR networks, identical state-dict keys (BGR input);
- ``small_vlr_net``: a small CPU demo backbone for ~32 x 32 faces (not from the paper);
- ``create_backbone`` / ``available_backbones``: by name; ``available_pretrained``: the weights shipped
  with the package, by backbone; ``load_pretrained``: both public checkpoint formats;
  ``read_checkpoint_file``: any ``torch.save`` file read with ``weights_only=True``, errors naming the file;
- ``normalize_for``: colour order and normalisation per format; ``freeze_batchnorm``: fixed BN in the trunk;
  ``training_batchnorm_layers``: the BN layers a forward pass would update;
- ``check_backbone_images``: the input check every backbone runs first (shape, dtype, device, and a batch
  of >= 2 while batch norm trains), for any model that takes face images.

Every backbone: ``forward_features(x)`` -> F, ``forward_head(F)`` -> v, ``forward(x)`` -> v,
``forward_with_features(x)`` -> ``BackboneOutput(embedding, feature_map)``; attributes ``embedding_dim``,
``feature_shape``, ``input_size``, ``input_channel_order``. See ``docs/checkpoints.md``.
"""

from .adaface import AdaFaceIR, adaface_ir50, adaface_ir101
from .base import BackboneOutput, FaceBackbone, check_backbone_images
from .freeze import freeze_batchnorm, is_frozen, training_batchnorm_layers, unfreeze_batchnorm
from .iresnet import IResNet, iresnet18, iresnet34, iresnet50, iresnet100
from .loading import CheckpointError, LoadReport, extract_state_dict, load_pretrained, read_checkpoint_file
from .mobilefacenet import MobileFaceNet, mobilefacenet
from .preprocessing import channel_order_for, normalize_for
from .registry import (
    available_backbones,
    available_pretrained,
    canonical_backbone_name,
    create_backbone,
    pretrained_weights,
)
from .small import SmallVLRNet, small_vlr_net

__all__ = [
    "AdaFaceIR",
    "BackboneOutput",
    "CheckpointError",
    "FaceBackbone",
    "IResNet",
    "LoadReport",
    "MobileFaceNet",
    "SmallVLRNet",
    "adaface_ir50",
    "adaface_ir101",
    "available_backbones",
    "available_pretrained",
    "canonical_backbone_name",
    "channel_order_for",
    "check_backbone_images",
    "create_backbone",
    "extract_state_dict",
    "freeze_batchnorm",
    "iresnet18",
    "iresnet34",
    "iresnet50",
    "iresnet100",
    "is_frozen",
    "load_pretrained",
    "mobilefacenet",
    "normalize_for",
    "pretrained_weights",
    "read_checkpoint_file",
    "small_vlr_net",
    "training_batchnorm_layers",
    "unfreeze_batchnorm",
]
