"""docs/metrics.md shows a worked example per protocol (its blocks run with the other pages':
tests/test_docs.py)."""

import re
from pathlib import Path

PAGE = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
BLOCKS = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)


def test_page_has_one_example_per_protocol():
    text = "\n".join(BLOCKS)
    for name in ("evaluate_tinyface", "evaluate_scface", "evaluate_survface", "error_versus_reject"):
        assert name in text
