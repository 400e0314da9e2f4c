"""Multi-GPU training through ``torchrun`` and DistributedDataParallel, with the same script.

``torchrun --nproc_per_node=N examples/train_tinyface.py ...`` sets ``RANK``, ``LOCAL_RANK`` and
``WORLD_SIZE``; :func:`init_distributed` then joins the process group (NCCL on CUDA, gloo on CPU), pins the
process to its GPU, and the model is wrapped in DistributedDataParallel (even for N = 1, as torchrun asks).
Run with plain ``python`` (no ``RANK``/``WORLD_SIZE`` in the environment), the same code runs one process and
never touches ``torch.distributed``.

Only rank 0 writes checkpoints, reports and plots (:attr:`DistributedContext.is_main`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.utils.data import Dataset, DistributedSampler

__all__ = ["DistributedContext", "epoch_sampler", "init_distributed", "wrap_ddp"]


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands: ``rank`` of ``world_size`` processes, running on ``device``."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    #: launched by torchrun (a process group is joined and the model is DDP-wrapped), whatever world_size.
    launched: bool = False

    @property
    def is_distributed(self) -> bool:
        """True when the process is in a process group (launched by torchrun, even with one process)."""
        return self.launched or self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True on the one process that writes files and prints."""
        return self.rank == 0

    def barrier(self) -> None:
        if self.is_distributed:
            dist.barrier()

    def all_reduce_mean(self, value: torch.Tensor) -> torch.Tensor:
        """Mean of ``value`` over processes (identity in a single process)."""
        if not self.is_distributed:
            return value
        value = value.clone()
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
        return value / self.world_size


def init_distributed(device: str | torch.device | None = None) -> DistributedContext:
    """Join the ``torchrun`` process group when launched by it; otherwise a single-process context.

    Args:
        device: "cpu", "cuda", "cuda:1", ... or None (CUDA when available, else CPU). Under ``torchrun`` with
            CUDA the process uses ``cuda:<LOCAL_RANK>``.
    """
    launched = "RANK" in os.environ and "WORLD_SIZE" in os.environ  # set by torchrun
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device is None:
        resolved = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"expected an available device, got device={str(device)!r} but CUDA is not available"
        )
    if launched or world_size > 1:
        launched = True
        if resolved.type == "cuda":
            resolved = torch.device("cuda", local_rank)
            torch.cuda.set_device(resolved)
        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if resolved.type == "cuda" else "gloo")
    return DistributedContext(rank, world_size, local_rank, resolved, launched)


def epoch_sampler(
    dataset: Dataset[object], context: DistributedContext, seed: int, drop_last: bool = True
) -> DistributedSampler[object]:
    """A shuffling sampler whose order of epoch ``e`` depends only on ``(seed, e)`` (call ``set_epoch(e)``).

    ``DistributedSampler`` with one replica in a single process: the same class, so the data order of a
    1-process run is one function of (seed, epoch), which makes resume exact.
    """
    return DistributedSampler(
        dataset,
        num_replicas=context.world_size,
        rank=context.rank,
        shuffle=True,
        seed=seed,
        drop_last=drop_last,
    )


def wrap_ddp(model: torch.nn.Module, context: DistributedContext) -> torch.nn.Module:
    """Wrap in DistributedDataParallel when in a process group; else return ``model`` itself.

    ``find_unused_parameters=True`` because switched-off loss terms leave their modules without gradients.
    """
    if not context.is_distributed:
        return model
    device_ids = [context.device.index] if context.device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(
        model, device_ids=device_ids, find_unused_parameters=True
    )
