"""Shared pytest configuration: every test starts with the package's value checks on (the default)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from recognizability._validation import set_value_checks, value_checks_enabled


@pytest.fixture(autouse=True)
def _restore_value_checks() -> Iterator[None]:
    """Run each test with value checks on and restore the switch afterwards, whatever the test did."""
    previous = value_checks_enabled()
    set_value_checks(True)
    yield
    set_value_checks(previous)
