"""Checkpoints never run code: every loader reads with weights_only=True and refuses pickled objects, naming
the file; RNG states round-trip exactly as tensors/plain values; checkpoints of the earlier format are read
without running code."""

from __future__ import annotations

import json
import os
import pickle
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from recognizability.backbones import create_backbone
from recognizability.backbones.loading import CheckpointError, load_pretrained, read_checkpoint_file
from recognizability.deploy import load_quality_model, load_trained_model
from recognizability.deploy.cli import main as recognizability_main
from recognizability.training import build_modules
from recognizability.training.config import TrainingConfig
from recognizability.training.run.checkpoint import (
    capture_rng_state,
    load_checkpoint,
    read_training_checkpoint,
    restore_rng_state,
    save_checkpoint,
    seed_everything,
)
from recognizability.training.run.run_dir import prepare_run_dir
from tests.helpers.checkpoints import StandInSettings
from tests.helpers.paths import EXAMPLES, TEST_DATA, load_script
from tests.helpers.usage import UsageError, run_command


class _CreatesFile:
    """Unpickling this runs ``open(path, "w")``: it would create ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (str(self.path), "w"))


class _RunsShell:
    """Unpickling this runs ``os.system("touch path")``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, (f"touch {self.path}",))


def _library_like_payload(bomb: object) -> dict[str, Any]:
    """A checkpoint with every key a library checkpoint has, one of them carrying ``bomb``."""
    model = torch.nn.Linear(2, 2)
    return {
        "format": 2,
        "kind": "recognizability training checkpoint",
        "model": model.state_dict(),
        "optimizer": {"state": {}, "param_groups": []},
        "scheduler": None,
        "rng": {"torch": torch.get_rng_state(), "python": bomb},
        "epoch": 1,
        "settings": StandInSettings().to_dict(),
        "extra": {},
    }


def _hostile_files(folder: Path, marker: Path) -> dict[str, Path]:
    """Payload files in every container torch.load accepts: zip (torch.save) and a raw pickle stream."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    files["zip_open"] = folder / "zip_open" / "last.pt"
    files["zip_system"] = folder / "zip_system" / "last.pt"
    files["raw_pickle"] = folder / "raw_pickle" / "last.pt"
    files["backbone_state"] = folder / "backbone.pth"
    for path in files.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(_library_like_payload(_CreatesFile(marker)), files["zip_open"])
    torch.save(_library_like_payload(_RunsShell(marker)), files["zip_system"])
    files["raw_pickle"].write_bytes(pickle.dumps(_library_like_payload(_CreatesFile(marker)), protocol=2))
    torch.save({"conv1.weight": torch.zeros(1), "evil": _CreatesFile(marker)}, files["backbone_state"])
    return files


def test_the_payload_is_live_when_unpickled(tmp_path: Path) -> None:
    # The check the other tests rely on: a plain unpickler really creates the marker.
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(_CreatesFile(marker))).close()
    assert marker.exists()


@pytest.mark.parametrize("kind", ["zip_open", "zip_system", "raw_pickle", "backbone_state"])
def test_no_loader_runs_a_pickled_payload(kind: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = _hostile_files(tmp_path / "files", marker)[kind]
    loaders = {
        "read_checkpoint_file": lambda: read_checkpoint_file(path),
        "read_training_checkpoint": lambda: read_training_checkpoint(path),
        "load_checkpoint": lambda: load_checkpoint(path, model=torch.nn.Linear(2, 2)),
        "load_trained_model": lambda: load_trained_model(path),
        "load_pretrained": lambda: load_pretrained(create_backbone("small_vlr_net"), path),
        "deploy.load_quality_model": lambda: load_quality_model(path),
    }
    for name, call in loaders.items():
        with pytest.raises(CheckpointError, match="refused to load") as caught:
            call()
        assert str(path) in str(caught.value), name
        assert caught.value.forbidden_globals, name
        assert not marker.exists(), f"{name} ran the payload of {kind}"


def test_quality_command_refuses_a_payload(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "ran"
    path = _hostile_files(tmp_path / "files", marker)["zip_open"]
    (tmp_path / "faces").mkdir()
    out = tmp_path / "q.csv"
    argv = ["quality", str(tmp_path / "faces"), "--checkpoint", str(path), "--out", str(out)]
    assert recognizability_main(argv) == 2
    assert "open" in capsys.readouterr().err
    assert not marker.exists() and not out.exists()


def test_resume_refuses_a_payload_before_anything_is_loaded(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    files = _hostile_files(tmp_path / "files", marker)
    out = files["zip_system"].parent
    with pytest.raises(CheckpointError, match=r"(posix|nt)\.system"):
        prepare_run_dir(out, resume=True, settings=StandInSettings())
    assert not marker.exists()


def _draws() -> tuple[float, float, float, float, torch.Tensor]:
    return (
        random.random(),
        random.gauss(0.0, 1.0),
        float(np.random.rand()),  # noqa: NPY002
        float(np.random.standard_normal()),  # noqa: NPY002
        torch.rand(4),
    )


@pytest.mark.parametrize("cached_gaussians", [False, True])
def test_rng_state_is_plain_data_and_restores_exactly(cached_gaussians: bool, tmp_path: Path) -> None:
    seed_everything(5)
    if cached_gaussians:  # leaves python's gauss_next and numpy's cached gaussian set
        random.gauss(0.0, 1.0)
        np.random.standard_normal()  # noqa: NPY002
    state = capture_rng_state()
    torch.save(state, tmp_path / "rng.pt")
    expected = _draws()
    seed_everything(123)
    restore_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))
    got = _draws()
    assert got[:4] == expected[:4] and torch.equal(got[4], expected[4])
    assert (state["python"]["gauss_next"] is not None) == cached_gaussians
    assert bool(state["numpy"]["has_gauss"]) == cached_gaussians


def _format1_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """The layout earlier releases wrote: python's and numpy's RNG states pickled as they come."""
    payload = {
        "format": 1,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": None,
        "rng": {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()},  # noqa: NPY002
        "epoch": 3,
        "settings": StandInSettings().to_dict(),
        "extra": {"history": []},
    }
    torch.save(payload, path)


def test_format1_checkpoints_are_read_without_code_and_resume_exactly(tmp_path: Path) -> None:
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    seed_everything(11)
    np.random.standard_normal()  # noqa: NPY002 - a cached gaussian must survive the conversion too
    _format1_checkpoint(tmp_path / "old.pt", model, optimizer)
    expected = _draws()

    with pytest.raises(pickle.UnpicklingError):  # numpy arrays: refused by a plain weights-only read
        torch.load(tmp_path / "old.pt", weights_only=True)
    checkpoint = read_training_checkpoint(tmp_path / "old.pt")
    assert checkpoint.format == 1 and checkpoint.epoch == 3
    seed_everything(0)
    fresh = torch.nn.Linear(3, 2)
    fresh_optimizer = torch.optim.Adam(fresh.parameters())
    load_checkpoint(checkpoint, model=fresh, optimizer=fresh_optimizer)
    got = _draws()
    assert got[:4] == expected[:4] and torch.equal(got[4], expected[4])
    assert torch.equal(fresh.weight, model.weight)
    assert torch.equal(
        fresh_optimizer.state_dict()["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"]
    )


def test_format1_with_other_numpy_objects_is_still_refused(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    payload = {"format": 1, "rng": {"numpy": np.random.get_state()}, "x": _CreatesFile(marker)}  # noqa: NPY002
    torch.save(payload, tmp_path / "old.pt")
    with pytest.raises(CheckpointError, match=r"(io|builtins)\.open"):
        read_training_checkpoint(tmp_path / "old.pt")
    assert not marker.exists()


def test_saved_checkpoint_reads_with_weights_only(tmp_path: Path) -> None:
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters())
    path = save_checkpoint(
        tmp_path / "last.pt", model=model, optimizer=optimizer, scheduler=None, epoch=1,
        settings=StandInSettings(),
    )  # fmt: skip
    raw = torch.load(path, weights_only=True)  # would raise on any pickled object
    assert raw["format"] == 2 and raw["kind"] == "recognizability training checkpoint"
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == []


def test_a_release_0_1_0_checkpoint_rebuilds_its_model_without_running_code(tmp_path: Path) -> None:
    # The layout release 0.1.0 wrote (format 1: RNG states pickled as they come, flat settings), with the
    # settings recorded in tests/data/checkpoints/legacy_v0_1_0.json (written by that release's fit).
    legacy = json.loads((TEST_DATA / "checkpoints" / "legacy_v0_1_0.json").read_text())
    settings = legacy["settings"]
    model = build_modules(TrainingConfig.from_dict(settings), 4)
    assert sorted(model.state_dict()) == sorted(legacy["model_keys"])
    model.ui_center.fit(torch.randn(6, settings["embedding_dim"]))
    payload = {
        "format": 1,
        "model": model.state_dict(),
        "optimizer": {"state": {}, "param_groups": []},
        "scheduler": legacy["scheduler"],
        "rng": {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()},  # noqa: NPY002
        "epoch": legacy["epoch"],
        "settings": settings,
        "extra": {"history": []},
    }
    torch.save(payload, tmp_path / "last.pt")
    loaded, config = load_trained_model(tmp_path / "last.pt")
    assert not loaded.training and config.model.backbone == settings["backbone"]
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_the_pretraining_command_refuses_a_payload_on_resume_before_any_data(tmp_path: Path) -> None:
    from recognizability.training import pretrain

    marker = tmp_path / "ran"
    out = _hostile_files(tmp_path / "files", marker)["zip_open"].parent
    no_faces = tmp_path / "no-faces"  # an error of its own, reached only if the checkpoint were accepted
    no_faces.mkdir()
    with pytest.raises(UsageError, match=r"refused to load .*last\.pt"):
        run_command(pretrain.main, ["--out", str(out), "--resume", "--hr-root", str(no_faces)])
    assert not marker.exists()


def test_an_example_script_refuses_a_payload_on_resume_before_any_data(tmp_path: Path) -> None:
    example = load_script(EXAMPLES / "train_tinyface.py", "train_tinyface_under_test")
    marker = tmp_path / "ran"
    out = tmp_path / "out"
    for run in ("arcface", "full"):
        (out / run).mkdir(parents=True)
        torch.save(_library_like_payload(_CreatesFile(marker)), out / run / "last.pt")
    no_tree = tmp_path / "no-tree"  # an error of its own, reached only if the checkpoint were accepted
    no_tree.mkdir()
    argv = ["--out", str(out), "--resume", "--config", "demo", "--data-root", str(no_tree), "--quiet"]
    with pytest.raises(UsageError, match=r"refused to load .*last\.pt"):
        run_command(example.main, argv)
    assert not marker.exists()
