"""The example scripts' tiny test set-up (``tests/examples/tiny.py``), loaded by file for the tests of this
folder."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "_tiny_examples", Path(__file__).resolve().parents[1] / "examples" / "tiny.py"
)
assert _spec is not None and _spec.loader is not None
_tiny = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_tiny)

free_port = _tiny.free_port
load_example = _tiny.load_example
tiny_config = _tiny.tiny_config
tiny_data = _tiny.tiny_data
tiny_session = _tiny.tiny_session

__all__ = ["free_port", "load_example", "tiny_config", "tiny_data", "tiny_session"]
