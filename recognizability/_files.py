"""Writing a file so that an interruption never leaves a truncated one: the package's one atomic write."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["write_atomically"]


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
    :func:`~recognizability.training.run_dir.prepare_run_dir`.

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
