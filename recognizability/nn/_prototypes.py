"""What every margin head holds, dense, chunked or class-sharded: the class prototypes, a margin component and
its running statistics; and the dense head, which builds the whole ``(B, C)`` cosine."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from .._validation import check_positive_int
from ..functional._autocast import at_least_float32, float32_region
from ..functional._heads import check_head_call, index_parts
from ..functional.margins import cosine_logits
from .head_output import MarginHeadOutput
from .margins import Margin

__all__ = ["MarginHead", "PrototypeHolder", "check_head_sizes", "margin_option"]


def check_head_sizes(embedding_dim: object, num_classes: object) -> tuple[int, int]:
    """Check ``D >= 1`` and ``C >= 2`` (the index needs a nearest negative prototype); return them."""
    return (
        check_positive_int(embedding_dim, "embedding_dim"),
        check_positive_int(num_classes, "num_classes", minimum=2),
    )


class margin_option:
    """A head attribute that belongs to its margin component (``head.scale``, ``head.margin``, ...): reading
    and setting it reach ``head.margin_component``, so a schedule that sets ``head.margin = 0.3`` between
    steps changes the logits every holder computes, and no copy can go stale."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, head: Any, owner: type | None = None) -> Any:
        if head is None:
            return self
        return getattr(head.margin_component, self.name)

    def __set__(self, head: Any, value: Any) -> None:
        setattr(head.margin_component, self.name, value)


def check_margin_component(margin: object) -> Margin:
    """Check ``margin`` is a :class:`~recognizability.nn.Margin` (e.g. ``ArcFaceMargin()``); return it."""
    if not isinstance(margin, Margin):
        raise TypeError(
            f"expected margin to be a Margin (e.g. ArcFaceMargin(scale=64.0, margin=0.45)), "
            f"got {type(margin).__name__}"
        )
    return margin


class PrototypeHolder(nn.Module):
    """Base of the margin heads: ``rows`` class prototypes ``W`` as ``weight`` ``(rows, D)`` (all ``C`` of
    them, or a process's shard), a margin component (``margin_component``) and the margin's running
    statistics as buffers under the margin's names (``(1,)`` each; AdaFace's ``batch_mean`` and
    ``batch_std``, CurricularFace's ``t``), so a head's state dict is ``weight`` and those, whichever holder
    it is.

    The prototypes are drawn from ``N(0, 0.01^2)`` (as the ArcFace authors' ``arcface_torch`` partial-FC head
    and the CurricularFace authors' head do; AdaFace's and MagFace's code draw uniform columns and renormalise
    them); only their direction matters. Statistics change only in training mode, only at the end of a call
    that succeeded; :meth:`load_state_dict` refuses statistics the margin declares invalid
    (:meth:`~recognizability.nn.Margin.statistic_checks`) before anything is copied.
    """

    weight: nn.Parameter
    scale = margin_option()
    #: The buffers that each training call updates from its batch (averaged over processes in data-parallel
    #: training: :meth:`recognizability.training.DistributedContext.average_replicas`).
    running_statistics: tuple[str, ...]

    def __init__(self, embedding_dim: int, num_classes: int, margin: Margin, rows: int | None = None) -> None:
        super().__init__()
        self.embedding_dim, self.num_classes = check_head_sizes(embedding_dim, num_classes)
        self.margin_component = check_margin_component(margin)
        self.weight = nn.Parameter(
            torch.empty(self.num_classes if rows is None else rows, self.embedding_dim)
        )
        statistics = margin.statistics()
        for name, value in statistics.items():
            self.register_buffer(name, torch.full((1,), float(value)))
        self.running_statistics = tuple(statistics)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw the prototypes from ``N(0, 0.01^2)``."""
        nn.init.normal_(self.weight, mean=0.0, std=0.01)

    # ------------------------------------------------------------------------------------------------------
    # The steps every holder takes
    # ------------------------------------------------------------------------------------------------------

    def _norms(self, upcast: Tensor) -> Tensor | None:
        """The ``(B,)`` feature norms ``||z||`` of float32/64 embeddings, when the margin reads them."""
        if not self.margin_component.needs_norms:
            return None
        with float32_region(upcast.device):
            norms: Tensor = torch.linalg.vector_norm(upcast, dim=1)
        return norms

    def _batch_statistics(self, target_cosine: Tensor | None, norms: Tensor | None) -> dict[str, Tensor]:
        """The statistics this call uses: in training mode first updated with the batch (as the authors'
        code does), not yet stored; in eval mode the stored ones."""
        statistics: dict[str, Tensor] = {name: getattr(self, name) for name in self.running_statistics}
        if self.training and statistics:
            return self.margin_component.update_statistics(statistics, target_cosine, norms)
        return statistics

    def _commit(self, statistics: Mapping[str, Tensor]) -> None:
        """Store the statistics of a call that has succeeded (training mode only; no host sync)."""
        if self.training:
            with torch.no_grad():
                for name in self.running_statistics:
                    getattr(self, name).copy_(statistics[name])

    def _with_regularizer(self, loss: Tensor, norms: Tensor | None) -> Tensor:
        regularizer = self.margin_component.regularizer(norms)
        return loss if regularizer is None else loss + regularizer

    # ------------------------------------------------------------------------------------------------------
    # Checkpoints and repr
    # ------------------------------------------------------------------------------------------------------

    def _load_from_state_dict(
        self, state_dict: Mapping[str, Any], prefix: str, *args: Any, **kwargs: Any
    ) -> None:
        error_msgs: list[str] = args[-1] if args else kwargs["error_msgs"]
        for name, (valid, words) in self.margin_component.statistic_checks().items():
            value = state_dict.get(prefix + name)
            if isinstance(value, Tensor) and value.is_floating_point() and not bool(valid(value).all()):
                error_msgs.append(
                    f"expected {prefix + name} to be {words}, got {value.detach().reshape(-1).tolist()}: "
                    f"nothing of {type(self).__name__} was loaded"
                )
                return
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _options_repr(self) -> str:
        """``embedding_dim``, ``num_classes`` and the margin's options, flat (the library heads' repr)."""
        options = ", ".join(f"{name}={value}" for name, value in self.margin_component.options().items())
        return f"embedding_dim={self.embedding_dim}, num_classes={self.num_classes}, {options}"

    def extra_repr(self) -> str:
        return (
            f"embedding_dim={self.embedding_dim}, num_classes={self.num_classes}, "
            f"margin={self.margin_component!r}"
        )


class MarginHead(PrototypeHolder):
    """A dense margin head: all ``C`` prototypes on one device and the whole ``(B, C)`` pre-margin cosine.

    ``MarginHead(512, C, CosFaceMargin(margin=0.4))`` is a CosFace head; :class:`ArcFace`, :class:`CosFace`,
    :class:`AdaFace`, :class:`CurricularFace` and :class:`MagFace` are this class with their margin built from
    their own constructor arguments. Keep the head inside the model so the normal optimiser, DDP and AMP see
    the prototypes. While value checks are on (:func:`~recognizability.set_value_checks`), non-finite
    embeddings raise :class:`ValueError` (one host sync) before anything is computed or updated.

    Args:
        embedding_dim: ``D``.
        num_classes: ``C >= 2``.
        margin: the margin component (:class:`~recognizability.nn.Margin`; ``Margin(scale)`` for none).

    Shape:
        forward(embeddings ``(B, D)``, labels ``(B,)``) -> :class:`MarginHeadOutput` with ``logits`` and
        ``cosine`` ``(B, C)``, ``loss`` (the cross-entropy ``L_cls``, plus the margin's regulariser), and the
        pre-margin ``positive_cosine`` and ``nearest_negative_cosine`` ``(B,)`` (paper Eq. 1).
    """

    def __init__(self, embedding_dim: int, num_classes: int, margin: Margin) -> None:
        super().__init__(embedding_dim, num_classes, margin)

    def forward(self, embeddings: Tensor, labels: Tensor) -> MarginHeadOutput:
        index = check_head_call(embeddings, labels, self.weight, self.embedding_dim, self.num_classes)
        margin = self.margin_component
        # One upcast feeds the cosines and the norms, so a half-precision input's gradient is saturated once
        # (two saturated gradients could overflow in their half-precision sum).
        upcast = at_least_float32(embeddings)
        cosine = cosine_logits(upcast, self.weight)
        norms = self._norms(upcast)
        column = index.unsqueeze(1)
        positive, nearest_negative = index_parts(cosine, column)
        statistics = self._batch_statistics(positive.detach(), norms)
        target = margin.target_logits(positive, norms, statistics)
        negative_logits = margin.negative_logits(positive.detach(), statistics)
        # The one (B, C) allocation besides the cosine: fresh, so the target is scattered into it in place.
        logits = cosine * margin.scale if negative_logits is None else negative_logits(cosine)
        logits = logits.scatter_(1, column, target.unsqueeze(1))
        loss = self._with_regularizer(nn.functional.cross_entropy(logits, index), norms)
        self._commit(statistics)  # every argument has been checked: now the statistics may change
        return MarginHeadOutput(
            logits=logits,
            cosine=cosine,
            loss=loss,
            positive_cosine=positive,
            nearest_negative_cosine=nearest_negative,
        )
