"""Evaluation and calibration on a user's own labelled folders, and the synthetic calibration set.

A labelled folder is an ImageFolder tree: ``ROOT/<identity>/<image>.jpg|png`` (sub-folders below an identity
folder belong to that identity). Probe and gallery identities match by folder name; a distractor folder is
any folder of images (no identities).

The report of :func:`evaluate_folders` uses the functions of :mod:`recognizability.metrics`:
rank-1/5/10/20 and mAP of the closed-set search (``cmc``; image-level ranking, probes without a mate in the
gallery excluded and counted), TAR at FAR of every probe-gallery pair (``tar_at_far``), and the
error-versus-discard curve of the calibrated quality (``error_versus_reject``, threshold fixed once,
ISO/IEC 29794-1) with its area.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from recognizability import metrics as M
from recognizability._figures import (
    figure_title,
    integer_ticks,
    method_style,
    pyplot,
    save_figure,
    wilson_interval,
)
from recognizability.data import ReadReport, list_image_files

from .calibration import QualityCalibration, fit_calibration
from .images import UnreadableImage
from .scoring import EmbeddedImages, Scorer, embed_images

__all__ = [
    "EVALUATION_FIGURES",
    "SYNTHETIC_CALIBRATION_SIZES",
    "LabelledImages",
    "calibrate",
    "evaluate_folders",
    "labelled_folder",
    "plot_evaluation",
    "synthetic_calibration_set",
]

#: The figures of ``evaluate`` (:func:`plot_evaluation`), in the report's folder.
EVALUATION_FIGURES: tuple[str, ...] = ("cmc.png", "edc.png", "quality_histogram.png")
#: Ranks of the closed-set search report.
RANKS: tuple[int, ...] = (1, 5, 10, 20)
#: FARs of the verification report.
FARS: tuple[float, ...] = (1e-1, 1e-2, 1e-3, 1e-4)
#: Sizes of the synthetic calibration set (TinyFace layout, test split only).
SYNTHETIC_CALIBRATION_SIZES: dict[str, int] = {
    "train_identities": 1,
    "train_images": 1,
    "test_identities": 300,
    "probe_identities": 300,
    "probe_images": 3000,
    "gallery_images": 600,
    "distractor_images": 1,  # the layout needs one; calibration reads probe and gallery only
}
#: Seed of the synthetic calibration set: not the demo's training/evaluation seed (0), so it is held out.
SYNTHETIC_CALIBRATION_SEED = 1


@dataclass(frozen=True)
class LabelledImages:
    """Image paths with int labels (>= 0), and the identity name of each label."""

    paths: list[Path]
    labels: list[int]
    identities: list[str]


def labelled_folder(root: str | os.PathLike[str], identities: Sequence[str] = ()) -> LabelledImages:
    """The images of ``ROOT/<identity>/...``, labelled by identity folder.

    Args:
        root: the tree's root.
        identities: identity names already numbered (e.g. the gallery's, when reading the probes): they
            keep their labels; new names get the next labels.

    Raises:
        FileNotFoundError: ``root`` is not a folder or holds no image in an identity folder.
    """
    base = Path(root)
    if not base.is_dir():
        raise FileNotFoundError(f"expected a folder ROOT/<identity>/<images>, got {str(base)!r}")
    names = list(identities)
    number = {name: i for i, name in enumerate(names)}
    paths: list[Path] = []
    labels: list[int] = []
    for path in list_image_files(base, ReadReport("evaluate", "all", base), recursive=True):
        parts = path.relative_to(base).parts
        if len(parts) < 2:
            continue  # an image directly under the root has no identity
        if parts[0] not in number:
            number[parts[0]] = len(names)
            names.append(parts[0])
        paths.append(path)
        labels.append(number[parts[0]])
    if not paths:
        raise FileNotFoundError(f"expected images in identity folders {str(base)!r}/<identity>/, found none")
    return LabelledImages(paths, labels, names)


def _embed_labelled(
    scorer: Scorer, images: LabelledImages, batch_size: int, workers: int, progress: bool, what: str
) -> tuple[EmbeddedImages, torch.Tensor]:
    embedded = embed_images(
        scorer, images.paths, batch_size=batch_size, workers=workers, progress=progress, description=what
    )
    labels = torch.tensor(images.labels, dtype=torch.int64)[embedded.indices]
    if len(embedded.paths) == 0:
        raise ValueError(f"expected readable {what} images, got none of {len(images.paths)}")
    return embedded, labels


def calibrate(
    scorer: Scorer,
    probe: LabelledImages,
    gallery: LabelledImages,
    *,
    fmr: float = 1e-3,
    source: str,
    synthetic: bool,
    batch_size: int = 256,
    workers: int = 1,
    progress: bool = False,
) -> tuple[QualityCalibration, list[UnreadableImage]]:
    """Fit the quality calibration of ``scorer`` on labelled probe and gallery images
    (:func:`~recognizability.deploy.fit_calibration`); returns it and the skipped unreadable images."""
    p, p_labels = _embed_labelled(scorer, probe, batch_size, workers, progress, "probe")
    g, g_labels = _embed_labelled(scorer, gallery, batch_size, workers, progress, "gallery")
    calibration = fit_calibration(
        p.embeddings, p_labels, p.xi_hat, g.embeddings, g_labels, g.xi_hat,
        fmr=fmr, source=source, synthetic=synthetic,
    )  # fmt: skip
    return calibration, p.unreadable + g.unreadable


def synthetic_calibration_set(
    cache: str | os.PathLike[str] | None = None, seed: int = SYNTHETIC_CALIBRATION_SEED
) -> tuple[LabelledImages, LabelledImages, str]:
    """The synthetic calibration set: the test split of a synthetic TinyFace-layout tree (3,000 probes of 300
    identities, 600 gallery images), generated once into the cache (``$RECOGNIZABILITY_CACHE`` or
    ``~/.cache/recognizability``) and reused. Synthetic: a stand-in for a user's own faces.

    Returns:
        probe, gallery and a description of the source.
    """
    from recognizability.data import TinyFace
    from recognizability.data.synthetic import generate_cached

    root = generate_cached("tinyface", seed, SYNTHETIC_CALIBRATION_SIZES, cache)
    sets = []
    for subset in ("probe", "gallery"):
        samples = TinyFace(root, subset).samples
        sets.append(LabelledImages([s.path for s in samples], [int(s.label) for s in samples], []))
    source = f"synthetic benchmark (TinyFace layout, seed {seed}, test split; {root})"
    return sets[0], sets[1], source


def evaluate_folders(
    scorer: Scorer,
    probe_root: str | os.PathLike[str],
    gallery_root: str | os.PathLike[str],
    distractor_root: str | os.PathLike[str] | None = None,
    *,
    fmr: float | None = None,
    batch_size: int = 256,
    workers: int = 1,
    progress: bool = False,
    model: str | None = None,
) -> dict[str, Any]:
    """Evaluate ``scorer`` on the user's probe/gallery (and distractor) ImageFolder trees.

    Args:
        scorer: a model with a calibration (its quality is evaluated).
        fmr: FMR of the EDC (default: the calibration's).
        model: what the scorer is, for the report and the figures' titles (e.g. the checkpoint's path).

    Returns:
        the JSON-able report: ``identification`` (rank-k, mAP), ``verification`` (TAR@FAR), ``quality``
        (EDC, quality histogram), ``curves`` (CMC), ``data`` (counts, unreadable files) and ``conventions``.
    """
    calibration = scorer.calibration
    if calibration is None:
        raise ValueError("expected a model with a quality calibration (recognizability calibrate), got none")
    edc_fmr = calibration.fmr if fmr is None else fmr
    gallery = labelled_folder(gallery_root)
    probe = labelled_folder(probe_root, gallery.identities)
    g, g_labels = _embed_labelled(scorer, gallery, batch_size, workers, progress, "gallery")
    p, p_labels = _embed_labelled(scorer, probe, batch_size, workers, progress, "probe")
    unreadable = p.unreadable + g.unreadable
    distractor = None
    distractor_count = 0
    if distractor_root is not None:
        folder = Path(distractor_root)
        paths = list_image_files(folder, ReadReport("evaluate", "all", folder), recursive=True)
        d = embed_images(
            scorer,
            paths,
            batch_size=batch_size,
            workers=workers,
            progress=progress,
            description="distractors",
        )
        unreadable += d.unreadable
        distractor_count = len(d.paths)
        distractor = d.embeddings if distractor_count else None
    size = len(g.paths) + distractor_count
    ranks = tuple(r for r in RANKS if r <= size)
    search = M.cmc(
        p.embeddings, p_labels, g.embeddings, g_labels, ranks,
        distractor_features=distractor, missing_probes="exclude",
    )  # fmt: skip
    curve_ranks = tuple(range(1, min(20, size) + 1))
    curve = M.cmc(
        p.embeddings, p_labels, g.embeddings, g_labels, curve_ranks,
        distractor_features=distractor, missing_probes="exclude",
    )  # fmt: skip
    pv = torch.nn.functional.normalize(p.embeddings.double(), dim=1)
    gv = torch.nn.functional.normalize(g.embeddings.double(), dim=1)
    scores = pv @ gv.T
    same = p_labels[:, None] == g_labels[None, :]
    verification = M.tar_at_far(scores[same], scores[~same], list(FARS))
    probe_q = calibration.quality(p.xi_hat)
    gallery_q = calibration.quality(g.xi_hat)
    pair_q = torch.minimum(torch.from_numpy(probe_q)[:, None], torch.from_numpy(gallery_q)[None, :])
    edc = M.error_versus_reject(
        scores.flatten(), same.flatten(), pair_q.flatten().double(), edc_fmr, threshold="fixed"
    )
    histogram = np.bincount(np.concatenate([probe_q, gallery_q]), minlength=101)
    return {
        "identification": {
            **{f"rank_{r}": float(rate) for r, rate in zip(ranks, search.rates.tolist(), strict=True)},
            "mAP": float(search.mean_average_precision),
            "probes": int(search.num_probes),
            "probes_without_mate_excluded": int(search.num_excluded_probes),
        },
        "verification": {
            f"tar_at_far_{far:g}": {"tar": float(t), "threshold": float(th), "realised_far": float(rf)}
            for far, t, th, rf in zip(
                FARS,
                verification.tar.tolist(),
                verification.threshold.tolist(),
                verification.realised_far.tolist(),
                strict=True,
            )
        },
        "quality": {
            "edc": {
                "fmr": edc_fmr,
                "discard_fractions": edc.realised_reject_fractions.tolist(),
                "fnmr": edc.fnmr.tolist(),
                "threshold": float(edc.thresholds[0]),
                "pauc": edc.edc_pauc,
                "pauc_minus_best": edc.edc_pauc_minus_best,
                "discard_limit": edc.discard_limit,
                "mated": int(same.sum()),
                "non_mated": int((~same).sum()),
            },
            "histogram": histogram.tolist(),
            "mean_probe_quality": float(probe_q.mean()),
            "calibration": {
                "source": calibration.source,
                "synthetic": calibration.synthetic,
                "fmr": calibration.fmr,
            },
        },
        "curves": {"cmc": {"ranks": list(curve_ranks), "rates": curve.rates.tolist()}},
        "data": {
            "probe": str(probe_root),
            "gallery": str(gallery_root),
            "distractors": None if distractor_root is None else str(distractor_root),
            "model": model,
            "probe_images": len(p.paths),
            "gallery_images": len(g.paths),
            "distractor_images": distractor_count,
            "identities": len(gallery.identities),
            "unreadable": [dataclasses.asdict(u) for u in unreadable],
        },
        "conventions": {
            "identification": "closed-set search, image-level ranking over gallery + distractors, cosine of "
            "L2-normalised embeddings; probes whose identity has no gallery image are excluded",
            "verification": "every probe-gallery pair: mated = same identity folder name; TAR at the "
            "library's FAR rule (realised FAR <= target)",
            "edc": "ISO/IEC 29794-1 error-versus-discard: pair quality = min of the calibrated qualities; "
            "comparison threshold fixed once at the FMR on all non-mated pairs; lowest-quality mated pairs "
            "discarded first",
            "quality": "calibrated quality 0-100 (see the calibration's source; synthetic when it says so)",
        },
    }


def _evaluation_title(report: dict[str, Any], what: str, n: str, width: float) -> str:
    data = report["data"]
    synthetic = " (synthetic calibration)" if report["quality"]["calibration"]["synthetic"] else ""
    folders = f"probe {Path(data['probe']).name}/, gallery {Path(data['gallery']).name}/"
    if data.get("distractors"):
        folders += f" + {data['distractor_images']} distractors"
    model = data.get("model") or "model not recorded"
    return figure_title(what, dataset=folders, model=f"{model}{synthetic}", n=n, width=width)


def plot_evaluation(
    report: dict[str, Any], out_dir: str | os.PathLike[str], *, vector: Sequence[str] = ()
) -> list[Path]:
    """Draw ``cmc.png``, ``edc.png`` and ``quality_histogram.png`` from an evaluation report, in the package's
    one figure style (:mod:`recognizability._figures`): titles naming the folders, the model and n, integer
    rank ticks on a 0..1 axis with the 95 % Wilson band, the calibrated quality in the learned index's colour.
    ``vector``: "pdf" and/or "svg" copies beside each PNG."""
    plt = pyplot()
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    width = 6.4
    cmc = report["curves"]["cmc"]
    probes = int(report["identification"]["probes"])
    style = method_style("calibrated_quality")
    fig, ax = plt.subplots(figsize=(width, 4.6), layout="constrained")
    lower, upper = wilson_interval(cmc["rates"], probes)
    ax.fill_between(cmc["ranks"], lower, upper, color="#000000", alpha=0.15, linewidth=0)
    ax.plot(cmc["ranks"], cmc["rates"], marker="o", markersize=4, color="#000000",
            label=f"rank-1 {cmc['rates'][0]:.3f}; band: 95 % Wilson interval")  # fmt: skip
    ax.set_xlabel("rank")
    ax.set_ylabel("identification rate")
    ax.set_ylim(0.0, 1.0)
    ax.set_xlim(min(cmc["ranks"]) - 0.5, max(cmc["ranks"]) + 0.5)
    integer_ticks(ax.xaxis)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(_evaluation_title(report, "CMC (closed-set identification)", f"n = {probes} probes", width),
                 fontsize=9)  # fmt: skip
    written += save_figure(fig, folder / EVALUATION_FIGURES[0], vector=vector)

    edc = report["quality"]["edc"]
    fig, ax = plt.subplots(figsize=(width, 4.6), layout="constrained")
    ax.plot(edc["discard_fractions"], edc["fnmr"], drawstyle="steps-post", color=style.color,
            label=f"{style.label} (pAUC {edc['pauc']:.4f})")  # fmt: skip
    ax.set_xlabel("fraction of mated comparisons discarded (lowest quality first)")
    ax.set_ylabel(f"FNMR at FMR {edc['fmr']:g} (threshold fixed once)")
    ax.set_ylim(bottom=0.0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    pairs = f"n = {edc.get('mated', '?')} mated and {edc.get('non_mated', '?')} non-mated comparisons"
    fig.suptitle(_evaluation_title(report, "error versus discard (ISO/IEC 29794-1)", pairs, width),
                 fontsize=9)  # fmt: skip
    written += save_figure(fig, folder / EVALUATION_FIGURES[1], vector=vector)

    histogram = report["quality"]["histogram"]
    images = int(sum(histogram))
    fig, ax = plt.subplots(figsize=(width, 4.2), layout="constrained")
    ax.bar(range(len(histogram)), histogram, width=1.0, color=style.color)
    ax.set_xlabel("calibrated quality (0-100)")
    ax.set_ylabel("images")
    ax.set_xlim(-0.5, 100.5)
    fig.suptitle(_evaluation_title(report, "quality of the probe and gallery images",
                                   f"n = {images} images", width), fontsize=9)  # fmt: skip
    written += save_figure(fig, folder / EVALUATION_FIGURES[2], vector=vector)
    return written
