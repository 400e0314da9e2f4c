"""A context that turns autocast off for a device so the package's index and loss arithmetic stays float32."""

from __future__ import annotations

import contextlib

import torch

__all__ = ["at_least_float32", "common_float", "float32_region"]

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


def at_least_float32(tensor: torch.Tensor) -> torch.Tensor:
    """Cast half-precision (and integer) tensors to float32; keep float32 and float64 as they are.

    Index and loss arithmetic runs in float32 under autocast; float64 inputs stay float64 (for gradcheck and
    for users who want it).
    """
    if tensor.dtype in (torch.float32, torch.float64):
        return tensor
    return tensor.float()


def common_float(*tensors: torch.Tensor) -> torch.dtype:
    """float64 if any tensor is float64, else float32: the dtype the package computes in."""
    return torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32
