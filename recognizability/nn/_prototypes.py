"""What every dense margin head shares: the class prototypes it owns and the output it builds."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from .._validation import check_positive_float, check_positive_int
from ..functional.margin_heads import _parts
from .head_output import MarginHeadOutput

__all__ = ["MarginHead", "check_head_sizes"]


def check_head_sizes(embedding_dim: object, num_classes: object) -> tuple[int, int]:
    """Check ``D >= 1`` and ``C >= 2`` (the index needs a nearest negative prototype); return them."""
    return (
        check_positive_int(embedding_dim, "embedding_dim"),
        check_positive_int(num_classes, "num_classes", minimum=2),
    )


class MarginHead(nn.Module):
    """Base of the dense margin heads: owns the class prototypes ``W`` as ``weight`` ``(C, D)``.

    Keep the head inside the model so the normal optimiser, DDP and AMP see the prototypes. They are drawn
    from ``N(0, 0.01^2)`` (as the ArcFace authors' ``arcface_torch`` partial-FC head and the CurricularFace
    authors' head do; AdaFace's and MagFace's code draw uniform columns and renormalise them); only their
    direction matters.

    While value checks are on (:func:`~recognizability.set_value_checks`), every head refuses non-finite
    embeddings with :class:`ValueError` (one host sync) before anything is computed or updated.
    """

    weight: nn.Parameter

    def __init__(self, embedding_dim: int, num_classes: int, scale: float) -> None:
        super().__init__()
        self.embedding_dim, self.num_classes = check_head_sizes(embedding_dim, num_classes)
        self.scale = check_positive_float(scale, "scale")
        self.weight = nn.Parameter(torch.empty(self.num_classes, self.embedding_dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw the prototypes from ``N(0, 0.01^2)``."""
        nn.init.normal_(self.weight, mean=0.0, std=0.01)

    @staticmethod
    def _output(
        cosine: Tensor,
        logits: Tensor,
        labels: Tensor,
        regulariser: Tensor | None = None,
        parts: tuple[Tensor, Tensor] | None = None,
    ) -> MarginHeadOutput:
        """Cross-entropy of ``logits`` (plus ``regulariser``) and the two index parts of ``cosine`` (unless
        already computed: ``parts``). ``labels`` must already be checked (the logits function did it)."""
        index = labels.long()
        loss = nn.functional.cross_entropy(logits, index)
        if regulariser is not None:
            loss = loss + regulariser
        positive, nearest_negative = _parts(cosine, index.unsqueeze(1)) if parts is None else parts
        return MarginHeadOutput(
            logits=logits,
            cosine=cosine,
            loss=loss,
            positive_cosine=positive,
            nearest_negative_cosine=nearest_negative,
        )

    def _load_checked_statistics(
        self,
        state_dict: Mapping[str, Any],
        prefix: str,
        error_msgs: list[str],
        checks: Mapping[str, tuple[Callable[[Tensor], Tensor], str]],
    ) -> bool:
        """Check the running statistics a state dict brings before any is copied; on a bad one append the
        error to ``error_msgs`` (``load_state_dict`` then raises it) and return ``False``.

        ``checks`` maps a buffer name to ``(predicate, words)``: the predicate gives a bool tensor that is
        true where a value is valid, ``words`` says what is expected (e.g. ``"finite"``).
        """
        for name, (valid, words) in checks.items():
            value = state_dict.get(prefix + name)
            if isinstance(value, Tensor) and value.is_floating_point() and not bool(valid(value).all()):
                error_msgs.append(
                    f"expected {prefix + name} to be {words}, got {value.detach().reshape(-1).tolist()}: "
                    f"nothing of {type(self).__name__} was loaded"
                )
                return False
        return True

    def _head_repr(self) -> str:
        return f"embedding_dim={self.embedding_dim}, num_classes={self.num_classes}, scale={self.scale}"
