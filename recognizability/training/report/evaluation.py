"""End-of-run evaluation: the benchmark's protocol, its hard probes, and the quality comparison.

:func:`evaluate_run` returns a typed :class:`~recognizability.training.RunReport`:

- ``protocol``: the report of the benchmark's protocol evaluator (its :class:`BenchmarkSpec`), and
  ``protocol_hard``: the same on the probes the synthetic generator marked hard;
- ``quality``: for the learned index xi_hat, ERS (distance to the UI centre), the MagFace norm, CR-FIQA's
  quality branch fitted on the training faces (no test labels) and the CR-FIQA certainty ratio against
  gallery templates (an oracle): Spearman correlation with the ground-truth severity (synthetic data;
  negative is good: a quality score should fall as severity rises), the error-versus-reject curve with its
  area (lower is better) on probe-gallery pairs and the EDC pAUC;
- ``ui_cluster`` (synthetic data): the paper's Fig. 1 figures of the VLR training faces under the trained
  backbone (and, when given, under the backbone the run started from);
- the CMC curve, the index-versus-UI-distance scatter, the conventions, the configuration and the provenance.
"""

from __future__ import annotations

import torch
from torch import Tensor

from recognizability import metrics as M
from recognizability.functional import cosine_logits, l2_normalize
from recognizability.functional.margin_heads import positive_and_nearest_negative_cosine
from recognizability.metrics.ui_cluster import UIClusterStatistics
from recognizability.nn.certainty_ratio import CertaintyRatioRegression

from ..config import EmbeddedPairs, EmbeddedSet, TrainingConfig
from ..data import ImageSet, RunData
from ..method import MethodModules, embed_images
from .reports import (
    QUALITY_METHODS,
    CMCCurve,
    DataSummary,
    IndexScatter,
    PairCounts,
    QualityFigures,
    RunReport,
    TrainingSummary,
)
from .ui_cluster import ui_cluster

__all__ = ["common_reject_fractions", "evaluate_run", "probe_gallery_pairs"]

#: At most this many probes are written to the report for the index-versus-UI-distance scatter (Fig. 1/6).
_MAX_SCATTER_POINTS = 5000
#: The ERC's rejected fractions: 0, 0.05, ..., 0.95 (as ``error_versus_reject``'s default).
_REJECT_FRACTIONS: tuple[float, ...] = tuple(round(0.05 * k, 2) for k in range(20))

CONVENTIONS: dict[str, str] = {
    "embedding": "v (backbone embedding), L2-normalised; no flip fusion",
    "quality_learned_index": "xi_hat of the perceptibility regression module (no UI centre at test time)",
    "quality_ers": "1 - cos(v, u), u = UI centre of the final weights",
    "quality_magface_norm": "L2 norm of the un-normalised v",
    "quality_crfiqa_trained": (
        "CR-FIQA's quality branch (Linear(D, 1) on v, smooth L1 0.5 to the certainty ratio "
        "CCS / (NNCCS + 1)) fitted after training on the training faces with the head's prototypes as "
        "class centres; no test labels"
    ),
    "quality_crfiqa": "certainty ratio against per-identity gallery templates (oracle: uses test labels)",
    "edc": "EDC pAUC: 'fixed' threshold at the FMR on all pairs, genuine pairs discarded up to 20 %",
    "ui_cluster": (
        "Fig. 1: d_UI = 1 - cos(v, u) of the training faces, u refit from the UI set; Spearman with "
        "severity, hard share among the 10 % nearest u, Sarle's bimodality coefficient"
    ),
    "spearman": "Spearman rho of quality with ground-truth severity (negative = quality falls as severity "
    "rises)",
    "erc": (
        "pairs = all mated probe-gallery pairs + random non-mated; pair quality = min; FNMR at the FMR "
        "threshold recomputed on the kept pairs ('recomputed'); area = trapezoid over rejected fraction; "
        "one grid of rejected fractions for every score, cut where any would run out of a pair class"
    ),
    "curves": (
        "cmc: closed-set CMC of the mated probes at ranks 1..20 (gallery + distractors); "
        "index_vs_ui_distance: learned index xi_hat against 1 - cos(v, u) of "
        f"(at most {_MAX_SCATTER_POINTS}) probes (paper Fig. 1/6)"
    ),
}


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
    impostor = candidates[torch.randperm(len(candidates), generator=generator)[:max_impostors]]
    pairs = torch.cat([genuine, impostor])
    is_genuine = torch.cat(
        [torch.ones(len(genuine), dtype=torch.bool), torch.zeros(len(impostor), dtype=torch.bool)]
    )
    return pairs[:, 0], pairs[:, 1], is_genuine


def common_reject_fractions(pair_qualities: dict[str, Tensor], is_genuine: Tensor) -> list[float]:
    """The fractions of :data:`_REJECT_FRACTIONS` at which every quality score still keeps a genuine and an
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
    fractions = [f for f in _REJECT_FRACTIONS if f <= limit]
    return fractions or [0.0]


def _gallery_prototypes(gallery: EmbeddedSet, num_classes: int) -> Tensor:
    """(num_classes, D) per-identity gallery templates indexed by label (zero rows for labels without one)."""
    templates, labels = M.identity_templates(gallery.embeddings, gallery.labels)
    prototypes = torch.zeros(num_classes, templates.shape[1], dtype=templates.dtype)
    prototypes[labels] = templates
    return prototypes


def _embedded(images: ImageSet, embeddings: Tensor, predicted_index: Tensor) -> EmbeddedSet:
    """A test subset's images and what the network made of them, as the protocol evaluators read them."""
    return EmbeddedSet(
        embeddings, predicted_index, images.labels, images.severity, images.hard, images.distance
    )


def _quality(
    probe: EmbeddedSet,
    gallery: EmbeddedSet,
    ui_distance: Tensor,
    seed: int,
    fmrs: tuple[float, ...],
    max_impostors: int,
    learned: bool,
    crfiqa_trained: Tensor | None = None,
) -> tuple[dict[str, QualityFigures], PairCounts]:
    """Spearman with severity and ERC of each quality score on the probe and gallery images.

    ``ui_distance``: 1 - cos(v, u) of the probes then the gallery images (ERS). ``learned``: whether the
    regression module was trained to predict the index (L_L1 on); when it was not (ArcFace alone, or +ID
    alone) its output is no index estimate and is left out of the comparison. ``crfiqa_trained``: the fitted
    CR-FIQA branch's scores of the probes then the gallery images (None: left out).
    """
    v = torch.cat([probe.embeddings, gallery.embeddings])
    labels = torch.cat([probe.labels, gallery.labels])
    severity = None
    if probe.severity is not None and gallery.severity is not None:
        severity = torch.cat([probe.severity, gallery.severity])
    prototypes = _gallery_prototypes(gallery, int(labels.max()) + 1 if len(labels) else 0)
    scores = {
        "learned_index": torch.cat([probe.predicted_index, gallery.predicted_index]),
        "ers": ui_distance,
        "magface_norm": M.magface_quality(v),
        "crfiqa": M.crfiqa_quality(v, labels, prototypes),
    }
    if not learned:
        del scores["learned_index"]
    if crfiqa_trained is not None:
        scores["crfiqa_trained"] = crfiqa_trained
    pi, gi, is_genuine = probe_gallery_pairs(probe.labels, gallery.labels, max_impostors, seed)
    unit_probe, unit_gallery = l2_normalize(probe.embeddings, dim=1), l2_normalize(gallery.embeddings, dim=1)
    similarity = (unit_probe[pi] * unit_gallery[gi]).sum(dim=1)
    n_probe = len(probe)
    pair_qualities = {name: torch.minimum(q[:n_probe][pi], q[n_probe:][gi]) for name, q in scores.items()}
    fractions = common_reject_fractions(pair_qualities, is_genuine)
    out: dict[str, QualityFigures] = {}
    for name in QUALITY_METHODS:
        if name not in scores:
            continue
        spearman = None
        if severity is not None:
            spearman = float(M.spearman_correlation(scores[name], severity))
        curves = {fmr: M.error_versus_reject(similarity, is_genuine, pair_qualities[name], fmr, fractions)
                  for fmr in fmrs}  # fmt: skip
        pair_q = pair_qualities[name]
        edc = {
            fmr: M.error_versus_reject(similarity, is_genuine, pair_q, fmr, threshold="fixed") for fmr in fmrs
        }
        out[name] = QualityFigures(
            spearman_with_severity=spearman,
            erc_auc={fmr: float(erc.auc) for fmr, erc in curves.items()},
            erc_fnmr={fmr: [float(x) for x in erc.fnmr] for fmr, erc in curves.items()},
            reject_fractions=[float(x) for x in next(iter(curves.values())).reject_fractions],
            edc_pauc={fmr: float(result.edc_pauc) for fmr, result in edc.items()},
        )
    return out, PairCounts(int(is_genuine.sum()), int((~is_genuine).sum()))


def _cmc(probe: EmbeddedSet, gallery: EmbeddedSet, distractor: EmbeddedSet | None) -> CMCCurve:
    """CMC at ranks 1..min(20, gallery size) (for the CMC plot)."""
    extra = None if distractor is None else distractor.embeddings
    size = len(gallery) + (0 if extra is None else int(extra.shape[0]))
    ranks = tuple(range(1, min(20, size) + 1))
    result = M.cmc(
        probe.embeddings, probe.labels, gallery.embeddings, gallery.labels, ranks,
        distractor_features=extra,
    )  # fmt: skip
    return CMCCurve([float(r) for r in ranks], [float(x) for x in result.rates.tolist()], result.num_probes)


def _scatter(probe: EmbeddedSet, ui_distance: Tensor, seed: int) -> IndexScatter:
    """Learned index and UI-centre distance of (a seeded sample of) the probes."""
    n = len(probe)
    generator = torch.Generator().manual_seed(seed)
    index = torch.randperm(n, generator=generator)[:_MAX_SCATTER_POINTS].sort().values
    return IndexScatter(
        predicted_index=probe.predicted_index[index].tolist(),
        ui_distance=ui_distance[index].tolist(),
        severity=None if probe.severity is None else probe.severity[index].tolist(),
        hard=None if probe.hard is None else probe.hard[index].float().tolist(),
    )


def _fit_crfiqa_branch(
    train_embeddings: Tensor, labels: Tensor, prototypes: Tensor, seed: int, steps: int = 300
) -> CertaintyRatioRegression:
    """CR-FIQA's quality branch fitted on the training faces: Linear(D, 1) on v regressing the certainty ratio
    of each face against the margin head's prototypes (its class centres), smooth L1 (beta 0.5), full-batch
    Adam (lr 1e-2) for ``steps`` steps from a seeded initialisation."""
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    branch = CertaintyRatioRegression(train_embeddings.shape[1])
    torch.random.set_rng_state(generator_state)
    positive, nearest_negative = positive_and_nearest_negative_cosine(
        cosine_logits(train_embeddings, prototypes.to(train_embeddings.dtype)), labels
    )
    optimizer = torch.optim.Adam(branch.parameters(), lr=1e-2)
    with torch.enable_grad():
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            loss = branch.loss(train_embeddings, positive, nearest_negative)
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
    return branch.eval()


def _full_prototypes(head: torch.nn.Module, num_classes: int) -> Tensor | None:
    """The head's (C, D) prototypes when this process holds all of them (not a class-sharded head)."""
    weight = getattr(head, "weight", None)
    if isinstance(weight, Tensor) and weight.dim() == 2 and weight.shape[0] == num_classes:
        return weight.detach().float().cpu()
    return None


def evaluate_run(
    model: MethodModules,
    config: TrainingConfig,
    data: RunData,
    device: torch.device,
    training: TrainingSummary,
    *,
    amp: bool = False,
    fmrs: tuple[float, ...] = (1e-2, 1e-3),
    max_impostors: int = 50_000,
    ui_cluster_pretrained: UIClusterStatistics | None = None,
) -> RunReport:
    """Evaluate trained modules by the protocol of ``data``'s benchmark.

    The UI centre is refit with the final weights first (ERS and the index need it). Embeddings are v
    (L2-normalised by the evaluators), without flip fusion.

    Args:
        model: the trained modules.
        config: the run's configuration (input size, seed of the pair sampling, switched-on terms).
        data: the run's decoded data (test sets, UI set, verification pairs).
        device: where the network runs.
        training: history and timing to copy into the report.
        amp: bf16 autocast on CUDA.
        fmrs: FMRs of the error-versus-reject curves (the first is the headline one).
        max_impostors: non-mated probe-gallery pairs sampled for the ERC.
        ui_cluster_pretrained: Fig. 1 figures of the backbone the run started from, copied into the report.
    """
    spec, size = data.spec, config.model.input_size
    ui_embeddings, _ = embed_images(model, data.ui, size, device, amp)
    model.ui_center.fit(ui_embeddings)
    tests: dict[str, EmbeddedSet] = {}
    for name, images in data.tests.items():
        v, xi_hat = embed_images(model, images, size, device, amp)
        tests[name] = _embedded(images, v.cpu(), xi_hat.cpu())
    pairs = None
    conventions = {**CONVENTIONS, "protocol": spec.protocol}
    if data.verification is not None:
        pair_v = embed_images(model, data.verification.images, size, device, amp)[0].cpu()
        verification = data.verification
        pairs = EmbeddedPairs(pair_v[verification.first], pair_v[verification.second], verification.is_same)
        same = verification.is_same
        conventions["verification"] = (
            f"{spec.name} verification: {int(same.sum())} positive / {int((~same).sum())} negative pairs"
        )
    protocol = spec.evaluate(tests, None, pairs)
    probe, gallery = tests[spec.probe_subset], tests[spec.gallery_subset]
    hard = probe.hard
    protocol_hard = None
    if hard is not None and bool(hard.any()):
        protocol_hard = (spec.evaluate_hard or spec.evaluate)(tests, hard, pairs)
    distances = [
        1.0 - model.ui_center.cosine(s.embeddings.to(device)).cpu() for s in (probe, gallery)
    ]  # ERS, Eq. 2's d_UI
    train_v = embed_images(model, data.train, size, device, amp)[0].cpu()
    trained_ui_cluster = ui_cluster(train_v, model.ui_center, data.train)  # Fig. 1, trained backbone
    crfiqa_trained = None
    prototypes = _full_prototypes(model.head, data.num_classes)
    if prototypes is not None:
        branch = _fit_crfiqa_branch(train_v, data.train.labels, prototypes, config.run.seed)
        with torch.no_grad():
            crfiqa_trained = torch.cat([branch(probe.embeddings), branch(gallery.embeddings)])
    quality, pair_counts = _quality(
        probe, gallery, torch.cat(distances), config.run.seed, fmrs, max_impostors,
        learned=config.loss.use_regression, crfiqa_trained=crfiqa_trained,
    )  # fmt: skip
    distractor = tests.get(spec.distractor_subset) if spec.distractor_subset else None
    return RunReport(
        dataset=spec.name,
        protocol=protocol,
        protocol_hard=protocol_hard,
        hard_probes=0 if hard is None else int(hard.sum()),
        quality=quality,
        pairs=pair_counts,
        cmc=_cmc(probe, gallery, distractor),
        index_vs_ui_distance=_scatter(probe, distances[0], config.run.seed),
        conventions=conventions,
        config=config,
        data=DataSummary(
            data.benchmark, {k: len(v) for k, v in data.tests.items()}, len(data.ui), len(data.train)
        ),
        training=training,
        ui_cluster=trained_ui_cluster,
        ui_cluster_pretrained=ui_cluster_pretrained,
    )
