"""The paper's Fig. 1 for a backbone: where it puts the VLR training faces relative to the UI centre.

:func:`backbone_ui_cluster` embeds a set of faces and the UI set with a backbone (eval mode, no gradients),
fits the UI centre ``u`` from the UI set as training does (:class:`~recognizability.nn.UICenter`) and returns
:func:`~recognizability.metrics.ui_cluster.ui_cluster_statistics` of ``d_UI = 1 - cos(v, u)`` (Eq. 2) against
the synthetic benchmark's severity and hard flags. Run on the pretrained backbone and again after fine-tuning,
it shows whether the premise of the method holds (hard faces near the UI centre) and what training did to it.
"""

from __future__ import annotations

import torch
from torch import Tensor

from recognizability.backbones.base import FaceBackbone
from recognizability.metrics.ui_cluster import UIClusterStatistics, ui_cluster_statistics
from recognizability.nn import UICenter

from ..data import ImageSet, prepare_batch
from ..method.guards import evaluation_mode

__all__ = ["backbone_ui_cluster", "embed_with_backbone", "has_ui_cluster_ground_truth", "ui_cluster"]


@torch.no_grad()
def embed_with_backbone(
    backbone: FaceBackbone, images: ImageSet, input_size: int, device: torch.device, batch_size: int = 256
) -> Tensor:
    """Embeddings ``v`` (N, D) float32 of every image of ``images`` (eval mode, restored afterwards)."""
    if len(images) == 0:
        raise ValueError("expected a non-empty image set to embed, got 0 images")
    out = []
    with evaluation_mode(backbone):
        for start in range(0, len(images), batch_size):
            x = images.images[start : start + batch_size].to(device)
            out.append(backbone(prepare_batch(x, input_size, backbone)).float())
    return torch.cat(out)


def has_ui_cluster_ground_truth(faces: ImageSet) -> bool:
    """Whether ``faces`` carry what Fig. 1's statistics compare with: synthetic severity and hard flags, with
    hard and not-hard faces both present."""
    hard = faces.hard
    return faces.severity is not None and hard is not None and 0 < int(hard.sum()) < len(hard)


def ui_cluster(embeddings: Tensor, center: UICenter, faces: ImageSet) -> UIClusterStatistics | None:
    """Fig. 1 statistics of ``faces`` embedded as ``embeddings`` (N, D) against the UI centre ``center``:
    :func:`~recognizability.metrics.ui_cluster.ui_cluster_statistics` of ``d_UI = 1 - cos(v, u)`` (Eq. 2)
    against the faces' severity and hard flags; None for faces without them
    (:func:`has_ui_cluster_ground_truth`: real datasets)."""
    if not has_ui_cluster_ground_truth(faces):
        return None
    assert faces.severity is not None and faces.hard is not None  # has_ui_cluster_ground_truth
    distance = 1.0 - center.cosine(embeddings.to(center.center.device)).cpu()
    return ui_cluster_statistics(distance, faces.severity, faces.hard)


def backbone_ui_cluster(
    backbone: FaceBackbone,
    faces: ImageSet,
    ui: ImageSet,
    input_size: int,
    device: torch.device | str = "cpu",
) -> UIClusterStatistics:
    """Fig. 1 figures of ``backbone`` on ``faces`` (which must carry synthetic severity and hard flags).

    Args:
        backbone: any library backbone (its train/eval mode is restored).
        faces: the faces to place (e.g. the VLR training set), with ``severity`` and ``hard``.
        ui: the UI set the centre is fitted from.
        input_size: the network input side.
        device: where to embed.
    """
    if not has_ui_cluster_ground_truth(faces):
        raise ValueError(
            "expected faces with ground-truth severity and hard flags, hard and not-hard faces both present "
            "(a synthetic tree), got a set without"
        )
    device = torch.device(device)
    center = UICenter(backbone.embedding_dim).to(device)
    center.fit(embed_with_backbone(backbone, ui, input_size, device))
    statistics = ui_cluster(embed_with_backbone(backbone, faces, input_size, device), center, faces)
    assert statistics is not None  # the ground truth was checked above
    return statistics
