"""Every margin head with options and starting statistics under which each part of its margin acts on small
test data (AdaFace's norm clip at both ends, CurricularFace's hard negatives, MagFace's norm-dependent
margin), built dense, chunked or sharded on the same prototypes; and what the tests compare between them."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from recognizability.nn import available_heads, build_head

__all__ = [
    "CASES",
    "HEAD_NAMES",
    "START",
    "brute_force_parts",
    "build",
    "near_prototypes",
    "objective",
    "statistics",
]

HEAD_NAMES = available_heads()

#: Options of each head: scale 16 keeps float32 rounding of the logits small; momenta of 0.5 make one step
#: move the statistics visibly; AdaFace's h = 1 and MagFace's norm bounds put the test embeddings' norms
#: (about 2 to 7) on both sides of their clips.
CASES: dict[str, dict[str, float]] = {
    "arcface": {"scale": 16.0, "margin": 0.5},
    "cosface": {"scale": 16.0, "margin": 0.35},
    "adaface": {"scale": 16.0, "margin": 0.4, "h": 1.0, "t_alpha": 0.5},
    "curricularface": {"scale": 16.0, "margin": 0.5, "t_momentum": 0.5},
    "magface": {"scale": 16.0, "lower_norm": 3.0, "upper_norm": 5.0, "lambda_g": 2.0},
}
#: Starting statistics near the test data: AdaFace's normalised norm then reaches both clips, and
#: CurricularFace's hard negatives are re-weighted by a t far from 0.
START: dict[str, dict[str, float]] = {
    "adaface": {"batch_mean": 4.0, "batch_std": 1.0},  # near the norms of the test data
    "curricularface": {"t": 0.3},
}


def near_prototypes(embeddings: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``embeddings`` with row 0 almost on a non-target prototype and row 1 almost on its own (cosines between
    1 - 1e-3 and 1 - 1e-5: AdaFace's clamp of every cosine acts; closer to 1 the index, ``1 / d_P``, would
    amplify the rounding of ``cos_y`` beyond what the tests compare)."""
    out = embeddings.clone()
    for row, label in ((0, (labels[0] + 1) % weight.shape[0]), (1, labels[1])):
        length = out[row].norm()
        out[row] = (weight[label] / weight[label].norm() + 0.012) * length
    return out


def build(name: str, weight: torch.Tensor, parallel: str = "none", **holder_options: Any) -> torch.nn.Module:
    """The head ``name`` over the prototypes ``weight`` ``(C, D)`` (a shard of them when sharded), in their
    dtype, in training mode, with the starting statistics."""
    classes, dim = weight.shape
    head = build_head(name, dim, classes, parallel=parallel, **CASES[name], **holder_options).to(weight.dtype)
    with torch.no_grad():
        if parallel == "sharded":
            head.load_full_weight(weight)
        else:
            head.weight.copy_(weight)
        for buffer, value in START.get(name, {}).items():
            getattr(head, buffer).fill_(value)
    return head.train()


def statistics(head: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The head's running statistics (its buffers), detached copies."""
    return {name: value.detach().clone() for name, value in head.named_buffers()}


def brute_force_parts(cosine: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``cos_y`` by a gather and ``max_{j != y} cos_j`` by a masked max of the whole cosine."""
    positive = cosine.gather(1, labels.unsqueeze(1)).squeeze(1)
    others = cosine.masked_fill(F.one_hot(labels, cosine.shape[1]).bool(), -math.inf)
    return positive, others.max(dim=1).values


def objective(
    loss: torch.Tensor, positive: torch.Tensor, nearest: torch.Tensor, a: torch.Tensor, b: torch.Tensor
) -> torch.Tensor:
    """Every output feeds it, so every gradient path (loss, both index parts) is compared."""
    return loss + (a * positive.sin()).sum() + (b * nearest.exp()).sum()
