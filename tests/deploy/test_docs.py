"""docs/deployment.md shows every command in its worked example (its blocks run with every page, in order:
tests/test_docs.py)."""

from __future__ import annotations

import re
from pathlib import Path

PAGE = Path(__file__).resolve().parents[2] / "docs" / "deployment.md"
BLOCKS = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)


def test_page_shows_every_command() -> None:
    text = "\n".join(BLOCKS)
    for command in ('"calibrate"', '"export"', '"quality"', '"--threshold-for"', '"evaluate"'):
        assert command in text
