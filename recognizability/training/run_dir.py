"""The output folder of a training run, prepared before any training so that no run is ever lost.

:func:`prepare_run_dir` is called once per run folder (``OUT/<run name>``) before the data is loaded or a
model is built:

- a folder that already holds a run (``last.pt`` or ``report.json``) is refused unless the caller asks to
  continue it (``resume=True``, the command line's ``--resume``) or to replace it (``overwrite=True``,
  ``--overwrite``); replacing removes the earlier run's ``last.pt`` and ``report.json`` first, so the folder
  never mixes two runs;
- a path that is a file, or a folder that cannot be created or written, is an error now, not after the first
  epoch;
- temporary files left by an interrupted atomic write (``.last.pt.<random>.tmp``, ``.report.json.tmp``) are
  removed;
- with ``resume=True`` and ``settings``, the checkpoint is read safely and checked against the run's settings
  (:func:`~recognizability.training.checkpoint.check_resume_settings`: same settings but ``epochs``, and no
  fewer epochs than already done).

Under ``torchrun`` call it on every process with ``writer=context.is_main``: every process checks, only the
main process creates, cleans or removes anything.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .checkpoint import RunSettings, TrainingCheckpoint, check_resume_settings, read_training_checkpoint

__all__ = ["CHECKPOINT_NAME", "RUN_FILES", "RunDir", "find_temporary_files", "prepare_run_dir"]

#: The resumable checkpoint every run writes after each epoch.
CHECKPOINT_NAME = "last.pt"
#: Files whose presence means a folder holds a run (removed by ``overwrite=True``).
RUN_FILES: tuple[str, ...] = (CHECKPOINT_NAME, "report.json")
#: Files written atomically through a hidden temporary sibling (``.<name>.tmp`` or ``.<name>.<random>.tmp``).
ATOMIC_FILES: tuple[str, ...] = (*RUN_FILES, "comparison.json", "backbone.pt")
_PROBE_PREFIX = ".write-test."


def _temporary_pattern(names: tuple[str, ...]) -> re.Pattern[str]:
    stems = "|".join(re.escape(n) for n in (*names, _PROBE_PREFIX.strip(".")))
    return re.compile(rf"^\.(?:{stems})(?:\.[^/]*)?\.tmp$")


@dataclass(frozen=True)
class RunDir:
    """What :func:`prepare_run_dir` found and did.

    Attributes:
        path: the run's folder (created unless ``writer=False``).
        checkpoint: where the run's ``last.pt`` goes.
        resume_from: the checkpoint to continue (``resume=True`` and one exists), else None: a new run.
        resume_checkpoint: that checkpoint, read and checked (when ``settings`` was given), else None; pass it
            to :func:`~recognizability.training.checkpoint.load_checkpoint` to avoid reading it twice.
        removed_temporary_files: left-overs of interrupted writes that were deleted.
        replaced_files: files of an earlier run deleted by ``overwrite=True``.
    """

    path: Path
    checkpoint: Path
    resume_from: Path | None = None
    resume_checkpoint: TrainingCheckpoint | None = None
    removed_temporary_files: tuple[Path, ...] = ()
    replaced_files: tuple[Path, ...] = ()


def find_temporary_files(folder: str | os.PathLike[str], names: tuple[str, ...] = ATOMIC_FILES) -> list[Path]:
    """Temporary files of interrupted atomic writes of ``names`` in ``folder`` (regular files, sorted)."""
    pattern = _temporary_pattern(names)
    base = Path(folder)
    if not base.is_dir():
        return []
    return sorted(p for p in base.iterdir() if pattern.match(p.name) and p.is_file() and not p.is_symlink())


def _check_flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected {name} to be a bool, got {type(value).__name__}")
    return value


def prepare_run_dir(
    out_dir: str | os.PathLike[str],
    *,
    resume: bool = False,
    overwrite: bool = False,
    settings: RunSettings | None = None,
    writer: bool = True,
) -> RunDir:
    """Make ``out_dir`` ready for a run, refusing anything that would lose an earlier run's work.

    Args:
        out_dir: the run's folder (``OUT/<run name>``); created with its parents.
        resume: continue the run in the folder (``--resume``); without a checkpoint there, a new run starts.
        overwrite: replace the run in the folder (``--overwrite``): its ``last.pt`` and ``report.json`` are
            deleted now.
        settings: this run's settings; with ``resume`` and a checkpoint, the checkpoint is read (safely, with
            ``weights_only=True``) and checked against them now, before any data is loaded.
        writer: False on processes other than the main one: check only; create, clean or delete nothing.

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
    existing = [path / name for name in RUN_FILES if (path / name).is_file() or (path / name).is_symlink()]
    if existing and not (resume or overwrite):
        raise FileExistsError(
            f"expected --out {str(path)!r} to hold no earlier run, but it holds "
            f"{[p.name for p in existing]}: pass --resume to continue that run, --overwrite to replace it, "
            f"or another --out"
        )
    if resume and not (checkpoint.is_file() or checkpoint.is_symlink()) and existing:
        raise FileExistsError(
            f"cannot resume the run in {str(path)!r}: it holds {[p.name for p in existing]} but no "
            f"{CHECKPOINT_NAME} to continue from; pass --overwrite to replace it, or another --out"
        )
    resume_from = checkpoint if resume and (checkpoint.is_file() or checkpoint.is_symlink()) else None
    resume_checkpoint = None
    if resume_from is not None and settings is not None:
        resume_checkpoint = read_training_checkpoint(resume_from)
        check_resume_settings(resume_checkpoint, settings)
    if not writer:
        return RunDir(path, checkpoint, resume_from, resume_checkpoint)

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
    removed = find_temporary_files(path)
    for stale in removed:
        stale.unlink(missing_ok=True)
    replaced: list[Path] = []
    if overwrite:
        for old in existing:
            old.unlink(missing_ok=True)
            replaced.append(old)
    return RunDir(path, checkpoint, resume_from, resume_checkpoint, tuple(removed), tuple(replaced))
