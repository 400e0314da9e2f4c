"""Runs every python block of docs/metrics.md, so the worked examples stay true."""

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
BLOCKS = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)


def test_page_has_one_example_per_protocol():
    text = "\n".join(BLOCKS)
    for name in ("evaluate_tinyface", "evaluate_scface", "evaluate_survface", "error_versus_reject"):
        assert name in text


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_example_runs(code):
    exec(compile(code, str(PAGE), "exec"), {})
