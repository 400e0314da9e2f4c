"""Projection of embeddings away from the UI centre (paper Sec. 3.4, Eq. 8)."""

from __future__ import annotations

import torch
from torch import Tensor

from .._validation import (
    check_finite,
    check_floating,
    check_nonempty,
    check_same_device,
    check_shape,
    value_checks_enabled,
)
from ._autocast import common_float, float32_region

__all__ = ["project_away"]


def project_away(embeddings: Tensor, ui_center: Tensor) -> Tensor:
    """Remove the UI-centre component of each embedding: ``v' = v - <v, u> u`` (paper Eq. 8).

    ``v'`` is the target of the perceptibility attention module (Eq. 9). ``u`` is L2-normalised here (a no-op
    for the unit centre of :class:`~recognizability.nn.UICenter`), so ``<v', u> = 0`` for any ``u != 0``.

    Args:
        embeddings: ``(B, D)`` un-normalised embeddings ``v``.
        ui_center: ``(D,)`` UI centre ``u``; finite and non-zero.

    Returns:
        ``(B, D)`` float32 projected embeddings ``v'`` (float64 if an input is float64).
    """
    check_shape(embeddings, "embeddings", ("B", "D"))
    check_shape(ui_center, "ui_center", (embeddings.shape[1],))
    check_floating(embeddings, "embeddings")
    check_floating(ui_center, "ui_center")
    check_same_device(ui_center, "ui_center", embeddings, "embeddings")
    check_nonempty(embeddings, "embeddings")
    check_finite(ui_center, "ui_center")
    if value_checks_enabled() and not bool((ui_center != 0).any()):
        raise ValueError("expected a non-zero ui_center, got the zero vector")
    with float32_region(embeddings.device):
        dtype = common_float(embeddings, ui_center)
        unit = torch.nn.functional.normalize(ui_center.to(dtype), dim=0)
        v = embeddings.to(dtype)
        return v - (v @ unit).unsqueeze(1) * unit
