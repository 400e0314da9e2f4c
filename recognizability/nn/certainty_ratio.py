"""CR-FIQA's quality branch, as a baseline trained beside the paper's method (not part of the method).

CR-FIQA (Boutros et al., "CR-FIQA: Face Image Quality Assessment by Learning Sample Relative Classifiability",
CVPR 2023) learns, during face-recognition training, to predict each training face's *certainty ratio*

    CR = CCS / (NNCCS + 1 + eps)

where CCS is the cosine of the embedding with its own class centre (the margin head's prototype ``W_y``) and
NNCCS the largest cosine with any other class centre. At test time the predicted ratio is the quality score:
no class centre is needed. The paper's form is used here (its released training script regresses ``CCS /
NNCCS``, which is unbounded when NNCCS nears 0). As in CR-FIQA's code, the prediction is one ``Linear(D, 1)``
on the embedding ``v``, the loss is smooth L1 with threshold 0.5 and the ratio is a detached target.

:class:`CertaintyRatioRegression` reads a *detached* embedding by default, so adding it to a run changes
nothing else in that run (a fair baseline in a paired comparison); CR-FIQA itself also trains the backbone
through this loss (``detach_input=False``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .._validation import check_bool, check_floating, check_positive_float, check_positive_int, check_shape

__all__ = ["CertaintyRatioRegression", "certainty_ratio"]


def certainty_ratio(positive_cosine: Tensor, nearest_negative_cosine: Tensor, eps: float = 1e-9) -> Tensor:
    """CR-FIQA's certainty ratio ``CCS / (NNCCS + 1 + eps)`` (float32 for half-precision input).

    Args:
        positive_cosine: ``(B,)`` cosine with the own class centre (CCS).
        nearest_negative_cosine: ``(B,)`` largest cosine with another class centre (NNCCS), in [-1, 1].
        eps: keeps the denominator positive at NNCCS = -1.
    """
    check_shape(positive_cosine, "positive_cosine", ("B",))
    check_shape(nearest_negative_cosine, "nearest_negative_cosine", (positive_cosine.shape[0],))
    check_floating(positive_cosine, "positive_cosine")
    check_floating(nearest_negative_cosine, "nearest_negative_cosine")
    eps = check_positive_float(eps, "eps")
    ccs = positive_cosine if positive_cosine.dtype == torch.float64 else positive_cosine.float()
    nnccs = nearest_negative_cosine.to(ccs.dtype)
    return ccs / (nnccs.clamp(min=-1.0) + 1.0 + eps)


class CertaintyRatioRegression(nn.Module):
    """CR-FIQA's quality branch: ``Linear(D, 1)`` on the embedding, trained on the certainty ratio.

    Args:
        embedding_dim: ``D``.
        smooth_l1_beta: threshold of the smooth-L1 loss (CR-FIQA: 0.5).
        detach_input: read a detached embedding (default), so the branch trains alone.

    Shape:
        forward(embeddings ``(B, D)``) -> predicted ratio ``(B,)``;
        loss(embeddings, positive_cosine ``(B,)``, nearest_negative_cosine ``(B,)``) -> scalar.
    """

    def __init__(self, embedding_dim: int, smooth_l1_beta: float = 0.5, detach_input: bool = True) -> None:
        super().__init__()
        check_positive_int(embedding_dim, "embedding_dim")
        self.smooth_l1_beta = check_positive_float(smooth_l1_beta, "smooth_l1_beta")
        self.detach_input = check_bool(detach_input, "detach_input")
        self.linear = nn.Linear(embedding_dim, 1)

    def forward(self, embeddings: Tensor) -> Tensor:
        check_shape(embeddings, "embeddings", ("B", self.linear.in_features))
        x = embeddings.detach() if self.detach_input else embeddings
        prediction: Tensor = self.linear(x.to(self.linear.weight.dtype))
        return prediction.squeeze(1).float()

    def loss(self, embeddings: Tensor, positive_cosine: Tensor, nearest_negative_cosine: Tensor) -> Tensor:
        """Smooth L1 between the prediction and the detached certainty ratio (CR-FIQA's ``loss_qs``)."""
        target = certainty_ratio(positive_cosine.detach(), nearest_negative_cosine.detach())
        return nn.functional.smooth_l1_loss(self(embeddings), target.float(), beta=self.smooth_l1_beta)
