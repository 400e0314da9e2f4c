"""Projection of embeddings away from the UI centre (paper Sec. 3.4, Eq. 8)."""

from __future__ import annotations

import torch
from torch import Tensor

from .._validation import (
    check_finite,
    value_checks_enabled,
)
from ._autocast import common_float, float32_region
from ._heads import check_embeddings_and
from .geometry import l2_normalize

__all__ = ["project_away"]


def project_away(embeddings: Tensor, ui_center: Tensor) -> Tensor:
    """Remove the UI-centre component of each embedding: ``v' = v - <v, u> u`` (paper Eq. 8).

    ``v'`` is the target of the perceptibility attention module (Eq. 9). ``u`` is normalised here with
    :func:`~recognizability.functional.l2_normalize` (a no-op for the unit centre of
    :class:`~recognizability.nn.UICenter`), so ``<v', u> = 0`` up to rounding relative to ``|v|`` for any
    finite ``u != 0`` and ``v`` of any magnitude: ``<v, u>`` is taken on ``v`` divided by a power of two near
    its largest entry (exact, and no overflow of the sum for entries near the largest float), then scaled
    back. Half-precision inputs are computed in float32.

    Args:
        embeddings: ``(B, D)`` un-normalised embeddings ``v``.
        ui_center: ``(D,)`` UI centre ``u``; finite and non-zero.

    Returns:
        ``(B, D)`` float32 projected embeddings ``v'`` (float64 if an input is float64).
    """
    check_embeddings_and(embeddings, ui_center, "ui_center")
    check_finite(ui_center, "ui_center")
    if value_checks_enabled() and not bool((ui_center != 0).any()):
        raise ValueError("expected a non-zero ui_center, got the zero vector")
    unit = l2_normalize(ui_center, dim=0)
    with float32_region(embeddings.device):
        dtype = common_float(embeddings, ui_center)
        v = embeddings.to(dtype)
        unit = unit.to(dtype)
        # A power of two in [1, max|v_i|] (or 1): multiplying and dividing by it is exact.
        _, exponent = torch.frexp(v.detach().abs().amax(dim=1, keepdim=True))
        scale = torch.ldexp(torch.ones_like(v[:, :1]), (exponent - 1).clamp(min=0))
        component = ((v / scale) @ unit).unsqueeze(1) * scale  # <v, u>, (B, 1)
        return v - component * unit
