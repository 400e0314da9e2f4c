"""Perceptibility regression module (paper Sec. 3.2): flatten, dropout, linear -> ``xi_hat``."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from .._validation import check_floating, check_nonempty, check_tensor, format_shape
from ..functional._autocast import float32_region

__all__ = ["PerceptibilityRegression"]


def _drop_mask(shape: torch.Size, keep_probability: float, device: torch.device) -> tuple[Tensor, float]:
    """Boolean dropout mask (``True`` = dropped) and the exact keep probability (a multiple of ``2**-16``).

    Uniform 16-bit integers are taken four at a time from 64-bit random words and compared with a threshold:
    a quarter of the generator calls of ``bernoulli_`` (about 4x faster on a CPU), and the mask is a bool
    tensor (1 byte per element) instead of float32.
    """
    numel = shape.numel()
    threshold = max(1, round(keep_probability * 65536))
    words = torch.empty((numel + 3) // 4, dtype=torch.int64, device=device).random_(-(2**63), None)
    draws = words.view(torch.int16)[:numel].view(shape)  # uniform over [-2**15, 2**15)
    return draws >= threshold - 32768, threshold / 65536


# Rows processed together: about 16 MiB of float32. Measured on a shared 2-core CPU: much smaller blocks lose
# under load (many small multi-threaded ops), whole-tensor ops allocate and touch more memory.
_CHUNK_ELEMENTS = 1 << 22


class _DroppedProjection(torch.autograd.Function):
    """``y_i = sum_f x_if w_f [not dropped_if]`` for ``x`` (B, F), ``w`` (F,), ``dropped`` (B, F) bool.

    Eager-mode kernel of the training-mode regression head. It works on blocks of rows, so the masked input
    is never materialised whole: only the bool mask is saved for backward (not a float copy of the feature
    map), and backward writes the input gradient once, in place, block by block. Under ``torch.compile`` the
    plain formulation is used instead (the compiler fuses it).
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, dropped: Tensor) -> Tensor:
        rows = max(1, _CHUNK_ELEMENTS // max(1, x.shape[1]))
        out = x.new_empty(x.shape[0])
        for start in range(0, x.shape[0], rows):
            block = slice(start, start + rows)
            torch.mv(torch.where(dropped[block], 0.0, x[block]), weight, out=out[block])
        ctx.save_for_backward(x, weight, dropped)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        x, weight, dropped = ctx.saved_tensors
        need_x, need_weight = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        grad_x = torch.empty_like(x) if need_x else None
        grad_weight = torch.zeros_like(weight) if need_weight else None
        rows = max(1, _CHUNK_ELEMENTS // max(1, x.shape[1]))
        for start in range(0, x.shape[0], rows):
            block = slice(start, start + rows)
            if grad_x is not None:
                torch.outer(grad[block], weight, out=grad_x[block]).masked_fill_(dropped[block], 0.0)
            if grad_weight is not None:
                grad_weight.addmv_(torch.where(dropped[block], 0.0, x[block]).T, grad[block])
        return grad_x, grad_weight, None


class PerceptibilityRegression(nn.Module):
    """Predicts the Recognizability Index from the feature map: ``xi_hat`` (paper Sec. 3.2, Fig. 2).

    At test time ``xi_hat`` is the face-quality score; no UI centre is needed.

    Args:
        in_features: ``C * H * W`` of the flattened feature map (512 * 7 * 7 for the paper's backbones).
        dropout: dropout probability before the linear layer (paper Table 5: 0.9). In training each input
            is kept with probability ``1 - dropout`` rounded to a multiple of ``2**-16`` (0.100006 for 0.9),
            and the output is rescaled by the exact inverse of that probability (inverted dropout, unbiased);
            rescaling the ``(B,)`` output equals rescaling the kept inputs and saves a ``(B, F)`` pass.

    Shape:
        forward(feature_map ``(B, C, H, W)`` or ``(B, F)``) -> ``(B,)`` float32.
    """

    def __init__(self, in_features: int, dropout: float = 0.9) -> None:
        super().__init__()
        if isinstance(in_features, bool) or not isinstance(in_features, int) or in_features < 1:
            raise ValueError(f"expected in_features to be a positive int, got {in_features!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"expected dropout to be a float in [0, 1), got {dropout!r}")
        self.in_features = in_features
        self.dropout = float(dropout)
        self.fc = nn.Linear(in_features, 1)

    def forward(self, feature_map: Tensor) -> Tensor:
        x = check_tensor(feature_map, "feature_map")
        check_floating(x, "feature_map")
        if x.ndim not in (2, 4) or x[0].numel() != self.in_features:
            raise ValueError(
                f"expected feature_map of shape (B, C, H, W) or (B, F) with C*H*W = F = {self.in_features}, "
                f"got shape {format_shape(tuple(x.shape))}"
            )
        check_nonempty(x, "feature_map")
        x = x.flatten(1)
        if not self.training or self.dropout == 0.0:
            predicted: Tensor = self.fc(x)
            return predicted.squeeze(1).float()
        # Dropout then linear: mask the inputs, project, rescale the (B,) output rather than the (B, F) input.
        weight = self.fc.weight.reshape(-1).to(x.dtype)
        if torch.compiler.is_compiling():
            # Dynamo cannot trace random_(); the same keep probability from a uniform float draw (exact: it is
            # a multiple of 2**-16), in the plain formulation that the compiler fuses.
            keep_probability = max(1, round((1.0 - self.dropout) * 65536)) / 65536
            keep = torch.rand(x.shape, device=x.device) < keep_probability
            projected = torch.where(keep, x, 0.0) @ weight
        else:
            dropped, keep_probability = _drop_mask(x.shape, 1.0 - self.dropout, x.device)
            with float32_region(x.device):  # compute in x's own dtype: no autocast copies of (B, F) blocks
                projected = _DroppedProjection.apply(x, weight, dropped)  # type: ignore[no-untyped-call]
        return projected.float() / keep_probability + self.fc.bias.float()

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, dropout={self.dropout}"
