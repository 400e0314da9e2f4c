"""Where the tests find the repository's files: one place instead of ``Path(__file__).parents[n]``."""

from __future__ import annotations

from pathlib import Path

#: The tests folder.
TESTS = Path(__file__).resolve().parents[1]
#: The repository root (README.md, docs/, examples/, benchmarks/, pyproject.toml).
REPO = TESTS.parent
#: Data the tests read, copied into the project with its source named (tests/data/*/README.md).
TEST_DATA = TESTS / "data"
#: The example scripts.
EXAMPLES = REPO / "examples"
