"""The package's one atomic write: all or nothing, no temporary file left behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import IO, Any

import pytest

from recognizability._files import write_atomically


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "last.pt"
    target.write_bytes(b"old")

    def half_then_fail(handle: IO[Any]) -> None:
        handle.write(b"half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        write_atomically(target, half_then_fail)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_text_and_shared_modes(tmp_path: Path) -> None:
    report = write_atomically(tmp_path / "r.json", lambda h: h.write('{"é": 1}'), text=True)
    assert report.read_text(encoding="utf-8") == '{"é": 1}'
    private = write_atomically(tmp_path / "a.bin", lambda h: h.write(b"x"))
    shared = write_atomically(tmp_path / "b.onnx", lambda h: h.write(b"x"), shared=True)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE(shared.stat().st_mode) == 0o666 & ~umask
