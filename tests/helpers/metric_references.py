"""Slow, obviously-correct loop references written from the definitions in docs/metrics.md."""

from __future__ import annotations

import math


def far_tar(genuine: list[float], impostor: list[float], t: float) -> tuple[float, float]:
    far = sum(1 for s in impostor if s >= t) / len(impostor)
    tar = sum(1 for s in genuine if s >= t) / len(genuine)
    return far, tar


def tar_at_far(genuine: list[float], impostor: list[float], x: float) -> tuple[float, float, float]:
    """Smallest impostor score t with FAR(t) <= x; else just above the top impostor (FAR 0)."""
    ok = [t for t in sorted(set(impostor)) if far_tar(genuine, impostor, t)[0] <= x]
    if ok:
        t = min(ok)
    else:
        t = math.nextafter(max(impostor), math.inf)
    far, tar = far_tar(genuine, impostor, t)
    return tar, t, far


def closed_set(probes, probe_labels, gallery, gallery_labels):
    """Per probe: rank (non-mates >= best mate) and TinyFace AP by walking a pessimistic ranked list."""
    ranks, aps = [], []
    for p, y in zip(probes, probe_labels, strict=True):
        scores = [sum(a * b for a, b in zip(p, g, strict=True)) for g in gallery]
        entries = [(s, lab == y) for s, lab in zip(scores, gallery_labels, strict=True)]
        best = max(s for s, m in entries if m)
        ranks.append(sum(1 for s, m in entries if not m and s >= best))
        # ranked list: descending score, non-mates before mates at equal score
        ranked = sorted(entries, key=lambda e: (-e[0], e[1]))
        n_good = sum(1 for _, m in entries if m)
        old_recall, old_precision, ap, hits = 0.0, 1.0, 0.0, 0
        for j, (_, m) in enumerate(ranked):
            hits += m
            recall, precision = hits / n_good, hits / (j + 1)
            ap += (recall - old_recall) * (old_precision + precision) / 2
            old_recall, old_precision = recall, precision
            if hits == n_good:
                break
        aps.append(ap)
    return ranks, aps


def open_set(mated, mated_labels, unmated, gallery, gallery_labels, rank, t):
    def dot(a, b):
        return sum(x * y for x, y in zip(a, b, strict=True))

    fpir = sum(1 for u in unmated if max(dot(u, g) for g in gallery) >= t) / len(unmated)
    hits = 0
    for p, y in zip(mated, mated_labels, strict=True):
        scores = [(dot(p, g), lab == y) for g, lab in zip(gallery, gallery_labels, strict=True)]
        best = max(s for s, m in scores if m)
        r = sum(1 for s, m in scores if not m and s >= best)
        hits += r < rank and best >= t
    return hits / len(mated), fpir


def crfiqa_fnmr(scores, genuine, quality, fmr, fraction):
    """Loop version of CR-FIQA getFNMRFixedTH / calculate_roc / get_fmr_op for one fraction."""
    order = sorted(range(len(scores)), key=lambda i: quality[i])
    keep = order[int(fraction * len(scores)) :]
    d = {i: math.acos(max(-1.0, min(1.0, scores[i]))) / math.pi for i in keep}
    pos = [d[i] for i in keep if genuine[i]]
    neg = [d[i] for i in keep if not genuine[i]]
    best_t, best_gap = None, None
    for t in sorted(set(d.values()), reverse=True):  # their array order: distances descending
        rate = sum(1 for x in neg if x <= t) / len(neg)
        gap = abs(rate - fmr)
        if best_gap is None or gap < best_gap:
            best_t, best_gap = t, gap
    return 1 - sum(1 for x in pos if x < best_t) / len(pos)
