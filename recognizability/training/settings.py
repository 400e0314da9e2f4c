"""Release 0.1.0's settings module, kept for one release: the configuration is now
:mod:`recognizability.training.config` (typed sections) and :mod:`recognizability.training.presets`.

``TrainingSettings`` is :class:`~recognizability.training.TrainingConfig` (``from_dict`` reads the flat
settings dicts of 0.1.0's checkpoints); the other names warn on use.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

from .config import LOSS_TERMS, LearningRates, TrainingConfig

__all__ = ["LOSS_TERMS", "LearningRates", "TrainingSettings"]

#: The configuration's class under its release 0.1.0 name.
TrainingSettings = TrainingConfig

_DEPRECATED: dict[str, tuple[str, str]] = {
    "paper_settings": ("presets", "paper_config"),
    "cpu_demo_settings": ("presets", "demo_config"),
    "DATASETS": ("benchmarks", "available_benchmarks"),
}


def __getattr__(name: str) -> Any:
    if name in _DEPRECATED:
        module, new = _DEPRECATED[name]
        warnings.warn(
            f"recognizability.training.settings.{name} is deprecated and will be removed in the next "
            f"release; use recognizability.training.{module}.{new}",
            DeprecationWarning,
            stacklevel=2,
        )
        value = getattr(importlib.import_module(f"recognizability.training.{module}"), new)
        return value() if name == "DATASETS" else value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
