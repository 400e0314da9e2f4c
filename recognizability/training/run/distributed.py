"""Multi-GPU training through ``torchrun`` and DistributedDataParallel, with the same script.

``torchrun --nproc_per_node=N examples/train_tinyface.py ...`` sets ``RANK``, ``LOCAL_RANK`` and
``WORLD_SIZE``; :func:`init_distributed` then joins the process group (NCCL on CUDA, gloo on CPU) and pins the
process to its GPU. Each process trains on its own shard of every epoch
(:class:`~recognizability.training.data.images.EpochBatches`) and, after ``backward``, the training loop
averages the gradients over the processes (:meth:`DistributedContext.average_replicas`): the update
DistributedDataParallel would make, written where the loop can see it, so the loop may call the backbone's
``forward_features`` and ``forward_head`` itself and a class-sharded head can keep its prototypes out of the
average. The same all-reduce averages the running statistics that training batches update (batch norm's
running mean and variance, AdaFace's and CurricularFace's), so every process keeps the same model. Run with
plain ``python`` (no ``RANK``/``WORLD_SIZE`` in the environment), the same code runs one process and never
touches ``torch.distributed``.

Only rank 0 writes checkpoints, reports and plots (:attr:`DistributedContext.is_main`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

__all__ = [
    "DistributedContext",
    "init_distributed",
    "launched_by_torchrun",
    "resolve_device",
    "running_statistics",
]


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands: ``rank`` of ``world_size`` processes, running on ``device``."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    #: launched by torchrun (a process group is joined), whatever world_size.
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

    def average_gradients(self, *modules: nn.Module) -> None:
        """Replace each gradient of ``modules`` by its mean over the processes (nothing in one process).

        Call after ``backward`` and before the optimiser step. Parameters without a gradient (the modules of
        switched-off loss terms) are skipped; every process runs the same configuration, so they are the same
        on every process. Gradients are flattened into one buffer per dtype and device, so a step costs one
        all-reduce per buffer.
        """
        if self.is_distributed:
            self._average(_gradients(modules))

    def average_replicas(self, *modules: nn.Module) -> None:
        """:meth:`average_gradients`, and the mean over the processes of the running statistics that the
        training batches updated (:func:`running_statistics`), in the same all-reduce.

        Every process then holds the same weights and the same statistics, as if one process had run the
        whole step: a running mean (batch norm's ``running_mean``, AdaFace's ``batch_mean``, CurricularFace's
        ``t``) is an average of per-batch means, so with equal batch sizes its mean over the processes is the
        running mean of the whole batch, exactly; batch norm's ``running_var`` becomes the mean of the
        processes' variances, which leaves out the spread of their batch means (DDP without SyncBatchNorm
        instead copies rank 0's statistics to every process before each forward pass). Call after
        ``backward`` and before the optimiser step.
        """
        if self.is_distributed:  # nothing to collect in one process
            self._average(_gradients(modules) + running_statistics(*modules))

    @torch.no_grad()
    def _average(self, tensors: list[torch.Tensor]) -> None:
        """Replace each tensor by its mean over the processes: one all-reduce per dtype and device."""
        buckets: dict[tuple[torch.dtype, torch.device], list[torch.Tensor]] = {}
        for tensor in tensors:
            buckets.setdefault((tensor.dtype, tensor.device), []).append(tensor)
        for group in buckets.values():
            flat = torch.cat([t.reshape(-1) for t in group])
            dist.all_reduce(flat, op=dist.ReduceOp.SUM)
            flat /= self.world_size
            offset = 0
            for t in group:
                t.copy_(flat[offset : offset + t.numel()].view_as(t))
                offset += t.numel()


def _gradients(modules: tuple[nn.Module, ...]) -> list[torch.Tensor]:
    """The gradients of the parameters of ``modules``, each parameter once (shared ones too)."""
    seen: set[int] = set()
    grads: list[torch.Tensor] = []
    for module in modules:
        for parameter in module.parameters():
            if parameter.grad is not None and id(parameter) not in seen:
                seen.add(id(parameter))
                grads.append(parameter.grad)
    return grads


def running_statistics(*modules: nn.Module) -> list[torch.Tensor]:
    """The buffers that a training-mode forward pass updates from its batch, in the submodules of ``modules``
    that are in training mode: batch norm's ``running_mean`` and ``running_var`` (layers that track them), and
    the buffers a module names in its ``running_statistics`` attribute (a margin head's statistics: AdaFace's
    ``batch_mean`` and ``batch_std``, CurricularFace's ``t``, dense or chunked). Frozen batch norm (eval mode)
    and fitted buffers (the UI centre) are left out: they are the same on every process. Each buffer once, in
    module order."""
    seen: set[int] = set()
    found: list[torch.Tensor] = []
    for module in modules:
        for submodule in module.modules():
            if not submodule.training:
                continue
            names: tuple[str, ...] = getattr(submodule, "running_statistics", ())
            if isinstance(submodule, nn.modules.batchnorm._NormBase) and submodule.track_running_stats:
                names = ("running_mean", "running_var")
            for name in names:
                buffer = getattr(submodule, name, None)
                if isinstance(buffer, torch.Tensor) and buffer.is_floating_point() and id(buffer) not in seen:
                    seen.add(id(buffer))
                    found.append(buffer)
    return found


def resolve_device(device: str | torch.device | None, name: str = "--device") -> torch.device:
    """``device`` as a ``torch.device`` this process can use; None: CUDA when available, else the CPU.

    Raises:
        TypeError: not a str, torch.device or None.
        ValueError: not a device name (``cpu``, ``cuda``, ``cuda:N``), CUDA asked for but not available, or
            a CUDA index beyond the visible devices; the message names ``name`` and the value.
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"expected {name} to be a device name such as 'cpu' or 'cuda:0', got {device!r}")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise ValueError(f"expected {name} to be cpu, cuda or cuda:N, got {str(device)!r}") from None
    if resolved.type not in ("cpu", "cuda"):
        raise ValueError(f"expected {name} to be cpu, cuda or cuda:N, got {str(device)!r}")
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"expected an available device for {name}, got {str(device)!r} but CUDA is not available "
                f"(this torch {'has no CUDA support' if torch.version.cuda is None else 'sees no GPU'}); "
                f"use {name} cpu"
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(
                f"expected {name} to name one of the {torch.cuda.device_count()} visible CUDA devices, got "
                f"{str(device)!r}"
            )
    return resolved


def launched_by_torchrun() -> bool:
    """Whether this process was started by ``torchrun`` (which sets ``RANK`` and ``WORLD_SIZE``), or is one of
    several processes (``WORLD_SIZE`` > 1)."""
    return ("RANK" in os.environ and "WORLD_SIZE" in os.environ) or int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_distributed(device: str | torch.device | None = None) -> DistributedContext:
    """Join the ``torchrun`` process group when launched by it; otherwise a single-process context.

    Args:
        device: "cpu", "cuda", "cuda:1", ... or None (CUDA when available, else CPU). Under ``torchrun`` with
            CUDA the process uses ``cuda:<LOCAL_RANK>``.
    """
    launched = launched_by_torchrun()
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    resolved = resolve_device(device)
    if launched:
        if resolved.type == "cuda":
            resolved = torch.device("cuda", local_rank)
            torch.cuda.set_device(resolved)
        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if resolved.type == "cuda" else "gloo")
    return DistributedContext(rank, world_size, local_rank, resolved, launched)
