"""Unit vectors and cosines that are right at every scale: the one normalisation of the package.

``torch.nn.functional.normalize`` squares the entries before the square root, so rows with entries near
1e20 (float32) or 300 (float16) overflow to ``inf`` and every cosine becomes 0, and rows of entries near
1e-30 underflow to a zero norm and come back far from unit length. :func:`l2_normalize` first divides each
row by its largest absolute entry (a scale that changes nothing mathematically, ``v / |v|`` being
scale-invariant), so the squares lie in ``[0, 1]`` whatever the magnitude of the input. Everything that
normalises an embedding, a prototype or the UI centre goes through it: the cosines of the recognition module
(paper Sec. 3.1), the UI centre and the UI cosine (Eq. 2), the projection of Eq. 8 and the metrics.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .._validation import (
    ArgumentTypeError,
    check_floating,
    check_tensor,
    value_checks_enabled,
)
from ._autocast import float32_region, saturate
from ._heads import check_embeddings_and

__all__ = ["l2_normalize", "ui_cosine"]


#: A mean (or sum) of vectors shorter than this many rounding errors of one of them (``sqrt(D)`` times the
#: compute dtype's epsilon, relative to the longest vector) has no direction: it is what adding cancelling
#: vectors (``x`` and ``-x``) leaves behind.
DEGENERATE_ROUNDING_ERRORS = 16.0


def degenerate_tolerance(dim: int, dtype: torch.dtype) -> float:
    """Relative norm below which a mean of ``dim``-vectors computed in ``dtype`` has no direction (see
    :data:`DEGENERATE_ROUNDING_ERRORS`)."""
    return float(DEGENERATE_ROUNDING_ERRORS * dim**0.5 * torch.finfo(dtype).eps)


def vector_norm_at_any_scale(x: Tensor, dim: int = -1) -> Tensor:
    """``|x|`` along ``dim`` for finite entries of any magnitude: each slice is divided by its largest
    absolute entry before the squares are summed (the rescaling of :func:`l2_normalize`), so entries near 1e19
    (float32) or 300 (float16) give their true norm instead of ``inf``, and entries near 1e-30 do not
    underflow to 0. Computed in float32 (float64 for float64 input); a norm beyond the compute dtype's range
    is ``inf``. Not differentiable at zero slices (evaluation code).
    """
    compute = x.to(_compute_dtype(x.dtype))
    scale = compute.abs().amax(dim=dim, keepdim=True)
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    norm: Tensor = torch.linalg.vector_norm(compute / safe, dim=dim, keepdim=True) * scale
    return norm.squeeze(dim)


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


class _L2Normalize(torch.autograd.Function):
    """``v / |v|`` along ``dim`` with a rescaled norm, a zero gradient at ``v = 0`` and a saturated gradient.

    Forward: ``z = v / max|v_i|`` (the scale is a constant of the row), ``out = z / |z|``; zero rows give
    zero. Backward: ``dv = (g - out <out, g>) / (|z| max|v_i|)``, the exact Jacobian-vector product of
    ``v / |v|``, computed in the compute dtype and then cast to the input's dtype saturated
    (:func:`~recognizability.functional._autocast.saturate`: magnitudes beyond half its largest finite value
    clamped to that): near ``v = 0`` the true gradient grows like ``1 / |v|`` and exceeds the float16 range
    for ``|v| < 2e-5``, where a plain cast would give ``inf``. At ``v = 0`` (no direction) the gradient is 0.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, dim: int) -> Tensor:
        compute = x.to(_compute_dtype(x.dtype))
        scale = compute.abs().amax(dim=dim, keepdim=True)
        nonzero = scale > 0
        scale = torch.where(nonzero, scale, torch.ones_like(scale))
        out = compute / scale  # entries in [-1, 1]: the squares below neither overflow nor underflow
        norm = torch.linalg.vector_norm(out, dim=dim, keepdim=True)
        out.div_(torch.where(nonzero, norm, torch.ones_like(norm)))
        # |v| = |z| max|v_i| >= max|v_i| > 0 (inf beyond the largest float, where the gradient is ~0);
        # inf for zero rows, so their gradient is 0.
        length = torch.where(nonzero, norm * scale, torch.full_like(norm, torch.inf))
        ctx.save_for_backward(out, length)
        ctx.dim = dim
        ctx.input_dtype = x.dtype
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor, None]:
        out, length = ctx.saved_tensors
        g = grad_out.to(out.dtype)
        tangent = torch.addcmul(g, out, (out * g).sum(dim=ctx.dim, keepdim=True), value=-1.0)
        return saturate(tangent / length, ctx.input_dtype), None


def l2_normalize(x: Tensor, dim: int = -1) -> Tensor:
    """Unit vectors ``x / |x|`` along ``dim``, correct for finite entries of any magnitude.

    Each slice is divided by its largest absolute entry before the norm is taken, so entries near 1e20 or
    1e-30 (float32), or the whole float16 range, still give unit vectors and exact cosines. A zero slice
    gives zero (never NaN) and a zero gradient. Computed in float32 (float64 for float64 input), also under
    autocast. The gradient is the exact one, cast back to the input's dtype with values beyond its finite
    range saturated at half that range (see :class:`_L2Normalize`), so a finite input never gets a
    non-finite gradient.

    Args:
        x: floating tensor, e.g. ``(B, D)`` embeddings ``v``, ``(C, D)`` prototypes ``W`` or the ``(D,)``
            UI centre ``u``.
        dim: the dimension normalised (default the last).

    Returns:
        float32 (float64 for float64 input) tensor of the shape of ``x``.
    """
    check_tensor(x, "x")
    check_floating(x, "x")
    rank = max(x.ndim, 1)
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise ArgumentTypeError(f"expected dim to be an int in [{-rank}, {rank}), got {dim!r}")
    if not -rank <= dim < rank:
        raise ValueError(f"expected dim to be an int in [{-rank}, {rank}), got {dim!r}")
    with float32_region(x.device):
        out: Tensor = _L2Normalize.apply(x, dim)  # type: ignore[no-untyped-call]  # torch stub
    return out


def ui_cosine(embeddings: Tensor, center: Tensor) -> Tensor:
    """Cosine ``cos(v, u)`` of each embedding with the UI centre (paper Eq. 2: ``d_UI = 1 - cos(v, u)``).

    Both are normalised with :func:`l2_normalize`, so any finite scale of either is handled; a zero embedding
    has cosine 0. The one implementation of the UI cosine: :class:`~recognizability.nn.UICenter`, the
    ERS quality baseline and the index all read it.

    While value checks are on (:func:`~recognizability.set_value_checks`), a centre that is not finite or
    is zero (no direction) raises :class:`ValueError` (one host sync).

    Args:
        embeddings: ``(B, D)`` embeddings ``v`` (any scale).
        center: ``(D,)`` UI centre ``u`` (any non-zero scale).

    Returns:
        ``(B,)`` float32 cosines (float64 if an input is float64).
    """
    check_embeddings_and(embeddings, center, "center")
    if value_checks_enabled() and not bool(torch.isfinite(center).all() & (center != 0).any()):
        bad = int((~torch.isfinite(center)).sum())
        got = f"{bad} non-finite value(s)" if bad else "the zero vector"
        raise ValueError(f"expected a finite, non-zero center (a direction), got {got}")
    unit_embeddings = l2_normalize(embeddings, dim=1)
    unit_center = l2_normalize(center, dim=0)
    dtype = torch.promote_types(unit_embeddings.dtype, unit_center.dtype)
    with float32_region(embeddings.device):
        return unit_embeddings.to(dtype) @ unit_center.to(dtype)
