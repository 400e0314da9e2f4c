"""Shared pytest configuration: every test starts with the package's value checks on (the default), in an
empty working folder of its own (no test may depend on what the user's working folder holds, e.g. the runs/
the demo wrote there)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from recognizability._validation import set_value_checks, value_checks_enabled


@pytest.fixture(autouse=True)
def _restore_value_checks() -> Iterator[None]:
    """Run each test with value checks on and restore the switch afterwards, whatever the test did."""
    previous = value_checks_enabled()
    set_value_checks(True)
    yield
    set_value_checks(previous)


@pytest.fixture(autouse=True)
def _empty_working_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run each test in a fresh, empty working folder: relative paths (``--out runs/...`` defaults, written
    files) land there, never in the folder the test suite was started from."""
    folder = tmp_path_factory.mktemp("cwd")
    monkeypatch.chdir(folder)
    return folder
