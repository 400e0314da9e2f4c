"""Run a command's ``main(argv)`` and turn its usage error (``error: ...`` on stderr, exit status 2) into an
exception whose message is what the command printed, so that tables of bad inputs can match its words."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Sequence
from typing import Any


class UsageError(Exception):
    """A command refused its command line with exit status 2; the message is its stderr."""


def run_command(main: Callable[[Sequence[str]], Any], argv: Sequence[str]) -> Any:
    """``main(argv)``; a ``SystemExit(2)`` becomes :class:`UsageError` carrying the printed message."""
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            return main(list(argv))
    except SystemExit as stop:
        if stop.code == 2:
            raise UsageError(" ".join(stderr.getvalue().split())) from None
        raise
