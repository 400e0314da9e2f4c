"""What the paper's explanatory figures show, computed for a trained run: the quality scores of faces (Fig. 6)
and class-activation maps of the recognition module and the perceptibility attention (Fig. 5).

- :func:`quality_scores`: per face, the learned index xi_hat (the perceptibility regression module), ERS
  (``1 - cos(v, u)``, the distance to the run's UI centre), the MagFace norm ``|v|`` and CR-FIQA's certainty
  ratio ``CCS / (NNCCS + 1)`` against the run's own class prototypes, the nearest one standing for the face's
  class (a folder of faces has no labels); higher is better for each.
- :func:`grad_cam`: Grad-CAM (Selvaraju et al., ICCV 2017, the paper's [37]) on the backbone's feature map
  ``F`` (B, C, h, w): the weight of channel k is the spatial mean of ``d score / d F_k``, the map is
  ``ReLU(sum_k weight_k F_k)``, upsampled bilinearly to the image and scaled to [0, 1] per image.
- :func:`activation_maps`: the score of a branch is the cosine of its embedding with the class prototype it is
  nearest to: ``v`` (the backbone's head, read by the margin head: "ArcFace's") or ``v_attn`` (the
  perceptibility attention module, Eq. 9, trained towards ``v`` with the UI direction projected out: the
  paper's "ours").
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from recognizability.functional import l2_normalize
from recognizability.metrics import crfiqa_quality, magface_quality
from recognizability.training import MethodModules
from recognizability.training.method import nearest_class

__all__ = ["BRANCHES", "activation_maps", "grad_cam", "prototypes_of", "quality_scores"]

#: The branches :func:`activation_maps` explains: the recognition module's embedding and the attention's.
BRANCHES: tuple[str, ...] = ("recognition", "attention")


def prototypes_of(model: MethodModules) -> Tensor:
    """The (C, D) class prototypes of the run's margin head, float32.

    Raises:
        ValueError: the head holds no (C, D) ``weight`` (a class-sharded head outside its process group holds
            all of them; a head of one's own may not).
    """
    weight = getattr(model.head, "weight", None)
    if not isinstance(weight, Tensor) or weight.dim() != 2 or weight.shape[0] < 2:
        got = "none" if not isinstance(weight, Tensor) else f"shape {tuple(weight.shape)}"
        raise ValueError(
            f"expected the margin head's class prototypes 'weight' of shape (C, D), C >= 2, got {got}"
        )
    return weight.detach().float()


@torch.no_grad()
def quality_scores(model: MethodModules, images: Tensor) -> dict[str, Tensor]:
    """Every quality score of normalised images (B, 3, S, S), higher = better: ``learned_index``
    (xi_hat), ``ers`` (1 - cos(v, u)), ``magface_norm`` (|v|) and ``crfiqa_nearest`` (CR-FIQA's ratio
    against the run's prototypes, the nearest one as the class); each (B,) float32 on the CPU. ``model``
    must be in eval mode."""
    embeddings, predicted = model.embed_and_score(images)
    v, xi_hat = embeddings.float(), predicted.float()
    prototypes = prototypes_of(model).to(v.device)
    nearest = nearest_class(v, model.head)
    return {
        "learned_index": xi_hat.cpu(),
        "ers": (1.0 - model.ui_center.cosine(v)).float().cpu(),
        "magface_norm": magface_quality(v).float().cpu(),
        "crfiqa_nearest": crfiqa_quality(v, nearest, prototypes).float().cpu(),
    }


def grad_cam(feature_map: Tensor, score: Tensor, size: tuple[int, int]) -> Tensor:
    """Grad-CAM maps of a scalar score per image, from its feature map.

    Args:
        feature_map: ``F`` (B, C, h, w), part of the graph that computed ``score``.
        score: (B,) one scalar per image; image b's score must depend on image b's feature map alone (eval
            mode: no batch statistics).
        size: (H, W) of the images the maps are drawn over.

    Returns:
        (B, H, W) float32 in [0, 1]: ``ReLU(sum_k alpha_k F_k)`` with ``alpha_k`` the spatial mean of
        ``d score / d F_k``, bilinearly upsampled, divided by its maximum (all zeros where it is 0).
    """
    if feature_map.dim() != 4 or score.shape != feature_map.shape[:1]:
        raise ValueError(
            f"expected feature_map (B, C, h, w) and score (B,), got {tuple(feature_map.shape)} and "
            f"{tuple(score.shape)}"
        )
    (gradient,) = torch.autograd.grad(score.sum(), feature_map)
    weights = gradient.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * feature_map).sum(dim=1, keepdim=True)).detach().float()
    cam = F.interpolate(cam, size=size, mode="bilinear", align_corners=False).squeeze(1)
    peak = cam.flatten(1).amax(dim=1).clamp_min(torch.finfo(torch.float32).tiny)
    return cam / peak[:, None, None]


def _branch(model: MethodModules, branch: str) -> Callable[[Tensor], Tensor]:
    if branch == "recognition":
        return lambda feature_map: model.backbone.forward_head(feature_map)
    if branch == "attention":
        return lambda feature_map: model.criterion.attention(feature_map)
    raise ValueError(f"expected branch to be one of {list(BRANCHES)}, got {branch!r}")


def activation_maps(model: MethodModules, images: Tensor, branch: str) -> Tensor:
    """Grad-CAM maps (B, H, W) in [0, 1] of normalised images (B, 3, H, W) for one branch of the run
    (:data:`BRANCHES`): the score is the cosine of the branch's embedding with the class prototype it is
    nearest to. ``model`` must be in eval mode; its parameters receive no gradient."""
    embed = _branch(model, branch)
    prototypes = l2_normalize(prototypes_of(model).to(images.device), dim=1)
    with torch.enable_grad():
        feature_map = model.backbone.forward_features(images).detach().requires_grad_(True)
        embedding = embed(feature_map).float()
        cosine = l2_normalize(embedding, dim=1) @ prototypes.T
        nearest = cosine.detach().argmax(dim=1, keepdim=True)
        score = cosine.gather(1, nearest).squeeze(1)
        return grad_cam(feature_map, score, (images.shape[-2], images.shape[-1]))
