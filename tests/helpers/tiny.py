"""Tiny in-memory data and configurations for the training loop of the example scripts, and a loader for the
scripts themselves (they are files, not modules of the package)."""

from __future__ import annotations

import socket
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from recognizability.training import (
    ImageSet,
    MethodModules,
    RunData,
    RunOptions,
    Session,
    TrainingConfig,
    demo_config,
)
from recognizability.training.data import Benchmark
from tests.helpers.paths import EXAMPLES, load_script


def free_port() -> int:
    """A TCP port free on this machine now, for the ``MASTER_PORT`` of a test's process group."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load_example(name: str) -> ModuleType:
    """``examples/<name>.py`` as a module."""
    return load_script(EXAMPLES / f"{name}.py")


def tiny_data(tmp: Path, n: int = 192, classes: int = 8) -> RunData:
    """``n`` 32 x 32 training images of ``classes`` identities (class-dependent brightness, so there is
    something to learn) and a UI set of 24 random images; no test sets."""
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(n) % classes
    images = (torch.randint(0, 120, (n, 3, 32, 32), generator=g) + 15 * labels.view(-1, 1, 1, 1)).to(
        torch.uint8
    )
    train = ImageSet(images, labels, None, None, [f"t{i}" for i in range(n)])
    ui_images = torch.randint(0, 256, (24, 3, 32, 32), dtype=torch.uint8, generator=g)
    ui = ImageSet(ui_images, torch.full((24,), -1), None, None, [f"u{i}" for i in range(24)])
    benchmark = Benchmark("tinyface", tmp, tmp, "synthetic")
    return RunData(benchmark, train, ui, {}, None)


def tiny_config(**changes: Any) -> TrainingConfig:
    """The demo configuration made small: batch 32, 2 epochs of at most 3 steps, D = 32, seed 7, from a random
    initialisation (the shipped pretrained weights fix D = 128) with trainable batch norm."""
    base = demo_config("tinyface").replace(
        batch_size=32, epochs=2, max_steps_per_epoch=3, validation_max=32, embedding_dim=32, seed=7,
        pretrained=None, freeze_batchnorm=False,
    )  # fmt: skip
    return base.replace(**changes)


def tiny_session(out: Path | None = None, device: str = "cpu", resume: bool = False) -> Session:
    """A quiet session on ``device`` that writes checkpoints to ``out`` (None: writes nothing)."""
    options = RunOptions(out=out or Path("unused"), device=device, resume=resume, progress=False, plots=False)
    return Session(options, write=out is not None)


def step_losses(model: MethodModules, images: torch.Tensor, labels: torch.Tensor) -> Any:
    """One forward pass of Fig. 2 on normalised images: ``F``, ``v``, the head, the criterion (the fitted UI
    centre of ``model``); returns the ``RecognizabilityLossOutput``."""
    feature_map = model.backbone.forward_features(images)
    embeddings = model.backbone.forward_head(feature_map)
    return model.criterion(feature_map, embeddings, labels, model.head(embeddings, labels), model.ui_center)
