"""A class-sharded head in a training checkpoint: one shard per process in memory, the whole head on disk.

With ``--head-parallel sharded`` process ``r`` of ``W`` holds the prototypes of its classes only
(:class:`~recognizability.nn.ShardedMarginHead`), and Adam holds their moments beside them. A checkpoint holds
the whole head instead: at save time every shard, and every optimiser tensor shaped like it, travels to the
main process (:meth:`~recognizability.nn.ShardedMarginHead.gather_rows`, one shard at a time), which writes
them as the head of a one-process run over all ``C`` classes (``weight`` ``(C, D)``, class range
``[0, C)``). So

* ``last.pt`` is one atomically written file, like any other run's;
* ``--resume`` works with any number of processes: each cuts its rows out of the whole head
  (:func:`shard_checkpoint`) before the checkpoint is checked against its model and loaded;
* ``recognizability quality`` and :func:`~recognizability.deploy.load_trained_model` read it in one process,
  where the head is a one-process ``ShardedMarginHead`` holding every class.

Cost: while writing, the main process holds the head's whole parameter and its two Adam moments on its CPU,
``3 C D`` floats (5.7 GiB at ``C = 1e6``, ``D = 512``; docs/scale.md), and the file is that large.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import Tensor, nn

from recognizability.nn import ShardedMarginHead
from recognizability.nn.sharded import shard_state

from .checkpoint import TrainingCheckpoint, unwrap_model

__all__ = ["checkpoint_states", "shard_checkpoint", "sharded_heads"]

_EXTRA_STATE = "_extra_state"


def sharded_heads(model: nn.Module) -> list[tuple[str, ShardedMarginHead]]:
    """``(state-dict prefix, head)`` of each class-sharded head in ``model`` (usually ``("head.", head)``)."""
    return [
        (f"{name}." if name else "", module)
        for name, module in unwrap_model(model).named_modules()
        if isinstance(module, ShardedMarginHead)
    ]


def _optimizer_index(optimizer: torch.optim.Optimizer, parameter: Tensor) -> int | None:
    """The key of ``parameter`` in ``optimizer.state_dict()["state"]`` (parameters are numbered in the order
    of the groups), or None when no group holds it."""
    index = 0
    seen: dict[int, int] = {}
    for group in optimizer.param_groups:
        for p in group["params"]:
            if id(p) not in seen:
                seen[id(p)] = index
                index += 1
    return seen.get(id(parameter))


def _whole_head_state(head: ShardedMarginHead) -> dict[str, int]:
    """The class range that a one-process head over every class saves, as a whole head in a checkpoint."""
    return shard_state(head.num_classes, 0, head.num_classes)


def checkpoint_states(
    model: nn.Module, optimizer: torch.optim.Optimizer
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The model and optimiser state dicts a checkpoint stores.

    Without a class-sharded head (or in one process): ``model.state_dict()`` and ``optimizer.state_dict()``.
    With one, on ``W > 1`` processes, this is a collective (every process calls it, at the same point): on
    the main process (rank 0 of the head's group) each sharded head's ``weight`` and the optimiser tensors
    shaped like it (Adam's ``exp_avg``, ``exp_avg_sq``) are replaced by the whole ``(C, D)`` tensors on the
    CPU, and the head's class range by ``[0, C)``; the other processes get their own states back unchanged
    and must not write them.
    """
    model_state = unwrap_model(model).state_dict()
    optimizer_state = optimizer.state_dict()
    for prefix, head in sharded_heads(model):
        if head.world_size == 1:
            continue
        whole = head.gather_rows(head.weight)
        index = _optimizer_index(optimizer, head.weight)
        moments = {} if index is None else optimizer_state["state"].get(index, {})
        gathered_moments = {
            key: head.gather_rows(value)
            for key, value in sorted(moments.items())
            if isinstance(value, Tensor) and value.shape == head.weight.shape
        }  # the same keys, in the same order, on every process: the same steps were taken everywhere
        if whole is None:  # not the main process: it writes nothing
            continue
        model_state[prefix + "weight"] = whole
        model_state[prefix + _EXTRA_STATE] = _whole_head_state(head)
        if index is not None and gathered_moments:
            optimizer_state["state"][index] = {**moments, **gathered_moments}
    return model_state, optimizer_state


def shard_checkpoint(
    checkpoint: TrainingCheckpoint, model: nn.Module, optimizer: torch.optim.Optimizer | None = None
) -> TrainingCheckpoint:
    """``checkpoint`` with each whole class-sharded head cut to the rows of this process's shard.

    For every :class:`~recognizability.nn.ShardedMarginHead` of ``model`` whose stored head is whole (class
    range ``[0, C)``, ``weight`` ``(C, D)``: written by :func:`checkpoint_states` with any number of
    processes), the returned checkpoint holds this process's rows ``[class_start, class_end)`` of the weight
    and of the optimiser tensors shaped like it, and the shard's class range, so that it loads into this
    process's model and optimiser. Anything else is left as it was (and then fails, or passes, the usual
    checks of :func:`~recognizability.training.run.checkpoint.load_checkpoint`). ``checkpoint`` itself is not
    changed."""
    payload = checkpoint.payload
    model_state = dict(payload["model"])
    optimizer_state = payload["optimizer"]
    changed = False
    for prefix, head in sharded_heads(model):
        weight = model_state.get(prefix + "weight")
        if model_state.get(prefix + _EXTRA_STATE) != _whole_head_state(head) or not isinstance(
            weight, Tensor
        ):
            continue
        if tuple(weight.shape) != (head.num_classes, head.embedding_dim):
            continue
        if head.class_start == 0 and head.class_end == head.num_classes:
            continue  # this process holds every class: the whole head loads as it is
        model_state[prefix + "weight"] = head.local_rows(weight, f"{prefix}weight").clone()
        model_state[prefix + _EXTRA_STATE] = head.get_extra_state()
        index = None if optimizer is None else _optimizer_index(optimizer, head.weight)
        moments = optimizer_state.get("state", {}).get(index) if isinstance(optimizer_state, dict) else None
        if isinstance(moments, dict):
            cut = {
                key: head.local_rows(value, key).clone()
                if isinstance(value, Tensor) and value.shape == weight.shape
                else value
                for key, value in moments.items()
            }
            optimizer_state = {**optimizer_state, "state": {**optimizer_state["state"], index: cut}}
        changed = True
    if not changed:
        return checkpoint
    sharded = {**payload, "model": model_state, "optimizer": optimizer_state}
    return dataclasses.replace(checkpoint, payload=sharded)
