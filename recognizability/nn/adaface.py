"""AdaFace head: class prototypes and the feature-norm adaptive margin, with running norm statistics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import Tensor

from .._validation import check_finite, check_positive_float
from ..functional._autocast import at_least_float32, float32_region
from ..functional.margin_heads import _check_momentum, adaface_logits, adaface_norm_statistics
from ..functional.margins import cosine_logits
from ._prototypes import MarginHead
from .head_output import MarginHeadOutput

__all__ = ["AdaFace"]


class AdaFace(MarginHead):
    """AdaFace head (Kim, Jain and Liu, CVPR 2022): the margin adapts to the image quality, read from the
    feature norm ``||z||`` of the **un-normalised** embedding.

    Pass the backbone's raw embeddings ``z``; the head takes the norms from them (with the gradient stopped,
    as the paper and the authors' ``head.py`` do) and normalises them itself. A backbone that returns the pair
    ``(z / ||z||, ||z||)`` as the AdaFace authors' does is used with ``head(unit * norms, labels)``.

    Buffers (in the ``state_dict``, names as in the authors' ``head.py``): ``batch_mean`` and ``batch_std``
    ``(1,)``, the exponential moving averages of the batch mean and unbiased standard deviation of the
    clipped norms, starting at 20 and 100. In training mode each forward first folds the batch into them
    (momentum ``t_alpha``; needs ``B >= 2``) and then uses them, as the released code does; in eval mode they
    are only read. The update is tensor arithmetic on the device (no host sync) and happens only after every
    argument has been checked. Non-finite embeddings never reach the statistics: while value checks are on
    (:func:`~recognizability.set_value_checks`) they raise :class:`ValueError` before anything changes; with
    the checks off, a batch whose statistic is not finite leaves it unchanged (a ``torch.where`` on the
    device, see :func:`~recognizability.functional.adaface_norm_statistics`). :meth:`load_state_dict` refuses
    a non-finite ``batch_mean`` and a non-finite or negative ``batch_std``. See
    :func:`~recognizability.functional.adaface_logits` for the formula and where it follows the released code.

    Args:
        embedding_dim: ``D``.
        num_classes: ``C >= 2``.
        scale: ``s`` (paper: 64).
        margin: ``m`` (paper and released scripts: 0.4).
        h: concentration of the normalised norm (paper: 0.333).
        t_alpha: momentum of the norm statistics (paper: 0.01).

    Shape:
        forward(embeddings ``(B, D)``, labels ``(B,)``) -> :class:`MarginHeadOutput` (``loss``: the
        cross-entropy).
    """

    batch_mean: Tensor
    batch_std: Tensor
    #: Buffers each training call updates from its batch (averaged over processes in data-parallel training:
    #: :meth:`recognizability.training.DistributedContext.average_replicas`).
    running_statistics: ClassVar[tuple[str, ...]] = ("batch_mean", "batch_std")

    def __init__(
        self,
        embedding_dim: int,
        num_classes: int,
        scale: float = 64.0,
        margin: float = 0.4,
        h: float = 0.333,
        t_alpha: float = 0.01,
    ) -> None:
        super().__init__(embedding_dim, num_classes, scale)
        self.margin = check_positive_float(margin, "margin", allow_zero=True)
        self.h = check_positive_float(h, "h", allow_zero=True)
        self.t_alpha = _check_momentum(t_alpha, "t_alpha")
        self.register_buffer("batch_mean", torch.full((1,), 20.0))
        self.register_buffer("batch_std", torch.full((1,), 100.0))

    def forward(self, embeddings: Tensor, labels: Tensor) -> MarginHeadOutput:
        cosine = cosine_logits(embeddings, self.weight)
        check_finite(embeddings, "embeddings")  # value checks on: one sync, before any statistic changes
        with float32_region(embeddings.device):
            norms = torch.linalg.vector_norm(at_least_float32(embeddings), dim=1)
        batch_mean, batch_std = self.batch_mean, self.batch_std
        if self.training:
            batch_mean, batch_std = adaface_norm_statistics(norms, batch_mean, batch_std, self.t_alpha)
        logits = adaface_logits(
            cosine, norms, labels, batch_mean, batch_std, scale=self.scale, margin=self.margin, h=self.h
        )
        if self.training:  # every argument has been checked: now the statistics may change
            with torch.no_grad():
                self.batch_mean.copy_(batch_mean)
                self.batch_std.copy_(batch_std)
        return self._output(cosine, logits, labels)

    def _load_from_state_dict(
        self, state_dict: Mapping[str, Any], prefix: str, *args: Any, **kwargs: Any
    ) -> None:
        error_msgs: list[str] = args[-1] if args else kwargs["error_msgs"]
        checks = {
            "batch_mean": (torch.isfinite, "finite"),
            "batch_std": (lambda v: torch.isfinite(v) & (v >= 0), "finite and >= 0"),
        }
        if self._load_checked_statistics(state_dict, prefix, error_msgs, checks):
            super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        return f"{self._head_repr()}, margin={self.margin}, h={self.h}, t_alpha={self.t_alpha}"
