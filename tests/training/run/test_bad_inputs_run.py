"""Bad inputs of the run layer: checkpoint readers and loaders (through every reader, also the model loader
and the quality command), files that are not training checkpoints, checkpoints of another model or
optimiser, and the arguments of the checkpoint and run-folder functions; a refused load changes nothing."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from recognizability.backbones import create_backbone, load_pretrained
from recognizability.backbones.loading import CheckpointError, read_checkpoint_file
from recognizability.deploy import load_trained_model
from recognizability.deploy.cli import main as recognizability_main
from recognizability.training.run.checkpoint import (
    check_resume_settings,
    load_checkpoint,
    read_training_checkpoint,
    save_checkpoint,
)
from recognizability.training.run.run_dir import prepare_run_dir
from tests.helpers.checkpoints import StandInSettings
from tests.helpers.models import (
    optimizer_state,
    same_state,
    small_model,
    state,
    trained_checkpoint,
)
from tests.helpers.tiny import step_losses

# ----------------------------------------------------------------------------------------------------------
# Bad files, one row per kind of fault, through every reader
# ----------------------------------------------------------------------------------------------------------


def _file(tmp: Path, kind: str) -> Path:
    """A file of one bad kind (or a path to nothing)."""
    path = tmp / f"{kind}.pt"
    if kind == "missing":
        return path
    if kind == "folder":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("model weights are in the other folder\n")
    elif kind == "binary":
        path.write_bytes(bytes(range(7, 200)))
    elif kind == "truncated":
        torch.save({"w": torch.randn(64, 64)}, path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "zip_not_torch":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("readme.txt", "not a checkpoint")
    elif kind == "broken_link":
        path.symlink_to(tmp / "nowhere.pt")
    else:
        raise AssertionError(kind)
    return path


FILE_FAULTS: list[tuple[str, type[BaseException], str]] = [
    ("missing", FileNotFoundError, "no such file"),
    ("broken_link", FileNotFoundError, "no such file"),
    ("folder", IsADirectoryError, "folder"),
    ("empty", CheckpointError, r"empty file \(0 bytes\)"),
    ("text", CheckpointError, "a text file: not a file written by torch.save"),
    ("binary", CheckpointError, "not a file written by torch.save"),
    ("truncated", CheckpointError, "truncated or corrupted"),
    ("zip_not_torch", CheckpointError, "truncated or corrupted"),
]

READERS: dict[str, Callable[[Path], Any]] = {
    "read_checkpoint_file": lambda p: read_checkpoint_file(p),
    "read_training_checkpoint": lambda p: read_training_checkpoint(p),
    "load_checkpoint": lambda p: load_checkpoint(p, model=nn.Linear(2, 2)),
    "load_trained_model": lambda p: load_trained_model(p),
    "load_pretrained": lambda p: load_pretrained(create_backbone("small_vlr_net"), p),
    "prepare_run_dir(resume)": lambda p: prepare_run_dir(p.parent, resume=True, settings=StandInSettings()),
}


@pytest.mark.parametrize(("kind", "error", "words"), FILE_FAULTS, ids=[row[0] for row in FILE_FAULTS])
@pytest.mark.parametrize("reader", list(READERS))
def test_every_reader_names_a_bad_file(
    reader: str, kind: str, error: type[BaseException], words: str, tmp_path: Path
) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    path = _file(folder, kind)
    if reader == "prepare_run_dir(resume)":
        if kind == "missing":  # documented: --resume in a folder without last.pt starts a new run
            run = READERS[reader](path)
            assert run.resume_checkpoint is None and not run.checkpoint.exists()
            return
        target = folder / "last.pt"
        path.rename(target)
        path = target
    with pytest.raises(error, match=words) as caught:
        READERS[reader](path)
    assert str(path) in str(caught.value)


def test_the_quality_command_names_a_bad_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _file(tmp_path, "text")
    argv = ["quality", str(tmp_path), "--checkpoint", str(path), "--out", str(tmp_path / "q.csv")]
    assert recognizability_main(argv) == 2
    assert re.search(r"error: .*--checkpoint.*a text file", capsys.readouterr().err)
    assert not (tmp_path / "q.csv").exists()


# ----------------------------------------------------------------------------------------------------------
# Files that read fine but are not (this model's) training checkpoints
# ----------------------------------------------------------------------------------------------------------


def _payload(tmp: Path, change: Callable[[dict[str, Any]], Any]) -> Path:
    model = nn.Linear(3, 2)
    path = save_checkpoint(
        tmp / "good.pt", model=model, optimizer=torch.optim.Adam(model.parameters()), scheduler=None, epoch=2,
        settings=StandInSettings(),
    )  # fmt: skip
    payload = torch.load(path, weights_only=True)
    changed = change(payload)
    torch.save(payload if changed is None else changed, tmp / "bad.pt")
    return tmp / "bad.pt"


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda p: p.pop(key) and None


def _put(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda p: p.__setitem__(key, value)


LAYOUT_FAULTS: list[tuple[str, Callable[[dict[str, Any]], Any], str]] = [
    ("bare_state_dict", lambda p: p["model"], "bare state dict.*load_pretrained"),
    ("a_list", lambda p: [1, 2], "holds a list, not a dict"),
    ("no_format", _drop("format"), "no 'format' marker"),
    ("other_format", _put("format", 99), "format is 99"),
    ("other_kind", _put("kind", "someone else's"), "'kind' marker"),
    ("no_optimizer", _drop("optimizer"), r"lacks the entries \['optimizer'\]"),
    ("negative_epoch", _put("epoch", -1), "epoch count is -1"),
    ("epoch_not_int", _put("epoch", 1.5), "epoch count is 1.5"),
    ("settings_not_dict", _put("settings", [1]), "settings are a list"),
    ("model_not_state_dict", _put("model", {"w": 1.0}), "'model' entry is not a state dict"),
    ("rng_missing_numpy", lambda p: p["rng"].pop("numpy") and None, "RNG states for python, numpy and torch"),
    ("rng_bad_torch", lambda p: p["rng"].__setitem__("torch", torch.zeros(3)), "1-D uint8 tensor"),
    ("rng_short_key", lambda p: p["rng"]["numpy"].__setitem__("key", torch.zeros(5, dtype=torch.int64)),
     r"int64 \(624,\)"),
    ("scheduler_not_dict", _put("scheduler", 3), "'scheduler' entry is a int"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "change", "words"), LAYOUT_FAULTS, ids=[row[0] for row in LAYOUT_FAULTS])
def test_a_file_that_is_not_a_training_checkpoint_is_named(
    name: str, change: Callable[[dict[str, Any]], Any], words: str, tmp_path: Path
) -> None:
    path = _payload(tmp_path, change)
    with pytest.raises(CheckpointError, match=words) as caught:
        read_training_checkpoint(path)
    assert str(path) in str(caught.value)
    with pytest.raises(CheckpointError, match=words):
        load_checkpoint(path, model=nn.Linear(3, 2))


def test_a_checkpoint_of_another_model_changes_nothing(tmp_path: Path) -> None:
    path = trained_checkpoint(tmp_path, num_classes=7)
    model = small_model()
    before = state(model)
    with pytest.raises(
        CheckpointError, match=r"(?s)7 classes.*shape mismatches.*head\.weight.*Nothing was loaded"
    ):
        load_checkpoint(path, model=model)
    assert same_state(before, state(model))
    other = tmp_path / "other"
    other.mkdir()
    path = trained_checkpoint(other, embedding_dim=8)
    with pytest.raises(CheckpointError, match="embedding 8"):
        load_checkpoint(path, model=model)
    assert same_state(before, state(model))


def test_a_mismatched_optimizer_changes_neither_model_nor_optimizer(tmp_path: Path) -> None:
    path = trained_checkpoint(tmp_path)
    model = small_model()
    optimizer = torch.optim.Adam(model.parameters())  # one group, the checkpoint has four
    step_losses(model, torch.randn(4, 3, 32, 32), torch.arange(4)).total.backward()
    optimizer.step()
    model_before, optimizer_before = state(model), optimizer_state(optimizer)
    with pytest.raises(CheckpointError, match=r"4 parameter groups, the optimizer 1"):
        load_checkpoint(path, model=model, optimizer=optimizer)
    assert same_state(model_before, state(model))
    assert all(torch.equal(a, b) for a, b in zip(optimizer_before, optimizer_state(optimizer), strict=True))


def test_optimizer_moments_of_other_shapes_are_refused_before_copying(tmp_path: Path) -> None:
    model = nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.randn(2, 3)).sum().backward()
    optimizer.step()
    path = save_checkpoint(
        tmp_path / "c.pt",
        model=model,
        optimizer=optimizer,
        scheduler=None,
        epoch=1,
        settings=StandInSettings(),
    )
    payload = torch.load(path, weights_only=True)
    payload["optimizer"]["state"][0]["exp_avg"] = torch.zeros(5, 5)
    torch.save(payload, path)
    fresh = nn.Linear(3, 2)
    fresh_optimizer = torch.optim.Adam(fresh.parameters())
    before = state(fresh)
    with pytest.raises(
        CheckpointError, match=r"'exp_avg' of parameter 0 has shape \(5, 5\), the parameter \(2, 3\)"
    ):
        load_checkpoint(path, model=fresh, optimizer=fresh_optimizer)
    assert same_state(before, state(fresh)) and fresh_optimizer.state_dict()["state"] == {}


def test_a_checkpoint_without_prototypes_is_not_a_trained_model(tmp_path: Path) -> None:
    model = nn.Linear(3, 2)
    path = save_checkpoint(
        tmp_path / "c.pt", model=model, optimizer=torch.optim.Adam(model.parameters()), scheduler=None,
        epoch=1, settings=StandInSettings(),
    )  # fmt: skip
    with pytest.raises(CheckpointError, match=r"'head\.weight'"):
        load_trained_model(path)


# ----------------------------------------------------------------------------------------------------------
# Arguments of the checkpoint, run-folder and guard functions
# ----------------------------------------------------------------------------------------------------------


def _checkpoint_for_resume(tmp: Path) -> Any:
    model = nn.Linear(3, 2)
    save_checkpoint(
        tmp / "last.pt", model=model, optimizer=torch.optim.Adam(model.parameters()), scheduler=None, epoch=3,
        settings=StandInSettings(epochs=4),
    )  # fmt: skip
    return read_training_checkpoint(tmp / "last.pt")


_THREE: Any = 3  # a value of the wrong type, typed Any so the table can pass it anywhere
_NO_MODEL: Any = None
_CKPT = "c.pt"
_BN1 = "batch normalisation cannot train on one sample"


def _resume(tmp: Path, **changes: Any) -> None:
    check_resume_settings(_checkpoint_for_resume(tmp), StandInSettings(**changes))


def _exists(tmp: Path) -> str:
    (tmp / "q.csv").write_text("earlier results\n")
    return str(tmp / "q.csv")


def _folder_named_last_pt(tmp: Path) -> Path:
    (tmp / "last.pt").mkdir()
    return tmp


def _small() -> nn.Module:
    return create_backbone("small_vlr_net")


ARGUMENT_FAULTS: list[tuple[str, Callable[[Path], Any], type[BaseException], str]] = [
    ("read_checkpoint_file(3)", lambda t: read_checkpoint_file(_THREE), TypeError, "str or os.PathLike"),
    ("load_pretrained(None)", lambda t: load_pretrained(_NO_MODEL, t / "x.pt"), TypeError, "nn.Module"),
    ("load_pretrained(path 3)", lambda t: load_pretrained(_small(), _THREE), TypeError, "path or a mapping"),
    ("load_pretrained(training checkpoint)", lambda t: load_pretrained(_small(), trained_checkpoint(t)),
        CheckpointError, "training checkpoint of this library.*load_trained_model"),
    ("load_pretrained(other backbone)", lambda t: load_pretrained(_small(), _iresnet18_weights(t)),
        CheckpointError, "does not fit SmallVLRNet"),
    ("load_trained_model(3)", lambda t: load_trained_model(_THREE), TypeError, "--checkpoint to be a path"),
    ("check_resume_settings(fewer epochs)", lambda t: _resume(t, epochs=2), ValueError,
        r"epochs >= 3.*got epochs=2"),
    ("check_resume_settings(other tau)", lambda t: _resume(t, epochs=4, tau=2.0), ValueError,
        r"\['tau'\].*tau: checkpoint 0.5, this run 2.0"),
    ("check_resume_settings(no to_dict)",
        lambda t: check_resume_settings(_checkpoint_for_resume(t), _THREE), TypeError, "to_dict"),
    ("prepare_run_dir(resume and overwrite)", lambda t: prepare_run_dir(t, resume=True, overwrite=True),
        ValueError, "at most one of resume"),
    ("prepare_run_dir(a file)", lambda t: prepare_run_dir(_file(t, "text")), NotADirectoryError, "is a file"),
    ("prepare_run_dir(earlier run)", lambda t: prepare_run_dir(_checkpoint_for_resume(t).path.parent),
        FileExistsError, "--resume.*--overwrite"),
    ("prepare_run_dir(last.pt a folder)", lambda t: prepare_run_dir(_folder_named_last_pt(t), resume=True),
        IsADirectoryError, r"last\.pt' to be the run's checkpoint file \(or absent\), got a folder"),
]  # fmt: skip


def _iresnet18_weights(tmp: Path) -> Path:
    torch.save(create_backbone("iresnet18").state_dict(), tmp / "weights.pth")
    return tmp / "weights.pth"


@pytest.mark.parametrize(
    ("name", "call", "error", "words"), ARGUMENT_FAULTS, ids=[row[0] for row in ARGUMENT_FAULTS]
)
def test_bad_arguments_are_named(
    name: str, call: Callable[[Path], Any], error: type[BaseException], words: str, tmp_path: Path
) -> None:
    with pytest.raises(error, match=words):
        call(tmp_path)
