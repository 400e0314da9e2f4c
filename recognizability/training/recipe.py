"""Release 0.1.0's ``fit`` module, kept for one release. The training loop is now written out in
``examples/train_*.py`` (their ``train`` function), with the plumbing from
:mod:`recognizability.training.session`. Every name here warns on use or says what replaced it."""

from __future__ import annotations

import importlib
import warnings
from typing import Any

_MOVED: dict[str, str] = {"TrainingResult": "session"}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        module = _MOVED[name]
        warnings.warn(
            f"recognizability.training.recipe.{name} is deprecated and will be removed in the next "
            f"release; use recognizability.training.{module}.{name}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(f"recognizability.training.{module}"), name)
    if name == "fit":
        raise AttributeError(
            "recognizability.training.recipe.fit was removed in release 0.2: the training loop is written "
            "out in examples/train_*.py (their train function)"
        )
    if name == "build_augmentation":
        raise AttributeError(
            "recognizability.training.recipe.build_augmentation(settings) was removed in release 0.2: use "
            "recognizability.training.build_augmentation(input_size, config.data)"
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
