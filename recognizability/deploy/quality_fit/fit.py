"""A quality score for a recognizer you already run: ``recognizability fit-quality`` and its Python API.

:func:`fit_quality` takes a frozen backbone (a registry name with a shipped tag or a checkpoint file), a
labelled face folder ``FOLDER/<identity>/<images>`` and a UI set (a folder of unrecognisable faces, or the
labelled faces degraded beyond recognition) and writes a quality model file
(:mod:`~recognizability.deploy.quality_file`) that ``quality``, ``export``, ``calibrate`` and ``evaluate``
take as ``--checkpoint``, with its calibration beside it (``<stem>.calibration.json``). The recognizer is
never changed. The steps:

1. every argument and input is checked (:func:`check_face_folder`, :func:`check_ui_folder`,
   :func:`load_frozen_backbone`, the identity split and the calibration's comparisons) before anything is
   written;
2. one embedding pass over the images, cached (:func:`~recognizability.deploy.quality_fit.embed_faces`);
3. :func:`fit_quality_head` on the cached features: identities split into fitted and held-out ones, targets
   from leave-one-out class prototypes and the UI centre, the regression module fitted, and the quality
   score calibrated on the held-out identities (:func:`~recognizability.deploy.fit_calibration`);
4. the model file and its calibration are written atomically.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from recognizability import metrics as M
from recognizability._files import check_new_output, write_json
from recognizability.backbones import (
    available_pretrained,
    canonical_backbone_name,
    create_backbone,
    load_pretrained,
    pretrained_weights,
)
from recognizability.data import ReadReport, is_image_file, is_synthetic_tree, list_image_files
from recognizability.data.synthetic import cache_dir
from recognizability.nn import PerceptibilityRegression

from ..calibration import QualityCalibration, default_calibration_path, fit_calibration
from ..evaluate import LabelledImages, labelled_folder
from ..model import Preprocessing, QualityModel
from ..quality_file import write_quality_model_file
from .features import FaceFeatures, embed_faces
from .fitting import fit_regression
from .settings import QualityFitSettings, RegressionInput
from .targets import quality_targets, ui_center_of

__all__ = [
    "FrozenBackbone",
    "QualityFitResult",
    "QualityHead",
    "check_face_folder",
    "check_ui_folder",
    "fit_quality",
    "fit_quality_head",
    "load_frozen_backbone",
    "split_identities",
]

#: Identity names shown in an error before "...".
_SHOWN = 8


def _names(items: Sequence[str]) -> str:
    shown = ", ".join(repr(x) for x in items[:_SHOWN])
    return f"[{shown}{', ...' if len(items) > _SHOWN else ''}]"


def check_face_folder(
    root: str | os.PathLike[str], *, skip_small_identities: bool = False, option: str = "--faces"
) -> tuple[LabelledImages, list[str]]:
    """The labelled faces of ``ROOT/<identity>/<images>``, checked for a fit.

    Every identity must hold at least two images (a class prototype without the image itself); with
    ``skip_small_identities`` those that do not are left out (and returned) instead. At least two identities
    must remain.

    Returns:
        (the faces, the identities left out).

    Raises:
        FileNotFoundError: ``root`` is not a folder or holds no image in an identity folder.
        ValueError: one identity only, or identities with one image (naming them).
    """
    try:
        faces = labelled_folder(root)
    except FileNotFoundError as error:
        raise FileNotFoundError(f"{option}: {error}") from None
    counts = Counter(faces.labels)
    small = [faces.identities[label] for label, count in sorted(counts.items()) if count < 2]
    if small and not skip_small_identities:
        raise ValueError(
            f"expected at least 2 images in every identity folder of {option} {str(root)!r} (a class "
            f"prototype without the image itself), got {len(small)} identities with one image: "
            f"{_names(small)}; move them out or pass --skip-small-identities"
        )
    keep = [i for i, label in enumerate(faces.labels) if counts[label] >= 2]
    kept_labels = sorted({faces.labels[i] for i in keep})
    if len(kept_labels) < 2:
        found = [faces.identities[label] for label in kept_labels] or [faces.identities[0]]
        raise ValueError(
            f"expected at least 2 identity folders with 2 or more images each in {option} {str(root)!r} "
            f"(the index compares a face with the nearest other identity), got {len(kept_labels)}: "
            f"{_names(found)}"
        )
    number = {label: k for k, label in enumerate(kept_labels)}
    checked = LabelledImages(
        [faces.paths[i] for i in keep],
        [number[faces.labels[i]] for i in keep],
        [faces.identities[label] for label in kept_labels],
    )
    return checked, small


def check_ui_folder(root: str | os.PathLike[str], option: str = "--ui") -> list[Path]:
    """The image files under a UI folder (walked recursively).

    Raises:
        FileNotFoundError: not a folder.
        ValueError: it holds no image file (naming what it holds instead).
    """
    folder = Path(root)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"expected {option} to be a folder of unrecognisable face images, got {str(root)!r}"
        )
    report = ReadReport("fit-quality", "ui", folder)
    images = list_image_files(folder, report, recursive=True)
    if not images:
        left_out = sum(report.excluded.values())
        examples = [str(p) for paths in report.excluded_examples.values() for p in paths][:3]
        raise ValueError(
            f"expected {option} {str(root)!r} to hold images of unrecognisable faces, got no image file"
            + (f" ({left_out} other file(s), e.g. {examples})" if left_out else " (it is empty)")
        )
    return images


@dataclass(frozen=True)
class FrozenBackbone:
    """A recognizer loaded for a quality fit.

    Attributes:
        module: the backbone (eval mode, no gradients asked).
        name: its registry name. architecture: the factory arguments it was built with.
        source: the shipped tag or the checkpoint file. sha256: digest of its weights (the tag's recorded
        digest, or the file's).
    """

    module: nn.Module
    name: str
    architecture: dict[str, Any]
    source: str
    sha256: str


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_frozen_backbone(
    name: str,
    pretrained: str | os.PathLike[str],
    *,
    input_size: int | None = None,
    embedding_dim: int | None = None,
) -> FrozenBackbone:
    """Build backbone ``name`` and load its weights: a tag shipped with the package
    (:func:`~recognizability.backbones.available_pretrained`) or a checkpoint file
    (:func:`~recognizability.backbones.load_pretrained`: arcface_torch, AdaFace or a plain state dict;
    strict).

    Args:
        name: a registry name or alias (``--backbone``).
        pretrained: a shipped tag or a file (``--pretrained``).
        input_size: S for a square S x S input (backbones that take one: ``small_vlr_net``).
        embedding_dim: D, when the checkpoint's differs from the factory's default.

    Raises:
        ValueError, TypeError: an unknown backbone or tag, arguments the backbone does not take, or a
            checkpoint of another architecture (the message names the file, the keys that do not fit and the
            family the checkpoint looks like).
        FileNotFoundError: ``pretrained`` is neither a tag nor a file.
    """
    key = canonical_backbone_name(name, "--backbone")
    extra: dict[str, Any] = {}
    if input_size is not None:
        extra["input_size"] = (input_size, input_size)
    if embedding_dim is not None:
        extra["embedding_dim"] = embedding_dim
    tags = available_pretrained().get(key, [])
    if isinstance(pretrained, str) and pretrained in tags:
        weights = pretrained_weights(key, pretrained)
        backbone = create_backbone(key, pretrained=pretrained, **extra)
        return FrozenBackbone(
            backbone.eval(), key, {**weights.architecture, **extra}, pretrained, weights.sha256
        )
    path = Path(pretrained)
    if not path.is_file():
        raise FileNotFoundError(
            f"expected --pretrained to be a tag shipped for {key!r} ({tags or 'none'}) or a checkpoint file, "
            f"got {str(pretrained)!r} (no such file)"
        )
    backbone = create_backbone(key, **extra)
    try:
        load_pretrained(backbone, path)
    except ValueError as error:  # CheckpointError: another architecture, unreadable, non-finite weights
        raise ValueError(
            f"expected --pretrained {str(path)!r} to hold weights of --backbone {key}"
            f"{f' {extra}' if extra else ''}: {error}"
        ) from None
    return FrozenBackbone(backbone.eval(), key, extra, str(path), _file_sha256(path))


def split_identities(identities: int, share: float, seed: int) -> Tensor:
    """Which identities are held out for calibration: ``round(share * identities)`` of them (at least 2 when
    ``share > 0``), drawn with a generator seeded ``seed``; a bool ``(identities,)`` mask."""
    held = torch.zeros(identities, dtype=torch.bool)
    if share <= 0:
        return held
    count = max(2, round(share * identities))
    order = torch.randperm(identities, generator=torch.Generator().manual_seed(seed))
    held[order[:count]] = True
    return held


def _reference_halves(labels: Tensor, seed: int) -> Tensor:
    """For the calibration faces: True for the gallery half of each identity (``ceil(n / 2)`` of its ``n``
    faces, drawn at random), False for its probes."""
    keys = torch.rand(labels.numel(), generator=torch.Generator().manual_seed(seed + 1))
    order = torch.argsort(keys)
    order = order[torch.argsort(labels[order], stable=True)]
    sorted_labels = labels[order]
    counts = torch.bincount(labels)
    first = torch.cumsum(counts, 0) - counts
    rank = torch.arange(labels.numel()) - first[sorted_labels]
    gallery = torch.zeros(labels.numel(), dtype=torch.bool)
    gallery[order] = rank < (counts[sorted_labels] + 1) // 2
    return gallery


def _check_calibration_size(
    counts: Sequence[int], held: Tensor, fitted: int, settings: QualityFitSettings, option: str
) -> None:
    """Refuse, before any work, a split that leaves fewer than 2 identities to fit on or a calibration set
    too small for its FMR (``counts``: images per identity; ``held``: the held-out identities)."""
    if fitted < 2:
        raise ValueError(
            f"expected at least 2 identities of {option} to fit on after holding out "
            f"{int(held.sum())} for calibration (--calibration-share {settings.calibration_share}), got "
            f"{fitted}"
        )
    if not settings.calibrated:
        return
    probes = sum(counts[i] // 2 for i in torch.nonzero(held).squeeze(1).tolist())
    non_mated = probes * (int(held.sum()) - 1)
    needed = settings.needed_non_mated()
    if non_mated < needed:
        raise ValueError(
            f"expected at least 1/fmr = {needed} non-mated comparisons in the calibration set to set a "
            f"threshold at FMR {settings.fmr:g}, got {non_mated} ({int(held.sum())} held-out identities of "
            f"{option}, {probes} probes); pass a larger --fmr or --calibration-share, or use more identities"
        )


@dataclass
class QualityHead:
    """A fitted quality head for a frozen recognizer.

    Attributes:
        regression: the :class:`~recognizability.nn.PerceptibilityRegression` (eval mode, reading raw inputs).
        regression_input: ``"feature_map"`` or ``"embedding"``.
        calibration: the quality calibration on the held-out identities, or None.
        held_out: ``(identities,)`` bool: the identities held out of the fit.
        report: what the fit measured (JSON-able).
    """

    regression: PerceptibilityRegression
    regression_input: RegressionInput
    calibration: QualityCalibration | None
    held_out: Tensor
    report: dict[str, Any] = field(default_factory=dict)


def _inputs(features: FaceFeatures, rows: Tensor, regression_input: RegressionInput) -> Tensor:
    if regression_input == "feature_map":
        return features.feature_maps[rows].flatten(1)
    return features.embeddings[rows]


@torch.no_grad()
def _predict(module: nn.Module, inputs: Tensor, rows_per_chunk: int = 8192) -> Tensor:
    return (
        torch.cat([module(chunk.float()) for chunk in torch.split(inputs, rows_per_chunk)])
        if len(inputs)
        else (torch.zeros(0))
    )


def fit_quality_head(
    features: FaceFeatures,
    settings: QualityFitSettings,
    ui_center: Tensor | None,
    *,
    source: str = "labelled faces",
    synthetic: bool = False,
) -> QualityHead:
    """Fit a quality head on cached features (no image is read).

    Args:
        features: what :func:`~recognizability.deploy.quality_fit.embed_faces` returned.
        settings: the fit's choices.
        ui_center: ``(D,)`` the UI centre (needed by the index target).
        source: the faces' description, stored in the calibration. synthetic: whether they are synthetic.

    Returns:
        :class:`QualityHead`.

    Raises:
        ValueError: fewer than 2 identities to fit on, or a calibration set too small for ``settings.fmr``.
    """
    labels = features.labels
    counts = torch.bincount(labels, minlength=len(features.identities))
    usable = counts >= 2  # an identity whose other images were all unreadable has no prototype
    held = split_identities(len(features.identities), settings.calibration_share, settings.seed) & usable
    _check_calibration_size(
        counts.tolist(), held, int((usable & ~held).sum()), settings, "the readable faces"
    )
    fit_rows = torch.nonzero(usable[labels] & ~held[labels]).squeeze(1)
    began = time.perf_counter()
    targets = quality_targets(features.embeddings[fit_rows], labels[fit_rows], settings.target, ui_center)
    fitted = fit_regression(_inputs(features, fit_rows, settings.regression_input), targets, settings)
    seconds = time.perf_counter() - began
    module = fitted.module
    quantiles = torch.quantile(targets.double(), torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64))
    report: dict[str, Any] = {
        "identities": {
            "fitted": int((usable & ~held).sum()),
            "held_out": int(held.sum()),
            "left_out_unreadable": int((~usable).sum()),
        },
        "faces": {"fitted": int(fit_rows.numel()), "held_out": int(held[labels].sum())},
        "target": {"name": settings.target, "quantiles_10_50_90": [float(q) for q in quantiles]},
        "fit": {
            "seconds": seconds,
            "loss_first_tenth": fitted.loss_first,
            "loss_last_tenth": fitted.loss_last,
        },
    }
    calibration = None
    if settings.calibrated:
        cal_rows = torch.nonzero(held[labels]).squeeze(1)
        cal_labels = labels[cal_rows]
        xi_hat = _predict(module, _inputs(features, cal_rows, settings.regression_input))
        held_targets = quality_targets(features.embeddings[cal_rows], cal_labels, settings.target, ui_center)
        report["held_out_spearman_with_target"] = M.spearman_correlation(xi_hat, held_targets)
        gallery = _reference_halves(cal_labels, settings.seed)
        v = features.embeddings[cal_rows]
        probe = ~gallery
        calibration = fit_calibration(
            v[probe],
            cal_labels[probe],
            xi_hat[probe],
            v[gallery],
            cal_labels[gallery],
            xi_hat[gallery],
            fmr=settings.fmr,
            synthetic=synthetic,
            source=f"{source}: {int(held.sum())} identities held out of the fit ({cal_rows.numel()} images)",
        )
        report["calibration"] = {
            "mated": calibration.mated,
            "non_mated": calibration.non_mated,
            "fmr": calibration.fmr,
            "synthetic": synthetic,
        }
    return QualityHead(module, settings.regression_input, calibration, held, report)


@dataclass(frozen=True)
class QualityFitResult:
    """What :func:`fit_quality` wrote and measured.

    Attributes:
        model: the quality model (with its calibration), as ``load_quality_model`` reads it back.
        path: the model file. calibration_path: its calibration (None without one).
        report: the fit's figures (also stored in the file).
        unreadable: the images skipped.
    """

    model: QualityModel
    path: Path
    calibration_path: Path | None
    report: dict[str, Any]
    unreadable: list[Any]


def _default_cache() -> Path:
    return cache_dir() / "fit-quality"


def _synthetic(folder: Path) -> bool:
    return any(is_synthetic_tree(p) for p in (folder.absolute(), *folder.absolute().parents))


def fit_quality(
    backbone: str,
    pretrained: str | os.PathLike[str],
    faces: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    ui: str | os.PathLike[str] | None = None,
    pseudo_ui: bool = False,
    settings: QualityFitSettings | None = None,
    input_size: int | None = None,
    embedding_dim: int | None = None,
    skip_small_identities: bool = False,
    cache: str | os.PathLike[str] | bool = True,
    overwrite: bool = False,
    device: str | torch.device = "cpu",
    batch_size: int = 256,
    workers: int = 1,
    progress: bool = False,
) -> QualityFitResult:
    """Fit a quality score to a frozen recognizer and write it as a ``--checkpoint`` of the commands.

    Args:
        backbone, pretrained, input_size, embedding_dim: the recognizer (:func:`load_frozen_backbone`).
        faces: the labelled faces ``FOLDER/<identity>/<images>`` (:func:`check_face_folder`).
        out: the quality model file; its calibration goes beside it (``<stem>.calibration.json``).
        ui: a folder of unrecognisable faces (:func:`check_ui_folder`) ...
        pseudo_ui: ... or True: the labelled faces degraded beyond recognition instead (exactly one of
            the two for ``settings.target == "index"``; neither for the certainty ratio, which reads no UI
            centre).
        settings: the fit's choices (default :class:`QualityFitSettings`).
        skip_small_identities: leave out identities with one image instead of refusing them.
        cache: the feature cache's root folder; True: ``$RECOGNIZABILITY_CACHE/fit-quality``; False: none.
        overwrite: replace an existing ``out`` (and its calibration file).
        device, batch_size, workers, progress: the embedding pass.

    Returns:
        :class:`QualityFitResult`.

    Raises:
        ValueError, TypeError, FileNotFoundError, FileExistsError: a bad argument or input, named; raised
            before anything is written.
    """
    settings = QualityFitSettings() if settings is None else settings
    if not isinstance(settings, QualityFitSettings):
        raise TypeError(f"expected settings to be a QualityFitSettings, got {type(settings).__name__}")
    needs_ui = settings.target == "index"
    if needs_ui and (ui is None) == (not pseudo_ui):
        got = "both" if ui is not None else "neither"
        raise ValueError(
            "expected exactly one UI set for --target index (d_UI of Eq. 2): --ui FOLDER or --pseudo-ui, "
            f"got {got}"
        )
    if not needs_ui and (ui is not None or pseudo_ui):
        given = f"--ui {str(ui)!r}" if ui is not None else "--pseudo-ui"
        raise ValueError(
            f"expected no UI set with --target {settings.target} (it reads no UI centre), got {given}; pass "
            f"--target index to use it"
        )
    inputs = [str(faces), *([str(ui)] if ui is not None else []), str(pretrained)]
    out_path = check_new_output(out, overwrite=overwrite, inputs=inputs, reads=is_image_file)
    calibration_out = default_calibration_path(out_path) if settings.calibrated else None
    if calibration_out is not None:
        flag = "the calibration beside --out"
        check_new_output(calibration_out, overwrite=overwrite, flag=flag, inputs=inputs, reads=is_image_file)
    elif (beside := default_calibration_path(out_path)).exists():
        raise FileExistsError(
            f"expected no {str(beside)!r} beside --out with --calibration-share 0: "
            f"the commands would read it as this model's calibration; move it away"
        )
    face_set, left_out = check_face_folder(faces, skip_small_identities=skip_small_identities)
    ui_paths = check_ui_folder(ui) if ui is not None else None
    held = split_identities(len(face_set.identities), settings.calibration_share, settings.seed)
    counts = Counter(face_set.labels)
    per_identity = [counts[i] for i in range(len(face_set.identities))]
    _check_calibration_size(per_identity, held, int((~held).sum()), settings, "--faces")
    frozen = load_frozen_backbone(backbone, pretrained, input_size=input_size, embedding_dim=embedding_dim)
    frozen.module.to(device)  # the embedding pass runs there, and so does the model returned
    size = tuple(frozen.module.input_size)  # type: ignore[arg-type]
    if size[0] != size[1]:
        raise ValueError(f"expected a backbone with a square input for deployment, got input_size {size}")
    preprocessing = Preprocessing(int(size[0]), frozen.module.input_channel_order, frozen.name)  # type: ignore[arg-type]
    cache_root = _default_cache() if cache is True else (None if cache is False else Path(cache))
    began = time.perf_counter()
    features = embed_faces(
        frozen.module, preprocessing, face_set.paths, face_set.labels, face_set.identities,
        backbone_digest=f"{frozen.sha256}:{sorted(frozen.architecture.items())}", ui=ui_paths,
        pseudo_ui=(settings.pseudo_ui_size, settings.pseudo_ui_images) if pseudo_ui else None,
        cache=cache_root, device=device, batch_size=batch_size, workers=workers, progress=progress,
    )  # fmt: skip
    embedding_seconds = time.perf_counter() - began
    ui_embeddings = features.ui_embeddings if ui is not None else features.pseudo_ui_embeddings
    if needs_ui and (ui_embeddings is None or ui_embeddings.shape[0] == 0):
        what = f"--ui {str(ui)!r}" if ui is not None else "--pseudo-ui"
        raise ValueError(f"expected readable UI images from {what}, got none (see the unreadable images)")
    synthetic = _synthetic(Path(faces))
    center = ui_center_of(ui_embeddings) if needs_ui and ui_embeddings is not None else None
    head = fit_quality_head(features, settings, center, source=f"--faces {faces}", synthetic=synthetic)
    report = {
        **head.report,
        "embedding_pass": {"seconds": embedding_seconds, "images_read": features.images_read,
                           "images": len(face_set.paths) + len(ui_paths or []),
                           "cache": None if features.cache is None else str(features.cache)},
        "ui": None if not needs_ui or ui_embeddings is None else {
            "source": str(ui) if ui is not None else "pseudo", "images": int(ui_embeddings.shape[0]),
            "pseudo_ui_size": settings.pseudo_ui_size if pseudo_ui else None,
        },
        "faces_folder": str(faces),
        "identities_left_out_small": left_out,
        "unreadable": len(features.unreadable),
        "synthetic": synthetic,
    }  # fmt: skip
    module = frozen.module
    write_quality_model_file(
        out_path, backbone=frozen.name, architecture=frozen.architecture, backbone_state=module.state_dict(),
        backbone_source=frozen.source, backbone_sha256=frozen.sha256, regression_input=head.regression_input,
        regression_state=head.regression.state_dict(), preprocessing=preprocessing.to_dict(),
        settings=settings.resolved().to_dict(), report=report,
    )  # fmt: skip
    if calibration_out is not None and head.calibration is not None:
        write_json(calibration_out, head.calibration.to_dict())
    model = QualityModel(
        module, head.regression, preprocessing, head.calibration, regression_input=head.regression_input
    ).to(device)
    return QualityFitResult(model, out_path, calibration_out, report, features.unreadable)
