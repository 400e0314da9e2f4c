"""End-of-run evaluation: the dataset's protocol evaluator, the hard subset, and the quality comparison.

The report (:func:`evaluate_run` -> dict, written by :func:`write_report` as JSON) holds:

- ``protocol``: the numbers of the dataset's protocol evaluator from ``recognizability.metrics`` (TinyFace:
  rank-1/5/10/20 and mAP with and without distractors; SCFace: rank-1 per distance; SurvFace: TAR@FAR and
  TPIR20@FPIR), plus ``protocol_hard``: the same on the probes the synthetic generator marked hard;
- ``quality``: for the learned index xi_hat, ERS (distance to the UI centre), the MagFace norm and the CR-FIQA
  certainty ratio: Spearman correlation with the ground-truth severity (synthetic data; negative is good: a
  quality score should fall as severity rises) and the error-versus-reject curve with its area (lower is
  better) on probe-gallery pairs;
- ``conventions``: how each number was computed; ``settings``; ``data``: provenance (real or synthetic).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from recognizability import metrics as M

from .data import Benchmark
from .loop import ImageSet, VerificationPairs, embed_image_set, refresh_ui_center
from .settings import TrainingSettings

__all__ = ["REPORT_FIELDS", "VerificationPairs", "evaluate_run", "probe_gallery_pairs", "write_report"]

#: Top-level fields of every report.
REPORT_FIELDS: tuple[str, ...] = (
    "dataset", "protocol", "protocol_hard", "quality", "curves", "conventions", "settings", "data",
    "training",
)  # fmt: skip

#: At most this many probes are written to the report for the index-versus-UI-distance scatter (Fig. 1/6).
MAX_SCATTER_POINTS = 5000


QUALITY_METHODS: tuple[str, ...] = ("learned_index", "ers", "magface_norm", "crfiqa")


def _as_dict(report: Any) -> dict[str, Any]:
    if hasattr(report, "to_dict"):
        out: dict[str, Any] = report.to_dict()
        return out
    if isinstance(report, dict):
        return report
    raise TypeError(f"expected a metrics report with to_dict(), got {type(report).__name__}")


def _float(value: Any) -> float:
    for name in ("correlation", "rho", "statistic", "value"):
        if hasattr(value, name):
            value = getattr(value, name)
            break
    return float(value)


def probe_gallery_pairs(
    probe_labels: Tensor, gallery_labels: Tensor, max_impostors: int, seed: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Verification pairs from a closed-set test split: every mated probe-gallery pair, and ``max_impostors``
    random non-mated ones (the paper's TinyFace quality experiment samples pairs the same way).

    Returns:
        probe index (P,), gallery index (P,), is_genuine bool (P,).
    """
    same = probe_labels[:, None] == gallery_labels[None, :]
    genuine = same.nonzero()
    generator = torch.Generator().manual_seed(seed)
    candidates = (~same).nonzero()
    pick = torch.randperm(len(candidates), generator=generator)[:max_impostors]
    impostor = candidates[pick]
    pairs = torch.cat([genuine, impostor])
    is_genuine = torch.cat(
        [torch.ones(len(genuine), dtype=torch.bool), torch.zeros(len(impostor), dtype=torch.bool)]
    )
    return pairs[:, 0], pairs[:, 1], is_genuine


def _quality_scores(
    embeddings: Tensor, predicted_index: Tensor | None, ui_center: Tensor, labels: Tensor, prototypes: Tensor
) -> dict[str, Tensor]:
    learned = {} if predicted_index is None else {"learned_index": predicted_index}
    return {
        **learned,
        "ers": M.ers_quality(embeddings, ui_center),
        "magface_norm": M.magface_quality(embeddings),
        "crfiqa": M.crfiqa_quality(embeddings, labels, prototypes),
    }


def _identity_templates(embeddings: Tensor, labels: Tensor, num: int) -> Tensor:
    """Per-identity mean of the normalised gallery embeddings (num, D), re-normalised."""
    unit = torch.nn.functional.normalize(embeddings, dim=1)
    sums = torch.zeros(num, unit.shape[1], dtype=unit.dtype).index_add_(0, labels, unit)
    return torch.nn.functional.normalize(sums, dim=1)


#: The ERC's rejected fractions: 0, 0.05, ..., 0.95 (as ``error_versus_reject``'s default).
REJECT_FRACTIONS: tuple[float, ...] = tuple(round(0.05 * k, 2) for k in range(20))


def _common_reject_fractions(pair_qualities: dict[str, Tensor], is_genuine: Tensor) -> list[float]:
    """The fractions of :data:`REJECT_FRACTIONS` at which every quality score still keeps a genuine and an
    impostor pair (on a small test set the last ones can empty a class); one grid for all scores, so their
    ERC areas stay comparable."""
    n = int(is_genuine.numel())
    limit = 1.0
    for quality in pair_qualities.values():
        kept = is_genuine[torch.argsort(quality, stable=True)]
        positions = torch.arange(n)
        last_genuine = int(positions[kept].max()) if bool(kept.any()) else -1
        last_impostor = int(positions[~kept].max()) if bool((~kept).any()) else -1
        # rejecting c pairs keeps both classes iff c <= min(last genuine, last impostor) (0-based positions in
        # quality order); one grid step of slack for rounding and for quality ties, rejected together
        limit = min(limit, min(last_genuine, last_impostor) / n - 0.05)
    fractions = [f for f in REJECT_FRACTIONS if f <= limit]
    return fractions or [0.0]


def _quality_block(
    probe_v: Tensor, probe_xi: Tensor, probe: ImageSet, gallery_v: Tensor, gallery_xi: Tensor,
    gallery: ImageSet, ui_center: Tensor, seed: int, fmrs: tuple[float, ...], max_impostors: int,
    learned: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """Spearman with severity and ERC area of each quality score on probe and gallery images.

    ``learned``: whether the regression module was trained to predict the index (L_L1 on); when it was not
    (ArcFace alone, or +ID alone) its output is no index estimate and is left out of the comparison.
    """
    labels = torch.cat([probe.labels, gallery.labels])
    v = torch.cat([probe_v, gallery_v])
    xi = torch.cat([probe_xi, gallery_xi])
    num = int(labels.max()) + 1
    prototypes = _identity_templates(gallery_v, gallery.labels, num)
    scores = _quality_scores(v, xi if learned else None, ui_center, labels, prototypes)
    pi, gi, is_genuine = probe_gallery_pairs(probe.labels, gallery.labels, max_impostors, seed)
    unit_p = torch.nn.functional.normalize(probe_v, dim=1)
    unit_g = torch.nn.functional.normalize(gallery_v, dim=1)
    similarity = (unit_p[pi] * unit_g[gi]).sum(dim=1)
    severity = None
    if probe.severity is not None and gallery.severity is not None:
        severity = torch.cat([probe.severity, gallery.severity])
    n_probe = len(probe)
    pair_qualities = {name: torch.minimum(q[:n_probe][pi], q[n_probe:][gi]) for name, q in scores.items()}
    fractions = _common_reject_fractions(pair_qualities, is_genuine)
    out: dict[str, Any] = {}
    for name, q in scores.items():
        entry: dict[str, Any] = {}
        if severity is not None:
            entry["spearman_with_severity"] = _float(M.spearman_correlation(q, severity))
        pair_quality = pair_qualities[name]
        for fmr in fmrs:
            erc = M.error_versus_reject(similarity, is_genuine, pair_quality, fmr, fractions)
            entry[f"erc_auc_fmr_{fmr:g}"] = float(erc.auc)
            entry[f"erc_fnmr_fmr_{fmr:g}"] = [float(x) for x in erc.fnmr]
            entry["reject_fractions"] = [float(x) for x in erc.reject_fractions]
        out[name] = entry
    out["pairs"] = {"genuine": int(is_genuine.sum()), "impostor": int((~is_genuine).sum())}
    return out


def _cmc_curve(
    probe_v: Tensor,
    probe_labels: Tensor,
    gallery_v: Tensor,
    gallery_labels: Tensor,
    distractor: Tensor | None,
) -> dict[str, list[float]]:
    """CMC at ranks 1..min(20, gallery size) (for the CMC plot)."""
    size = int(gallery_v.shape[0]) + (0 if distractor is None else int(distractor.shape[0]))
    ranks = tuple(range(1, min(20, size) + 1))
    result = M.cmc(probe_v, probe_labels, gallery_v, gallery_labels, ranks, distractor_features=distractor)
    return {"ranks": [float(r) for r in ranks], "rates": result.rates.tolist()}


def _index_vs_ui_distance(
    probe_v: Tensor, probe_xi: Tensor, probe: ImageSet, ui_center: Tensor, seed: int
) -> dict[str, list[float]]:
    """Learned index xi_hat and UI-centre distance 1 - cos(v, u) of (a seeded sample of) the probes."""
    n = len(probe)
    index = (
        torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:MAX_SCATTER_POINTS].sort().values
    )
    distance = 1.0 - torch.nn.functional.normalize(probe_v[index], dim=1) @ ui_center
    out: dict[str, list[float]] = {
        "predicted_index": probe_xi[index].tolist(),
        "ui_distance": distance.tolist(),
    }
    if probe.severity is not None:
        out["severity"] = probe.severity[index].tolist()
    if probe.hard is not None:
        out["hard"] = probe.hard[index].float().tolist()
    return out


def evaluate_run(
    model: torch.nn.Module,
    settings: TrainingSettings,
    benchmark: Benchmark,
    test_sets: dict[str, ImageSet],
    ui: ImageSet,
    device: torch.device,
    *,
    amp: bool = False,
    fmrs: tuple[float, ...] = (1e-2, 1e-3),
    max_impostors: int = 50_000,
    training: dict[str, Any] | None = None,
    verification: VerificationPairs | None = None,
) -> dict[str, Any]:
    """Evaluate a trained :class:`RecognizabilityModel` by the protocol of ``settings.dataset``.

    The UI centre is refreshed with the final weights first (ERS and the index need it). Embeddings are v
    (L2-normalised by the evaluators), without flip fusion.

    Args:
        test_sets: the subsets of :data:`~recognizability.training.data.TEST_SUBSETS` for the dataset.
        fmrs: FMRs of the error-versus-reject curves.
        max_impostors: non-mated probe-gallery pairs sampled for the ERC.
        training: history and timing to copy into the report.
        verification: SurvFace verification pairs
            (:func:`~recognizability.training.data.load_verification_pairs`); when given, the report has
            TAR@FAR 0.3/0.1/0.01/0.001 too.
    """
    refresh_ui_center(model, ui, settings, device, amp)
    embedded = {name: embed_image_set(model, s, settings, device, amp) for name, s in test_sets.items()}
    embedded = {k: (v.cpu(), xi.cpu()) for k, (v, xi) in embedded.items()}
    center: Tensor = getattr(model.ui_center, "center")  # noqa: B009 - a registered buffer (Tensor)
    ui_center = center.detach().float().cpu()
    dataset = settings.dataset
    conventions: dict[str, Any] = {
        "embedding": "v (backbone embedding), L2-normalised; no flip fusion",
        "quality_learned_index": "xi_hat of the perceptibility regression module (no UI centre at test time)",
        "quality_ers": "1 - cos(v, u), u = UI centre of the final weights",
        "quality_magface_norm": "L2 norm of the un-normalised v",
        "quality_crfiqa": "certainty ratio against per-identity gallery templates (oracle: uses test labels)",
        "spearman": "Spearman rho of quality with ground-truth severity (negative = quality falls as "
        "severity rises)",
        "erc": (
            "pairs = all mated probe-gallery pairs + random non-mated; pair quality = min; FNMR at the FMR "
            "threshold recomputed on the kept pairs ('recomputed'); area = trapezoid over rejected fraction; "
            "one grid of rejected fractions for every score, cut where any would run out of a pair class"
        ),
    }
    protocol: dict[str, Any]
    protocol_hard: dict[str, Any] | None = None
    curves: dict[str, Any] = {}
    if dataset == "tinyface":
        probe, gallery = test_sets["probe"], test_sets["gallery"]
        pv, pxi = embedded["probe"]
        gv, gxi = embedded["gallery"]
        distractor = embedded.get("distractor", (None, None))[0]
        protocol = _as_dict(M.evaluate_tinyface(pv, probe.labels, gv, gallery.labels, distractor))
        if probe.hard is not None and bool(probe.hard.any()):
            hard = probe.hard
            protocol_hard = _as_dict(
                M.evaluate_tinyface(pv[hard], probe.labels[hard], gv, gallery.labels, distractor)
            )
            protocol_hard["probes"] = int(hard.sum())
        curves["cmc"] = _cmc_curve(pv, probe.labels, gv, gallery.labels, distractor)
        conventions["protocol"] = (
            "TinyFace: image-level ranking, gallery = Gallery_Match + Gallery_Distractor"
        )
    elif dataset == "scface":
        probe, gallery = test_sets["probe"], test_sets["gallery"]
        pv, pxi = embedded["probe"]
        gv, gxi = embedded["gallery"]
        distances = probe.distance
        if distances is None:
            raise ValueError("expected SCFace probe records with a distance (1, 2, 3), got none")
        protocol = _as_dict(M.evaluate_scface(pv, probe.labels, distances, gv, gallery.labels))
        if probe.hard is not None and bool(probe.hard.any()):
            # The hard probes need not cover every distance (most are far ones), so the per-distance
            # evaluator does not apply: rank-1 over all hard probes instead.
            hard = probe.hard
            result = M.cmc(pv[hard], probe.labels[hard], gv, gallery.labels, (1,))
            protocol_hard = {"rank_1_average": float(result.rates[0]), "probes": int(hard.sum()),
                             "note": "rank-1 over all hard probes (not a mean over distances)"}  # fmt: skip
        curves["cmc"] = _cmc_curve(pv, probe.labels, gv, gallery.labels, None)
        conventions["protocol"] = "SCFace: rank-1 per distance against the mugshot gallery"
    else:
        gallery, probe = test_sets["gallery"], test_sets["mated_probe"]
        gv, gxi = embedded["gallery"]
        pv, pxi = embedded["mated_probe"]
        uv, _ = embedded["unmated_probe"]
        pair_features: dict[str, Any] = {}
        if verification is not None:
            vv, _ = embed_image_set(model, verification.images, settings, device, amp)
            vv = vv.cpu()
            same, first, second = verification.is_same, verification.first, verification.second
            pair_features = {
                "positive_pairs": (vv[first[same]], vv[second[same]]),
                "negative_pairs": (vv[first[~same]], vv[second[~same]]),
            }
            conventions["verification"] = (
                f"SurvFace verification: {int(same.sum())} positive / {int((~same).sum())} negative pairs "
                "from survface_verification_pairs"
            )
        protocol = _as_dict(M.evaluate_survface(pv, probe.labels, uv, gv, gallery.labels, **pair_features))
        if probe.hard is not None and bool(probe.hard.any()):
            hard = probe.hard
            protocol_hard = _as_dict(
                M.evaluate_survface(pv[hard], probe.labels[hard], uv, gv, gallery.labels)
            )
            protocol_hard["probes"] = int(hard.sum())
        curves["cmc"] = _cmc_curve(pv, probe.labels, gv, gallery.labels, None)
        conventions["protocol"] = (
            "SurvFace open-set identification (mated/unmated probes against the gallery)"
        )
    quality = _quality_block(
        pv, pxi, probe, gv, gxi, gallery, ui_center, settings.seed, fmrs, max_impostors,
        learned=settings.use_regression,
    )  # fmt: skip
    curves["index_vs_ui_distance"] = _index_vs_ui_distance(pv, pxi, probe, ui_center, settings.seed)
    conventions["curves"] = (
        "cmc: closed-set CMC of the mated probes at ranks 1..20 (gallery + distractors); "
        "index_vs_ui_distance: learned index xi_hat against 1 - cos(v, u) of "
        f"(at most {MAX_SCATTER_POINTS}) probes (paper Fig. 1/6)"
    )
    return {
        "dataset": dataset,
        "protocol": protocol,
        "protocol_hard": protocol_hard,
        "quality": quality,
        "conventions": conventions,
        "settings": settings.to_dict(),
        "data": {
            **benchmark.to_dict(),
            "test_sizes": {k: len(v) for k, v in test_sets.items()},
            "ui_size": len(ui),
            "note": "synthetic stand-in: not comparable with the paper's tables"
            if benchmark.provenance == "synthetic"
            else "real dataset",
        },
        "curves": curves,
        "training": training or {},
    }


def write_report(report: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write the report as indented JSON, atomically (temporary file + ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)
    return path
