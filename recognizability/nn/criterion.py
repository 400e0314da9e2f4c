"""The combined training criterion of the paper (Eq. 10) with every term reported separately."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

import torch
from torch import Tensor, nn

from .._validation import (
    check_bool,
    check_floating,
    check_integer,
    check_labels,
    check_nonempty,
    check_positive_float,
    check_positive_int,
    check_reduction,
    check_same_device,
    check_shape,
    check_tensor,
)
from ..functional._autocast import at_least_float32
from ..functional._heads import index_parts
from ..functional.index import check_cosine_values, recognizability_index_from_parts
from ..functional.losses import (
    DEFAULT_TAU,
    AttentionReduction,
    attention_mse_loss,
    perceptibility_regression_loss,
)
from .attention import PerceptibilityAttention
from .diversion import IndexDiversionLoss
from .head_output import HeadOutputLike
from .index import RecognizabilityIndex
from .regression import PerceptibilityRegression
from .ui_center import UICenter

__all__ = ["RecognizabilityLoss", "RecognizabilityLossOutput"]


@dataclasses.dataclass(frozen=True)
class RecognizabilityLossOutput:
    """Every term of :class:`RecognizabilityLoss`; the same fields whatever terms are switched on.

    Attributes:
        total: ``L_cls + alpha * L_L1 + beta * L_ID + gamma * L_MSE`` (Eq. 10), float32 scalar.
        classification: ``L_cls``, the margin head's loss (ArcFace's cross-entropy in the paper).
        regression: ``L_L1`` (Eq. 4), unweighted; zero when switched off.
        diversion: ``L_ID`` (Eq. 7), unweighted; zero when switched off.
        attention: ``L_MSE`` (Eq. 9), unweighted; zero when switched off.
        index: ``(B,)`` Recognizability Index ``xi`` (Eq. 3), detached; zeros when the regression term is off
            (it is only that term's target and is then not computed).
        predicted_index: ``(B,)`` ``xi_hat`` of the regression module (the quality score); zeros when both
            the regression and the diversion terms are off (the module is then not run).
    """

    total: Tensor
    classification: Tensor
    regression: Tensor
    diversion: Tensor
    attention: Tensor
    index: Tensor
    predicted_index: Tensor

    def __iter__(self) -> Iterator[Tensor]:
        """Unpack like a named tuple, in field order."""
        return iter(
            (
                self.total,
                self.classification,
                self.regression,
                self.diversion,
                self.attention,
                self.index,
                self.predicted_index,
            )
        )


class RecognizabilityLoss(nn.Module):
    """The paper's training objective ``L_total = L_cls + alpha L_L1 + beta L_ID + gamma L_MSE`` (Eq. 10).

    Owns the trainable heads of the method: ``.regression`` (:class:`PerceptibilityRegression`, predicts
    ``xi_hat`` from the feature map), ``.attention`` (:class:`PerceptibilityAttention`, produces ``v_attn``),
    and the parameter-free ``.index`` (:class:`RecognizabilityIndex`) and ``.diversion``
    (:class:`IndexDiversionLoss`). The margin head (ArcFace in the paper; any head of
    :mod:`recognizability.nn`, or one outside the library) and the UI centre are passed to :meth:`forward`,
    so they can live in the model.

    Targets are detached by default: the index ``xi`` (target of Eq. 4) and ``v'`` (target of Eq. 9). Set
    ``index_gradient=True`` / ``attention_target_gradient=True`` to let gradients flow into the backbone and
    the prototypes through them. Each term can be switched off (paper Table 4); a switched-off term is a zero
    tensor and its module is not run. ``L_ID`` acts on ``xi_hat``, so the regression module runs whenever the
    regression or the diversion term is on.

    Args:
        in_channels, spatial_size: ``C`` and ``(H, W)`` of the feature map (512, (7, 7) in the paper).
        embedding_dim: ``D`` of the embeddings.
        tau: ``tau`` of the ID loss (Eq. 7); ``DEFAULT_TAU`` by default.
        regression_weight: ``alpha`` (paper: 5).
        diversion_weight: ``beta`` of Eq. 10 (paper: 2) - the ID-loss weight.
        attention_weight: ``gamma`` (paper: 1).
        use_regression, use_diversion, use_attention: switch the terms.
        regression_dropout: dropout of the regression module (paper: 0.9).
        smooth_l1_beta: threshold of the smooth-L1 loss of Eq. 4 (paper: 0.75) - not the ID-loss weight.
        eps: ``epsilon`` of Eq. 3.
        attention_reduction, attention_kernel_size: CBAM bottleneck ratio (16) and spatial kernel (7).
        mse_reduction: reduction of Eq. 9, see :func:`~recognizability.functional.attention_mse_loss`.
        index_gradient: let gradients flow through the index target.
        attention_target_gradient: let gradients flow through ``v'``.
        detach_regression_input: the regression module reads ``feature_map.detach()``: L_L1 and L_ID then
            train the module alone and send no gradient into the backbone (off: the paper's end-to-end
            training).
        ui_mu, ui_sigma: initial ``mu_UI``, ``sigma_UI`` of the ID loss (paper: 0, 1); see
            :meth:`IndexDiversionLoss.set_ui_statistics`.

    Shape:
        forward(feature_map ``(B, C, H, W)``, embeddings ``(B, D)``, labels ``(B,)``, head_output
        :class:`MarginHeadOutput` (or plain tensors, see :meth:`forward`), ui_center :class:`UICenter`)
        -> :class:`RecognizabilityLossOutput`.
    """

    def __init__(
        self,
        in_channels: int,
        spatial_size: tuple[int, int],
        embedding_dim: int,
        tau: float = DEFAULT_TAU,
        regression_weight: float = 5.0,
        diversion_weight: float = 2.0,
        attention_weight: float = 1.0,
        use_regression: bool = True,
        use_diversion: bool = True,
        use_attention: bool = True,
        regression_dropout: float = 0.9,
        smooth_l1_beta: float = 0.75,
        eps: float = 1e-7,
        attention_reduction: int = 16,
        attention_kernel_size: int = 7,
        mse_reduction: AttentionReduction = "mean",
        index_gradient: bool = False,
        attention_target_gradient: bool = False,
        detach_regression_input: bool = False,
        ui_mu: float = 0.0,
        ui_sigma: float = 1.0,
    ) -> None:
        super().__init__()
        if not (isinstance(spatial_size, (tuple, list)) and len(spatial_size) == 2):
            raise ValueError(f"expected spatial_size to be a pair (H, W), got {spatial_size!r}")
        height = check_positive_int(spatial_size[0], "spatial_size[0] (H)")
        width = check_positive_int(spatial_size[1], "spatial_size[1] (W)")
        self.in_channels = check_positive_int(in_channels, "in_channels")
        check_positive_int(embedding_dim, "embedding_dim")
        self.spatial_size = (height, width)
        self.regression_weight = check_positive_float(regression_weight, "regression_weight", allow_zero=True)
        self.diversion_weight = check_positive_float(diversion_weight, "diversion_weight", allow_zero=True)
        self.attention_weight = check_positive_float(attention_weight, "attention_weight", allow_zero=True)
        self.smooth_l1_beta = check_positive_float(smooth_l1_beta, "smooth_l1_beta")
        self.mse_reduction: AttentionReduction = mse_reduction
        check_reduction(mse_reduction, ("mean", "sum_over_dim_mean_over_batch"), "mse_reduction")
        self.use_regression = check_bool(use_regression, "use_regression")
        self.use_diversion = check_bool(use_diversion, "use_diversion")
        self.use_attention = check_bool(use_attention, "use_attention")
        self.index_gradient = check_bool(index_gradient, "index_gradient")
        self.attention_target_gradient = check_bool(attention_target_gradient, "attention_target_gradient")
        self.detach_regression_input = check_bool(detach_regression_input, "detach_regression_input")
        self.regression = PerceptibilityRegression(in_channels * height * width, dropout=regression_dropout)
        self.attention = PerceptibilityAttention(
            in_channels,
            embedding_dim,
            spatial_size=(height, width),
            reduction=attention_reduction,
            kernel_size=attention_kernel_size,
        )
        self.index = RecognizabilityIndex(eps=eps)
        self.diversion = IndexDiversionLoss(tau=tau, mu=ui_mu, sigma=ui_sigma)

    def forward(
        self,
        feature_map: Tensor,
        embeddings: Tensor,
        labels: Tensor,
        head_output: HeadOutputLike | None = None,
        ui_center: UICenter | None = None,
        *,
        classification_loss: Tensor | None = None,
        cosine: Tensor | None = None,
        positive_cosine: Tensor | None = None,
        nearest_negative_cosine: Tensor | None = None,
    ) -> RecognizabilityLossOutput:
        """Every term of Eq. 10 for one batch.

        The margin head's part comes either as ``head_output`` (any head of the library, or any object with
        ``loss`` and either ``positive_cosine`` + ``nearest_negative_cosine`` or ``cosine``: see
        :class:`HeadOutputWithIndexParts`, :class:`HeadOutputWithCosine`), or as plain tensors for a head
        outside the library: ``classification_loss`` and either ``cosine`` or ``positive_cosine`` +
        ``nearest_negative_cosine``. When both kinds of cosines are at hand the two parts are used (no top-2
        over ``(B, C)``). All cosines must be the **pre-margin** ones (Eq. 1).

        Every argument is checked before any module runs, so a failing call changes nothing (no dropout draw,
        no gradient graph). While value checks are on (:func:`~recognizability.set_value_checks`), that
        includes the values: finite embeddings, feature map and classification loss, and finite cosines
        within rounding of ``[-1, 1]`` (a post-margin or scaled logit is not a cosine).

        Args:
            feature_map: ``(B, C_F, H, W)`` backbone feature map ``F``.
            embeddings: ``(B, D)`` embeddings ``v``.
            labels: ``(B,)`` integer class labels.
            head_output: the margin head's output.
            ui_center: the fitted :class:`UICenter` (required).
            classification_loss: scalar ``L_cls`` (instead of ``head_output``).
            cosine: ``(B, C)`` pre-margin cosines (instead of ``head_output``).
            positive_cosine, nearest_negative_cosine: ``(B,)`` pre-margin ``cos_y`` and ``max_{j != y} cos_j``
                (instead of ``head_output``).

        Example::

            out = criterion(feature_map, embeddings, labels, head(embeddings, labels), ui_center)
            out = criterion(feature_map, embeddings, labels, ui_center=ui_center,
                            cosine=cosine, classification_loss=loss)
        """
        check_tensor(embeddings, "embeddings")
        check_shape(embeddings, "embeddings", ("B", "D"))
        check_floating(embeddings, "embeddings")
        check_nonempty(embeddings, "embeddings")
        batch_size = embeddings.shape[0]
        check_shape(feature_map, "feature_map", (batch_size, self.in_channels, *self.spatial_size))
        check_floating(feature_map, "feature_map")
        check_same_device(feature_map, "feature_map", embeddings, "embeddings")
        if not isinstance(ui_center, UICenter):
            raise TypeError(f"expected ui_center to be a UICenter, got {type(ui_center).__name__}")
        parts = _HeadParts.resolve(
            head_output, classification_loss, cosine, positive_cosine, nearest_negative_cosine
        )
        parts.check(embeddings, labels, feature_map)
        classification = parts.loss.float()
        # The UI centre's own checks (fitted, finite) run here, before any module of the criterion does. One
        # upcast feeds both: with a target gradient on, a half-precision input's gradient from the criterion
        # is saturated once (see functional._autocast.saturate).
        upcast = at_least_float32(embeddings)
        ui_cosine = ui_center.cosine(upcast) if self.use_regression else None
        target = ui_center.project_away(upcast) if self.use_attention else None

        zero = classification.new_zeros(())
        zeros_b = classification.new_zeros(batch_size)
        regression, diversion, attention = zero, zero, zero
        index, predicted_index = zeros_b, zeros_b
        if self.use_regression or self.use_diversion:
            regression_input = feature_map.detach() if self.detach_regression_input else feature_map
            predicted_index = self.regression(regression_input)
        if ui_cosine is not None:
            grad_context = contextlib.nullcontext() if self.index_gradient else torch.no_grad()
            with grad_context:
                positive, nearest_negative = parts.index_parts(labels)
                index = recognizability_index_from_parts(
                    positive, nearest_negative, ui_cosine, eps=self.index.eps
                )
            regression = perceptibility_regression_loss(predicted_index, index, beta=self.smooth_l1_beta)
        if self.use_diversion:
            diversion = self.diversion(predicted_index)
        if target is not None:
            if not self.attention_target_gradient:
                target = target.detach()
            attention = attention_mse_loss(self.attention(feature_map), target, reduction=self.mse_reduction)

        total = (
            classification
            + self.regression_weight * regression
            + self.diversion_weight * diversion
            + self.attention_weight * attention
        )
        return RecognizabilityLossOutput(
            total=total,
            classification=classification,
            regression=regression,
            diversion=diversion,
            attention=attention,
            index=index.detach(),
            predicted_index=predicted_index,
        )

    def extra_repr(self) -> str:
        return (
            f"regression_weight={self.regression_weight}, diversion_weight={self.diversion_weight}, "
            f"gamma(attention_weight)={self.attention_weight}, smooth_l1_beta={self.smooth_l1_beta}, "
            f"use_regression={self.use_regression}, use_diversion={self.use_diversion}, "
            f"use_attention={self.use_attention}, index_gradient={self.index_gradient}, "
            f"attention_target_gradient={self.attention_target_gradient}, "
            f"detach_regression_input={self.detach_regression_input}"
        )


@dataclasses.dataclass(frozen=True)
class _HeadParts:
    """The margin head's contribution, from an output object or from plain tensors.

    ``index_source`` is the pair ``(cos_y, max_{j != y} cos_j)`` when given, else the ``(B, C)`` cosine to
    take it from; ``cosine`` is kept whenever given, to check the labels against its ``C``.
    """

    loss: Tensor
    cosine: Tensor | None
    index_source: tuple[Tensor, Tensor] | Tensor
    prefix: str  # "head_output." for an output object, "" for plain tensors

    @classmethod
    def resolve(
        cls,
        head_output: object,
        classification_loss: Tensor | None,
        cosine: Tensor | None,
        positive_cosine: Tensor | None,
        nearest_negative_cosine: Tensor | None,
    ) -> _HeadParts:
        prefix = ""
        if head_output is not None:
            given = [
                name
                for name, value in (
                    ("classification_loss", classification_loss),
                    ("cosine", cosine),
                    ("positive_cosine", positive_cosine),
                    ("nearest_negative_cosine", nearest_negative_cosine),
                )
                if value is not None
            ]
            if given:
                raise TypeError(
                    f"expected either head_output or plain tensors, got head_output and {', '.join(given)}"
                )
            if not hasattr(head_output, "loss"):
                raise TypeError(
                    "expected head_output with a loss attribute (e.g. MarginHeadOutput), "
                    f"got {type(head_output).__name__}"
                )
            prefix = "head_output."
            classification_loss = head_output.loss
            cosine = getattr(head_output, "cosine", None)
            positive_cosine = getattr(head_output, "positive_cosine", None)
            nearest_negative_cosine = getattr(head_output, "nearest_negative_cosine", None)
            if (positive_cosine is None or nearest_negative_cosine is None) and cosine is None:
                raise TypeError(
                    "expected head_output with positive_cosine and nearest_negative_cosine, or with cosine, "
                    f"got {type(head_output).__name__} with neither"
                )
        elif classification_loss is None:
            raise TypeError(
                "expected the margin head's output: head_output, or classification_loss with cosine or with "
                "positive_cosine and nearest_negative_cosine"
            )
        elif (positive_cosine is None) != (nearest_negative_cosine is None):
            raise TypeError("expected positive_cosine and nearest_negative_cosine together, got only one")
        if positive_cosine is not None and nearest_negative_cosine is not None:
            return cls(classification_loss, cosine, (positive_cosine, nearest_negative_cosine), prefix)
        if cosine is None:
            raise TypeError(
                "expected cosine, or positive_cosine and nearest_negative_cosine, with classification_loss"
            )
        return cls(classification_loss, cosine, cosine, prefix)

    def check(self, embeddings: Tensor, labels: Tensor, feature_map: Tensor) -> None:
        """Every structural check; with value checks on, also the labels' range when a cosine gives ``C``,
        finite cosines in ``[-1, 1]``, and a finite loss, embeddings and feature map (one more host sync)."""
        self._check_structure(embeddings, labels)
        loss_name = self.prefix + "loss" if self.prefix else "classification_loss"
        if isinstance(self.index_source, tuple):
            names = ("positive_cosine", "nearest_negative_cosine")
            cosines = [(v, self.prefix + n) for v, n in zip(self.index_source, names, strict=True)]
        else:
            cosines = []
        if self.cosine is not None:
            cosines.append((self.cosine, self.prefix + "cosine"))
        finite = [(self.loss, loss_name), (embeddings, "embeddings"), (feature_map, "feature_map")]
        check_cosine_values(*cosines, finite=finite)

    def _check_structure(self, embeddings: Tensor, labels: Tensor) -> None:
        batch_size = embeddings.shape[0]
        loss_name = self.prefix + "loss" if self.prefix else "classification_loss"
        check_shape(self.loss, loss_name, ())
        check_floating(self.loss, loss_name)
        check_same_device(self.loss, loss_name, embeddings, "embeddings")
        if isinstance(self.index_source, tuple):
            for value, name in zip(
                self.index_source, ("positive_cosine", "nearest_negative_cosine"), strict=True
            ):
                check_shape(value, self.prefix + name, (batch_size,))
                check_floating(value, self.prefix + name)
                check_same_device(value, self.prefix + name, embeddings, "embeddings")
        if self.cosine is None:
            check_tensor(labels, "labels")
            check_integer(labels, "labels")
            check_shape(labels, "labels", (batch_size,))
            check_same_device(labels, "labels", embeddings, "embeddings")
            return
        name = self.prefix + "cosine"
        cosine = check_shape(self.cosine, name, (batch_size, "C"))
        check_floating(cosine, name)
        check_same_device(cosine, name, embeddings, "embeddings")
        if cosine.shape[1] < 2:
            raise ValueError(
                f"expected {name} of shape (B, C) with C >= 2 classes (a nearest negative must exist), "
                f"got shape ({cosine.shape[0]}, {cosine.shape[1]})"
            )
        check_labels(labels, cosine.shape[1], batch_size, cosine, name)

    def index_parts(self, labels: Tensor) -> tuple[Tensor, Tensor]:
        """``(cos_y, max_{j != y} cos_j)``, each ``(B,)``: as given, or the top-2 of the checked cosine."""
        if isinstance(self.index_source, tuple):
            return self.index_source
        return index_parts(at_least_float32(self.index_source), labels.long().unsqueeze(1))
