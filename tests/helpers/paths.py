"""Where the tests find the repository's files: one place instead of ``Path(__file__).parents[n]``."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

#: The tests folder.
TESTS = Path(__file__).resolve().parents[1]
#: The repository root (README.md, docs/, examples/, benchmarks/, pyproject.toml).
REPO = TESTS.parent
#: Data the tests read, copied into the project with its source named (tests/data/*/README.md).
TEST_DATA = TESTS / "data"
#: The example scripts.
EXAMPLES = REPO / "examples"
#: The benchmark and evidence scripts.
BENCHMARKS = REPO / "benchmarks"


def load_script(path: Path, name: str | None = None) -> ModuleType:
    """The script at ``path`` (an example, a benchmark, an edited copy) as a module named ``name`` (default:
    the file's stem). The module is registered in ``sys.modules`` first, so the dataclasses it defines can
    look their module up while they are built."""
    name = name or path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, f"cannot load {path}"
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
