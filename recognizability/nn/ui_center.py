"""The UI centre: the unit-norm mean direction of embeddings of unrecognisable faces (Eq. 2, 8)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .._validation import (
    check_finite,
    check_float_in_range,
    check_floating,
    check_nonempty,
    check_positive_int,
    check_shape,
    value_checks_enabled,
)
from ..functional.geometry import degenerate_tolerance, l2_normalize, ui_cosine
from ..functional.projection import project_away

__all__ = ["UICenter"]


class UICenter(nn.Module):
    """Holds ``u``, the L2-normalised mean of the L2-normalised embeddings of the UI (unrecognisable) images.

    Build it from the whole UI set with :meth:`fit`, or from UI mini-batches with :meth:`update` (a running
    mean when ``momentum`` is ``None``, else an exponential moving average
    ``m <- (1 - momentum) * m + momentum * batch_mean``). The reference recipes re-fit it at the start of
    every epoch. It never receives gradients.

    Buffers (all in the ``state_dict``): ``center`` ``(D,)`` unit-norm ``u``; ``running_mean`` ``(D,)``
    mean of the normalised embeddings seen so far; ``count`` (embeddings averaged);
    ``initialized`` (bool).

    While value checks are on (:func:`~recognizability.set_value_checks`), :meth:`cosine` and
    :meth:`project_away` raise :class:`RuntimeError` before the centre is built and :class:`ValueError` for a
    non-finite centre; these checks read buffer values (one host sync).

    Args:
        embedding_dim: ``D``.
        momentum: ``None`` for a running mean, or the EMA momentum in ``(0, 1]``.
    """

    center: Tensor
    running_mean: Tensor
    count: Tensor
    initialized: Tensor

    def __init__(self, embedding_dim: int, momentum: float | None = None) -> None:
        super().__init__()
        self.embedding_dim = check_positive_int(embedding_dim, "embedding_dim")
        self.momentum = (
            None if momentum is None else check_float_in_range(momentum, "momentum", 0, 1, low_closed=False)
        )
        self.register_buffer("center", torch.zeros(embedding_dim))
        self.register_buffer("running_mean", torch.zeros(embedding_dim))
        self.register_buffer("count", torch.zeros((), dtype=torch.int64))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))

    @property
    def is_initialized(self) -> bool:
        """Whether a centre has been built (reads a buffer: a host sync; for training loops, not forwards)."""
        return bool(self.initialized)

    @torch.no_grad()
    def reset(self) -> None:
        """Forget the centre and the running statistics."""
        self.center.zero_()
        self.running_mean.zero_()
        self.count.zero_()
        self.initialized.fill_(False)

    def _normalised_batch(self, embeddings: Tensor, name: str) -> Tensor:
        check_shape(embeddings, name, ("B", self.embedding_dim))
        check_floating(embeddings, name)
        check_nonempty(embeddings, name)
        if embeddings.device != self.center.device:
            raise ValueError(
                f"expected {name} on the device of the UI centre ({self.center.device}), "
                f"got {embeddings.device}"
            )
        check_finite(embeddings, name)
        return l2_normalize(embeddings.detach(), dim=1)

    @torch.no_grad()
    def fit(self, embeddings: Tensor) -> None:
        """Build the centre from the embeddings ``(K, D)`` of the whole UI set (replaces any state).

        Raises :class:`ValueError` (changing nothing) when the embeddings cancel out: a mean of the unit
        vectors shorter than the rounding error of one unit vector (e.g. ``x`` and ``-x``) has no direction.
        """
        unit = self._normalised_batch(embeddings, "embeddings")
        mean = unit.mean(dim=0)
        self._check_direction(mean, unit.dtype)
        self.running_mean.copy_(mean)
        self.count.fill_(unit.shape[0])
        self.center.copy_(l2_normalize(mean, dim=0))
        self.initialized.fill_(True)

    @torch.no_grad()
    def update(self, embeddings: Tensor) -> None:
        """Fold a UI mini-batch ``(B, D)`` into the centre (running mean, or EMA with ``momentum``).

        No host sync while value checks are off."""
        unit = self._normalised_batch(embeddings, "embeddings")
        batch_mean = unit.mean(dim=0)
        batch_size = unit.shape[0]
        if self.momentum is None:
            new_count = self.count + batch_size
            weight = batch_size / new_count.to(batch_mean.dtype)
            new_mean = self.running_mean + (batch_mean - self.running_mean) * weight
        else:
            ema = self.running_mean * (1.0 - self.momentum) + batch_mean * self.momentum
            new_mean = torch.where(self.initialized, ema, batch_mean)
            new_count = self.count + batch_size
        self._check_direction(new_mean, unit.dtype)
        self.running_mean.copy_(new_mean)
        self.count.copy_(new_count)
        self.center.copy_(l2_normalize(new_mean, dim=0))
        self.initialized.fill_(True)

    def _check_direction(self, mean: Tensor, dtype: torch.dtype) -> None:
        if not value_checks_enabled():
            return
        tolerance = degenerate_tolerance(self.embedding_dim, dtype)
        norm = float(torch.linalg.vector_norm(mean.double()))
        if not norm > tolerance:
            raise ValueError(
                f"expected embeddings whose normalised mean has a direction (norm > {tolerance:.1e}, the "
                f"rounding error of the unit vectors), got a mean of norm {norm:.1e}: the embeddings are "
                f"zero or cancel out (e.g. x and -x)"
            )

    def _checked_center(self) -> Tensor:
        if value_checks_enabled():
            if not bool(self.initialized):
                raise RuntimeError(
                    "UICenter holds no centre yet: call fit(ui_embeddings) or update(...) first"
                )
            check_finite(self.center, "UICenter.center")
        return self.center

    def cosine(self, embeddings: Tensor) -> Tensor:
        """Cosine of each embedding ``(B, D)`` with the centre -> ``(B,)`` float32 (Eq. 2).

        float64 embeddings give float64 cosines. See :func:`~recognizability.functional.ui_cosine`."""
        center = self._checked_center()
        check_shape(embeddings, "embeddings", ("B", self.embedding_dim))
        check_floating(embeddings, "embeddings")
        check_nonempty(embeddings, "embeddings")
        if embeddings.device != center.device:
            raise ValueError(
                f"expected embeddings on the device of the UI centre ({center.device}), "
                f"got {embeddings.device}"
            )
        return ui_cosine(embeddings, center.float())

    def project_away(self, embeddings: Tensor) -> Tensor:
        """``v' = v - <v, u> u`` for embeddings ``(B, D)`` -> ``(B, D)`` float32 (paper Eq. 8)."""
        return project_away(embeddings, self._checked_center())

    def forward(self, embeddings: Tensor) -> Tensor:
        """Same as :meth:`cosine`."""
        return self.cosine(embeddings)

    def extra_repr(self) -> str:
        return f"embedding_dim={self.embedding_dim}, momentum={self.momentum}"
