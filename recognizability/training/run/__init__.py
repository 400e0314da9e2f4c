"""The run: everything around the training loop that is not the method.

This sub-package owns the :class:`Session` of one command (device, torchrun process group, CPU threads, data,
evaluation, the printed comparison), a :class:`TrainingRun` (checkpoint after every epoch, exact resume, the
history), the epoch meter, atomic checkpoints that are read without running code, the run folders that never
lose an earlier run, seeding, and the torchrun plumbing (averaging replicas, class-sharded heads on disk). It
reads every other sub-package of :mod:`recognizability.training`; only the command modules read it.
"""

from __future__ import annotations

from .checkpoint import (
    CheckpointError,
    TrainingCheckpoint,
    epoch_seed,
    load_checkpoint,
    read_training_checkpoint,
    save_checkpoint,
    seed_everything,
)
from .distributed import DistributedContext, init_distributed, resolve_device
from .meter import EpochMeter
from .run_dir import RunDir, prepare_run_dir
from .session import RunOptions, Session, TrainingResult, TrainingRun
from .sharded_heads import checkpoint_states, shard_checkpoint

__all__ = [
    "CheckpointError",
    "DistributedContext",
    "EpochMeter",
    "RunDir",
    "RunOptions",
    "Session",
    "TrainingCheckpoint",
    "TrainingResult",
    "TrainingRun",
    "checkpoint_states",
    "epoch_seed",
    "init_distributed",
    "load_checkpoint",
    "prepare_run_dir",
    "read_training_checkpoint",
    "resolve_device",
    "save_checkpoint",
    "seed_everything",
    "shard_checkpoint",
]
