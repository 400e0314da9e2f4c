"""Module form of the index diversion loss (paper Eq. 5-7), holding ``mu_UI`` and ``sigma_UI`` as buffers."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .._validation import check_choice, check_finite_float, check_positive_float
from ..functional.index import ui_index_statistics
from ..functional.losses import DEFAULT_TAU, Reduction, index_diversion_loss

__all__ = ["IndexDiversionLoss"]


class IndexDiversionLoss(nn.Module):
    """``L_ID = max(0, tau - (xi_hat - mu_UI) / sigma_UI)`` (paper Eq. 5-7).

    ``mu_UI`` and ``sigma_UI`` are buffers (saved in the ``state_dict``); the default is the paper's standard
    normal ``(0, 1)``. :meth:`set_ui_statistics` replaces them by the estimates of Eq. 6.

    Args:
        tau: confidence ``tau`` (Eq. 7); default ``DEFAULT_TAU``.
        mu: initial ``mu_UI``.
        sigma: initial ``sigma_UI > 0``.
        reduction: ``"mean"`` (paper), ``"sum"`` or ``"none"``.

    Shape:
        forward(predicted_index ``(B,)``) -> float32 scalar (``(B,)`` with ``reduction="none"``).
    """

    mu: Tensor
    sigma: Tensor

    def __init__(
        self, tau: float = DEFAULT_TAU, mu: float = 0.0, sigma: float = 1.0, reduction: Reduction = "mean"
    ) -> None:
        super().__init__()
        self.tau = check_finite_float(tau, "tau")
        mu = check_finite_float(mu, "mu")
        self.reduction: Reduction = check_choice(reduction, "reduction", ("mean", "sum", "none"))
        self.register_buffer("mu", torch.tensor(mu))
        self.register_buffer("sigma", torch.tensor(check_positive_float(sigma, "sigma")))

    @torch.no_grad()
    def set_ui_statistics(self, predicted_index_of_ui: Tensor) -> None:
        """Set ``mu_UI``, ``sigma_UI`` to the mean and unbiased std of ``(K,)`` predicted UI indices (Eq. 6).

        Reads the values (one host sync; not for the hot path) and raises :class:`ValueError` without changing
        the buffers when the standard deviation is not positive and finite.
        """
        mu, sigma = ui_index_statistics(predicted_index_of_ui)
        if not bool(torch.isfinite(mu) & torch.isfinite(sigma) & (sigma > 0)):
            raise ValueError(
                f"expected predicted_index_of_ui with a finite, positive standard deviation, "
                f"got mu={float(mu)!r}, sigma={float(sigma)!r}"
            )
        self.mu.copy_(mu)
        self.sigma.copy_(sigma)

    def forward(self, predicted_index: Tensor) -> Tensor:
        return index_diversion_loss(
            predicted_index, self.tau, mu=self.mu, sigma=self.sigma, reduction=self.reduction
        )

    def extra_repr(self) -> str:
        return f"tau={self.tau}, reduction={self.reduction!r}"
