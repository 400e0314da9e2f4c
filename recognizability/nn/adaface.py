"""AdaFace head: class prototypes and the feature-norm adaptive margin, with running norm statistics."""

from __future__ import annotations

from torch import Tensor

from ._prototypes import MarginHead, margin_option
from .margins import AdaFaceMargin

__all__ = ["AdaFace"]


class AdaFace(MarginHead):
    """AdaFace head (Kim, Jain and Liu, CVPR 2022): the margin adapts to the image quality, read from the
    feature norm ``||z||`` of the **un-normalised** embedding; :class:`MarginHead` with
    :class:`~recognizability.nn.AdaFaceMargin`.

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

    margin = margin_option()
    h = margin_option()
    t_alpha = margin_option()

    def __init__(
        self,
        embedding_dim: int,
        num_classes: int,
        scale: float = 64.0,
        margin: float = 0.4,
        h: float = 0.333,
        t_alpha: float = 0.01,
    ) -> None:
        component = AdaFaceMargin(scale, margin, h, t_alpha)
        super().__init__(embedding_dim, num_classes, component)

    def extra_repr(self) -> str:
        return self._options_repr()
