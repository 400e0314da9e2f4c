"""Release 0.1.0's epoch-loop module, kept for one release. The loop is now written out in
``examples/train_*.py``; images and batches live in :mod:`recognizability.training.images`, embedding and
validation in :mod:`recognizability.training.steps`. Every name here warns on use."""

from __future__ import annotations

import importlib
import warnings
from typing import Any

_MOVED: dict[str, str] = {
    "ImageSet": "images",
    "VerificationPairs": "images",
    "load_image_set": "images",
}
_REMOVED = (
    "train_one_epoch",
    "refresh_ui_center",
    "prepare_batch",
    "validate",
    "embed_image_set",
    "validation_subset",
)


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        module = _MOVED[name]
        warnings.warn(
            f"recognizability.training.loop.{name} is deprecated and will be removed in the next "
            f"release; use recognizability.training.{module}.{name}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(f"recognizability.training.{module}"), name)
    if name in _REMOVED:
        raise AttributeError(
            f"recognizability.training.loop.{name} was removed in release 0.2: the loop is written out in "
            "examples/train_*.py; its pieces are in recognizability.training.images and .steps, with the "
            "input size and configuration sections as arguments"
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
