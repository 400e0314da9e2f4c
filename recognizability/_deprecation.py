"""Deprecated module attributes: names kept importable for one release, with a DeprecationWarning."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any

__all__ = ["deprecated_aliases"]


def deprecated_aliases(
    module_name: str,
    aliases: Mapping[str, str],
    namespace: Mapping[str, Any],
    *,
    advice: Mapping[str, str] | None = None,
    quiet_inside_package: bool = False,
    stacklevel: int = 2,
) -> Callable[[str], Any]:
    """A module ``__getattr__`` resolving each old name in ``aliases`` to its new name, with a warning.

    Args:
        module_name: the module's ``__name__`` (named in the warning).
        aliases: old name -> the name in ``namespace`` that holds its value.
        namespace: where the values live (the module's ``globals()``, or a mapping over several modules).
        advice: old name -> what to use instead, said in the warning (``"use build_head(...)"``); without it
            the warning says the name is private now, as its new name.
        quiet_inside_package: no warning when a module of the package itself asks (one not yet moved to the
            replacement); users' code is warned.
        stacklevel: the frame that asked, counted as :func:`warnings.warn` counts (2: the caller of the
            returned ``__getattr__``; one more for each function between them).

    Example (at the end of a module)::

        __getattr__ = deprecated_aliases(__name__, {"threshold_at_rate": "_threshold_at_rate"}, globals())
    """
    package = module_name.partition(".")[0]

    def __getattr__(name: str) -> Any:
        if name in aliases:
            caller = _asking_module(stacklevel)
            inside = caller == package or caller.startswith(package + ".")
            if not (quiet_inside_package and inside):
                said = (advice or {}).get(name)
                reason = (
                    f"; {said}"
                    if said is not None
                    else f" and will be removed in the next release (it is private now, as {aliases[name]})"
                )
                warnings.warn(
                    f"{module_name}.{name} is deprecated{reason}", DeprecationWarning, stacklevel=stacklevel
                )
            return namespace[aliases[name]]
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")

    return __getattr__


def _asking_module(stacklevel: int) -> str:
    """The ``__name__`` of the module that asked for the attribute, past the import machinery's own frames
    (``from package import name`` asks through ``importlib._bootstrap``)."""
    frame: FrameType | None = sys._getframe(stacklevel)  # counted as warnings.warn counts from its caller
    while frame is not None and frame.f_globals.get("__name__", "").startswith("importlib"):
        frame = frame.f_back
    return "" if frame is None else str(frame.f_globals.get("__name__", ""))
