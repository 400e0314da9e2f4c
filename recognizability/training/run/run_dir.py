"""The output folder of a training run, prepared before any training so that no run is ever lost.

:func:`prepare_run_dir` is called once per run folder (``OUT/<run name>``) before the data is loaded or a
model is built:

- a folder that already holds a run (``last.pt`` or ``report.json``) is refused unless the caller asks to
  continue it (``resume=True``, the command line's ``--resume``) or to replace it (``overwrite=True``,
  ``--overwrite``);
- replacing loses nothing until the new run is known to start: the earlier run's files stay where they are
  until the new run writes its first checkpoint (:meth:`RunDir.replacing_earlier_run`, called around that
  write); then they are moved into a hidden backup folder, the checkpoint is written, and the backup is
  deleted (restored if the write fails). A new run that fails before its first checkpoint leaves the earlier
  run as it was, so the folder never mixes two runs and a typo never costs a run;
- a path that is a file, or a folder that cannot be created or written, is an error now, not after the first
  epoch. A folder that does not exist yet is created (and the write tested) and removed again: it is made
  by the first checkpoint, so a run that fails before leaves no empty folder behind;
- temporary files left by an interrupted atomic write (``.last.pt.<random>.tmp``, ``.report.json.tmp``) are
  removed; the backup of a replacement interrupted by a kill is put back when no new checkpoint was written;
- with ``resume=True`` and ``settings``, the checkpoint is read safely and checked against the run's settings
  (:func:`~recognizability.training.run.checkpoint.check_resume_settings`: same settings but ``epochs``, and
  no fewer epochs than already done).

Under ``torchrun`` call it on every process with ``writer=context.is_main``: every process checks, only the
main process creates, cleans or removes anything.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .checkpoint import (
    CHECKPOINT_KIND,
    RunSettings,
    TrainingCheckpoint,
    check_resume_settings,
    read_training_checkpoint,
)

__all__ = ["CHECKPOINT_NAME", "RUN_FILES", "RunDir", "find_temporary_files", "prepare_run_dir"]

#: The resumable checkpoint every run writes after each epoch.
CHECKPOINT_NAME = "last.pt"
#: Files whose presence means a folder holds a run (replaced by ``overwrite=True``).
RUN_FILES: tuple[str, ...] = (CHECKPOINT_NAME, "report.json")
#: Files written atomically through a hidden temporary sibling (``.<name>.tmp`` or ``.<name>.<random>.tmp``).
ATOMIC_FILES: tuple[str, ...] = (*RUN_FILES, "comparison.json", "backbone.pt", "pretrain.json")
_PROBE_PREFIX = ".write-test."
#: Hidden folder holding an earlier run's files while a replacing run writes its first checkpoint.
_BACKUP_PREFIX = ".earlier-run."


def _temporary_pattern(names: tuple[str, ...]) -> re.Pattern[str]:
    stems = "|".join(re.escape(n) for n in (*names, _PROBE_PREFIX.strip(".")))
    return re.compile(rf"^\.(?:{stems})(?:\.[^/]*)?\.tmp$")


@dataclass
class RunDir:
    """What :func:`prepare_run_dir` found.

    Attributes:
        path: the run's folder (it exists once the first checkpoint is written).
        checkpoint: where the run's ``last.pt`` goes.
        resume_from: the checkpoint to continue (``resume=True`` and one exists), else None: a new run.
        resume_checkpoint: that checkpoint, read and checked (when ``settings`` was given), else None; pass it
            to :func:`~recognizability.training.run.checkpoint.load_checkpoint` to avoid reading it twice.
        removed_temporary_files: left-overs of interrupted writes that were deleted.
        earlier_run: files of an earlier run that ``overwrite=True`` replaces; they stay in place until
            :meth:`replacing_earlier_run` (the new run's first checkpoint), and the tuple is emptied then.
        replaced_files: the earlier run's files deleted once the new run's first checkpoint was written.
    """

    path: Path
    checkpoint: Path
    resume_from: Path | None = None
    resume_checkpoint: TrainingCheckpoint | None = None
    removed_temporary_files: tuple[Path, ...] = ()
    earlier_run: tuple[Path, ...] = ()
    replaced_files: tuple[Path, ...] = field(default=())

    @contextlib.contextmanager
    def replacing_earlier_run(self) -> Iterator[None]:
        """Wrap the write of the run's first checkpoint: the earlier run's files (``overwrite=True``) are
        moved into a hidden backup folder, the block writes the checkpoint, then the backup is deleted; if the
        block raises, the files are moved back. Nothing to replace (or already replaced): only runs the block.
        """
        earlier = [p for p in self.earlier_run if p.is_file() or p.is_symlink()]
        if not earlier:
            self.earlier_run = ()
            yield
            return
        backup = Path(tempfile.mkdtemp(prefix=_BACKUP_PREFIX, dir=self.path))
        moved: list[Path] = []
        try:
            for old in earlier:
                os.replace(old, backup / old.name)
                moved.append(old)
            yield
        except BaseException:
            for old in moved:
                if not (old.exists() or old.is_symlink()):
                    os.replace(backup / old.name, old)
            shutil.rmtree(backup, ignore_errors=True)
            raise
        shutil.rmtree(backup, ignore_errors=True)
        self.replaced_files = tuple(moved)
        self.earlier_run = ()


def find_temporary_files(folder: str | os.PathLike[str], names: tuple[str, ...] = ATOMIC_FILES) -> list[Path]:
    """Temporary files of interrupted atomic writes of ``names`` in ``folder`` (regular files, sorted)."""
    pattern = _temporary_pattern(names)
    base = Path(folder)
    if not base.is_dir():
        return []
    return sorted(p for p in base.iterdir() if pattern.match(p.name) and p.is_file() and not p.is_symlink())


def _recover_interrupted_replacement(folder: Path) -> list[Path]:
    """Backups left by a replacement killed between moving the earlier run aside and writing the new
    checkpoint: put the files back when no new checkpoint was written, else delete the backup."""
    if not folder.is_dir():
        return []
    found = []
    for backup in sorted(folder.iterdir()):
        if not (backup.name.startswith(_BACKUP_PREFIX) and backup.is_dir() and not backup.is_symlink()):
            continue
        found.append(backup)
        if not (folder / CHECKPOINT_NAME).exists():
            for old in backup.iterdir():
                if not (folder / old.name).exists():
                    os.replace(old, folder / old.name)
        shutil.rmtree(backup, ignore_errors=True)
    return found


def _check_flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected {name} to be a bool, got {type(value).__name__}")
    return value


def _check_writable(path: Path) -> None:
    """Create ``path`` (with its parents) if needed, write and delete a probe file in it, and remove again
    the folders this call created: the folder is made by the run's first checkpoint."""
    created: list[Path] = []
    for candidate in (path, *path.parents):
        if candidate.exists():
            break
        created.append(candidate)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=_PROBE_PREFIX, suffix=".tmp", dir=path)
        os.close(fd)
        os.unlink(probe)
    except (PermissionError, OSError) as err:
        if isinstance(err, (NotADirectoryError, FileExistsError)):
            raise NotADirectoryError(f"expected --out {str(path)!r} to be a folder: {err}") from None
        raise PermissionError(
            f"expected --out {str(path)!r} to be a folder this process can write, but writing in it failed: "
            f"{err}"
        ) from None
    finally:
        for folder in created:  # deepest first
            with contextlib.suppress(OSError):
                folder.rmdir()


def prepare_run_dir(
    out_dir: str | os.PathLike[str],
    *,
    resume: bool = False,
    overwrite: bool = False,
    settings: RunSettings | None = None,
    writer: bool = True,
    run_files: Sequence[str] = RUN_FILES,
    outputs: Sequence[str] = (),
    kinds: tuple[str, ...] = (CHECKPOINT_KIND,),
    resume_checkpoint: TrainingCheckpoint | None = None,
) -> RunDir:
    """Make ``out_dir`` ready for a run, refusing anything that would lose an earlier run's work.

    Args:
        out_dir: the run's folder (``OUT/<run name>``); made by the run's first checkpoint.
        resume: continue the run in the folder (``--resume``); without a checkpoint there, a new run starts.
        overwrite: replace the run in the folder (``--overwrite``): its files are replaced when the new run
            writes its first checkpoint (:meth:`RunDir.replacing_earlier_run`), not before.
        settings: this run's settings; with ``resume`` and a checkpoint, the checkpoint is read (safely, with
            ``weights_only=True``) and checked against them now, before any data is loaded.
        writer: False on processes other than the main one, or to check only: create, clean or delete
            nothing (and do not test writing).
        run_files: the files whose presence means the folder holds a run (``last.pt`` first); all are
            replaced by ``overwrite``.
        outputs: other files the run writes (plots): not a sign of a run, but replaced with it.
        kinds: the checkpoint ``kind`` markers the run may continue (``read_training_checkpoint``).
        resume_checkpoint: the folder's checkpoint when the caller has already read and checked it (a
            check-only call before, with ``writer=False``): it is used instead of reading the file again.

    Returns:
        :class:`RunDir`.

    Raises:
        TypeError: ``out_dir`` is not a path or a flag is not a bool.
        ValueError: both ``resume`` and ``overwrite``; or the checkpoint cannot be resumed with ``settings``
            (other settings, fewer epochs than done: see ``check_resume_settings``).
        NotADirectoryError: ``out_dir`` (or a parent) is a file.
        PermissionError: the folder cannot be created or written.
        FileExistsError: the folder holds a run and neither ``resume`` nor ``overwrite`` was given.
        CheckpointError: (``resume`` with ``settings``) the checkpoint is not a readable training checkpoint.
    """
    if not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError(
            f"expected --out to be a folder path (str or os.PathLike), got {type(out_dir).__name__}"
        )
    resume, overwrite = _check_flag(resume, "resume"), _check_flag(overwrite, "overwrite")
    _check_flag(writer, "writer")
    if resume and overwrite:
        raise ValueError(
            "expected at most one of resume (continue the run) and overwrite (replace it), got both"
        )
    if os.fspath(out_dir) in ("", b""):
        raise ValueError("expected --out to name a folder, got an empty path")
    path = Path(out_dir).expanduser()
    for candidate in (path, *path.parents):
        if candidate.exists() and not candidate.is_dir():
            raise NotADirectoryError(
                f"expected --out {str(path)!r} to be a folder, but {str(candidate)!r} is a file"
            )
        if candidate.exists():
            break
    checkpoint = path / CHECKPOINT_NAME
    if checkpoint.is_dir():
        raise IsADirectoryError(
            f"expected {str(checkpoint)!r} to be the run's checkpoint file (or absent), got a folder"
        )
    if writer:
        _recover_interrupted_replacement(path)

    def present(name: str) -> bool:
        return (path / name).is_file() or (path / name).is_symlink()

    existing = [path / name for name in run_files if present(name)]
    if existing and not (resume or overwrite):
        raise FileExistsError(
            f"expected --out {str(path)!r} to hold no earlier run, but it holds "
            f"{[p.name for p in existing]}: pass --resume to continue that run, --overwrite to replace it, "
            f"or another --out"
        )
    if resume and not present(CHECKPOINT_NAME) and existing:
        raise FileExistsError(
            f"cannot resume the run in {str(path)!r}: it holds {[p.name for p in existing]} but no "
            f"{CHECKPOINT_NAME} to continue from; pass --overwrite to replace it, or another --out"
        )
    resume_from = checkpoint if resume and present(CHECKPOINT_NAME) else None
    if resume_from is None:
        resume_checkpoint = None
    elif resume_checkpoint is None and settings is not None:
        # mapped, not read: each process of a class-sharded run keeps only its rows of the whole head, and
        # processes on one machine share the pages (POSIX only: elsewhere a mapped file cannot be replaced
        # by the run's next checkpoint)
        resume_checkpoint = read_training_checkpoint(resume_from, kinds=kinds, mmap=os.name == "posix")
        check_resume_settings(resume_checkpoint, settings)
    earlier = tuple(existing + [path / n for n in outputs if present(n)]) if overwrite else ()
    if not writer:
        return RunDir(path, checkpoint, resume_from, resume_checkpoint, earlier_run=earlier)

    _check_writable(path)
    removed = find_temporary_files(path)
    for stale in removed:
        stale.unlink(missing_ok=True)
    return RunDir(path, checkpoint, resume_from, resume_checkpoint, tuple(removed), earlier)
