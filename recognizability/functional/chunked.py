"""ArcFace and the two cosines of the Recognizability Index without a ``(B, C)`` tensor: the prototypes are
walked in chunks of columns.

For a million classes the dense head's ``(B, C)`` cosines, logits and their gradients dwarf the prototypes
themselves (``B = 512, C = 1e6``: 2 GB per float32 ``(B, C)`` tensor). The cross-entropy of ArcFace only
needs, per row, the log-sum-exp of the non-target logits and the target cosine; the index (paper Eq. 1-3)
only needs the target cosine and the largest non-target cosine. Those three ``(B,)`` reductions are computed
chunk by chunk with a running maximum and a running sum of exponentials (the streaming log-sum-exp); the
backward pass recomputes each chunk's cosines and never stores more than one ``(B, chunk_size)`` block.

The margin is applied afterwards to the ``(B,)`` target cosine by :func:`~recognizability.functional.
arcface_logits` itself, so the chunked loss is the dense one term for term:
``loss_i = logsumexp(s cos_j, j != y_i; t_i) - t_i`` with ``t_i = s cos(theta_{y_i} + m)`` (or its fallback).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .._validation import (
    check_floating,
    check_labels,
    check_nonempty,
    check_positive_float,
    check_positive_int,
    check_same_device,
    check_shape,
)
from ._autocast import common_float, float32_region
from .geometry import l2_normalize
from .margins import arcface_logits

__all__ = ["DEFAULT_CHUNK_SIZE", "check_chunk_size", "chunked_arcface"]

DEFAULT_CHUNK_SIZE = 16384
"""Prototypes per chunk: ``B = 512`` rows then take 32 MiB of float32 per ``(B, chunk)`` block. Smaller
chunks save little memory next to the ``(C, D)`` gradient and cost time (more, smaller operations)."""


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
    check_shape(embeddings, "embeddings", ("B", "D"))
    check_shape(prototypes, "prototypes", ("C", embeddings.shape[1]))
    check_floating(embeddings, "embeddings")
    check_floating(prototypes, "prototypes")
    check_same_device(prototypes, "prototypes", embeddings, "embeddings")
    check_nonempty(embeddings, "embeddings")
    if prototypes.shape[0] < 2:
        raise ValueError(
            "expected prototypes with at least 2 classes (the nearest negative needs one), "
            f"got shape ({prototypes.shape[0]}, {prototypes.shape[1]})"
        )
    check_positive_float(scale, "scale")
    chunk_size = check_chunk_size(chunk_size)
    index = check_labels(labels, prototypes.shape[0], embeddings.shape[0], embeddings, "embeddings")
    nontarget_lse, positive, nearest_negative = chunked_cosine_parts(
        embeddings, prototypes, index, float(scale), chunk_size
    )
    loss = arcface_loss_from_parts(nontarget_lse, positive, scale, margin).mean()
    return loss, positive, nearest_negative


def arcface_loss_from_parts(
    nontarget_lse: Tensor, positive_cosine: Tensor, scale: float, margin: float
) -> Tensor:
    """Per-sample ArcFace cross-entropy ``logsumexp(nontarget_lse, t) - t`` from its two row reductions.

    Args:
        nontarget_lse: ``(B,)`` ``log sum_{j != y} exp(s cos_j)``.
        positive_cosine: ``(B,)`` ``cos_y``; the target logit ``t = s cos(theta_y + m)`` (with the fallback
            for ``theta_y + m > pi``) is taken from :func:`arcface_logits` on this one column.
        scale: ``s``.
        margin: ``m``.

    Returns:
        ``(B,)`` cross-entropy per sample.
    """
    with float32_region(positive_cosine.device):
        zeros = torch.zeros(positive_cosine.shape[0], dtype=torch.long, device=positive_cosine.device)
        target = arcface_logits(positive_cosine.unsqueeze(1), zeros, scale=scale, margin=margin).squeeze(1)
        return torch.logaddexp(nontarget_lse.to(target.dtype), target) - target


def chunked_cosine_parts(
    embeddings: Tensor, prototypes: Tensor, labels: Tensor, scale: float, chunk_size: int
) -> tuple[Tensor, Tensor, Tensor]:
    """The three row reductions of the scaled cosines, chunk by chunk (no argument checks).

    A label outside ``[0, C)`` means the sample's class is not among these prototypes (class-sharded use):
    every prototype is then a negative and the returned positive cosine is 0.

    Args:
        embeddings: ``(B, D)`` floating embeddings.
        prototypes: ``(C, D)`` floating prototypes on the same device.
        labels: ``(B,)`` int64 labels (values outside ``[0, C)`` allowed, see above).
        scale: ``s``.
        chunk_size: prototypes per chunk.

    Returns:
        ``(nontarget_lse, positive_cosine, nearest_negative_cosine)``, each ``(B,)``:
        ``log sum_{j != y} exp(s cos_j)`` (``-inf`` if there is no negative), ``cos_y`` (0 if ``y`` is not
        among the prototypes) and ``max_{j != y} cos_j`` (``-inf`` if there is no negative). Differentiable
        with respect to ``embeddings`` and ``prototypes``.
    """
    # Normalised once here (autograd differentiates it once); the prototypes are normalised chunk by chunk.
    unit_embeddings = l2_normalize(embeddings, dim=1).to(common_float(embeddings, prototypes))
    nontarget_lse, positive, nearest_negative = _ChunkedCosineParts.apply(  # type: ignore[no-untyped-call]
        unit_embeddings, prototypes, labels, scale, chunk_size
    )
    return nontarget_lse, positive, nearest_negative


def _unit_prototypes(chunk: Tensor, dtype: torch.dtype) -> Tensor:
    """``W_j / |W_j|`` of a chunk, as :func:`cosine_logits` normalises the prototypes."""
    return l2_normalize(chunk, dim=1).to(dtype)


def _chunk_columns(labels: Tensor, start: int, width: int) -> tuple[Tensor, Tensor]:
    """``(B, 1)`` column of each label inside the chunk ``[start, start + width)`` (clamped) and whether it
    is there, ``(B, 1)`` bool."""
    local = (labels - start).unsqueeze(1)
    inside = (local >= 0) & (local < width)
    return local.clamp(0, width - 1), inside


class _ChunkedCosineParts(torch.autograd.Function):
    """Streaming row reductions of ``s * cos(v_i, W_j)`` from unit embeddings; the backward recomputes the
    cosines chunk by chunk and differentiates the prototypes' normalisation chunk by chunk."""

    @staticmethod
    def forward(
        ctx: Any,
        unit_embeddings: Tensor,
        prototypes: Tensor,
        labels: Tensor,
        scale: float,
        chunk_size: int,
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
                target = cosine.gather(1, column)
                positive = torch.where(inside.squeeze(1), target.squeeze(1), positive)
                cosine.scatter_(1, column, target.masked_fill(inside, -torch.inf))  # negatives only now
                chunk_best, chunk_argmax = cosine.max(dim=1)
                better = chunk_best > nearest
                nearest = torch.where(better, chunk_best, nearest)
                nearest_class = torch.where(better, chunk_argmax + start, nearest_class)
                new_max = torch.maximum(running_max, chunk_best * scale)
                shift = torch.where(new_max > -torch.inf, new_max, 0.0)
                exponentials = torch.add(-shift.unsqueeze(1), cosine, alpha=scale).exp_()
                running_sum = running_sum * torch.exp(running_max - shift) + exponentials.sum(dim=1)
                running_max = new_max
            shift = torch.where(running_max > -torch.inf, running_max, 0.0)
            nontarget_lse = torch.log(running_sum) + shift
        ctx.save_for_backward(unit_embeddings, prototypes, labels, nontarget_lse, nearest_class)
        ctx.scale = scale
        ctx.chunk_size = chunk_size
        return nontarget_lse, positive, nearest

    @staticmethod
    def backward(
        ctx: Any,
        grad_lse: Tensor,
        grad_positive: Tensor,
        grad_nearest: Tensor,
    ) -> tuple[Tensor | None, Tensor | None, None, None, None]:
        unit_embeddings, prototypes, labels, nontarget_lse, nearest_class = ctx.saved_tensors
        scale: float = ctx.scale
        chunk_size: int = ctx.chunk_size
        need_embeddings, need_prototypes = ctx.needs_input_grad[:2]
        if not (need_embeddings or need_prototypes):
            return None, None, None, None, None
        dtype, device = unit_embeddings.dtype, unit_embeddings.device
        grad_embeddings = torch.zeros_like(unit_embeddings) if need_embeddings else None
        grad_prototypes = torch.empty_like(prototypes) if need_prototypes else None
        with float32_region(device):
            # d lse / d cos_j = s * exp(s cos_j - lse) for the non-target j; rows without a negative have
            # lse = -inf and no non-target column, so their shift only has to keep the arithmetic finite.
            shift = torch.where(nontarget_lse > -torch.inf, nontarget_lse, 0.0).unsqueeze(1)
            weight = (grad_lse.to(dtype) * scale).unsqueeze(1)
            target_grad = grad_positive.to(dtype).unsqueeze(1)
            nearest_grad = grad_nearest.to(dtype).unsqueeze(1)
            for start in range(0, prototypes.shape[0], chunk_size):
                with torch.set_grad_enabled(need_prototypes):
                    chunk = prototypes[start : start + chunk_size].detach().requires_grad_(need_prototypes)
                    unit_chunk = _unit_prototypes(chunk, dtype)
                unit = unit_chunk.detach()
                cosine = torch.nn.functional.linear(unit_embeddings, unit)
                width = cosine.shape[1]
                grad_cosine = torch.add(-shift, cosine, alpha=scale).exp_().mul_(weight)
                del cosine
                column, inside = _chunk_columns(labels, start, width)
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
        return grad_embeddings, grad_prototypes, None, None, None
