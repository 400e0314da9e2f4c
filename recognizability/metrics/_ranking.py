"""What the identification, open-set and verification metrics share (a private module: public names, one
place): the conventions written into their reports, the library's threshold rule at a target rate, and the
chunked core that ranks every probe's mates against the non-mates without a (P, G) matrix in memory."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor

from ..functional import l2_normalize
from ..functional._autocast import common_float

__all__ = [
    "CLOSED_SET_CONVENTION",
    "DEFAULT_MAX_ELEMENTS",
    "OPEN_SET_CONVENTION",
    "check_finite_scores",
    "mate_statistics",
    "normalized",
    "threshold_at_rate",
]


CLOSED_SET_CONVENTION = (
    "cosine similarity of L2-normalised features; rank = #(non-mate gallery entries with score >= "
    "best mate score), "
    "ties count against the probe; hit@k when rank < k; gallery labels < 0 are distractors; AP = "
    "TinyFace trapezoid "
    "over the ranked list (non-mates tied with a mate placed first), stopping at the last mate"
)


OPEN_SET_CONVENTION = (
    "NIST: cosine scores of L2-normalised features; FPIR(t) = share of unmated searches with top score >= t; "
    "TPIR(t, r) = share of mated searches with mate rank < r and best mate score >= t (rank = #non-mate "
    "candidates >= best mate score); threshold = smallest unmated top score with realised FPIR <= target; "
    "AUC = trapezoid of the TPIR-FPIR curve over FPIR in [0, 1]"
)


DEFAULT_MAX_ELEMENTS = 1 << 25  # 32M scores per block: 128 MB in float32


def threshold_at_rate(negative_scores: Tensor, rates: Tensor) -> tuple[Tensor, Tensor]:
    """Library threshold rule: smallest negative score ``t`` with ``#(negative >= t) / N <= rate``.

    Used for TAR@FAR (negatives = impostor scores), FPIR (negatives = top scores of non-mated searches) and
    the ERC. When no negative score qualifies, ``t`` is the next float above the highest negative (realised
    rate 0).

    Args:
        negative_scores: (N,) finite scores, N >= 1.
        rates: (R,) float64 targets in [0, 1].

    Returns:
        thresholds (R,) in the scores' dtype, realised rates (R,) float64.
    """
    n = negative_scores.numel()
    ascending = torch.sort(negative_scores).values
    thresholds = []
    realised = []
    for rate in rates.tolist():
        allowed = math.floor(rate * n)  # largest count c with c / n <= rate (fixed up for float rounding)
        while allowed + 1 <= n and (allowed + 1) / n <= rate:
            allowed += 1
        while allowed > 0 and allowed / n > rate:
            allowed -= 1
        if allowed >= n:
            thresholds.append(ascending[0])
            realised.append(1.0)
            continue
        # the (allowed+1)-th highest score must be rejected: t = smallest score strictly above it
        excluded = ascending[n - 1 - allowed]
        index = int(torch.searchsorted(ascending, excluded.reshape(1), right=True))
        if index < n:
            thresholds.append(ascending[index])
            realised.append((n - index) / n)
        else:
            thresholds.append(torch.nextafter(excluded, excluded.new_tensor(math.inf)))
            realised.append(0.0)
    return torch.stack(thresholds), torch.tensor(realised, dtype=torch.float64)


def check_finite_scores(scores: Tensor, normalize: bool) -> None:
    """Raw dot products (``normalize=False``) of finite features can overflow: refuse them, naming both."""
    if not normalize and not bool(torch.isfinite(scores).all()):
        raise ValueError(
            "expected finite scores, got NaN/inf: the raw dot products of probe_features and "
            f"gallery_features overflow {scores.dtype} (pass normalize=True for cosine scores, or scale the "
            "features down)"
        )


def normalized(x: Tensor, normalize: bool, dtype: torch.dtype, device: torch.device) -> Tensor:
    x = x.to(device=device, non_blocking=True)
    return (l2_normalize(x, dim=1) if normalize else x).to(dtype)


def count_at_least(scores: Tensor, mates: Tensor, counts: Tensor, groups: list[tuple[int, int, int]]) -> None:
    """``counts[p, i] += #(scores[p, :] >= mates[p, i])`` for non-mate ``scores`` (Pb, C), mates (Pb, M).

    ``groups`` lists row ranges ``(r0, r1, m)`` whose rows have exactly ``m`` valid mates (sorted descending),
    so each row costs ``m`` vectorised compare-and-sum passes. The comparison writes 0/1 straight into a float
    buffer: summing floats is much faster than a bool reduction, and it saves a conversion pass. Rows whose
    largest non-mate score is below their lowest mate cannot add to any count; a cheap row maximum finds them
    first and only the other rows are compared. The result is exact either way.
    """
    row_max = scores.amax(1)
    for r0, r1, m in groups:
        lowest_mate = mates[r0:r1, m - 1]
        rows = torch.nonzero(row_max[r0:r1] >= lowest_mate).squeeze(1)  # evaluation code: a sync is fine
        if rows.numel() == 0:
            continue
        block = scores[r0:r1].index_select(0, rows) if rows.numel() < r1 - r0 else scores[r0:r1]
        block_mates = mates[r0:r1].index_select(0, rows)
        indicator = torch.empty(block.shape, dtype=block.dtype, device=block.device)
        added = torch.empty((rows.numel(), m), dtype=torch.int64, device=block.device)
        for i in range(m):
            torch.ge(block, block_mates[:, i : i + 1], out=indicator)
            added[:, i] = indicator.sum(1).to(torch.int64)
        counts[r0:r1, :m].index_add_(0, rows, added)


def mate_statistics(
    probe_features: Tensor,
    probe_labels: Tensor,
    gallery_features: Tensor,
    gallery_labels: Tensor,
    distractor_features: Iterable[Tensor] = (),
    *,
    ranking: str = "image",
    all_mates: bool = True,
    normalize: bool = True,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
) -> tuple[Tensor, Tensor, Tensor]:
    """Sorted mate scores and, per mate, the number of non-mate gallery scores >= it (the chunked core).

    Args:
        probe_features: (P, D); probe_labels: (P,) int64, every label present in ``gallery_labels``.
        gallery_features: (G, D) labelled gallery; gallery_labels: (G,) int64 >= 0.
        distractor_features: blocks (N_k, D) of unlabelled gallery entries (non-mates of every probe); they
            may live on another device and are moved chunk by chunk.
        ranking: ``"image"`` or ``"identity"`` (labelled identities scored by their best image).
        all_mates: keep every mate (needed for mAP) or only the best one (enough for CMC / open set).

    Returns:
        mates (P, M) scores descending (padding ``+inf``), counts (P, M) int64, num_mates (P,) int64.
    """
    device, dtype = probe_features.device, common_float(probe_features, gallery_features)
    gallery_labels = gallery_labels.to(device)
    probe_labels = probe_labels.to(device)
    gallery = normalized(gallery_features, normalize, dtype, device)
    unique, gallery_identity = torch.unique(gallery_labels, return_inverse=True)
    probe_identity = torch.searchsorted(unique, probe_labels)
    num_identities = unique.numel()

    per_identity = torch.bincount(gallery_identity, minlength=num_identities)
    starts = torch.cumsum(per_identity, 0) - per_identity
    order = torch.argsort(gallery_identity, stable=True)  # labelled columns grouped by identity
    if ranking == "identity" or not all_mates:
        num_mates = torch.ones_like(probe_labels)
    else:
        num_mates = per_identity[probe_identity]
    column_width = int(per_identity[probe_identity].max()) if ranking == "image" else 1

    # process probes sorted by their number of mates so rows with equal counts form contiguous groups
    permutation = torch.argsort(num_mates, stable=True)
    probe_features = probe_features[permutation.to(probe_features.device)]
    probe_identity, num_mates = probe_identity[permutation], num_mates[permutation]

    labelled_width = num_identities if ranking == "identity" else gallery.shape[0]
    block = max(1, min(probe_features.shape[0], max_elements // max(labelled_width, 1)))
    distractors = list(distractor_features)
    mates_out, counts_out = [], []
    for p0 in range(0, probe_features.shape[0], block):
        probes = normalized(probe_features[p0 : p0 + block], normalize, dtype, device)
        identity = probe_identity[p0 : p0 + block]
        scores = probes @ gallery.T  # (Pb, G) labelled block
        check_finite_scores(scores, normalize)
        if ranking == "identity":
            scores = torch.full(
                (probes.shape[0], num_identities), -torch.inf, dtype=dtype, device=device
            ).scatter_reduce_(1, gallery_identity[None, :].expand_as(scores), scores, "amax")
            mates = scores.gather(1, identity[:, None])
            scores.scatter_(1, identity[:, None], -torch.inf)
        else:
            offsets = torch.arange(column_width, device=device)[None, :]
            valid = offsets < per_identity[identity][:, None]
            # padded slots repeat the first mate column, so every scattered column is a mate
            columns = order[starts[identity][:, None] + torch.where(valid, offsets, 0)]
            mate_scores = scores.gather(1, columns)
            mates = torch.where(valid, mate_scores, torch.full_like(mate_scores, -torch.inf))
            if all_mates:
                mates = torch.sort(mates, dim=1, descending=True).values
                mates = torch.where(
                    valid.sum(1, keepdim=True) > offsets, mates, torch.full_like(mates, torch.inf)
                )
            else:
                mates = mates.amax(1, keepdim=True)
            scores.scatter_(1, columns, -torch.inf)
        nb = probes.shape[0]
        n_block = num_mates[p0 : p0 + block]
        values, group_sizes = torch.unique_consecutive(n_block, return_counts=True)
        bounds = torch.cumsum(group_sizes, 0).tolist()
        groups = [
            (b - s, b, m) for m, s, b in zip(values.tolist(), group_sizes.tolist(), bounds, strict=True)
        ]
        counts = torch.zeros(mates.shape, dtype=torch.int64, device=device)
        count_at_least(scores, mates, counts, groups)
        del scores
        chunk = max(1, max_elements // nb)
        for distractor_block in distractors:
            for c0 in range(0, distractor_block.shape[0], chunk):
                columns_block = normalized(distractor_block[c0 : c0 + chunk], normalize, dtype, device)
                distractor_scores = probes @ columns_block.T
                check_finite_scores(distractor_scores, normalize)
                count_at_least(distractor_scores, mates, counts, groups)
        mates_out.append(mates)
        counts_out.append(counts)
    inverse = torch.argsort(permutation)
    return torch.cat(mates_out)[inverse], torch.cat(counts_out)[inverse], num_mates[inverse]
