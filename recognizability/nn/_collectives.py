"""Autograd-aware collectives of the class-sharded heads. Their backward passes are the exact adjoints: the
gradient of an all-gather is the sum over processes of the gathered gradient, restricted to this process's
part; the gradient of an all-reduce SUM is the all-reduce SUM of the gradients."""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ["all_gather", "all_reduce_sum", "scale_gradient"]


class _AllGather(torch.autograd.Function):
    """Concatenate along dim 0 the equally sized tensors of all processes (rank order)."""

    @staticmethod
    def forward(ctx: Any, tensor: Tensor, group: dist.ProcessGroup) -> Tensor:
        parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size(group))]
        dist.all_gather(parts, tensor.contiguous(), group=group)
        ctx.group = group
        ctx.rows = tensor.shape[0]
        return torch.cat(parts)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        total = grad.contiguous().clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM, group=ctx.group)
        start = dist.get_rank(ctx.group) * ctx.rows
        return total[start : start + ctx.rows], None


class _AllReduceSum(torch.autograd.Function):
    """Element-wise sum of the tensors of all processes."""

    @staticmethod
    def forward(ctx: Any, tensor: Tensor, group: dist.ProcessGroup) -> Tensor:
        total = tensor.clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM, group=group)
        ctx.group = group
        return total

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        total = grad.contiguous().clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM, group=ctx.group)
        return total, None


class _ScaleGradient(torch.autograd.Function):
    """Identity whose backward multiplies the gradient by a constant."""

    @staticmethod
    def forward(ctx: Any, tensor: Tensor, factor: float) -> Tensor:
        ctx.factor = factor
        return tensor.view_as(tensor)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        return grad * ctx.factor, None


def all_gather(tensor: Tensor, group: dist.ProcessGroup) -> Tensor:
    gathered: Tensor = _AllGather.apply(tensor, group)  # type: ignore[no-untyped-call]
    return gathered


def all_reduce_sum(tensor: Tensor, group: dist.ProcessGroup) -> Tensor:
    total: Tensor = _AllReduceSum.apply(tensor, group)  # type: ignore[no-untyped-call]
    return total


def scale_gradient(tensor: Tensor, factor: float) -> Tensor:
    """``tensor`` itself, whose gradient is multiplied by ``factor`` on the way back."""
    scaled: Tensor = _ScaleGradient.apply(tensor, factor)  # type: ignore[no-untyped-call]
    return scaled
