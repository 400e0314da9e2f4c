"""Deprecated module attributes: names kept importable for one release, with a DeprecationWarning."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["deprecated_aliases"]


def deprecated_aliases(
    module_name: str, aliases: Mapping[str, str], namespace: Mapping[str, Any]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` resolving each old name in ``aliases`` to its new name, with a warning.

    Example (at the end of a module)::

        __getattr__ = deprecated_aliases(__name__, {"threshold_at_rate": "_threshold_at_rate"}, globals())
    """

    def __getattr__(name: str) -> Any:
        if name in aliases:
            warnings.warn(
                f"{module_name}.{name} is deprecated and will be removed in the next release "
                f"(it is private now, as {aliases[name]})",
                DeprecationWarning,
                stacklevel=2,
            )
            return namespace[aliases[name]]
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")

    return __getattr__
