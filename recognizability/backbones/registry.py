"""Build a backbone by name: ``create_backbone("iresnet50", dropout=0.2)``.

A plain name -> factory table (no method names built from strings). arcface_torch's short names (``r18``,
``r34``, ``r50``, ``r100``, ``mbf``, as in its ``backbones.get_model``) are accepted as aliases. Keyword
arguments go to the factory unchanged, so a misspelt argument raises ``TypeError`` instead of being dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .adaface import adaface_ir50, adaface_ir101
from .base import FaceBackbone
from .iresnet import iresnet18, iresnet34, iresnet50, iresnet100
from .mobilefacenet import mobilefacenet
from .small import small_vlr_net

__all__ = ["available_backbones", "create_backbone"]

_FACTORIES: dict[str, Callable[..., FaceBackbone]] = {
    "iresnet18": iresnet18,
    "iresnet34": iresnet34,
    "iresnet50": iresnet50,
    "iresnet100": iresnet100,
    "mobilefacenet": mobilefacenet,
    "adaface_ir50": adaface_ir50,
    "adaface_ir101": adaface_ir101,
    "small_vlr_net": small_vlr_net,
}

_ALIASES: dict[str, str] = {
    "r18": "iresnet18",
    "r34": "iresnet34",
    "r50": "iresnet50",
    "r100": "iresnet100",
    "mbf": "mobilefacenet",
    "ir_50": "adaface_ir50",
    "ir_101": "adaface_ir101",
}


def available_backbones() -> list[str]:
    """Canonical backbone names accepted by :func:`create_backbone` (aliases not listed)."""
    return sorted(_FACTORIES)


def create_backbone(name: str, **kwargs: Any) -> FaceBackbone:
    """Build the backbone called ``name`` (or an alias), passing ``kwargs`` to its factory."""
    if not isinstance(name, str):
        raise TypeError(f"expected name to be a str, got {type(name).__name__}")
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in _FACTORIES:
        raise ValueError(
            f"expected name to be one of {available_backbones()} (or alias {sorted(_ALIASES)}), got {name!r}"
        )
    return _FACTORIES[key](**kwargs)
