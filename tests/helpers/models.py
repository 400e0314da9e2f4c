"""Small trained modules and checkpoints for the bad-input tests, and state snapshots to show that a refused
call changed nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from recognizability.training import MethodModules, build_modules, demo_config, parameter_groups
from recognizability.training.run import save_checkpoint
from tests.helpers.tiny import step_losses

__all__ = [
    "EMBEDDING_DIM",
    "NUM_CLASSES",
    "adam",
    "optimizer_state",
    "same_state",
    "small_model",
    "state",
    "trained_checkpoint",
]

NUM_CLASSES = 5
EMBEDDING_DIM = 16


def small_model(freeze: bool = False) -> MethodModules:
    torch.manual_seed(0)
    config = demo_config("tinyface").replace(
        embedding_dim=EMBEDDING_DIM, freeze_batchnorm=freeze, pretrained=None
    )
    model = build_modules(config, NUM_CLASSES)
    model.ui_center.fit(torch.randn(8, EMBEDDING_DIM, generator=torch.Generator().manual_seed(1)))
    return model


def adam(model: MethodModules) -> torch.optim.Adam:
    config = demo_config("tinyface").replace(embedding_dim=EMBEDDING_DIM, pretrained=None)
    return torch.optim.Adam(_groups(model, config))


def _groups(model: MethodModules, config: Any) -> list[dict[str, Any]]:
    c = model.criterion
    return parameter_groups(
        config.optim, backbone=model.backbone, recognition=model.head, attention=c.attention,
        regression=c.regression,
    )  # fmt: skip


def trained_checkpoint(
    folder: Path, num_classes: int = NUM_CLASSES, embedding_dim: int = EMBEDDING_DIM
) -> Path:
    """A checkpoint of a MethodModules after one Adam step (so the optimizer has moments)."""
    torch.manual_seed(0)
    config = demo_config("tinyface").replace(embedding_dim=embedding_dim, pretrained=None)
    model = build_modules(config, num_classes)
    model.ui_center.fit(torch.randn(8, embedding_dim))
    optimizer = torch.optim.Adam(_groups(model, config))
    step_losses(model, torch.randn(4, 3, 32, 32), torch.arange(4) % num_classes).total.backward()
    optimizer.step()
    return save_checkpoint(
        folder / "last.pt", model=model, optimizer=optimizer, scheduler=None, epoch=1, settings=config
    )


def state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def optimizer_state(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [v.clone() for s in optimizer.state_dict()["state"].values() for v in s.values()]
