"""Run folders: an earlier run is never replaced unasked, bad folders fail before training, left-over
temporary files are removed, resuming with other settings or fewer epochs is refused before anything is
loaded."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch

from recognizability.training.run import run_dir as run_dir_module
from recognizability.training.run.checkpoint import (
    load_checkpoint,
    read_training_checkpoint,
    save_checkpoint,
)
from recognizability.training.run.run_dir import find_temporary_files, prepare_run_dir
from tests.helpers.checkpoints import StandInSettings


def _write_run(folder: Path, epoch: int = 2, settings: StandInSettings | None = None) -> Path:
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters())
    return save_checkpoint(
        folder / "last.pt", model=model, optimizer=optimizer, scheduler=None, epoch=epoch,
        settings=settings or StandInSettings(),
    )  # fmt: skip


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_a_new_folder_is_tested_but_made_only_by_the_first_checkpoint(tmp_path: Path) -> None:
    run = prepare_run_dir(tmp_path / "a" / "b")
    assert run.checkpoint == tmp_path / "a" / "b" / "last.pt"
    assert run.resume_from is None and run.replaced_files == () and run.removed_temporary_files == ()
    # writing was tested, and the folders made for the test are gone: a run that fails before its first
    # checkpoint leaves nothing behind
    assert list(tmp_path.iterdir()) == []
    with run.replacing_earlier_run():
        _write_run(run.path)
    assert sorted(os.listdir(run.path)) == ["last.pt"]


def test_an_earlier_run_is_refused_without_resume_or_overwrite(tmp_path: Path) -> None:
    _write_run(tmp_path)
    (tmp_path / "report.json").write_text("{}")
    before = _listing(tmp_path)
    with pytest.raises(FileExistsError, match=r"--resume.*--overwrite") as caught:
        prepare_run_dir(tmp_path)
    assert str(tmp_path) in str(caught.value) and "last.pt" in str(caught.value)
    assert _listing(tmp_path) == before


def test_a_finished_report_alone_also_counts_as_a_run(tmp_path: Path) -> None:
    (tmp_path / "report.json").write_text("{}")
    with pytest.raises(FileExistsError, match=r"report\.json"):
        prepare_run_dir(tmp_path)
    with pytest.raises(FileExistsError, match=r"no last\.pt"):
        prepare_run_dir(tmp_path, resume=True)
    assert (tmp_path / "report.json").read_text() == "{}"


def test_overwrite_replaces_the_earlier_run_only_at_the_first_checkpoint(tmp_path: Path) -> None:
    _write_run(tmp_path, epoch=2)
    (tmp_path / "report.json").write_text("{}")
    (tmp_path / "cmc.png").write_bytes(b"earlier plot")
    (tmp_path / "notes.txt").write_text("mine")
    before = _listing(tmp_path)
    run = prepare_run_dir(tmp_path, overwrite=True, outputs=("cmc.png",))
    assert _listing(tmp_path) == before  # nothing replaced yet: the new run may still fail
    assert sorted(p.name for p in run.earlier_run) == ["cmc.png", "last.pt", "report.json"]
    with run.replacing_earlier_run():
        hidden = [n for n in os.listdir(tmp_path) if n.startswith(".earlier-run.")]
        assert len(hidden) == 1 and sorted(set(os.listdir(tmp_path)) - set(hidden)) == ["notes.txt"]
        _write_run(tmp_path, epoch=1)
    assert sorted(os.listdir(tmp_path)) == ["last.pt", "notes.txt"]  # the user's own file untouched
    assert read_training_checkpoint(tmp_path / "last.pt").epoch == 1
    assert sorted(p.name for p in run.replaced_files) == ["cmc.png", "last.pt", "report.json"]
    with run.replacing_earlier_run():  # later checkpoints replace nothing
        _write_run(tmp_path, epoch=2)
    assert sorted(os.listdir(tmp_path)) == ["last.pt", "notes.txt"]


def test_overwrite_keeps_the_earlier_run_when_the_first_checkpoint_fails(tmp_path: Path) -> None:
    _write_run(tmp_path, epoch=2)
    (tmp_path / "report.json").write_text("{}")
    before = _listing(tmp_path)
    run = prepare_run_dir(tmp_path, overwrite=True)
    with pytest.raises(OSError, match="disk full"), run.replacing_earlier_run():
        raise OSError("disk full")
    assert _listing(tmp_path) == before and sorted(os.listdir(tmp_path)) == ["last.pt", "report.json"]


def test_a_replacement_killed_before_the_new_checkpoint_is_undone(tmp_path: Path) -> None:
    _write_run(tmp_path, epoch=2)
    before = _listing(tmp_path)
    backup = tmp_path / ".earlier-run.x1y2"
    backup.mkdir()
    (tmp_path / "last.pt").rename(backup / "last.pt")  # as a kill between the move and the write leaves it
    prepare_run_dir(tmp_path, resume=True)
    assert _listing(tmp_path) == before and not backup.exists()


def test_resume_finds_the_checkpoint_and_checks_it_before_any_loading(tmp_path: Path) -> None:
    _write_run(tmp_path, epoch=2)
    run = prepare_run_dir(tmp_path, resume=True, settings=StandInSettings(epochs=5))
    assert run.resume_from == tmp_path / "last.pt"
    assert run.resume_checkpoint is not None and run.resume_checkpoint.epoch == 2
    model = torch.nn.Linear(3, 2)
    payload = load_checkpoint(run.resume_checkpoint, model=model, settings=StandInSettings(epochs=5))
    assert payload["epoch"] == 2


def test_a_checked_checkpoint_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the command line reads and checks the checkpoint (writer=False); the session is handed it
    _write_run(tmp_path, epoch=2)
    reads: list[Path] = []
    original = run_dir_module.read_training_checkpoint

    def counted(path: Path, **kwargs: Any) -> Any:
        reads.append(path)
        return original(path, **kwargs)

    monkeypatch.setattr(run_dir_module, "read_training_checkpoint", counted)
    settings = StandInSettings(epochs=5)
    checked = prepare_run_dir(tmp_path, resume=True, settings=settings, writer=False)
    run = prepare_run_dir(
        tmp_path, resume=True, settings=settings, resume_checkpoint=checked.resume_checkpoint
    )
    assert len(reads) == 1 and run.resume_checkpoint is checked.resume_checkpoint
    # without it, each call reads the file (no cache: a changed file is always read as it is now)
    _write_run(tmp_path, epoch=4)
    assert prepare_run_dir(tmp_path, resume=True, settings=settings).resume_checkpoint.epoch == 4
    assert len(reads) == 2


def test_resume_in_an_empty_folder_starts_a_new_run(tmp_path: Path) -> None:
    run = prepare_run_dir(tmp_path / "new", resume=True, settings=StandInSettings())
    assert run.resume_from is None and run.resume_checkpoint is None


def test_resume_with_fewer_epochs_than_done_is_refused(tmp_path: Path) -> None:
    _write_run(tmp_path, epoch=3)
    before = _listing(tmp_path)
    with pytest.raises(ValueError, match=r"epochs >= 3.*finished 3 epochs.*epochs=2"):
        prepare_run_dir(tmp_path, resume=True, settings=StandInSettings(epochs=2))
    prepare_run_dir(tmp_path, resume=True, settings=StandInSettings(epochs=3))  # as many as done: allowed
    assert _listing(tmp_path) == before


def test_resume_with_other_settings_names_every_difference(tmp_path: Path) -> None:
    _write_run(tmp_path, settings=StandInSettings(lr=0.1, seed=1))
    with pytest.raises(ValueError, match=r"\['lr', 'seed'\].*lr: checkpoint 0.1, this run 0.5"):
        prepare_run_dir(tmp_path, resume=True, settings=StandInSettings(lr=0.5, seed=2))
    # the step cap may change on resume, like the number of epochs
    prepare_run_dir(tmp_path, resume=True, settings=StandInSettings(seed=1, max_steps_per_epoch=4))


def test_resume_and_overwrite_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"resume.*overwrite"):
        prepare_run_dir(tmp_path, resume=True, overwrite=True)


def test_a_file_or_a_path_through_a_file_is_not_a_folder(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        prepare_run_dir(tmp_path / "f")
    with pytest.raises(NotADirectoryError, match="is a file"):
        prepare_run_dir(tmp_path / "f" / "run")
    assert (tmp_path / "f").read_text() == "x"


def test_an_unwritable_folder_fails_now(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(run_dir_module.tempfile, "mkstemp", refuse)
    with pytest.raises(PermissionError, match="can write"):
        prepare_run_dir(tmp_path / "run")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_fails_now(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match="can write"):
            prepare_run_dir(folder)
    finally:
        folder.chmod(0o700)


def test_temporary_files_of_interrupted_writes_are_removed(tmp_path: Path) -> None:
    _write_run(tmp_path)
    stale = [tmp_path / ".last.pt.k2j3h4.tmp", tmp_path / ".report.json.tmp", tmp_path / ".write-test.x.tmp"]
    for path in stale:
        path.write_bytes(b"\0" * 1000)
    kept = [tmp_path / ".mine.tmp", tmp_path / "last.pt.tmp", tmp_path / "notes.tmp"]
    for path in kept:
        path.write_text("user file")
    assert find_temporary_files(tmp_path) == sorted(stale)
    run = prepare_run_dir(tmp_path, resume=True)
    assert sorted(run.removed_temporary_files) == sorted(stale)
    assert not any(p.exists() for p in stale) and all(p.exists() for p in kept)
    assert read_training_checkpoint(tmp_path / "last.pt").epoch == 2


def test_other_processes_only_check(tmp_path: Path) -> None:
    (tmp_path / ".last.pt.abc.tmp").write_bytes(b"x")
    run = prepare_run_dir(tmp_path / "new", writer=False)
    assert not run.path.exists()
    run = prepare_run_dir(tmp_path, writer=False)
    assert (tmp_path / ".last.pt.abc.tmp").exists() and run.removed_temporary_files == ()


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"out_dir": 3}, TypeError, "--out"),
        ({"out_dir": ""}, ValueError, "empty path"),
        ({"out_dir": "x", "resume": "yes"}, TypeError, "resume"),
        ({"out_dir": "x", "overwrite": 1}, TypeError, "overwrite"),
    ],
)
def test_bad_arguments(
    kwargs: dict[str, Any],
    error: type[Exception],
    words: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(error, match=words):
        prepare_run_dir(**kwargs)
    assert list(tmp_path.iterdir()) == []
