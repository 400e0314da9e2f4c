"""A context that turns autocast off for a device so the package's index and loss arithmetic stays float32."""

from __future__ import annotations

import contextlib
from typing import Any

import torch

__all__ = ["SATURATION_SHARE", "at_least_float32", "common_float", "float32_region", "saturate"]

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


#: A saturated gradient is clamped to this share of its dtype's largest finite value, so two saturated
#: gradients reaching one tensor still add up to a finite value. Autograd adds the gradients of a tensor's
#: uses in that tensor's dtype: half-precision embeddings feed the margin head and, with a target gradient
#: of :class:`~recognizability.nn.RecognizabilityLoss` on, the criterion (each upcasts them once).
SATURATION_SHARE = 0.5


def saturate(gradient: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Cast a gradient to ``dtype``, clamping magnitudes beyond half its largest finite value
    (:data:`SATURATION_SHARE`; 32752 in float16) to it. NaN stays NaN."""
    largest = torch.finfo(dtype).max * SATURATION_SHARE
    return gradient.clamp(-largest, largest).to(dtype)


class _UpcastSaturatingGradient(torch.autograd.Function):
    """``x.float()`` whose backward casts the float32 gradient back to ``x``'s half precision, saturated
    (:func:`saturate`) where a plain cast gives ``inf``."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.input_dtype = x.dtype
        return x.float()

    @staticmethod
    def backward(ctx: Any, gradient: torch.Tensor) -> torch.Tensor:
        return saturate(gradient, ctx.input_dtype)


def at_least_float32(tensor: torch.Tensor) -> torch.Tensor:
    """Cast half-precision (and integer) tensors to float32; keep float32 and float64 as they are.

    Index and loss arithmetic runs in float32 under autocast; float64 inputs stay float64 (for gradcheck and
    for users who want it). The gradient flowing back to a float16/bfloat16 input is cast back saturated
    (:func:`saturate`): a float32 gradient beyond float16's range becomes 32752 in float16, not ``inf``.
    """
    if tensor.dtype in (torch.float32, torch.float64):
        return tensor
    if tensor.dtype.is_floating_point and tensor.requires_grad:
        out: torch.Tensor = _UpcastSaturatingGradient.apply(tensor)  # type: ignore[no-untyped-call]
        return out
    return tensor.float()


def common_float(*tensors: torch.Tensor) -> torch.dtype:
    """float64 if any tensor is float64, else float32: the dtype the package computes in."""
    return torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32
