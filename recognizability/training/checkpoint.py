"""Atomic, complete training checkpoints.

A checkpoint holds everything needed to continue a run as if it had never stopped: model, optimiser and
scheduler states, the RNG states (python, numpy, torch CPU and every CUDA device), the number of finished
epochs and the settings. It is written to a temporary file in the same folder and moved into place with
``os.replace``, so an interruption never leaves a truncated ``last.pt``.

Exact resume also needs the randomness of an epoch not to depend on how the process got there: the training
loop reseeds every generator at the start of epoch ``e`` from ``(seed, e)`` (:func:`epoch_seed`), so a
resumed run draws the same data order, augmentations and dropout masks as an uninterrupted one.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .settings import TrainingSettings

__all__ = [
    "capture_rng_state",
    "epoch_seed",
    "load_checkpoint",
    "restore_rng_state",
    "save_checkpoint",
    "seed_everything",
]

CHECKPOINT_FORMAT = 1


def epoch_seed(seed: int, epoch: int) -> int:
    """Seed of epoch ``epoch`` of a run seeded ``seed``: a fixed mix of both, in [0, 2**63)."""
    if epoch < 0:
        raise ValueError(f"expected epoch >= 0, got {epoch}")
    # SplitMix64-style mixing so that (seed, epoch) and (seed + 1, epoch - 1) differ.
    x = (seed * 0x9E3779B97F4A7C15 + epoch * 0xBF58476D1CE4E5B9 + 0x94D049BB133111EB) % (1 << 64)
    x ^= x >> 31
    x = (x * 0xBF58476D1CE4E5B9) % (1 << 64)
    x ^= x >> 27
    return x % (1 << 63)


def seed_everything(seed: int) -> None:
    """Seed python's ``random``, numpy's global generator, torch's CPU and CUDA generators."""
    random.seed(seed)
    np.random.seed(seed % (1 << 32))  # noqa: NPY002 - the global generator user code may draw from
    torch.manual_seed(seed)  # also seeds every CUDA device


def capture_rng_state() -> dict[str, Any]:
    """The global RNG states: python, numpy, torch CPU and (when available) every CUDA device."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),  # noqa: NPY002
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state` (CUDA states are restored only when CUDA is available)."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside DistributedDataParallel / torch.compile wrappers (their state-dict keys differ)."""
    inner = getattr(model, "module", None)
    if isinstance(inner, torch.nn.Module):
        model = inner
    orig = getattr(model, "_orig_mod", None)
    if isinstance(orig, torch.nn.Module):
        model = orig
    return model


def save_checkpoint(
    path: str | os.PathLike[str],
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    epoch: int,
    settings: TrainingSettings,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a complete checkpoint to ``path`` atomically (temporary file + ``os.replace``).

    Args:
        path: destination file (its folder is created).
        model: the model (DDP / compiled wrappers are unwrapped so the keys are the plain module's).
        optimizer: its state (Adam moments) is saved.
        scheduler: an ``torch.optim.lr_scheduler`` object (its ``state_dict()`` is saved) or None.
        epoch: the number of finished epochs (the resumed run starts at this 0-based epoch).
        settings: the run's settings (saved as a dict; checked on resume).
        extra: any JSON-able history (per-epoch loss terms, validation figures).

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "model": _unwrap(model).state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "rng": capture_rng_state(),
        "epoch": int(epoch),
        "settings": settings.to_dict(),
        "extra": extra or {},
    }
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def load_checkpoint(
    path: str | os.PathLike[str],
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    settings: TrainingSettings | None = None,
    restore_rng: bool = True,
    map_location: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` into the given objects.

    When ``settings`` is given, the checkpoint's settings must equal it except for ``epochs`` (a run may be
    extended) and ``max_steps_per_epoch``; otherwise a ValueError names the differing fields.

    Returns:
        The payload (keys ``epoch``, ``settings``, ``extra``, ...).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"expected a checkpoint file at {str(path)!r}, found none")
    payload: dict[str, Any] = torch.load(path, map_location=map_location, weights_only=False)
    if payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"expected checkpoint format {CHECKPOINT_FORMAT} in {str(path)!r}, got {payload.get('format')!r}"
        )
    if settings is not None:
        mine = settings.to_dict()
        theirs = payload["settings"]
        differing = sorted(
            k
            for k in set(mine) | set(theirs)
            if k not in ("epochs", "max_steps_per_epoch") and mine.get(k) != theirs.get(k)
        )
        if differing:
            raise ValueError(
                f"expected the checkpoint's settings to match this run's, got differences in {differing}"
            )
    _unwrap(model).load_state_dict(payload["model"])
    if optimizer is not None:
        optimizer.load_state_dict(payload["optimizer"])
    if scheduler is not None and payload["scheduler"] is not None:
        scheduler.load_state_dict(payload["scheduler"])
    if restore_rng:
        restore_rng_state(payload["rng"])
    return payload
