"""Runs the python blocks of docs/deployment.md in order, in one namespace: the worked example stays true."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "deployment.md"
BLOCKS = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)


def test_page_shows_every_command() -> None:
    text = "\n".join(BLOCKS)
    for command in ('"calibrate"', '"export"', '"quality"', '"--threshold-for"', '"evaluate"'):
        assert command in text


@pytest.mark.slow
def test_worked_example_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for module in ("PIL", "onnx", "onnxruntime", "onnxscript"):
        pytest.importorskip(module)
    monkeypatch.setenv("RECOGNIZABILITY_CACHE", str(tmp_path / "cache"))  # nothing lands in the user's cache
    namespace: dict[str, object] = {}
    for code in BLOCKS:
        exec(compile(code, str(PAGE), "exec"), namespace)
