"""The one way a module keeps old names for a release: a module ``__getattr__`` that warns or explains.

:func:`deprecations` builds it from two tables:

- ``moved``: an old name that still works, resolved to its new home (``"package.module:new_name"``,
  imported on first use), with a :class:`DeprecationWarning` naming the replacement;
- ``removed``: an old name that is gone, with the sentence saying what replaces it. Attribute access raises
  :class:`AttributeError` with that sentence; ``from module import old_name`` raises :class:`ImportError`
  with the same sentence (Python would otherwise say only "cannot import name").

Example (at the end of a module)::

    __getattr__ = deprecations(
        __name__,
        moved={"paper_settings": "recognizability.training.config:paper_config"},
        removed={"fit": "the training loop is written out in examples/train_*.py"},
    )
"""

from __future__ import annotations

import dis
import importlib
import sys
import warnings
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["deprecated_aliases", "deprecations"]

_IMPORT_FROM = dis.opmap.get("IMPORT_FROM")


def _called_by_from_import() -> bool:
    """Whether the module ``__getattr__`` two frames up runs for a ``from module import name`` statement.

    Python turns an AttributeError raised there into a bare "cannot import name" ImportError; an ImportError
    raised instead reaches the user as it is. The statement is recognised by the instruction its frame is
    executing; where that cannot be read, the answer is False (the AttributeError's message is then lost on
    a from-import, nothing else changes).
    """
    if _IMPORT_FROM is None:  # pragma: no cover - every supported Python has the opcode
        return False
    try:
        frame = sys._getframe(2)
        return frame.f_code.co_code[frame.f_lasti] == _IMPORT_FROM
    except (AttributeError, IndexError, ValueError):  # pragma: no cover - another interpreter
        return False


def deprecations(
    module_name: str,
    *,
    moved: Mapping[str, str] | None = None,
    removed: Mapping[str, str] | None = None,
) -> Callable[[str], Any]:
    """A module ``__getattr__`` for the old names of ``module_name``.

    Args:
        module_name: the module's ``__name__`` (named in the messages).
        moved: old name -> ``"package.module:new_name"``; each use warns (DeprecationWarning) and returns the
            new object.
        removed: old name -> what replaces it, in words.

    Raises (from the returned function):
        AttributeError: an unknown name, or a removed one (with its replacement).
        ImportError: a removed name asked for by ``from module import name`` (with its replacement).
    """
    moved = dict(moved or {})
    removed = dict(removed or {})

    def __getattr__(name: str) -> Any:
        if name in moved:
            target_module, _, target_name = moved[name].partition(":")
            if target_name.startswith("_"):
                instead = f"it is private now, as {target_name}"
            else:
                instead = f"use {target_module}.{target_name}"
            warnings.warn(
                f"{module_name}.{name} is deprecated and will be removed in the next release; {instead}",
                DeprecationWarning,
                stacklevel=2,
            )
            return getattr(importlib.import_module(target_module), target_name)
        if name in removed:
            message = f"{module_name}.{name} was removed: {removed[name]}"
            if _called_by_from_import():
                raise ImportError(message, name=module_name)
            raise AttributeError(message)
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")

    return __getattr__


def deprecated_aliases(
    module_name: str, aliases: Mapping[str, str], namespace: Mapping[str, Any]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` resolving each old name in ``aliases`` to a (private) name of the same module,
    with a warning: :func:`deprecations` with ``moved`` entries that point into ``module_name`` itself.

    Example (at the end of a module)::

        __getattr__ = deprecated_aliases(__name__, {"threshold_at_rate": "_threshold_at_rate"}, globals())
    """
    del namespace  # the module itself is imported by name: it is the namespace
    return deprecations(module_name, moved={old: f"{module_name}:{new}" for old, new in aliases.items()})
