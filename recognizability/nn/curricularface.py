"""CurricularFace head: class prototypes, ArcFace's margin and the adaptive curriculum on hard negatives."""

from __future__ import annotations

from torch import Tensor

from ._prototypes import MarginHead, margin_option
from .margins import CurricularFaceMargin

__all__ = ["CurricularFace"]


class CurricularFace(MarginHead):
    """CurricularFace head (Huang et al., CVPR 2020): hard negatives ``cos(theta_j) > cos(theta_y + m)`` get
    the logit ``s * cos(theta_j) (t + cos(theta_j))``, with ``t`` following the mean target cosine;
    :class:`MarginHead` with :class:`~recognizability.nn.CurricularFaceMargin`.

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

    margin = margin_option()
    t_momentum = margin_option()

    def __init__(
        self,
        embedding_dim: int,
        num_classes: int,
        scale: float = 64.0,
        margin: float = 0.5,
        t_momentum: float = 0.01,
    ) -> None:
        component = CurricularFaceMargin(scale, margin, t_momentum)
        super().__init__(embedding_dim, num_classes, component)

    def extra_repr(self) -> str:
        return self._options_repr()
