"""The value check of cosines: finite and inside [-1, 1] up to rounding.

The tolerance. A cosine computed from unit vectors lies in ``[-1, 1]`` only up to rounding: in float32 the
dot product of two 512-d unit vectors is off by up to about ``512 * 6e-8 = 3e-5``, and under TF32 matrix
products (the default of convolutions, and of matmuls where ``torch.backends.cuda.matmul.allow_tf32`` or
``torch.set_float32_matmul_precision("high")`` is set; a 10-bit mantissa) by about 1e-3; float16 and bfloat16
cosines by 16 of their epsilons. :data:`COSINE_ROUNDING_TOLERANCE` (1e-3, or 16 epsilons of the dtype when
larger) accepts all of these. What it is there to catch lies far outside: a scaled cosine or a post-margin
logit (``s = 64``) passed as a cosine. A cosine accepted beyond 1 (``sin(theta)`` is taken as 0 there) moves
its logit by at most ``s`` times the tolerance from the value at 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .._validation import value_checks_enabled

__all__ = ["COSINE_ROUNDING_TOLERANCE", "check_cosine_values"]

#: How far beyond [-1, 1] a cosine may lie by rounding (the larger of this and 16 epsilons of its dtype).
COSINE_ROUNDING_TOLERANCE = 1e-3


def _cosine_tolerance(value: Tensor) -> float:
    return max(COSINE_ROUNDING_TOLERANCE, 16 * torch.finfo(value.dtype).eps)


def check_cosine_values(
    *named: tuple[Tensor, str], finite: Sequence[tuple[Tensor, str]] = (), propagate_nonfinite: bool = False
) -> None:
    """While value checks are on, raise :class:`ValueError` unless every tensor of ``named`` holds cosines in
    ``[-1, 1]`` (up to rounding, :data:`COSINE_ROUNDING_TOLERANCE`) and every tensor of ``finite`` is finite.
    One host sync for all of them; nothing when value checks are off.

    ``named`` tensors must be finite too, unless ``propagate_nonfinite``: then NaN and inf pass (the caller
    follows torch and propagates them) and only finite values outside the range are refused.

    A post-margin logit or a scaled cosine passed as a cosine lies far outside ``[-1, 1]``: the distances of
    Eq. 1-2 would be clamped and the index silently 0, and a margin formula would take ``sin(theta)`` as 0.
    """
    if not value_checks_enabled():
        return

    def in_range(value: Tensor) -> Tensor:
        inside = value.abs() <= 1.0 + _cosine_tolerance(value)
        return inside | ~torch.isfinite(value) if propagate_nonfinite else inside & torch.isfinite(value)

    verdicts = [in_range(value).all() for value, _ in named]
    verdicts += [torch.isfinite(value).all() for value, _ in finite]
    if bool(torch.stack(verdicts).all()):
        return
    for position, ((value, name), ok) in enumerate(
        zip([*named, *finite], torch.stack(verdicts).tolist(), strict=True)
    ):
        if ok:
            continue
        bad = int((~torch.isfinite(value)).sum())
        if position >= len(named) or (bad and not propagate_nonfinite):
            raise ValueError(f"expected {name} with finite values, got {bad} non-finite value(s)")
        values = value.detach()
        largest = float(values[torch.isfinite(values)].abs().max())
        raise ValueError(
            f"expected {name} to hold cosines in [-1, 1] (pre-margin, unscaled), got a value of magnitude "
            f"{largest:g}"
        )
