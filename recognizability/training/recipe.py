"""``fit``: the whole training run of one configuration (model, Adam groups, decay, epochs, checkpoints,
resume).

Used by the three examples and the ablation; everything a run depends on is in its
:class:`~recognizability.training.TrainingSettings`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from recognizability.data import transforms as T

from .checkpoint import load_checkpoint, save_checkpoint, seed_everything
from .distributed import DistributedContext, init_distributed, wrap_ddp
from .loop import ImageSet, train_one_epoch, validate, validation_subset
from .model import RecognizabilityModel, build_model
from .settings import TrainingSettings

__all__ = ["TrainingResult", "build_augmentation", "fit"]

CHECKPOINT_NAME = "last.pt"


@dataclass
class TrainingResult:
    """What :func:`fit` returns.

    Attributes:
        model: the trained (unwrapped) :class:`RecognizabilityModel`, in eval mode.
        settings: the settings it was trained with.
        history: one dict per epoch: the mean loss terms, images/s, validation accuracy, learning rates.
        seconds: wall time of the epochs run in this process (not counting a resumed run's earlier epochs).
        resumed_from: number of epochs loaded from a checkpoint (0 for a fresh run).
    """

    model: RecognizabilityModel
    settings: TrainingSettings
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    resumed_from: int = 0


def build_augmentation(settings: TrainingSettings) -> nn.Module | None:
    """The paper's training augmentation (flip, rotation within +-10 degrees, random rescale to 64/112 or
    100/112 of the side and back), or None when ``settings.augment`` is off."""
    if not settings.augment:
        return None
    sizes = tuple(max(4, round(f * settings.input_size)) for f in settings.rescale_fractions)
    return T.TrainAugmentation(
        settings.input_size, max_degrees=10.0, rescale_sizes=sizes, normalize_output=False
    )


def fit(
    settings: TrainingSettings,
    train: ImageSet,
    ui: ImageSet,
    *,
    context: DistributedContext | None = None,
    out_dir: str | Path | None = None,
    resume: bool = False,
    amp: bool = False,
    compile_model: bool = False,
    progress: bool = True,
    log: Callable[[str], None] | None = print,
) -> TrainingResult:
    """Train one configuration on ``train`` with the UI centre from ``ui``.

    Args:
        settings: the run's settings (Table 5 or the CPU demo).
        train: training images (labels 0..C-1) in memory.
        ui: the UI set (labels ignored).
        context: process context (None: a single process on CUDA when available, else CPU).
        out_dir: where ``last.pt`` is written (atomically) after every epoch, by rank 0 only; None: no
            checkpoints.
        resume: continue from ``out_dir/last.pt`` when it exists (same settings but ``epochs``).
        amp: bf16 autocast on CUDA.
        compile_model: ``torch.compile`` the training forward.
        progress: tqdm bars with the running loss terms.
        log: called with one line per epoch on rank 0 (None: silent).
    """
    context = context if context is not None else init_distributed(None)
    device = context.device
    if len(ui) == 0:
        raise ValueError("expected a non-empty UI set, got 0 images")
    num_classes = int(train.labels.max()) + 1
    seed_everything(settings.seed)
    model = build_model(settings, num_classes, device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    optimizer = torch.optim.Adam(model.parameter_groups(settings))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: settings.lr_multiplier(epoch))
    history: list[dict[str, float]] = []
    start_epoch = 0
    checkpoint = None if out_dir is None else Path(out_dir) / CHECKPOINT_NAME
    if resume and checkpoint is not None and checkpoint.is_file():
        payload = load_checkpoint(
            checkpoint, model=model, optimizer=optimizer, scheduler=scheduler, settings=settings,
            map_location=device,
        )  # fmt: skip
        start_epoch = int(payload["epoch"])
        history = list(payload["extra"].get("history", []))
        if log is not None and context.is_main:
            log(f"resumed from {checkpoint} after epoch {start_epoch}")
    forward: Any = wrap_ddp(model, context)
    if compile_model:
        forward = torch.compile(forward)
    augmentation = build_augmentation(settings)
    if augmentation is not None:
        augmentation = augmentation.to(device)
    validation = validation_subset(train, settings)
    began = time.perf_counter()
    for epoch in range(start_epoch, settings.epochs):
        terms = train_one_epoch(
            model, train, optimizer, settings, epoch, context, ui,
            forward=forward, augmentation=augmentation, amp=amp, progress=progress,
        )  # fmt: skip
        lrs = {f"lr_{g['name']}": float(g["lr"]) for g in optimizer.param_groups}
        scheduler.step()
        figures = validate(model, validation, settings, device, amp)
        row = {"epoch": float(epoch + 1), **terms, **{f"val_{k}": v for k, v in figures.items()}, **lrs}
        history.append(row)
        if log is not None and context.is_main:
            log(
                f"epoch {epoch + 1}/{settings.epochs}: loss {terms['total']:.3f} "
                f"(cls {terms['classification']:.3f}"
                f" L1 {terms['regression']:.3f} ID {terms['diversion']:.3f} MSE {terms['attention']:.3f}) "
                f"val acc (flipped, {settings.validation_degrade_size}px) {figures['accuracy']:.3f} "
                f"[{terms['images_per_second']:.0f} img/s]"
            )
        if checkpoint is not None and context.is_main:
            save_checkpoint(
                checkpoint, model=model, optimizer=optimizer, scheduler=scheduler, epoch=epoch + 1,
                settings=settings, extra={"history": history},
            )  # fmt: skip
        context.barrier()
    model.eval()
    return TrainingResult(model, settings, history, time.perf_counter() - began, start_epoch)
