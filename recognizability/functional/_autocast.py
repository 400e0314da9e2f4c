"""A context that turns autocast off for a device so the package's index and loss arithmetic stays float32."""

from __future__ import annotations

import contextlib

import torch

__all__ = ["float32_region"]

# Device types for which ``torch.autocast`` exists in every supported torch release.
_AUTOCAST_DEVICE_TYPES = frozenset({"cpu", "cuda", "xpu", "mps", "hpu"})


def float32_region(device: torch.device) -> contextlib.AbstractContextManager[object]:
    """Return a context manager disabling autocast on ``device`` (a no-op context for other device types).

    Used around matrix products whose results feed the Recognizability Index: in bfloat16 a cosine near 1
    is quantised to steps of 2**-8, so ``d_P = 1 - cos_y`` (paper Eq. 1) would be meaningless.
    """
    if device.type in _AUTOCAST_DEVICE_TYPES:
        return torch.autocast(device_type=device.type, enabled=False)
    return contextlib.nullcontext()
