"""Names of the data package defined once are imported, not redefined (its import graph is checked with
the whole package's, tests/test_layers.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import recognizability.data as data_package
from recognizability.data import SYNTHETIC_MARKER, metadata
from recognizability.data.synthetic import layouts

PACKAGE = Path(data_package.__file__).parent


def test_the_marker_name_is_defined_once() -> None:
    assert SYNTHETIC_MARKER == "SYNTHETIC.txt"
    assert layouts.PROVENANCE_FILENAME is metadata.SYNTHETIC_MARKER
    assert layouts.METADATA_FILENAME is metadata.METADATA_FILENAME
    literal = [
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if any(
            isinstance(node, ast.Constant) and node.value == "SYNTHETIC.txt"
            for node in ast.walk(ast.parse(path.read_text()))
        )
    ]
    assert literal == ["metadata.py"]
