"""SER-FIQ on a face backbone: the stochastic passes of its last layers, all in one batched pass.

SER-FIQ (Terhörst et al., CVPR 2020) measures how much a face's embedding moves when random subnetworks of
the recognizer embed it: ``m`` forward passes with dropout active, the quality being
:func:`recognizability.metrics.serfiq_score` of the ``m`` embeddings. As the authors note, when the dropout
sits in the last layers only those need repeating; their released ArcFace implementation applies
``Dropout(0.5)`` to the flattened 512 x 7 x 7 feature map entering the embedding layer and repeats that layer
``m = 100`` times. Here the same is done for any library backbone: the trunk runs once
(``forward_features`` -> F), then F is repeated ``m`` times, dropped out with probability ``dropout`` and run
through ``forward_head`` with the backbone in eval mode (batch norm frozen, the backbone's own dropout off).
There is no Python loop over images or passes: the ``(B * m)`` repeated rows go through the head in chunks
of at most ``max_elements`` feature values, so the memory stays bounded whatever ``B`` and ``m``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from recognizability._validation import check_float_in_range, check_positive_int
from recognizability.metrics import serfiq_score
from recognizability.training.method.guards import evaluation_mode

__all__ = [
    "SERFIQ_DROPOUT",
    "SERFIQ_PASSES",
    "serfiq_quality_of_backbone",
    "stochastic_embeddings",
]

#: Stochastic passes per image: SER-FIQ's m = 100.
SERFIQ_PASSES = 100
#: Dropout on the head's input: the authors' ArcFace implementation's 0.5.
SERFIQ_DROPOUT = 0.5
#: Feature values dropped out and run through the head at once (128 MiB of float32).
_MAX_ELEMENTS = 1 << 25


def _check_backbone_and_features(backbone: object, feature_map: object) -> tuple[nn.Module, Tensor]:
    if not isinstance(backbone, nn.Module) or not callable(getattr(backbone, "forward_head", None)):
        raise TypeError(
            "expected backbone to be a library face backbone (with forward_head), got "
            f"{type(backbone).__name__}"
        )
    if not isinstance(feature_map, Tensor):
        raise TypeError(f"expected feature_map to be a torch.Tensor, got {type(feature_map).__name__}")
    if feature_map.dim() != 4 or not feature_map.is_floating_point():
        raise ValueError(
            f"expected feature_map of shape (B, C, h, w), floating point (backbone.forward_features), got "
            f"shape {tuple(feature_map.shape)} and dtype {feature_map.dtype}"
        )
    return backbone, feature_map


@torch.no_grad()
def stochastic_embeddings(
    backbone: nn.Module,
    feature_map: Tensor,
    *,
    passes: int = SERFIQ_PASSES,
    dropout: float = SERFIQ_DROPOUT,
    generator: torch.Generator | None = None,
    max_elements: int = _MAX_ELEMENTS,
) -> Tensor:
    """``passes`` embeddings of each image through the backbone's head with dropout on its input.

    Row ``r`` of the repeated batch is image ``r // passes``; its keep-mask is drawn with ``torch.rand`` in
    row order, so on the CPU the result does not depend on ``max_elements`` for a given generator state. Every
    module's train/eval mode is restored afterwards.

    Args:
        backbone: a library face backbone (``forward_head``).
        feature_map: ``(B, C, h, w)``: ``backbone.forward_features(images)``.
        passes: m >= 2.
        dropout: drop probability in [0, 1) (inverted dropout: kept values scaled by ``1 / (1 - dropout)``).
        generator: the random stream (on the feature map's device; None: torch's default).
        max_elements: feature values per chunk (memory bound).

    Returns:
        ``(B, passes, D)`` float32 embeddings (un-normalised).
    """
    backbone, feature_map = _check_backbone_and_features(backbone, feature_map)
    passes = check_positive_int(passes, "passes", minimum=2)
    dropout = check_float_in_range(dropout, "dropout", 0, 1, high_closed=False)
    max_elements = check_positive_int(max_elements, "max_elements")
    batch = feature_map.shape[0]
    flat = feature_map.flatten(1)
    features = flat.shape[1]
    rows = batch * passes
    per_chunk = max(1, max_elements // max(1, features))
    chunks: list[Tensor] = []
    with evaluation_mode(backbone):
        for start in range(0, rows, per_chunk):
            stop = min(rows, start + per_chunk)
            images = torch.arange(start, stop, device=flat.device) // passes
            repeated = flat.index_select(0, images)
            if dropout > 0:
                uniform = torch.rand(repeated.shape, generator=generator, device=flat.device)
                repeated = torch.where(uniform >= dropout, repeated / (1.0 - dropout), 0.0)
            head = repeated.view(stop - start, *feature_map.shape[1:])
            chunks.append(backbone.forward_head(head).float())  # type: ignore[operator]
    if not chunks:
        embedding_dim = int(getattr(backbone, "embedding_dim", 0))
        return feature_map.new_zeros((0, passes, embedding_dim), dtype=torch.float32)
    return torch.cat(chunks).view(batch, passes, -1)


def serfiq_quality_of_backbone(
    backbone: nn.Module,
    feature_map: Tensor,
    *,
    passes: int = SERFIQ_PASSES,
    dropout: float = SERFIQ_DROPOUT,
    generator: torch.Generator | None = None,
    max_elements: int = _MAX_ELEMENTS,
) -> Tensor:
    """SER-FIQ quality ``(B,)`` of the images whose feature map is ``feature_map``:
    :func:`~recognizability.metrics.serfiq_score` of :func:`stochastic_embeddings` (same arguments)."""
    runs = stochastic_embeddings(
        backbone, feature_map, passes=passes, dropout=dropout, generator=generator, max_elements=max_elements
    )
    return serfiq_score(runs)
