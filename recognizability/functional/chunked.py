"""Margin heads and the two cosines of the Recognizability Index without a ``(B, C)`` tensor: the prototypes
are walked in chunks of columns.

For a million classes the dense head's ``(B, C)`` cosines, logits and their gradients dwarf the prototypes
themselves (``B = 512, C = 1e6``: 2 GB per float32 ``(B, C)`` tensor). The cross-entropy of a margin head only
needs, per row, the log-sum-exp of the non-target logits and the target cosine; the index (paper Eq. 1-3)
only needs the target cosine and the largest non-target cosine. Those three ``(B,)`` reductions are computed
chunk by chunk with a running maximum and a running sum of exponentials (the streaming log-sum-exp); the
backward pass recomputes each chunk's cosines and never stores more than a few ``(B, chunk_size)`` blocks.

The margin acts in two places, both elementwise, so neither needs the whole row:

* the target logit ``t_i`` is a function of the ``(B,)`` target cosine (ArcFace: ``s cos(theta_y + m)``),
  applied after the walk by the caller;
* the non-target logits are ``s cos_j`` for most margins; a margin that changes them (CurricularFace's hard
  negatives, AdaFace's clamp) hands an elementwise ``negative_logits`` to the walk, with its per-row
  constants already in it.

The loss is then the dense one term for term: ``loss_i = logsumexp(non-target logits; t_i) - t_i``
(:func:`margin_cross_entropy`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from .._validation import check_labels, check_positive_float, check_positive_int
from ._autocast import common_float, float32_region
from ._heads import arcface_target_logits, check_embeddings_and, check_margin
from .geometry import l2_normalize

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "NegativeLogits",
    "check_chunk_size",
    "chunked_arcface",
    "chunked_cosine_parts",
    "label_cosine",
    "margin_cross_entropy",
]

DEFAULT_CHUNK_SIZE = 16384
"""Prototypes per chunk: ``B = 512`` rows then take 32 MiB of float32 per ``(B, chunk)`` block. Smaller
chunks save little memory next to the ``(C, D)`` gradient and cost time (more, smaller operations)."""

#: The non-target logits of a margin from a ``(B, k)`` block of pre-margin cosines: elementwise, a fresh
#: ``(B, k)`` tensor, differentiable in the block only (per-row constants such as CurricularFace's threshold
#: are captured detached). ``None`` where it is ``s * cos`` (most margins).
NegativeLogits = Callable[[Tensor], Tensor]


def check_chunk_size(chunk_size: object, name: str = "chunk_size") -> int:
    """Check a chunk size is a positive ``int`` and return it (:func:`check_positive_int`)."""
    return check_positive_int(chunk_size, name)


def chunked_arcface(
    embeddings: Tensor,
    prototypes: Tensor,
    labels: Tensor,
    scale: float = 64.0,
    margin: float = 0.45,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> tuple[Tensor, Tensor, Tensor]:
    """ArcFace cross-entropy and the index's two cosines, walking the prototypes ``chunk_size`` at a time.

    Equal (to rounding) in value and gradient to :func:`cosine_logits` + :func:`arcface_logits` +
    ``cross_entropy`` + the gather and top-2 of :func:`~recognizability.functional.recognizability_index`,
    but no ``(B, C)`` tensor is ever stored: peak extra memory is one ``(B, chunk_size)`` block besides the
    ``(C, D)`` gradient of the prototypes. The backward pass recomputes the cosines chunk by chunk (one more
    matrix product than the dense head).

    Args:
        embeddings: ``(B, D)`` embeddings ``v`` (any scale).
        prototypes: ``(C, D)`` class prototypes ``W`` (any scale), ``C >= 2``.
        labels: ``(B,)`` integer labels in ``[0, C)``.
        scale: ``s > 0`` (paper Table 5: 64).
        margin: ``m`` in radians, ``0 <= m < pi`` (paper Table 5: 0.45).
        chunk_size: prototypes per chunk.

    Returns:
        ``(loss, positive_cosine, nearest_negative_cosine)``: the float32 scalar mean cross-entropy ``L_cls``,
        the ``(B,)`` pre-margin ``cos_y`` and the ``(B,)`` ``max_{j != y} cos_j`` (paper Eq. 1); float64 if
        an input is float64. All three are differentiable.
    """
    check_embeddings_and(embeddings, prototypes, "prototypes", ("C",))
    if prototypes.shape[0] < 2:
        raise ValueError(
            "expected prototypes with at least 2 classes (the nearest negative needs one), "
            f"got shape ({prototypes.shape[0]}, {prototypes.shape[1]})"
        )
    scale = check_positive_float(scale, "scale")
    margin = check_margin(margin)
    chunk_size = check_chunk_size(chunk_size)
    index = check_labels(labels, prototypes.shape[0], embeddings.shape[0], embeddings, "embeddings")
    nontarget_lse, positive, nearest_negative = chunked_cosine_parts(
        embeddings, prototypes, index, scale, chunk_size
    )
    with float32_region(positive.device):
        target = arcface_target_logits(positive, scale, margin)
    return margin_cross_entropy(nontarget_lse, target).mean(), positive, nearest_negative


def margin_cross_entropy(nontarget_lse: Tensor, target_logits: Tensor) -> Tensor:
    """Per-sample cross-entropy ``logsumexp(nontarget_lse, t) - t`` of a margin head from its two row
    reductions: ``-log softmax`` of the target logit ``t`` among ``t`` and the non-target logits.

    Args:
        nontarget_lse: ``(B,)`` ``log sum_{j != y} exp(z_j)`` of the non-target logits (``-inf`` for none).
        target_logits: ``(B,)`` target logits ``t`` (the margin's, e.g. ``s cos(theta_y + m)``).

    Returns:
        ``(B,)`` cross-entropy per sample, in the dtype of ``target_logits``.
    """
    with float32_region(target_logits.device):
        return torch.logaddexp(nontarget_lse.to(target_logits.dtype), target_logits) - target_logits


def chunked_cosine_parts(
    embeddings: Tensor,
    prototypes: Tensor,
    labels: Tensor,
    scale: float,
    chunk_size: int,
    negative_logits: NegativeLogits | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """The three row reductions of a margin head, chunk by chunk (no argument checks).

    A label outside ``[0, C)`` means the sample's class is not among these prototypes (class-sharded use):
    every prototype is then a negative and the returned positive cosine is 0.

    Args:
        embeddings: ``(B, D)`` floating embeddings.
        prototypes: ``(C, D)`` floating prototypes on the same device.
        labels: ``(B,)`` int64 labels (values outside ``[0, C)`` allowed, see above).
        scale: ``s``: the non-target logits are ``s cos_j`` unless ``negative_logits`` is given.
        chunk_size: prototypes per chunk.
        negative_logits: the margin's non-target logits of a ``(B, k)`` block of cosines
            (:data:`NegativeLogits`), or ``None`` for ``s cos_j``.

    Returns:
        ``(nontarget_lse, positive_cosine, nearest_negative_cosine)``, each ``(B,)``:
        ``log sum_{j != y} exp(z_j)`` of the non-target logits ``z_j`` (``-inf`` if there is no negative),
        ``cos_y`` (0 if ``y`` is not among the prototypes) and ``max_{j != y} cos_j`` (``-inf`` if there is no
        negative). Differentiable with respect to ``embeddings`` and ``prototypes``.
    """
    # Normalised once here (autograd differentiates it once); the prototypes are normalised chunk by chunk.
    unit_embeddings = l2_normalize(embeddings, dim=1).to(common_float(embeddings, prototypes))
    nontarget_lse, positive, nearest_negative = _ChunkedCosineParts.apply(  # type: ignore[no-untyped-call]
        unit_embeddings, prototypes, labels, scale, chunk_size, negative_logits
    )
    return nontarget_lse, positive, nearest_negative


def label_cosine(embeddings: Tensor, prototypes: Tensor, labels: Tensor) -> Tensor:
    """The pre-margin cosine ``cos_y`` of each embedding with its own class prototype, detached, from the
    ``B`` prototype rows of the labels alone (no checks; no ``(B, C)`` tensor, no ``(C, D)`` gradient).

    For margins whose running statistic or non-target logits need ``cos_y`` before the prototypes are walked
    (CurricularFace's ``t`` and hard-negative threshold). A label outside ``[0, C)`` (a class of another
    shard) gives 0.

    Args:
        embeddings: ``(B, D)`` floating embeddings (any scale).
        prototypes: ``(C, D)`` prototypes (any scale).
        labels: ``(B,)`` int64 labels.

    Returns:
        ``(B,)`` float32 cosines (float64 if an input is float64).
    """
    with torch.no_grad(), float32_region(embeddings.device):
        dtype = common_float(embeddings, prototypes)
        classes = prototypes.shape[0]
        owned = (labels >= 0) & (labels < classes)
        rows = prototypes.index_select(0, labels.clamp(0, classes - 1))
        unit_embeddings = l2_normalize(embeddings, dim=1).to(dtype)
        cosine = (unit_embeddings * l2_normalize(rows, dim=1).to(dtype)).sum(dim=1)
        return torch.where(owned, cosine, 0.0)


def _unit_prototypes(chunk: Tensor, dtype: torch.dtype) -> Tensor:
    """``W_j / |W_j|`` of a chunk, as :func:`cosine_logits` normalises the prototypes."""
    return l2_normalize(chunk, dim=1).to(dtype)


def _chunk_columns(labels: Tensor, start: int, width: int) -> tuple[Tensor, Tensor]:
    """``(B, 1)`` column of each label inside the chunk ``[start, start + width)`` (clamped) and whether it
    is there, ``(B, 1)`` bool."""
    local = (labels - start).unsqueeze(1)
    inside = (local >= 0) & (local < width)
    return local.clamp(0, width - 1), inside


def _without_target(block: Tensor, column: Tensor, inside: Tensor, fill: float) -> Tensor:
    """``block`` with each row's target entry (where ``inside``) set to ``fill``, in place."""
    return block.scatter_(1, column, block.gather(1, column).masked_fill(inside, fill))


class _ChunkedCosineParts(torch.autograd.Function):
    """Streaming row reductions of the non-target logits ``z_j = phi(cos(v_i, W_j))`` (``phi(c) = s c``
    unless the margin gives its own) from unit embeddings; the backward recomputes the cosines chunk by chunk,
    differentiates ``phi`` on each block (a vector-Jacobian product of the elementwise map) and the
    prototypes' normalisation chunk by chunk."""

    @staticmethod
    def forward(
        ctx: Any,
        unit_embeddings: Tensor,
        prototypes: Tensor,
        labels: Tensor,
        scale: float,
        chunk_size: int,
        negative_logits: NegativeLogits | None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        batch, num_classes = unit_embeddings.shape[0], prototypes.shape[0]
        dtype, device = unit_embeddings.dtype, unit_embeddings.device
        with float32_region(device):
            running_max = torch.full((batch,), -torch.inf, dtype=dtype, device=device)
            running_sum = torch.zeros(batch, dtype=dtype, device=device)
            positive = torch.zeros(batch, dtype=dtype, device=device)
            nearest = torch.full((batch,), -torch.inf, dtype=dtype, device=device)
            nearest_class = torch.zeros(batch, dtype=torch.long, device=device)
            for start in range(0, num_classes, chunk_size):
                chunk = _unit_prototypes(prototypes[start : start + chunk_size], dtype)
                cosine = torch.nn.functional.linear(unit_embeddings, chunk)  # fresh (B, k) block
                column, inside = _chunk_columns(labels, start, cosine.shape[1])
                positive = torch.where(inside.squeeze(1), cosine.gather(1, column).squeeze(1), positive)
                logits = None if negative_logits is None else negative_logits(cosine)
                _without_target(cosine, column, inside, -torch.inf)  # negatives only now
                chunk_best, chunk_argmax = cosine.max(dim=1)
                better = chunk_best > nearest
                nearest = torch.where(better, chunk_best, nearest)
                nearest_class = torch.where(better, chunk_argmax + start, nearest_class)
                if logits is None:
                    new_max = torch.maximum(running_max, chunk_best * scale)
                    shift = torch.where(new_max > -torch.inf, new_max, 0.0)
                    exponentials = torch.add(-shift.unsqueeze(1), cosine, alpha=scale).exp_()
                else:
                    _without_target(logits, column, inside, -torch.inf)
                    new_max = torch.maximum(running_max, logits.max(dim=1).values)
                    shift = torch.where(new_max > -torch.inf, new_max, 0.0)
                    exponentials = logits.sub_(shift.unsqueeze(1)).exp_()
                running_sum = running_sum * torch.exp(running_max - shift) + exponentials.sum(dim=1)
                running_max = new_max
            shift = torch.where(running_max > -torch.inf, running_max, 0.0)
            nontarget_lse = torch.log(running_sum) + shift
        ctx.save_for_backward(unit_embeddings, prototypes, labels, nontarget_lse, nearest_class)
        ctx.scale = scale
        ctx.chunk_size = chunk_size
        ctx.negative_logits = negative_logits
        return nontarget_lse, positive, nearest

    @staticmethod
    def backward(
        ctx: Any,
        grad_lse: Tensor,
        grad_positive: Tensor,
        grad_nearest: Tensor,
    ) -> tuple[Tensor | None, Tensor | None, None, None, None, None]:
        unit_embeddings, prototypes, labels, nontarget_lse, nearest_class = ctx.saved_tensors
        scale: float = ctx.scale
        chunk_size: int = ctx.chunk_size
        negative_logits: NegativeLogits | None = ctx.negative_logits
        need_embeddings, need_prototypes = ctx.needs_input_grad[:2]
        if not (need_embeddings or need_prototypes):
            return None, None, None, None, None, None
        dtype, device = unit_embeddings.dtype, unit_embeddings.device
        grad_embeddings = torch.zeros_like(unit_embeddings) if need_embeddings else None
        grad_prototypes = torch.empty_like(prototypes) if need_prototypes else None
        with float32_region(device):
            # d lse / d z_j = exp(z_j - lse) for the non-target j; rows without a negative have lse = -inf
            # and no non-target column, so their shift only has to keep the arithmetic finite.
            shift = torch.where(nontarget_lse > -torch.inf, nontarget_lse, 0.0).unsqueeze(1)
            lse_grad = grad_lse.to(dtype).unsqueeze(1)
            target_grad = grad_positive.to(dtype).unsqueeze(1)
            nearest_grad = grad_nearest.to(dtype).unsqueeze(1)
            for start in range(0, prototypes.shape[0], chunk_size):
                with torch.set_grad_enabled(need_prototypes):
                    chunk = prototypes[start : start + chunk_size].detach().requires_grad_(need_prototypes)
                    unit_chunk = _unit_prototypes(chunk, dtype)
                unit = unit_chunk.detach()
                cosine = torch.nn.functional.linear(unit_embeddings, unit)
                width = cosine.shape[1]
                column, inside = _chunk_columns(labels, start, width)
                if negative_logits is None:  # d z / d cos = s
                    grad_cosine = torch.add(-shift, cosine, alpha=scale).exp_().mul_(lse_grad * scale)
                else:
                    grad_cosine = _negative_logits_backward(negative_logits, cosine, shift, lse_grad)
                del cosine
                # the target column: not a negative, its gradient is the positive cosine's
                grad_cosine.scatter_(
                    1, column, torch.where(inside, target_grad, grad_cosine.gather(1, column))
                )
                nearest_column, nearest_inside = _chunk_columns(nearest_class, start, width)
                grad_cosine.scatter_add_(1, nearest_column, nearest_grad.masked_fill(~nearest_inside, 0.0))
                if grad_embeddings is not None:
                    grad_embeddings.addmm_(grad_cosine, unit)  # (B, k) @ (k, D)
                if grad_prototypes is not None:
                    grad_unit = grad_cosine.t().mm(unit_embeddings)  # (k, B) @ (B, D)
                    (grad_chunk,) = torch.autograd.grad(unit_chunk, chunk, grad_unit)
                    grad_prototypes[start : start + width] = grad_chunk
        return grad_embeddings, grad_prototypes, None, None, None, None


def _negative_logits_backward(
    negative_logits: NegativeLogits, cosine: Tensor, shift: Tensor, lse_grad: Tensor
) -> Tensor:
    """``d lse / d cos_j = exp(z_j - lse) phi'(cos_j)`` on a block, times the incoming ``lse_grad``: the
    vector-Jacobian product of the elementwise ``phi`` (the target column's entry is overwritten by the
    caller)."""
    with torch.enable_grad():
        block = cosine.detach().requires_grad_()
        logits = negative_logits(block)
    weights = (logits.detach() - shift).exp_().mul_(lse_grad)
    (grad_cosine,) = torch.autograd.grad(logits, block, weights)
    return grad_cosine
