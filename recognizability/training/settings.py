"""Release 0.1.0's settings module, kept for one release: the configuration is now
:mod:`recognizability.training.config` (typed sections) and :mod:`recognizability.training.presets`. Every
name here warns on use."""

from __future__ import annotations

import importlib
import warnings
from typing import Any

_MOVED: dict[str, tuple[str, str]] = {
    "TrainingSettings": ("config", "TrainingConfig"),
    "LearningRates": ("config", "LearningRates"),
    "LOSS_TERMS": ("config", "LOSS_TERMS"),
    "paper_settings": ("presets", "paper_config"),
    "cpu_demo_settings": ("presets", "demo_config"),
    "DATASETS": ("benchmarks", "available_benchmarks"),
}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        module, new = _MOVED[name]
        warnings.warn(
            f"recognizability.training.settings.{name} is deprecated and will be removed in the next "
            f"release; use recognizability.training.{module}.{new}",
            DeprecationWarning,
            stacklevel=2,
        )
        value = getattr(importlib.import_module(f"recognizability.training.{module}"), new)
        return value() if name == "DATASETS" else value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
