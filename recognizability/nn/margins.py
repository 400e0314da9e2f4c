"""Margins as components: what a margin head does to the pre-margin cosines, apart from where the class
prototypes live.

A prototype holder (:class:`~recognizability.nn.MarginHead` on one device with the whole ``(B, C)`` cosine,
:class:`~recognizability.nn.ChunkedMarginHead` walking the prototypes in chunks,
:class:`~recognizability.nn.ShardedMarginHead` with the classes split over processes) computes the cosines
``cos(theta_j) = <v / |v|, W_j / |W_j|>`` and hands them to its margin, which says

* how the target cosine ``cos(theta_y)`` becomes the target logit (:meth:`Margin.target_logits`);
* how the non-target cosines become their logits, elementwise (:meth:`Margin.negative_logits`; ``s cos``
  unless the method changes them: CurricularFace re-weights hard negatives, AdaFace clamps);
* which per-sample inputs it reads besides the cosines (:attr:`Margin.needs_norms`: the feature norm ``||z||``
  of the un-normalised embedding, for AdaFace and MagFace) and whether it needs ``cos(theta_y)`` before the
  prototypes are walked (:attr:`Margin.needs_target_cosine`: CurricularFace);
* which running statistics it keeps and how a training batch updates them (:meth:`Margin.statistics`,
  :meth:`Margin.update_statistics`: AdaFace's norm mean and standard deviation, CurricularFace's ``t``);
  the holder keeps them as its buffers, under these names, and updates them over the whole (gathered) batch;
* any loss besides the cross-entropy (:meth:`Margin.regularizer`: MagFace's ``lambda_g g(a)``).

A margin is configuration only (its hyperparameters); the arithmetic is in
:mod:`recognizability.functional`. The split follows the ArcFace authors' partial-FC head, which takes its
margin as a callable (no code of theirs is used). The holder computes the cross-entropy ``-log softmax`` of
the target logit and returns :class:`~recognizability.nn.MarginHeadOutput` with the two pre-margin cosines of
the index (paper Eq. 1).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import ClassVar

import torch
from torch import Tensor

from .._validation import check_positive_float
from ..functional._heads import (
    adaface_negative_logits,
    adaface_target_logits,
    angular_margin_cosine,
    arcface_target_logits,
    check_adaface_values,
    check_finite_statistic,
    check_magface_bounds,
    check_margin,
    check_momentum,
    cosface_target_logits,
    curricularface_negative_logits,
    magface_margin_of_norms,
    magface_target_logits,
)
from ..functional.chunked import NegativeLogits
from ..functional.margin_heads import adaface_norm_statistics, curricularface_t_update, magface_regularizer

__all__ = [
    "AdaFaceMargin",
    "ArcFaceMargin",
    "CosFaceMargin",
    "CurricularFaceMargin",
    "MagFaceMargin",
    "Margin",
    "StatisticCheck",
]

#: How :meth:`Margin.statistic_checks` says what a stored statistic must be: a predicate giving a bool tensor
#: (true where a value is valid) and the words for the error (e.g. ``"finite"``).
StatisticCheck = tuple[Callable[[Tensor], Tensor], str]


class Margin:
    """A margin component. The base class is the normalised softmax without margin (NormFace; Wang et
    al., ACM MM 2017): every logit is ``s cos(theta_j)``. Subclasses change the target logit and, where their
    method does, the non-target logits, the per-sample inputs, the running statistics and the extra loss.

    Every method is pure: the holder passes the current statistics in and stores what
    :meth:`update_statistics` returns only once the whole call has succeeded (a call that raises changes
    nothing). ``target_cosine``, ``norms`` and the statistics are ``(B,)`` tensors (``(1,)`` for a statistic)
    over the whole batch the loss is taken on: in a class-sharded head, the gathered batch of every process.

    Args:
        scale: ``s > 0``.
    """

    #: Whether the margin reads the feature norms ``||z||`` of the un-normalised embeddings.
    needs_norms: ClassVar[bool] = False
    #: Whether :meth:`update_statistics` or :meth:`negative_logits` read ``cos(theta_y)`` (a chunked or
    #: sharded head then takes it from the label's prototype rows before it walks the prototypes).
    needs_target_cosine: ClassVar[bool] = False

    def __init__(self, scale: float = 64.0) -> None:
        self.scale = check_positive_float(scale, "scale")

    def options(self) -> dict[str, float]:
        """The constructor arguments, by name (what ``repr`` shows and a registry builds it from)."""
        return {"scale": self.scale}

    def statistics(self) -> dict[str, float]:
        """The running statistics the margin keeps, by buffer name, with their initial values (none here)."""
        return {}

    def statistic_checks(self) -> dict[str, StatisticCheck]:
        """What a stored statistic must be for ``load_state_dict`` to accept it, by buffer name."""
        return {}

    def update_statistics(
        self, statistics: Mapping[str, Tensor], target_cosine: Tensor | None, norms: Tensor | None
    ) -> dict[str, Tensor]:
        """The statistics after a training batch (detached, same shapes); the base keeps none.

        ``target_cosine`` is the detached pre-margin ``cos(theta_y)`` ``(B,)`` when
        :attr:`needs_target_cosine` (else possibly ``None``), ``norms`` the ``(B,)`` feature norms when
        :attr:`needs_norms`.
        """
        return dict(statistics)

    def target_logits(
        self, target_cosine: Tensor, norms: Tensor | None, statistics: Mapping[str, Tensor]
    ) -> Tensor:
        """The ``(B,)`` target logits from the ``(B,)`` pre-margin ``cos(theta_y)``, differentiable (through
        the norms too where the method says so); the base: ``s cos(theta_y)``."""
        return target_cosine * self.scale

    def negative_logits(
        self, target_cosine: Tensor | None, statistics: Mapping[str, Tensor]
    ) -> NegativeLogits | None:
        """The elementwise map from a ``(B, k)`` block of non-target cosines to their logits, with this
        batch's per-row constants in it (detached), or ``None`` for ``s cos(theta_j)``."""
        return None

    def regularizer(self, norms: Tensor | None) -> Tensor | None:
        """A scalar loss added to the cross-entropy (over the whole batch), or ``None``."""
        return None

    def __repr__(self) -> str:
        options = ", ".join(f"{name}={value!r}" for name, value in self.options().items())
        return f"{type(self).__name__}({options})"


class ArcFaceMargin(Margin):
    """ArcFace's additive angular margin (Deng et al., CVPR 2019; the paper's ``L_cls``): target logit
    ``s cos(theta_y + m)``, with the fallback ``s (cos(theta_y) - m sin(m))`` past ``pi`` of the authors'
    released code (:func:`~recognizability.functional.arcface_logits`).

    Args:
        scale: ``s`` (paper Table 5: 64).
        margin: ``m`` in radians, ``0 <= m < pi`` (paper Table 5: 0.45).
    """

    def __init__(self, scale: float = 64.0, margin: float = 0.45) -> None:
        super().__init__(scale)
        self.margin = check_margin(margin)

    def options(self) -> dict[str, float]:
        return {"scale": self.scale, "margin": self.margin}

    def target_logits(
        self, target_cosine: Tensor, norms: Tensor | None, statistics: Mapping[str, Tensor]
    ) -> Tensor:
        return arcface_target_logits(target_cosine, self.scale, self.margin)


class CosFaceMargin(Margin):
    """CosFace's large margin cosine (Wang et al., CVPR 2018): target logit ``s (cos(theta_y) - m)``
    (:func:`~recognizability.functional.cosface_logits`).

    Args:
        scale: ``s`` (CosFace paper: 64).
        margin: cosine margin ``m >= 0`` (CosFace paper: 0.35; insightface ``arcface_torch``: 0.4).
    """

    def __init__(self, scale: float = 64.0, margin: float = 0.35) -> None:
        super().__init__(scale)
        self.margin = check_positive_float(margin, "margin", allow_zero=True)

    def options(self) -> dict[str, float]:
        return {"scale": self.scale, "margin": self.margin}

    def target_logits(
        self, target_cosine: Tensor, norms: Tensor | None, statistics: Mapping[str, Tensor]
    ) -> Tensor:
        return cosface_target_logits(target_cosine, self.scale, self.margin)


class AdaFaceMargin(Margin):
    """AdaFace's feature-norm adaptive margin (Kim, Jain and Liu, CVPR 2022;
    :func:`~recognizability.functional.adaface_logits`): reads the feature norms, keeps ``batch_mean`` and
    ``batch_std`` (starting at 20 and 100, the authors' ``head.py``), which a training batch moves by
    ``t_alpha`` towards its mean and unbiased standard deviation of the clipped norms
    (:func:`~recognizability.functional.adaface_norm_statistics`) before they are used; every cosine is
    clamped to ``[-1 + eps, 1 - eps]``, the non-target ones too.

    Args:
        scale: ``s`` (paper: 64).
        margin: ``m >= 0`` (paper and released scripts: 0.4).
        h: concentration ``h >= 0`` of the normalised norm (paper: 0.333).
        t_alpha: momentum of the norm statistics, in ``(0, 1]`` (paper: 0.01).
    """

    needs_norms = True

    def __init__(
        self, scale: float = 64.0, margin: float = 0.4, h: float = 0.333, t_alpha: float = 0.01
    ) -> None:
        super().__init__(scale)
        self.margin = check_positive_float(margin, "margin", allow_zero=True)
        self.h = check_positive_float(h, "h", allow_zero=True)
        self.t_alpha = check_momentum(t_alpha, "t_alpha")

    def options(self) -> dict[str, float]:
        return {"scale": self.scale, "margin": self.margin, "h": self.h, "t_alpha": self.t_alpha}

    def statistics(self) -> dict[str, float]:
        return {"batch_mean": 20.0, "batch_std": 100.0}

    def statistic_checks(self) -> dict[str, StatisticCheck]:
        return {
            "batch_mean": (torch.isfinite, "finite"),
            "batch_std": (lambda v: torch.isfinite(v) & (v >= 0), "finite and >= 0"),
        }

    def update_statistics(
        self, statistics: Mapping[str, Tensor], target_cosine: Tensor | None, norms: Tensor | None
    ) -> dict[str, Tensor]:
        batch_mean, batch_std = adaface_norm_statistics(
            _required(norms), statistics["batch_mean"], statistics["batch_std"], self.t_alpha
        )
        return {"batch_mean": batch_mean, "batch_std": batch_std}

    def target_logits(
        self, target_cosine: Tensor, norms: Tensor | None, statistics: Mapping[str, Tensor]
    ) -> Tensor:
        norms = _required(norms)
        batch_mean, batch_std = statistics["batch_mean"], statistics["batch_std"]
        check_adaface_values(norms, batch_mean, batch_std)
        return adaface_target_logits(
            target_cosine, norms, batch_mean, batch_std, self.scale, self.margin, self.h
        )

    def negative_logits(
        self, target_cosine: Tensor | None, statistics: Mapping[str, Tensor]
    ) -> NegativeLogits | None:
        return functools.partial(adaface_negative_logits, scale=self.scale)


class CurricularFaceMargin(Margin):
    """CurricularFace's adaptive curriculum (Huang et al., CVPR 2020;
    :func:`~recognizability.functional.curricularface_logits`): ArcFace's target logit, and a hard negative
    (``cos(theta_j) > cos(theta_y + m)``, a per-sample threshold) gets ``s cos(theta_j) (t + cos(theta_j))``.
    Keeps ``t`` (starting at 0), which a training batch moves by ``t_momentum`` towards its mean
    ``cos(theta_y)`` (:func:`~recognizability.functional.curricularface_t_update`) before it is used.

    Args:
        scale: ``s`` (paper: 64).
        margin: ``m`` in radians, ``0 <= m < pi`` (paper: 0.5).
        t_momentum: momentum of ``t``, in ``(0, 1]`` (paper: 0.01).
    """

    needs_target_cosine = True

    def __init__(self, scale: float = 64.0, margin: float = 0.5, t_momentum: float = 0.01) -> None:
        super().__init__(scale)
        self.margin = check_margin(margin)
        self.t_momentum = check_momentum(t_momentum, "t_momentum")

    def options(self) -> dict[str, float]:
        return {"scale": self.scale, "margin": self.margin, "t_momentum": self.t_momentum}

    def statistics(self) -> dict[str, float]:
        return {"t": 0.0}

    def statistic_checks(self) -> dict[str, StatisticCheck]:
        return {"t": (torch.isfinite, "finite")}

    def update_statistics(
        self, statistics: Mapping[str, Tensor], target_cosine: Tensor | None, norms: Tensor | None
    ) -> dict[str, Tensor]:
        return {"t": curricularface_t_update(_required(target_cosine), statistics["t"], self.t_momentum)}

    def target_logits(
        self, target_cosine: Tensor, norms: Tensor | None, statistics: Mapping[str, Tensor]
    ) -> Tensor:
        check_finite_statistic(statistics["t"], "t")
        return arcface_target_logits(target_cosine, self.scale, self.margin)

    def negative_logits(
        self, target_cosine: Tensor | None, statistics: Mapping[str, Tensor]
    ) -> NegativeLogits | None:
        threshold = angular_margin_cosine(_required(target_cosine).detach(), self.margin).unsqueeze(1)
        return functools.partial(
            curricularface_negative_logits, threshold=threshold, t=statistics["t"].detach(), scale=self.scale
        )


class MagFaceMargin(Margin):
    """MagFace's magnitude-aware margin (Meng et al., CVPR 2021; :func:`~recognizability.functional.
    magface_logits`): target logit ``s cos(theta_y + m(a))`` with ``m(a)`` linear in the clipped feature
    norm ``a`` (plain ``s cos(theta_y)`` where ``cos(theta_y) <= 0``, the authors' easy margin), and the
    regulariser ``lambda_g mean g(a)``, ``g(a) = a / u_a^2 + 1 / a`` (:func:`~recognizability.functional.
    magface_regularizer`). Gradients reach the norms through both.

    Args:
        scale: ``s`` (paper: 64).
        lower_norm, upper_norm: ``l_a``, ``u_a`` (paper: 10, 110).
        lower_margin, upper_margin: ``l_m``, ``u_m`` in radians (paper: 0.45, 0.8).
        lambda_g: weight of the regulariser (the authors' training script: 35).
    """

    needs_norms = True

    def __init__(
        self,
        scale: float = 64.0,
        lower_norm: float = 10.0,
        upper_norm: float = 110.0,
        lower_margin: float = 0.45,
        upper_margin: float = 0.8,
        lambda_g: float = 35.0,
    ) -> None:
        super().__init__(scale)
        bounds = check_magface_bounds(lower_norm, upper_norm, lower_margin, upper_margin)
        self.lower_norm, self.upper_norm, self.lower_margin, self.upper_margin = bounds
        self.lambda_g = check_positive_float(lambda_g, "lambda_g", allow_zero=True)

    def options(self) -> dict[str, float]:
        return {
            "scale": self.scale,
            "lower_norm": self.lower_norm,
            "upper_norm": self.upper_norm,
            "lower_margin": self.lower_margin,
            "upper_margin": self.upper_margin,
            "lambda_g": self.lambda_g,
        }

    def target_logits(
        self, target_cosine: Tensor, norms: Tensor | None, statistics: Mapping[str, Tensor]
    ) -> Tensor:
        margins = magface_margin_of_norms(
            _required(norms), self.lower_norm, self.upper_norm, self.lower_margin, self.upper_margin
        )
        return magface_target_logits(target_cosine, margins, self.scale)

    def regularizer(self, norms: Tensor | None) -> Tensor | None:
        return self.lambda_g * magface_regularizer(_required(norms), self.lower_norm, self.upper_norm)


def _required(value: Tensor | None) -> Tensor:
    """A per-sample input the margin declared it needs (the holder passes it)."""
    if value is None:
        raise TypeError(
            "expected the per-sample input this margin declares (needs_norms/needs_target_cosine)"
        )
    return value
