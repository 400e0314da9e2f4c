"""CurricularFace head: class prototypes, ArcFace's margin and the adaptive curriculum on hard negatives."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import Tensor

from .._validation import check_finite
from ..functional.margin_heads import (
    _check_margin,
    _check_momentum,
    curricularface_logits,
    curricularface_t_update,
    positive_and_nearest_negative_cosine,
)
from ..functional.margins import cosine_logits
from ._prototypes import MarginHead
from .head_output import MarginHeadOutput

__all__ = ["CurricularFace"]


class CurricularFace(MarginHead):
    """CurricularFace head (Huang et al., CVPR 2020): hard negatives ``cos(theta_j) > cos(theta_y + m)`` get
    the logit ``s * cos(theta_j) (t + cos(theta_j))``, with ``t`` following the mean target cosine.

    Buffer (in the ``state_dict``, named as in the authors' code): ``t`` ``(1,)``, starting at 0. In training
    mode each forward first moves ``t`` towards the batch's mean pre-margin ``cos(theta_y)`` (momentum
    ``t_momentum``) and then uses it, as the released code does; in eval mode ``t`` is only read. The update
    is tensor arithmetic on the device (no host sync) and happens only after every argument has been checked.
    Non-finite embeddings never reach ``t``: while value checks are on
    (:func:`~recognizability.set_value_checks`) they raise :class:`ValueError` before anything changes; with
    the checks off, a batch whose mean cosine is not finite leaves ``t`` unchanged (a ``torch.where`` on the
    device, see :func:`~recognizability.functional.curricularface_t_update`). :meth:`load_state_dict`
    refuses a non-finite ``t``.
    See :func:`~recognizability.functional.curricularface_logits`.

    Args:
        embedding_dim: ``D``.
        num_classes: ``C >= 2``.
        scale: ``s`` (paper: 64).
        margin: ``m`` in radians (paper: 0.5).
        t_momentum: momentum of ``t`` (paper: 0.01).

    Shape:
        forward(embeddings ``(B, D)``, labels ``(B,)``) -> :class:`MarginHeadOutput` (``loss``: the
        cross-entropy).
    """

    t: Tensor
    #: Buffers each training call updates from its batch (averaged over processes in data-parallel training:
    #: :meth:`recognizability.training.DistributedContext.average_replicas`).
    running_statistics: ClassVar[tuple[str, ...]] = ("t",)

    def __init__(
        self,
        embedding_dim: int,
        num_classes: int,
        scale: float = 64.0,
        margin: float = 0.5,
        t_momentum: float = 0.01,
    ) -> None:
        super().__init__(embedding_dim, num_classes, scale)
        self.margin = _check_margin(margin)
        self.t_momentum = _check_momentum(t_momentum, "t_momentum")
        self.register_buffer("t", torch.zeros(1))

    def forward(self, embeddings: Tensor, labels: Tensor) -> MarginHeadOutput:
        cosine = cosine_logits(embeddings, self.weight)
        check_finite(embeddings, "embeddings")  # value checks on: one sync, before t changes
        parts = positive_and_nearest_negative_cosine(cosine, labels)
        t = self.t
        if self.training:
            t = curricularface_t_update(parts[0], t, self.t_momentum)
        logits = curricularface_logits(cosine, labels, t, scale=self.scale, margin=self.margin)
        if self.training:  # every argument has been checked: now t may change
            with torch.no_grad():
                self.t.copy_(t)
        return self._output(cosine, logits, labels, parts=parts)

    def _load_from_state_dict(
        self, state_dict: Mapping[str, Any], prefix: str, *args: Any, **kwargs: Any
    ) -> None:
        error_msgs: list[str] = args[-1] if args else kwargs["error_msgs"]
        if self._load_checked_statistics(state_dict, prefix, error_msgs, {"t": (torch.isfinite, "finite")}):
            super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        return f"{self._head_repr()}, margin={self.margin}, t_momentum={self.t_momentum}"
