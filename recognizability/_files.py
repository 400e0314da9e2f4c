"""Writing the user's files: the package's one atomic write, and its one rule for what a command may replace.

- :func:`write_atomically`: an interruption never leaves a truncated file;
- :func:`check_new_output`: a command never replaces a file unasked (``--overwrite``), and never one of its
  own inputs, asked or not;
- :func:`write_json`: indented JSON through :func:`write_atomically`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

__all__ = ["check_new_output", "write_atomically", "write_json"]


def write_atomically(
    path: str | os.PathLike[str],
    write: Callable[[IO[Any]], object],
    *,
    text: bool = False,
    shared: bool = False,
) -> Path:
    """Write ``path`` via a temporary sibling ``.<name>.<random>.tmp`` moved into place by ``os.replace``.

    The data is flushed and fsynced before the move, so ``path`` holds either its old content or the whole
    new one. On any error (or interruption) the temporary file is removed and ``path`` is untouched; a
    temporary file left by a killed process is removed by
    :func:`~recognizability.training.run.run_dir.prepare_run_dir`.

    Args:
        path: the destination; its folder must exist.
        write: called once with the open handle (binary unless ``text``).
        text: open the handle in text mode (UTF-8).
        shared: give the file the mode of a normally created file (``0o666`` less the umask) instead of the
            private ``0o600`` of a temporary file (for exported models meant to be shared).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        handle: IO[Any]
        with os.fdopen(fd, "w", encoding="utf-8") if text else os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        if shared:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:  # pragma: no cover - unreadable metadata
        return False


def check_new_output(
    path: str | os.PathLike[str],
    *,
    overwrite: bool,
    flag: str = "--out",
    inputs: Iterable[str | os.PathLike[str]] = (),
    reads: Callable[[Path], bool] | None = None,
) -> Path:
    """The one rule for a file a command writes: checked before any work, changing nothing.

    - a folder is never replaced by a file;
    - an existing file is replaced only with ``overwrite`` (``--overwrite``: "replace my earlier output");
    - an input of the same command is never replaced, with or without ``overwrite``: a file given as an input
      (the same file, through any path or link), or a file inside an input folder that the command reads
      (``reads(path)``, e.g. an image file under a folder being scored).

    Args:
        path: the output file.
        overwrite: whether an existing file may be replaced.
        flag: the option that named ``path``, for the messages.
        inputs: the command's input files and folders.
        reads: whether the command would read a file at ``path`` if it lay inside an input folder (None: it
            reads every file there).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        TypeError: ``path`` is not a path.
        IsADirectoryError: ``path`` is a folder.
        ValueError: ``path`` is one of the inputs, or a file the command reads from an input folder.
        FileExistsError: ``path`` exists and ``overwrite`` is False.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"expected {flag} to be a file path, got {type(path).__name__}")
    out = Path(path).expanduser()
    if out.is_dir():
        raise IsADirectoryError(f"expected {flag} to be a file path, got the folder {str(path)!r}")
    target = out.resolve()
    for item in inputs:
        given = Path(item).expanduser()
        if target == given.resolve() or _same_file(out, given):
            raise ValueError(
                f"expected {flag} to be a new file, got {str(path)!r}, an input of this command "
                f"({str(item)!r}); it would be replaced, even with --overwrite"
            )
        if given.is_dir() and given.resolve() in target.parents and (reads is None or reads(target)):
            raise ValueError(
                f"expected {flag} to be a file outside the inputs, got {str(path)!r}, a file this command "
                f"reads under {str(item)!r}; it would be replaced, even with --overwrite"
            )
    if (out.exists() or out.is_symlink()) and not overwrite:
        raise FileExistsError(
            f"expected {flag} {str(path)!r} not to exist (it would be replaced); pass --overwrite to "
            f"replace it"
        )
    return out


def write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """``data`` as indented JSON (with a final newline) in ``path``, atomically (:func:`write_atomically`);
    the file gets the mode of a normally created file."""
    text = json.dumps(data, indent=2) + "\n"
    return write_atomically(path, lambda handle: handle.write(text), text=True, shared=True)
