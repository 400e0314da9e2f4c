"""Checkpoints: atomic write, full state round trip, per-epoch seeds."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from recognizability.training.run.checkpoint import (
    epoch_seed,
    load_checkpoint,
    save_checkpoint,
    seed_everything,
)
from tests.helpers.checkpoints import StandInSettings


def _objects() -> tuple[torch.nn.Module, torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    model = torch.nn.Linear(4, 3)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 0.1 if e >= 1 else 1.0)
    model(torch.randn(5, 4)).sum().backward()
    opt.step()
    sched.step()
    return model, opt, sched


def test_round_trip_restores_everything(tmp_path: Path) -> None:
    settings = StandInSettings()
    seed_everything(3)
    model, opt, sched = _objects()
    path = save_checkpoint(
        tmp_path / "c" / "last.pt",
        model=model,
        optimizer=opt,
        scheduler=sched,
        epoch=2,
        settings=settings,
        extra={"history": [1.5]},
    )
    expected = (random.random(), float(np.random.rand()), torch.rand(3))  # noqa: NPY002
    assert sorted(os.listdir(path.parent)) == ["last.pt"]  # no temporary file left behind

    seed_everything(99)
    model2, opt2, sched2 = _objects()
    payload = load_checkpoint(path, model=model2, optimizer=opt2, scheduler=sched2, settings=settings)
    assert payload["epoch"] == 2 and payload["extra"] == {"history": [1.5]}
    for a, b in zip(model.state_dict().values(), model2.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert torch.equal(opt.state_dict()["state"][0]["exp_avg"], opt2.state_dict()["state"][0]["exp_avg"])
    assert sched2.state_dict()["last_epoch"] == sched.state_dict()["last_epoch"] == 1
    got = (random.random(), float(np.random.rand()), torch.rand(3))  # noqa: NPY002
    assert got[0] == expected[0] and got[1] == expected[1] and torch.equal(got[2], expected[2])


def test_settings_mismatch_is_refused(tmp_path: Path) -> None:
    model, opt, sched = _objects()
    s = StandInSettings()
    save_checkpoint(tmp_path / "x.pt", model=model, optimizer=opt, scheduler=sched, epoch=1, settings=s)
    load_checkpoint(
        tmp_path / "x.pt", model=model, settings=s.replace(epochs=s.epochs + 3)
    )  # extending is fine
    with pytest.raises(ValueError, match=r"\['tau'\]"):
        load_checkpoint(tmp_path / "x.pt", model=model, settings=s.replace(tau=s.tau + 1.0))
    with pytest.raises(FileNotFoundError, match="checkpoint"):
        load_checkpoint(tmp_path / "missing.pt", model=model)


def test_failed_write_leaves_previous_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, opt, sched = _objects()
    s = StandInSettings()
    path = save_checkpoint(
        tmp_path / "last.pt", model=model, optimizer=opt, scheduler=sched, epoch=1, settings=s
    )
    before = path.read_bytes()

    def broken_save(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model=model, optimizer=opt, scheduler=sched, epoch=2, settings=s)
    assert path.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["last.pt"]


def test_epoch_seed_is_a_function_of_seed_and_epoch() -> None:
    seeds = {epoch_seed(s, e) for s in range(5) for e in range(5)}
    assert len(seeds) == 25 and epoch_seed(1, 2) == epoch_seed(1, 2)
    assert all(0 <= x < 2**63 for x in seeds)
    with pytest.raises(ValueError, match="epoch"):
        epoch_seed(0, -1)
