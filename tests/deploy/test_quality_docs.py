"""Runs the python blocks of docs/quality.md in order, in one namespace: the worked example stays true."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "quality.md"
BLOCKS = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)


def test_page_shows_the_fit_and_every_command_that_takes_its_file() -> None:
    text = "\n".join(BLOCKS)
    for command in (
        '"fit-quality"',
        '"quality"',
        '"--threshold-for"',
        '"export"',
        '"evaluate"',
        "fit_quality(",
    ):
        assert command in text


def test_the_protocol_section_precedes_the_worked_example() -> None:
    text = PAGE.read_text()
    assert text.index("## Protocol of the evidence (written before the runs)") < text.index(
        "## Worked example"
    )


@pytest.mark.slow
def test_worked_example_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for module in ("PIL", "onnx", "onnxruntime", "onnxscript"):
        pytest.importorskip(module)
    monkeypatch.setenv("RECOGNIZABILITY_CACHE", str(tmp_path / "cache"))  # nothing lands in the user's cache
    namespace: dict[str, object] = {}
    for code in BLOCKS:
        exec(compile(code, str(PAGE), "exec"), namespace)
