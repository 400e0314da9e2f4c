"""``recognizability figures``: the paper's explanatory figures for a trained run, on any folder of faces.

    recognizability figures --checkpoint runs/tinyface/full/last.pt --compare runs/tinyface/arcface/last.pt \\
        --out figures/                                   # the run's test probes
    recognizability figures --checkpoint last.pt --faces my_faces/ --out figures/ --vector pdf

- ``quality_extremes.png`` (paper Fig. 6): the faces with the lowest and the highest learned index xi_hat,
  beside the faces with the lowest ERS, MagFace norm and CR-FIQA ratio; every score min-max normalised to
  [0, 1] over the faces scored, as in the paper;
- ``activation_maps.png`` (paper Fig. 5): faces from the lowest to the highest learned index, with the
  Grad-CAM map of the recognition module ("ArcFace": the ``--compare`` run, a run of the margin head alone,
  or else the same run's) and of the perceptibility attention module
  (:mod:`recognizability.deploy.explain`).

A module the run did not train is not drawn: without L_L1 there is no learned index (the faces are then
ordered by ERS), without L_MSE no attention map. Unreadable images are skipped and listed. No file is
replaced unless ``--overwrite``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from recognizability._figures import (
    add_vector_option,
    check_vector_formats,
    figure_files,
    figure_title,
    method_style,
    pyplot,
    save_figure,
)
from recognizability._files import check_new_output
from recognizability._validation import check_positive_int
from recognizability.backbones import channel_order_for, normalize_for
from recognizability.training import MethodModules, TrainingConfig
from recognizability.training.config import get_benchmark, model_label

from .evaluate import synthetic_calibration_set
from .explain import activation_maps, quality_scores
from .images import (
    UnreadableImage,
    add_image_batch_options,
    check_image_batch_options,
    collect_images,
    image_batches,
    report_unreadable,
    require_image_decoder,
)
from .model import Preprocessing, load_trained_model

__all__ = [
    "FIGURE_NAMES",
    "ScoredFaces",
    "add_figures_command",
    "plot_activation_maps",
    "plot_quality_extremes",
    "score_faces",
]

#: The files of ``recognizability figures`` (PNG; a vector copy beside each with ``--vector``).
FIGURE_NAMES: tuple[str, ...] = ("quality_extremes.png", "activation_maps.png")
#: The scores of Fig. 6's rows after the learned index, in the paper's order of its right-hand panel.
_BASELINES: tuple[str, ...] = ("ers", "magface_norm", "crfiqa_nearest")


@dataclasses.dataclass
class ScoredFaces:
    """The readable faces of a list of paths with every quality score of :func:`explain.quality_scores`.

    Attributes:
        paths: the N readable faces, in input order.
        scores: score name -> (N,) float32 (higher = better).
        unreadable: the skipped inputs and why.
    """

    paths: list[Path]
    scores: dict[str, Tensor]
    unreadable: list[UnreadableImage]


def _preprocessing(model: MethodModules, config: TrainingConfig) -> Preprocessing:
    return Preprocessing(config.model.input_size, channel_order_for(model.backbone), config.model.backbone)


def score_faces(
    model: MethodModules,
    config: TrainingConfig,
    paths: Sequence[Path],
    *,
    device: torch.device,
    batch_size: int = 256,
    workers: int = 1,
) -> ScoredFaces:
    """Decode, resize (as ``recognizability quality`` does) and score every face with the run's modules."""
    found: list[int] = []
    parts: dict[str, list[Tensor]] = {}
    unreadable: list[UnreadableImage] = []
    for batch in image_batches(paths, _preprocessing(model, config), batch_size, workers):
        unreadable += batch.unreadable
        if not batch.indices:
            continue
        x = normalize_for(model.backbone, batch.images.to(device).float())
        for name, values in quality_scores(model, x).items():
            parts.setdefault(name, []).append(values)
        found += batch.indices
    if not found:
        raise ValueError(f"expected readable face images, got none of {len(paths)}")
    scores = {name: torch.cat(values) for name, values in parts.items()}
    if not config.loss.use_regression:  # its output is no index estimate (no plot of an untrained module)
        del scores["learned_index"]
    return ScoredFaces([paths[i] for i in found], scores, unreadable)


def _faces(paths: Sequence[Path], preprocessing: Preprocessing) -> Tensor:
    """uint8 (n, 3, S, S): the faces of ``paths`` as the network sees them (resized, before normalisation)."""
    batches = [b.images for b in image_batches(list(paths), preprocessing, len(paths), 0)]
    return torch.cat(batches)


def _normalised(values: Tensor) -> Tensor:
    low, high = values.min(), values.max()
    return (values - low) / (high - low) if bool(high > low) else torch.zeros_like(values)


def _image(face: Tensor) -> Any:
    return face.permute(1, 2, 0).numpy()


def plot_quality_extremes(
    faces: ScoredFaces,
    preprocessing: Preprocessing,
    path: Path,
    *,
    dataset: str,
    model: str,
    count: int = 8,
    vector: Sequence[str] = (),
) -> list[Path]:
    """The paper's Fig. 6: rows of the ``count`` faces with the lowest and the highest learned index, then the
    lowest of each other score; each face with its score min-max normalised over all the faces."""
    plt = pyplot()
    rows: list[tuple[str, str, Tensor]] = []  # (score, row label, face indices)
    if "learned_index" in faces.scores:
        order = torch.argsort(faces.scores["learned_index"], stable=True)
        rows.append(("learned_index", "lowest", order[:count]))
        rows.append(("learned_index", "highest", order.flip(0)[:count]))
    for name in _BASELINES:
        rows.append((name, "lowest", torch.argsort(faces.scores[name], stable=True)[:count]))
    count = min(count, len(faces.paths))
    wanted = sorted({int(i) for _, _, indices in rows for i in indices})
    pictures = dict(zip(wanted, _faces([faces.paths[i] for i in wanted], preprocessing), strict=True))
    normalised = {name: _normalised(values) for name, values in faces.scores.items()}
    fig, axes = plt.subplots(
        len(rows), count, figsize=(1.0 * count + 2.2, 1.25 * len(rows) + 1.0), squeeze=False,
        layout="constrained",
    )  # fmt: skip
    for (name, which, indices), row in zip(rows, axes, strict=True):
        style = method_style(name)
        label = style.label
        for column, ax in enumerate(row):
            ax.set_xticks([])
            ax.set_yticks([])
            if column >= len(indices):
                ax.set_visible(False)
                continue
            index = int(indices[column])
            ax.imshow(_image(pictures[index]), interpolation="nearest")
            ax.set_xlabel(f"{float(normalised[name][index]):.2f}", fontsize=7, labelpad=1)
            for spine in ax.spines.values():
                spine.set_edgecolor(style.color)
                spine.set_linewidth(2.0)
        row[0].set_ylabel(f"{label}\n{which}", fontsize=7, color=style.color, rotation=0, ha="right",
                          va="center", labelpad=6)  # fmt: skip
    title = figure_title(
        "faces by quality (paper Fig. 6): lowest and highest learned index, lowest of ERS, MagFace and "
        "CR-FIQA (scores min-max normalised over the faces, 0 = lowest)",
        dataset=dataset, model=model, n=f"n = {len(faces.paths)} faces", width=1.0 * count + 2.2,
    )  # fmt: skip
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path, vector=vector)


def plot_activation_maps(
    faces: Tensor,
    maps: Sequence[tuple[str, str, Tensor]],
    captions: Sequence[str],
    path: Path,
    *,
    dataset: str,
    model: str,
    n: int,
    vector: Sequence[str] = (),
) -> list[Path]:
    """The paper's Fig. 5: a row of faces, then one row per branch with its Grad-CAM map over each face.

    Args:
        faces: uint8 (k, 3, S, S).
        maps: (style name, row label, (k, S, S) maps in [0, 1]) per row.
        captions: one caption per face (under the face row).
    """
    plt = pyplot()
    k = faces.shape[0]
    fig, axes = plt.subplots(
        1 + len(maps), k, figsize=(1.15 * k + 2.0, 1.35 * (1 + len(maps)) + 1.0), squeeze=False,
        layout="constrained",
    )  # fmt: skip
    for column in range(k):
        picture = _image(faces[column])
        axes[0][column].imshow(picture, interpolation="nearest")
        axes[0][column].set_xlabel(captions[column], fontsize=7, labelpad=1)
        for row, (_, _, values) in enumerate(maps, start=1):
            axes[row][column].imshow(picture, interpolation="nearest")
            axes[row][column].imshow(values[column].numpy(), cmap="inferno", alpha=0.55, vmin=0.0, vmax=1.0,
                                     interpolation="bilinear")  # fmt: skip
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0][0].set_ylabel("face", fontsize=7, rotation=0, ha="right", va="center", labelpad=6)
    for row, (name, label, _) in enumerate(maps, start=1):
        axes[row][0].set_ylabel(label, fontsize=7, color=method_style(name).color, rotation=0, ha="right",
                                va="center", labelpad=6)  # fmt: skip
    title = figure_title(
        "class-activation maps (paper Fig. 5; Grad-CAM on the feature map F of the cosine with the nearest "
        "class prototype)",
        dataset=dataset, model=model, n=f"{k} of n = {n} faces, lowest to highest quality",
        width=1.15 * k + 2.0,
    )  # fmt: skip
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path, vector=vector)


def describe_run(config: TrainingConfig) -> str:
    """:func:`~recognizability.training.config.model_label` of a run's configuration."""
    return model_label(config.model.backbone, config.head.name, config.losses)


def _default_faces(checkpoint: Path) -> tuple[list[Path], str]:
    """The probes of the run's own test set (its ``report.json`` beside the checkpoint names the data), or,
    without them, the synthetic held-out set of the default calibration."""
    report_path = checkpoint.parent / "report.json"
    if report_path.is_file():
        try:
            report = json.loads(report_path.read_text())
            data, spec = report["data"], get_benchmark(report["dataset"])
            root = Path(data["root"])
            if root.is_dir():
                samples = spec.reader(root, spec.probe_subset).samples
                provenance = data.get("provenance", "?")
                return [s.path for s in samples], f"{spec.name} test probes of the run ({provenance})"
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a report of another layout or a moved data folder: the held-out set below
    probe, _, _ = synthetic_calibration_set()
    return probe.paths, "synthetic TinyFace-layout test probes (seed 1, held out from the demo's seed 0)"


def _describe_faces(items: Sequence[str], paths: Sequence[Path]) -> str:
    """The --faces items as a figure names them (a long path by its last two parts), "(synthetic)" when the
    faces come from a synthetic tree (its SYNTHETIC.txt marker above them)."""
    synthetic = any((parent / "SYNTHETIC.txt").is_file() for path in paths[:1] for parent in path.parents)
    names = [item if len(item) <= 40 else str(Path(*Path(item).parts[-2:])) for item in items]
    where = ", ".join(names)
    return f"{where} (synthetic)" if synthetic else where


def _run_figures(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"expected --out to be a folder for the figures, got the file {args.out!r}")
    for flag in ("count", "maps"):
        check_positive_int(getattr(args, flag), f"--{flag}")
    check_image_batch_options(args)
    vector = check_vector_formats(args.vector)
    inputs = [f for f in (args.checkpoint, args.compare) if f]
    for output in figure_files(out, FIGURE_NAMES, vector):
        check_new_output(output, overwrite=args.overwrite, inputs=inputs)
    require_image_decoder()
    device = torch.device(args.device)
    model, config = load_trained_model(args.checkpoint, device)
    compare = None
    if args.compare is not None:
        compare = load_trained_model(args.compare, device)
        if compare[1].model.input_size != config.model.input_size:
            raise ValueError(
                "expected --compare to be a run at the input size of --checkpoint "
                f"({config.model.input_size}), got {compare[1].model.input_size}"
            )
    if args.faces:
        paths, problems = collect_images(args.faces)
        dataset = _describe_faces(args.faces, paths)
    else:
        (paths, dataset), problems = _default_faces(Path(args.checkpoint)), []
    if not paths:
        raise ValueError(f"expected face images in --faces {args.faces}, found none")
    scored = score_faces(
        model, config, paths, device=device, batch_size=args.batch_size, workers=args.workers
    )
    preprocessing = _preprocessing(model, config)
    out.mkdir(parents=True, exist_ok=True)
    written = plot_quality_extremes(scored, preprocessing, out / FIGURE_NAMES[0], dataset=dataset,
                                    model=describe_run(config), count=args.count, vector=vector)  # fmt: skip
    order_by = "learned_index" if "learned_index" in scored.scores else "ers"
    order = torch.argsort(scored.scores[order_by], stable=True)
    k = min(args.maps, len(order))
    chosen = order[torch.linspace(0, len(order) - 1, k).round().long()]
    faces = _faces([scored.paths[int(i)] for i in chosen], preprocessing)
    normalised = _normalised(scored.scores[order_by])
    short = {"learned_index": "xi_hat", "ers": "ERS"}[order_by]
    captions = [f"{short} {float(normalised[int(i)]):.2f}" for i in chosen]
    x = normalize_for(model.backbone, faces.to(device).float())
    rows: list[tuple[str, str, Tensor]] = []
    if compare is not None:
        other, other_config = compare
        x_other = normalize_for(other.backbone, faces.to(device).float())
        label = f"{other_config.head.name} alone\n(run {Path(args.compare).parent.name or '--compare'})"
        rows.append(("arcface", label, activation_maps(other, x_other, "recognition").cpu()))
    else:
        rows.append(
            (
                "arcface",
                f"recognition module\n({config.head.name}, this run)",
                activation_maps(model, x, "recognition").cpu(),
            )
        )
    if config.loss.use_attention:
        rows.append(("attention", "perceptibility\nattention", activation_maps(model, x, "attention").cpu()))
    models = (
        describe_run(config) if compare is None else f"{describe_run(config)} vs {describe_run(compare[1])}"
    )
    written += plot_activation_maps(
        faces, rows, captions, out / FIGURE_NAMES[1], dataset=dataset, model=models, n=len(scored.paths),
        vector=vector,
    )  # fmt: skip
    print(f"wrote {', '.join(str(p) for p in written)} from {len(scored.paths)} faces")
    report_unreadable(problems + scored.unreadable)
    return 0


def add_figures_command(commands: Any) -> None:
    """Register ``figures`` on the ``recognizability`` command's sub-parsers."""
    parser = commands.add_parser(
        "figures", help="the paper's Fig. 5 (activation maps) and Fig. 6 (faces by quality) for a run"
    )
    parser.add_argument("--checkpoint", required=True, help="last.pt of a training run (the full method)")
    parser.add_argument(
        "--compare", metavar="CHECKPOINT",
        help="last.pt of a run of the margin head alone: its activation maps beside the attention's "
        "(default: the same run's recognition module)",
    )  # fmt: skip
    parser.add_argument(
        "--faces", nargs="+", metavar="FACES",
        help="image files, folders (walked recursively) and globs (default: the probes of the run's test "
        "set, named by the report.json beside --checkpoint, or else the synthetic held-out set)",
    )  # fmt: skip
    parser.add_argument(
        "--out", required=True, help="folder for quality_extremes.png and activation_maps.png"
    )
    parser.add_argument("--count", type=int, default=8, help="faces per row of the quality figure (8)")
    parser.add_argument("--maps", type=int, default=6, help="faces in the activation-map figure (6)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    add_image_batch_options(parser, progress=False)
    add_vector_option(parser)
    parser.add_argument("--overwrite", action="store_true", help="replace figures that exist in --out")
    parser.set_defaults(run=_run_figures)
