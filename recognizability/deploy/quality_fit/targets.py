"""The regression targets of a frozen recognizer: leave-one-out class prototypes, the UI centre, the index.

The Recognizability Index (paper Eq. 1-3) needs, for each labelled face, the cosine of its embedding with its
own class prototype (``d_P``), with the nearest other prototype (``d_N``) and with the UI centre (``d_UI``).
In training the prototypes are the margin head's weights; for a recognizer trained elsewhere they are the
class means of its own L2-normalised embeddings (CR-FIQA's class centres are the same kind of thing). A face's
own embedding is left out of its class prototype: with it, a class of k faces pulls every prototype towards
each of its members (for k = 2 the positive cosine is ``sqrt((1 + c) / 2)`` instead of the other face's
``c``), which inflates the index most for the identities with fewest faces. Other classes' prototypes do not
hold the face and keep all their members.
"""

from __future__ import annotations

import torch
from torch import Tensor

from recognizability._validation import (
    check_choice,
    check_finite,
    check_floating,
    check_integer,
    check_nonempty,
    check_positive_int,
    check_shape,
)
from recognizability.functional import l2_normalize, recognizability_index_from_parts, ui_cosine
from recognizability.nn import UICenter
from recognizability.nn.certainty_ratio import certainty_ratio

from .settings import TARGETS, Target

__all__ = ["leave_one_out_cosines", "quality_targets", "ui_center_of"]

#: Rows of the (rows, C) cosine block held at once while looking for each face's nearest other prototype.
_ROWS_PER_CHUNK = 4096


def leave_one_out_cosines(
    embeddings: Tensor, labels: Tensor, *, rows_per_chunk: int = _ROWS_PER_CHUNK
) -> tuple[Tensor, Tensor]:
    """Each face's cosine with its own class prototype without it, and with the nearest other prototype.

    With ``u_i = v_i / |v_i|`` and ``S_c`` the sum of the ``u`` of class ``c``: the own prototype of face
    ``i`` is the direction of ``S_{y_i} - u_i`` (its class's normalised mean without it), every other
    prototype the direction of ``S_c``. Labels need not be contiguous: classes without a face are no
    prototype.

    Args:
        embeddings: ``(N, D)`` finite floating embeddings (any scale).
        labels: ``(N,)`` integer labels >= 0; every class present must hold at least two faces, and at least
            two classes must be present.
        rows_per_chunk: faces whose ``(rows, C)`` cosines are held at once (memory bound; no effect on the
            values).

    Returns:
        ``(positive, nearest_negative)``: two ``(N,)`` tensors, float32 (float64 for float64 embeddings).

    Raises:
        ValueError: shapes, a class with one face, fewer than two classes, non-finite embeddings.
    """
    check_shape(embeddings, "embeddings", ("N", "D"))
    check_floating(embeddings, "embeddings")
    check_nonempty(embeddings, "embeddings")
    check_finite(embeddings, "embeddings")
    check_shape(labels, "labels", (embeddings.shape[0],))
    check_integer(labels, "labels")
    rows_per_chunk = check_positive_int(rows_per_chunk, "rows_per_chunk")
    y = labels.to(device=embeddings.device, dtype=torch.int64)
    if bool((y < 0).any()):
        raise ValueError(f"expected labels >= 0, got a minimum of {int(y.min())}")
    unit = l2_normalize(embeddings, dim=1)
    classes = int(y.max()) + 1
    counts = torch.bincount(y, minlength=classes)
    present = counts > 0
    if int(present.sum()) < 2:
        raise ValueError(f"expected faces of at least 2 classes, got {int(present.sum())}")
    alone = torch.nonzero(counts == 1).squeeze(1)
    if alone.numel():
        raise ValueError(
            f"expected every class to hold at least 2 faces (a prototype without the face itself), got "
            f"{alone.numel()} class(es) with one face, e.g. labels {alone[:8].tolist()}"
        )
    sums = torch.zeros(classes, unit.shape[1], dtype=unit.dtype, device=unit.device).index_add_(0, y, unit)
    own = l2_normalize(sums.index_select(0, y) - unit, dim=1)
    positive = (unit * own).sum(1).clamp(-1.0, 1.0)
    prototypes = l2_normalize(sums, dim=1)
    absent = ~present
    nearest = []
    for rows, row_labels in zip(
        torch.split(unit, rows_per_chunk), torch.split(y, rows_per_chunk), strict=True
    ):
        cosine = rows @ prototypes.T
        excluded = absent.unsqueeze(0) | (torch.arange(classes, device=y.device) == row_labels[:, None])
        nearest.append(cosine.masked_fill(excluded, -torch.inf).amax(1))
    return positive, torch.cat(nearest).clamp(-1.0, 1.0)


def ui_center_of(embeddings: Tensor) -> Tensor:
    """The UI centre ``u`` (paper Eq. 2): the normalised mean of the normalised ``(K, D)`` embeddings of
    unrecognisable faces, ``(D,)`` (:meth:`~recognizability.nn.UICenter.fit`)."""
    check_shape(embeddings, "embeddings", ("K", "D"))
    center = UICenter(embeddings.shape[1]).to(embeddings.device)
    center.fit(embeddings.float())
    return center.center.clone()


def quality_targets(
    embeddings: Tensor,
    labels: Tensor,
    target: Target = "index",
    ui_center: Tensor | None = None,
    *,
    eps: float = 1e-7,
) -> Tensor:
    """The regression target of each labelled face under a frozen recognizer.

    - ``"index"``: ``xi = d_UI * d_N / (d_P + eps)`` (paper Eq. 1-3,
      :func:`~recognizability.functional.recognizability_index_from_parts`) with the
      :func:`leave_one_out_cosines` and the cosine with ``ui_center``;
    - ``"certainty_ratio"``: CR-FIQA's ``CCS / (NNCCS + 1 + eps)``
      (:func:`~recognizability.nn.certainty_ratio.certainty_ratio`) with the same two cosines.

    Args:
        embeddings: ``(N, D)``; labels: ``(N,)`` (see :func:`leave_one_out_cosines`).
        target: one of :data:`~recognizability.deploy.quality_fit.TARGETS`.
        ui_center: ``(D,)`` the UI centre (needed by the index only).
        eps: epsilon of Eq. 3.

    Returns:
        ``(N,)`` float32 targets (float64 for float64 embeddings).
    """
    check_choice(target, "target", TARGETS)
    positive, nearest_negative = leave_one_out_cosines(embeddings, labels)
    if target == "certainty_ratio":
        return certainty_ratio(positive, nearest_negative)
    if ui_center is None:
        raise ValueError("expected ui_center (D,) for target='index' (d_UI of Eq. 2), got None")
    check_shape(ui_center, "ui_center", (embeddings.shape[1],))
    cosine = ui_cosine(embeddings, ui_center.to(device=embeddings.device, dtype=embeddings.dtype))
    return recognizability_index_from_parts(positive, nearest_negative, cosine.to(positive.dtype), eps=eps)
