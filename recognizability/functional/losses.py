"""The paper's auxiliary loss terms: smooth-L1 regression (Eq. 4), index diversion (Eq. 5-7),
attention MSE (Eq. 9).

All arithmetic runs in float32 (half-precision inputs are cast up; float64 stays float64), so the terms
are float32 under bf16/fp16 autocast.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from .._validation import (
    check_choice,
    check_finite,
    check_finite_float,
    check_floating,
    check_nonempty,
    check_positive_float,
    check_same_device,
    check_shape,
    check_tensor,
    value_checks_enabled,
)
from ._autocast import at_least_float32, common_float

__all__ = [
    "DEFAULT_TAU",
    "attention_mse_loss",
    "index_diversion_loss",
    "perceptibility_regression_loss",
]

DEFAULT_TAU: float = 1.0
"""Default confidence ``tau`` of the index diversion loss (Eq. 7). The paper gives no value. The five-seed
paired ablation in ``docs/ablation.md`` (synthetic benchmark, a pretrained backbone fine-tuned as in the
paper) resolves no difference between 0.5, 1, 1.645 and 2.576 on rank-1 (every 95 % interval of the paired
difference against 1.0 includes zero), so 1.0 stays."""

Reduction = Literal["mean", "sum", "none"]
AttentionReduction = Literal["mean", "sum_over_dim_mean_over_batch", "none"]


def _reduce(values: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values


def perceptibility_regression_loss(
    predicted_index: Tensor, index: Tensor, beta: float = 0.75, reduction: Reduction = "mean"
) -> Tensor:
    """Smooth-L1 loss between the predicted index ``xi_hat`` and the index ``xi`` (paper Eq. 4).

    ``0.5 * e^2 / beta`` if ``|e| < beta`` else ``|e| - 0.5 * beta``, with ``e = xi - xi_hat``.
    ``index`` is the regression target: pass it detached (the criterion does so by default).

    Args:
        predicted_index: ``(B,)`` output of the perceptibility regression module.
        index: ``(B,)`` Recognizability Index (Eq. 3).
        beta: the smooth-L1 threshold (paper: 0.75), not the ID-loss weight of Eq. 10.
        reduction: ``"mean"`` (paper), ``"sum"`` or ``"none"`` (``(B,)``).

    Returns:
        float32 (float64 for float64 inputs) scalar, or ``(B,)`` with ``reduction="none"``.
    """
    check_shape(predicted_index, "predicted_index", ("B",))
    check_shape(index, "index", (predicted_index.shape[0],))
    check_floating(predicted_index, "predicted_index")
    check_floating(index, "index")
    check_same_device(index, "index", predicted_index, "predicted_index")
    check_nonempty(predicted_index, "predicted_index")
    beta = check_positive_float(beta, "beta")
    check_choice(reduction, "reduction", ("mean", "sum", "none"))
    dtype = common_float(predicted_index, index)
    return torch.nn.functional.smooth_l1_loss(
        predicted_index.to(dtype), index.to(dtype), beta=beta, reduction=reduction
    )


def _check_statistic(value: object, name: str, reference: Tensor, positive: bool) -> Tensor | float:
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"expected {name} to be a scalar (0-dim) tensor, got shape {tuple(value.shape)}")
        check_floating(value, name)
        check_same_device(value, name, reference, "predicted_index")
        check_finite(value, name)
        if positive and value_checks_enabled() and not bool(value > 0):
            raise ValueError(f"expected {name} > 0, got {float(value)!r}")
        return at_least_float32(value).reshape(())
    if positive:
        return check_positive_float(value, name)
    return check_finite_float(value, name)


def index_diversion_loss(
    predicted_index: Tensor,
    tau: float,
    mu: float | Tensor = 0.0,
    sigma: float | Tensor = 1.0,
    reduction: Reduction = "mean",
) -> Tensor:
    """Index diversion loss ``L_ID = max(0, tau - (xi_hat - mu_UI) / sigma_UI)`` (paper Eq. 5-7).

    Pushes the predicted index of every training image at least ``tau`` standard deviations above the UI
    images' mean. The paper adopts ``mu = 0``, ``sigma = 1``;
    :func:`ui_index_statistics` estimates them (Eq. 6).

    Args:
        predicted_index: ``(B,)`` predicted index ``xi_hat``.
        tau: confidence ``tau`` (Eq. 7); see ``DEFAULT_TAU``.
        mu: ``mu_UI``, a float or 0-dim tensor.
        sigma: ``sigma_UI > 0``, a float or 0-dim tensor.
        reduction: ``"mean"`` (paper), ``"sum"`` or ``"none"`` (``(B,)``).

    Returns:
        float32 (float64 for float64 inputs) scalar, or ``(B,)`` with ``reduction="none"``.
    """
    check_shape(predicted_index, "predicted_index", ("B",))
    check_floating(predicted_index, "predicted_index")
    check_nonempty(predicted_index, "predicted_index")
    tau = check_finite_float(tau, "tau")
    mu_value = _check_statistic(mu, "mu", predicted_index, positive=False)
    sigma_value = _check_statistic(sigma, "sigma", predicted_index, positive=True)
    check_choice(reduction, "reduction", ("mean", "sum", "none"))
    diversion = (at_least_float32(predicted_index) - mu_value) / sigma_value  # Eq. 5
    return _reduce(torch.relu(tau - diversion), reduction)  # Eq. 7


def attention_mse_loss(attended: Tensor, target: Tensor, reduction: AttentionReduction = "mean") -> Tensor:
    """Attention loss between ``v_attn`` and the projected embedding ``v'`` (paper Eq. 9).

    The paper writes ``(1/B) sum_i (v'_i - v_attn_i)^2`` for vectors. ``"mean"`` (default) is the element-wise
    mean, as ``torch.nn.MSELoss``; ``"sum_over_dim_mean_over_batch"`` is the literal per-sample squared norm
    averaged over the batch (``D`` times larger); ``"none"`` returns the ``(B, D)`` squared errors.
    ``target`` is a target: pass it detached (the criterion does so by default).

    Args:
        attended: ``(B, D)`` output ``v_attn`` of the perceptibility attention module.
        target: ``(B, D)`` projected embedding ``v'`` (Eq. 8).
        reduction: see above.

    Returns:
        float32 (float64 for float64 inputs) scalar, or ``(B, D)`` with ``reduction="none"``.
    """
    check_shape(attended, "attended", ("B", "D"))
    check_tensor(target, "target")
    check_shape(target, "target", tuple(attended.shape))
    check_floating(attended, "attended")
    check_floating(target, "target")
    check_same_device(target, "target", attended, "attended")
    check_nonempty(attended, "attended")
    check_choice(reduction, "reduction", ("mean", "sum_over_dim_mean_over_batch", "none"))
    dtype = common_float(attended, target)
    squared = (attended.to(dtype) - target.to(dtype)).square()
    if reduction == "mean":
        return squared.mean()
    if reduction == "sum_over_dim_mean_over_batch":
        return squared.sum(dim=1).mean()
    return squared
