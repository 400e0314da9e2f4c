"""Closed-set identification: rank of each probe, CMC and TinyFace mAP, chunked over the gallery.

Conventions (metrics.md, Closed-set identification):

- score = cosine similarity of L2-normalised features (``normalize=True``; ranking by Euclidean distance of
  unit-norm features gives the same order), or the raw dot product with ``normalize=False``;
- rank of a probe = number of gallery entries of other identities scoring >= the best mate score (ties count
  against the probe); a rank-k hit when rank < k; gallery labels < 0 are unlabelled distractors (other
  identities);
- average precision as in the TinyFace official code: walk the ranked list (non-mates tied with a mate placed
  before it), accumulate trapezoids ``(recall_i - recall_{i-1}) * (precision_{i-1} + precision_i) / 2`` at
  each mate, stop after the last mate;
- ``ranking="identity"``: each labelled gallery identity is one candidate scored by its best image; every
  distractor image stays its own candidate. Averaged templates: pass :func:`identity_templates` as the
  gallery.

The probe x gallery matrix is never materialised: probes are processed in blocks and the gallery in column
chunks of at most ``max_elements`` scores; per probe the sorted mate scores are kept and, for each mate,
the count of non-mate scores >= it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from .._deprecation import deprecated_aliases
from .._validation import check_bool
from ..functional.geometry import degenerate_tolerance, l2_normalize, vector_norm_at_any_scale
from ._checks import Report, check_choice, check_features, check_labels, check_positive_int, check_ranks
from ._ranking import CLOSED_SET_CONVENTION as _CLOSED_SET_CONVENTION
from ._ranking import DEFAULT_MAX_ELEMENTS as _DEFAULT_MAX_ELEMENTS
from ._ranking import mate_statistics as _mate_statistics

__all__ = [
    "CMCAccumulator",
    "CMCResult",
    "cmc",
    "identity_templates",
]


@dataclass(frozen=True)
class CMCResult(Report):
    """Closed-set result.

    ``rates``: (K,) float64 CMC at ``ranks``; ``ranks_of_probes``: (P,) int64 rank of each evaluated probe
    (0 = the best mate scores above every non-mate); ``average_precision``: (P,) float64;
    ``mean_average_precision``: float; ``num_excluded_probes``: probes without a mate in the gallery
    dropped with ``missing_probes="exclude"`` (0 otherwise).
    """

    rates: Tensor
    ranks: tuple[int, ...]
    ranks_of_probes: Tensor
    average_precision: Tensor
    mean_average_precision: float
    num_probes: int
    num_excluded_probes: int
    ranking: str
    convention: str = _CLOSED_SET_CONVENTION


def identity_templates(features: Tensor, labels: Tensor, normalize: bool = True) -> tuple[Tensor, Tensor]:
    """Per-identity templates: mean of the (L2-normalised) features of each label, re-normalised.

    An identity whose features are zero or cancel out (e.g. ``x`` and ``-x``: a mean shorter than the
    rounding error of its longest feature, the rule of :meth:`~recognizability.nn.UICenter.fit`) has no
    template direction and raises :class:`ValueError` naming the label.

    Args:
        features: (N, D) features. labels: (N,) int labels (negative labels are not allowed here).

    Returns:
        templates (U, D) and their labels (U,) sorted ascending.
    """
    features = check_features(features, "features")
    labels = check_labels(labels, "labels", features.shape[0]).to(features.device)
    check_bool(normalize, "normalize")
    if bool((labels < 0).any()):
        raise ValueError("expected labels >= 0 for identity templates, got negative (distractor) labels")
    unique, inverse = torch.unique(labels, return_inverse=True)
    x = l2_normalize(features, dim=1) if normalize else features
    counts = torch.bincount(inverse, minlength=unique.numel()).to(x.dtype)
    # The mean, not the sum: 1/count per row keeps a sum of huge features from overflowing.
    means = torch.zeros(unique.numel(), x.shape[1], dtype=x.dtype, device=x.device).index_add_(
        0, inverse, x / counts[inverse, None]
    )
    longest = torch.zeros(unique.numel(), dtype=torch.float64, device=x.device).scatter_reduce_(
        0, inverse, vector_norm_at_any_scale(x.double(), dim=1), "amax"
    )
    tolerance = degenerate_tolerance(x.shape[1], x.dtype)
    degenerate = ~(vector_norm_at_any_scale(means.double(), dim=1) > tolerance * longest)
    if bool(degenerate.any()):
        bad = unique[degenerate][:5].tolist()
        raise ValueError(
            f"expected the features of each identity to have a mean direction, got {int(degenerate.sum())} "
            f"identity(ies) (labels {bad}) whose features are zero or cancel out (e.g. x and -x)"
        )
    return (l2_normalize(means, dim=1) if normalize else means), unique


def _average_precision_from_positions(positions: Tensor, num_mates: Tensor) -> Tensor:
    """TinyFace AP from the 1-based ranked-list positions of each probe's mates.

    Args:
        positions: (P, M) int64 positions of the i-th best mate (ascending along M), any value past
        ``num_mates``.
        num_mates: (P,) int64 number of valid mates per probe (>= 1).

    Returns:
        (P,) float64 ``AP = (1/G) sum_i (prec_before_i + i / p_i) / 2`` with ``prec_before_i = (i-1)/(p_i-1)``
        (1 when ``p_i = 1``), the precision at the position just before the i-th mate.
    """
    m = positions.shape[1]
    i = torch.arange(1, m + 1, device=positions.device, dtype=torch.float64)[None, :]
    p = positions.to(torch.float64).clamp(min=1)
    before = torch.where(p > 1, (i - 1) / (p - 1).clamp(min=1), torch.ones_like(p))
    terms = (before + i / p) / 2
    valid = i <= num_mates[:, None].to(torch.float64)
    return (terms * valid).sum(1) / num_mates.to(torch.float64)


def _split_gallery(gallery_features: Tensor, gallery_labels: Tensor) -> tuple[Tensor, Tensor, list[Tensor]]:
    """Labelled part and distractor blocks (views when the distractors form one contiguous range)."""
    negative = gallery_labels < 0
    if not bool(negative.any()):
        return gallery_features, gallery_labels, []
    index = torch.nonzero(negative).squeeze(1)
    first, last = int(index[0]), int(index[-1])
    if last - first + 1 == index.numel():  # contiguous: use views, no copy of the distractors
        keep = torch.cat([torch.arange(0, first), torch.arange(last + 1, gallery_labels.numel())]).to(
            gallery_labels.device
        )
        distractors = [gallery_features[first : last + 1]]
    else:
        keep = torch.nonzero(~negative).squeeze(1)
        distractors = [gallery_features[index.to(gallery_features.device)]]
    return (
        gallery_features[keep.to(gallery_features.device)],
        gallery_labels[keep],
        distractors,
    )


class CMCAccumulator:
    """Closed-set evaluation with probes arriving in chunks against a fixed gallery.

    Args:
        gallery_features: (G, D); gallery_labels: (G,) int, labels < 0 = unlabelled distractors.
        ranks: CMC ranks to report.
        distractor_features: optional extra (N, D) distractors (kept where they are; moved chunk by chunk).
        ranking: ``"image"`` (TinyFace convention) or ``"identity"``.
        missing_probes: ``"error"`` (default) or ``"exclude"`` probes whose identity is not in the gallery
            (their number is reported as ``num_excluded_probes``).
        normalize: L2-normalise features (cosine scores).
        max_elements: scores held at once per block (memory knob; results do not depend on it).
    """

    def __init__(
        self,
        gallery_features: Tensor,
        gallery_labels: Tensor,
        ranks: Sequence[int] = (1, 5, 10, 20),
        *,
        distractor_features: Tensor | None = None,
        ranking: str = "image",
        missing_probes: str = "error",
        normalize: bool = True,
        max_elements: int = _DEFAULT_MAX_ELEMENTS,
    ) -> None:
        gallery = check_features(gallery_features, "gallery_features")
        labels = check_labels(gallery_labels, "gallery_labels", gallery.shape[0])
        self.ranks = check_ranks(ranks)
        self.ranking = check_choice(ranking, "ranking", ("image", "identity"))
        self.missing_probes = check_choice(missing_probes, "missing_probes", ("error", "exclude"))
        self.normalize = check_bool(normalize, "normalize")
        self.max_elements = check_positive_int(max_elements, "max_elements")
        self._gallery, self._labels, self._distractors = _split_gallery(gallery, labels)
        if distractor_features is not None:
            self._distractors.append(
                check_features(distractor_features, "distractor_features", dim=gallery.shape[1])
            )
        if self._labels.numel() == 0:
            raise ValueError("expected at least one gallery entry with a label >= 0, got only distractors")
        self._gallery_set = torch.unique(self._labels)
        self.reset()

    def reset(self) -> None:
        self._rank_list: list[Tensor] = []
        self._ap_list: list[Tensor] = []
        self._excluded = 0

    def update(self, probe_features: Tensor, probe_labels: Tensor) -> None:
        """Evaluate a chunk of probes: ``probe_features`` (B, D), ``probe_labels`` (B,) int."""
        probes = check_features(probe_features, "probe_features", dim=self._gallery.shape[1])
        labels = check_labels(probe_labels, "probe_labels", probes.shape[0]).to(self._labels.device)
        present = torch.isin(labels, self._gallery_set)
        missing = int((~present).sum())
        if missing:
            if self.missing_probes == "error":
                absent = torch.unique(labels[~present])[:5].tolist()
                raise ValueError(
                    f"expected every probe identity in the gallery (closed set), got {missing} probe(s) with "
                    f"identities absent from gallery_labels (e.g. {absent}); pass "
                    "missing_probes='exclude' to drop "
                    "and count them"
                )
            self._excluded += missing
            keep = torch.nonzero(present).squeeze(1)
            probes, labels = probes[keep.to(probes.device)], labels[keep]
            if labels.numel() == 0:
                return
        _mates, counts, num_mates = _mate_statistics(
            probes,
            labels.to(probes.device),
            self._gallery,
            self._labels,
            self._distractors,
            ranking=self.ranking,
            all_mates=True,
            normalize=self.normalize,
            max_elements=self.max_elements,
        )
        positions = counts + torch.arange(1, counts.shape[1] + 1, device=counts.device)[None, :]
        self._rank_list.append(counts[:, 0].cpu())
        self._ap_list.append(_average_precision_from_positions(positions, num_mates.to(counts.device)).cpu())

    def compute(self) -> CMCResult:
        if not self._rank_list:
            raise ValueError(
                f"expected at least one evaluated probe, got none ({self._excluded} excluded for "
                "missing identity)"
            )
        ranks_of_probes = torch.cat(self._rank_list)
        ap = torch.cat(self._ap_list)
        k = torch.tensor(self.ranks)
        rates = (ranks_of_probes[None, :] < k[:, None]).to(torch.float64).mean(1)
        return CMCResult(
            rates=rates,
            ranks=self.ranks,
            ranks_of_probes=ranks_of_probes,
            average_precision=ap,
            mean_average_precision=float(ap.mean()),
            num_probes=ranks_of_probes.numel(),
            num_excluded_probes=self._excluded,
            ranking=self.ranking,
        )


def cmc(
    probe_features: Tensor,
    probe_labels: Tensor,
    gallery_features: Tensor,
    gallery_labels: Tensor,
    ranks: Sequence[int] = (1, 5, 10, 20),
    *,
    distractor_features: Tensor | None = None,
    ranking: str = "image",
    missing_probes: str = "error",
    normalize: bool = True,
    max_elements: int = _DEFAULT_MAX_ELEMENTS,
) -> CMCResult:
    """Cumulative match characteristic and TinyFace mAP of a closed-set search.

    Args:
        probe_features: (P, D); probe_labels: (P,) int.
        gallery_features: (G, D); gallery_labels: (G,) int, negative = unlabelled distractor.
        ranks: ranks k at which CMC(k) is reported, same order in ``.rates``.
        distractor_features: optional (N, D) extra distractors (avoids concatenating a large distractor set).
        ranking, missing_probes, normalize, max_elements: see :class:`CMCAccumulator`.

    Returns:
        :class:`CMCResult` with ``.rates`` (K,), ``.mean_average_precision`` and per-probe ranks and APs.
    """
    accumulator = CMCAccumulator(
        gallery_features,
        gallery_labels,
        ranks,
        distractor_features=distractor_features,
        ranking=ranking,
        missing_probes=missing_probes,
        normalize=normalize,
        max_elements=max_elements,
    )
    accumulator.update(probe_features, probe_labels)
    return accumulator.compute()


__getattr__ = deprecated_aliases(
    __name__,
    {
        "CLOSED_SET_CONVENTION": "_CLOSED_SET_CONVENTION",
        "DEFAULT_MAX_ELEMENTS": "_DEFAULT_MAX_ELEMENTS",
        "average_precision_from_positions": "_average_precision_from_positions",
        "mate_statistics": "_mate_statistics",
    },
    globals(),
)
