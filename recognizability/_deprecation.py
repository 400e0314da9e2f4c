"""The one way a module keeps old names for a release: a module ``__getattr__`` that warns or explains.

Two builders share one resolver:

- :func:`deprecations`, from two tables: ``moved``, an old name that still works, resolved to its new home
  (``"package.module:new_name"``, imported on first use), with a :class:`DeprecationWarning` naming the
  replacement; ``removed``, an old name that is gone, with the sentence saying what replaces it;
- :func:`deprecated_aliases`, for old names whose values a module holds itself (``globals()``), e.g. a name
  made private, or one whose replacement is a new function rather than the same object.

A removed name raises :class:`AttributeError` with its sentence on attribute access, and :class:`ImportError`
with the same sentence on ``from module import old_name`` (Python would otherwise say only "cannot import
name").

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


def _resolver(
    module_name: str,
    value_of: Mapping[str, Callable[[], Any]],
    instead: Mapping[str, str],
    removed: Mapping[str, str],
    *,
    stacklevel: int = 2,
) -> Callable[[str], Any]:
    """The module ``__getattr__``: ``value_of[name]()`` with a warning saying ``instead[name]``; a removed
    name's sentence as an AttributeError (ImportError on a from-import)."""

    def __getattr__(name: str) -> Any:
        if name in value_of:
            warnings.warn(
                f"{module_name}.{name} is deprecated and will be removed in the next release; "
                f"{instead[name]}",
                DeprecationWarning,
                stacklevel=stacklevel,
            )
            return value_of[name]()
        if name in removed:
            message = f"{module_name}.{name} was removed: {removed[name]}"
            if _called_by_from_import():
                raise ImportError(message, name=module_name)
            raise AttributeError(message)
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")

    return __getattr__


def _import(target: str) -> Callable[[], Any]:
    module, _, name = target.partition(":")
    return lambda: getattr(importlib.import_module(module), name)


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
    instead = {old: f"use {target.replace(':', '.')}" for old, target in moved.items()}
    return _resolver(module_name, {old: _import(t) for old, t in moved.items()}, instead, dict(removed or {}))


def deprecated_aliases(
    module_name: str,
    aliases: Mapping[str, str],
    namespace: Mapping[str, Any],
    *,
    advice: Mapping[str, str] | None = None,
    removed: Mapping[str, str] | None = None,
    stacklevel: int = 2,
) -> Callable[[str], Any]:
    """A module ``__getattr__`` resolving each old name in ``aliases`` to a value of ``namespace``, with a
    warning.

    Args:
        module_name: the module's ``__name__`` (named in the warning).
        aliases: old name -> the name in ``namespace`` that holds its value.
        namespace: where the values live (the module's ``globals()``, or a mapping over several modules).
        advice: old name -> what to use instead, said in the warning (``"use build_head(...)"``); without it
            the warning says the name is private now, as its new name.
        removed: old name -> what replaces it, in words (as :func:`deprecations`).
        stacklevel: the frame that asked, counted as :func:`warnings.warn` counts (2: the caller of the
            returned ``__getattr__``; one more for each function between them).

    Example (at the end of a module)::

        __getattr__ = deprecated_aliases(__name__, {"threshold_at_rate": "_threshold_at_rate"}, globals())
    """
    said = dict(advice or {})
    instead = {old: said.get(old, f"it is private now, as {new}") for old, new in aliases.items()}
    value_of = {old: (lambda new=new: namespace[new]) for old, new in aliases.items()}
    return _resolver(module_name, value_of, instead, dict(removed or {}), stacklevel=stacklevel)
