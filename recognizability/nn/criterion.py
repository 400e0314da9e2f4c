"""The combined training criterion of the paper (Eq. 10) with every term reported separately."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

import torch
from torch import Tensor, nn

from .._validation import check_positive_float, check_reduction, check_shape, check_tensor
from ..functional.losses import (
    DEFAULT_TAU,
    AttentionReduction,
    attention_mse_loss,
    perceptibility_regression_loss,
)
from .arcface import ArcFaceOutput
from .attention import PerceptibilityAttention
from .diversion import IndexDiversionLoss
from .index import RecognizabilityIndex
from .regression import PerceptibilityRegression
from .ui_center import UICenter

__all__ = ["RecognizabilityLoss", "RecognizabilityLossOutput"]


@dataclasses.dataclass(frozen=True)
class RecognizabilityLossOutput:
    """Every term of :class:`RecognizabilityLoss`; the same fields whatever terms are switched on.

    Attributes:
        total: ``L_cls + alpha * L_L1 + beta * L_ID + gamma * L_MSE`` (Eq. 10), float32 scalar.
        classification: ``L_cls``, the ArcFace cross-entropy.
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
    (:class:`IndexDiversionLoss`). The ArcFace head and the UI centre are passed to :meth:`forward`,
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
        ui_mu, ui_sigma: initial ``mu_UI``, ``sigma_UI`` of the ID loss (paper: 0, 1); see
            :meth:`IndexDiversionLoss.set_ui_statistics`.

    Shape:
        forward(feature_map ``(B, C, H, W)``, embeddings ``(B, D)``, labels ``(B,)``, arcface
        :class:`ArcFaceOutput`, ui_center :class:`UICenter`) -> :class:`RecognizabilityLossOutput`.
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
        ui_mu: float = 0.0,
        ui_sigma: float = 1.0,
    ) -> None:
        super().__init__()
        if not (isinstance(spatial_size, (tuple, list)) and len(spatial_size) == 2):
            raise ValueError(f"expected spatial_size to be a pair (H, W), got {spatial_size!r}")
        height, width = spatial_size
        self.in_channels = in_channels
        self.spatial_size = (height, width)
        self.regression_weight = check_positive_float(regression_weight, "regression_weight", allow_zero=True)
        self.diversion_weight = check_positive_float(diversion_weight, "diversion_weight", allow_zero=True)
        self.attention_weight = check_positive_float(attention_weight, "attention_weight", allow_zero=True)
        self.smooth_l1_beta = check_positive_float(smooth_l1_beta, "smooth_l1_beta")
        self.mse_reduction: AttentionReduction = mse_reduction
        check_reduction(mse_reduction, ("mean", "sum_over_dim_mean_over_batch"), "mse_reduction")
        for name, flag in (
            ("use_regression", use_regression),
            ("use_diversion", use_diversion),
            ("use_attention", use_attention),
            ("index_gradient", index_gradient),
            ("attention_target_gradient", attention_target_gradient),
        ):
            if not isinstance(flag, bool):
                raise TypeError(f"expected {name} to be a bool, got {type(flag).__name__}")
        self.use_regression = use_regression
        self.use_diversion = use_diversion
        self.use_attention = use_attention
        self.index_gradient = index_gradient
        self.attention_target_gradient = attention_target_gradient
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
        arcface: ArcFaceOutput,
        ui_center: UICenter,
    ) -> RecognizabilityLossOutput:
        check_tensor(embeddings, "embeddings")
        check_shape(embeddings, "embeddings", ("B", "D"))
        batch_size = embeddings.shape[0]
        check_shape(feature_map, "feature_map", (batch_size, self.in_channels, *self.spatial_size))
        check_shape(arcface.cosine, "arcface.cosine", (batch_size, "C"))
        classification = arcface.loss.float()
        zero = classification.new_zeros(())
        zeros_b = classification.new_zeros(batch_size)

        regression, diversion, attention = zero, zero, zero
        index, predicted_index = zeros_b, zeros_b
        if self.use_regression or self.use_diversion:
            predicted_index = self.regression(feature_map)
        if self.use_regression:
            grad_context = contextlib.nullcontext() if self.index_gradient else torch.no_grad()
            with grad_context:
                index = self.index(arcface.cosine, labels, ui_center.cosine(embeddings))
            regression = perceptibility_regression_loss(predicted_index, index, beta=self.smooth_l1_beta)
        if self.use_diversion:
            diversion = self.diversion(predicted_index)
        if self.use_attention:
            target = ui_center.project_away(embeddings)
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
            f"attention_target_gradient={self.attention_target_gradient}"
        )
