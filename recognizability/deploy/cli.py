"""The ``recognizability`` command: export, quality, calibrate, evaluate, figures, fit-quality.

    recognizability fit-quality --backbone r50 --pretrained backbone.pth --faces faces/ --out quality.pt
    recognizability calibrate --checkpoint runs/tinyface/full/last.pt            # synthetic calibration set
    recognizability export    --checkpoint runs/tinyface/full/last.pt --out model.onnx
    recognizability quality   faces/ "more/*.png" --onnx model.onnx --out scores.csv
    recognizability quality   --onnx model.onnx --threshold-for 0.05
    recognizability evaluate  --probe probe/ --gallery gallery/ --checkpoint last.pt --out eval/
    recognizability figures   --checkpoint runs/tinyface/full/last.pt --out figures/   # paper Fig. 5, 6

``--checkpoint`` takes a training checkpoint (``last.pt``) or a quality model written by ``fit-quality``.
A checkpoint's calibration lives next to it (``last.calibration.json``, written by ``calibrate``) unless
``--calibration FILE`` names another; an exported model carries its calibration in its metadata. No file is
ever replaced without ``--overwrite``, and an input of the command (the model, its calibration, an image being
scored) never, even with it. ``quality --out -`` writes the CSV to standard output. Unreadable images are
skipped and listed at the end. Bad options and unusable files are errors naming them (exit status 2).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from recognizability._figures import add_vector_option, check_vector_formats, figure_files
from recognizability._files import check_new_output, write_json
from recognizability._validation import check_float_in_range
from recognizability.data import is_image_file

from .calibration import QualityCalibration, default_calibration_path
from .evaluate import (
    EVALUATION_FIGURES,
    calibrate,
    evaluate_folders,
    labelled_folder,
    plot_evaluation,
    synthetic_calibration_set,
)
from .figures import add_figures_command
from .images import (
    UnreadableImage,
    add_image_batch_options,
    check_image_batch_options,
    collect_images,
    report_unreadable,
    require_image_decoder,
)
from .model import load_quality_model
from .scoring import STDOUT, Scorer, embed_images, write_scores_csv

__all__ = ["default_calibration_path", "main", "predict_main"]


def _read_calibration(path: Path) -> QualityCalibration:
    if not path.is_file():
        raise FileNotFoundError(f"expected --calibration to be a calibration JSON file, got {str(path)!r}")
    try:
        return QualityCalibration.from_json(path.read_text())
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"expected a calibration written by recognizability calibrate in {str(path)!r}: {error}"
        ) from error


def _load(args: argparse.Namespace, need_calibration: bool) -> Scorer:
    """The model named by --checkpoint or --onnx, with its calibration (--calibration, the checkpoint's
    sidecar file, or the ONNX metadata)."""
    calibration = None if args.calibration is None else _read_calibration(Path(args.calibration))
    scorer: Scorer
    if args.onnx is not None:
        from .onnx import OnnxQualityModel

        onnx_model = OnnxQualityModel(args.onnx, device=args.device)
        if calibration is not None:
            onnx_model.calibration = calibration
        scorer = onnx_model
        fix = f"pass --calibration FILE (recognizability calibrate --onnx {args.onnx} --out FILE)"
    else:
        if calibration is None and need_calibration:
            sidecar = default_calibration_path(args.checkpoint)
            if sidecar.is_file():
                calibration = _read_calibration(sidecar)
        scorer = load_quality_model(args.checkpoint, args.device, calibration)
        fix = f"run recognizability calibrate --checkpoint {args.checkpoint} (or pass --calibration FILE)"
    if need_calibration and scorer.calibration is None:
        raise ValueError(f"expected a quality calibration for this model, found none; {fix}")
    return scorer


def _calibration_of(scorer: Scorer) -> QualityCalibration:
    if scorer.calibration is None:  # _load(need_calibration=True) has refused this already
        raise ValueError("expected a quality calibration for this model, found none")
    return scorer.calibration


def _model_files(args: argparse.Namespace) -> list[str]:
    """The files the model options name: inputs that no output may replace."""
    names = ("checkpoint", "onnx", "calibration")
    files = [getattr(args, name, None) for name in names]
    if getattr(args, "checkpoint", None) is not None:
        files.append(str(default_calibration_path(args.checkpoint)))  # read as the checkpoint's calibration
    return [f for f in files if f is not None]


def _check_out(path: str, args: argparse.Namespace, *images: str) -> Path:
    """``--out`` against the one rule of :func:`~recognizability._files.check_new_output`."""
    inputs = [*_model_files(args), *images]
    return check_new_output(path, overwrite=args.overwrite, inputs=inputs, reads=is_image_file)


def _synthetic_warning(calibration: QualityCalibration) -> str:
    if calibration.synthetic:
        return (
            " (calibrated on SYNTHETIC faces: a stand-in; refit on your own with recognizability calibrate)"
        )
    return ""


def _export(args: argparse.Namespace) -> int:
    from .onnx import export_onnx

    _check_out(args.out, args)
    model = _load(args, need_calibration=True)
    path = export_onnx(model, args.out, overwrite=args.overwrite)  # type: ignore[arg-type]
    print(f"wrote {path}")
    return 0


def _quality(args: argparse.Namespace) -> int:
    if not args.images and args.threshold_for is None:
        raise ValueError(
            "expected IMAGES to score (files, folders or globs) or --threshold-for FNMR, got neither"
        )
    if args.images and args.out is None:
        raise ValueError("expected --out scores.csv (or --out - for standard output), got none")
    if args.threshold_for is not None:
        check_float_in_range(args.threshold_for, "--threshold-for", 0.0, 1.0, high_closed=False)
    check_image_batch_options(args)
    to_stdout = args.out == STDOUT
    if args.out is not None and not to_stdout:
        _check_out(args.out, args, *args.images)
    if args.images:
        require_image_decoder()
    scorer = _load(args, need_calibration=True)
    calibration = _calibration_of(scorer)
    say = _printer(to_stdout)
    guidance = None
    if args.threshold_for is not None:
        guidance = calibration.threshold_for(args.threshold_for)
        say(
            f"FNMR <= {guidance.target_fnmr:g} at FMR {guidance.fmr:g}: keep quality >= "
            f"{guidance.quality_threshold} (FNMR {guidance.fnmr:.4f} on the calibration set, discarding "
            f"{100 * guidance.discarded_share:.2f}% of its {calibration.mated} mated comparisons)"
            f"{_synthetic_warning(calibration)}"
        )
    if not args.images:
        return 0
    paths, problems = collect_images(args.images)
    embedded = embed_images(
        scorer, paths, batch_size=args.batch_size, workers=args.workers, progress=not args.no_progress
    )
    unreadable = problems + embedded.unreadable
    quality = calibration.quality(embedded.xi_hat) if len(embedded.paths) else np.zeros(0, dtype=np.int64)
    write_scores_csv(embedded.paths, quality, embedded.xi_hat, args.out, overwrite=args.overwrite)
    where = "standard output" if to_stdout else args.out
    say(f"wrote {len(embedded.paths)} scores to {where}{_synthetic_warning(calibration)}")
    if guidance is not None and len(quality):
        below = int(np.count_nonzero(quality < guidance.quality_threshold))
        say(f"{below} of {len(quality)} images are below quality {guidance.quality_threshold}")
    report_unreadable(unreadable)
    return 0 if len(embedded.paths) else 1


def _printer(to_stdout: bool) -> Callable[[str], None]:
    """``print`` on standard output, or on standard error when standard output carries the CSV."""

    def say(text: str) -> None:
        print(text, file=sys.stderr if to_stdout else sys.stdout)

    return say


def _calibrate(args: argparse.Namespace) -> int:
    if (args.probe is None) != (args.gallery is None):
        raise ValueError("expected both --probe and --gallery (a labelled calibration set) or neither")
    if args.out is None:
        if args.checkpoint is None:
            raise ValueError("expected --out FILE for the calibration of an ONNX model, got none")
        out = str(default_calibration_path(args.checkpoint))
    else:
        out = args.out
    check_image_batch_options(args)
    check_float_in_range(args.fmr, "--fmr", 0.0, 1.0, low_closed=False, high_closed=False)
    inputs = [f for f in (args.checkpoint, args.onnx, args.calibration, args.probe, args.gallery) if f]
    check_new_output(out, overwrite=args.overwrite, inputs=inputs, reads=is_image_file)
    require_image_decoder()
    scorer = _load(args, need_calibration=False)
    if args.probe is None:
        probe, gallery, source = synthetic_calibration_set(seed=args.synthetic_seed)
        synthetic = True
    else:
        gallery = labelled_folder(args.gallery)
        probe = labelled_folder(args.probe, gallery.identities)
        source, synthetic = f"labelled folders: probe {args.probe}, gallery {args.gallery}", False
    calibration, unreadable = calibrate(
        scorer, probe, gallery, fmr=args.fmr, source=source, synthetic=synthetic,
        batch_size=args.batch_size, workers=args.workers, progress=not args.no_progress,
    )  # fmt: skip
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    write_json(out, calibration.to_dict())
    print(
        f"wrote {out}: {calibration.mated} mated / {calibration.non_mated} non-mated comparisons, threshold "
        f"{calibration.comparison_threshold:.4f} at FMR {calibration.fmr:g}{_synthetic_warning(calibration)}"
    )
    report_unreadable(unreadable)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(
            f"expected --out to be a folder for report.json and the plots, got the file {args.out!r}"
        )
    report_path = out / "report.json"
    check_image_batch_options(args)
    folders = [f for f in (args.probe, args.gallery, args.distractors) if f]
    vector = check_vector_formats(args.vector)
    figures = [] if args.no_plots else figure_files(out, EVALUATION_FIGURES, vector)
    for output in (report_path, *figures):
        check_new_output(output, overwrite=args.overwrite, inputs=[*_model_files(args), *folders])
    require_image_decoder()
    scorer = _load(args, need_calibration=True)
    report = evaluate_folders(
        scorer, args.probe, args.gallery, args.distractors, batch_size=args.batch_size, workers=args.workers,
        progress=not args.no_progress, model=args.checkpoint or args.onnx,
    )  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    write_json(report_path, report)
    figures = [] if args.no_plots else plot_evaluation(report, out, vector=vector)
    ident = report["identification"]
    ranks = ", ".join(
        f"{k.replace('_', '-')} {100 * v:.1f}%" for k, v in ident.items() if k.startswith("rank_")
    )
    print(f"{ranks}, mAP {100 * ident['mAP']:.1f}%; wrote {report_path} and {len(figures)} plot(s)")
    report_unreadable([UnreadableImage(**u) for u in report["data"]["unreadable"]])
    return 0


def _fit_quality(args: argparse.Namespace) -> int:
    from .quality_fit import QualityFitSettings, fit_quality

    check_image_batch_options(args)
    settings = QualityFitSettings(
        target=args.target, regression_input=args.input, dropout=args.dropout,
        diversion_weight=args.diversion_weight, tau=args.tau, steps=args.steps,
        learning_rate=args.learning_rate, calibration_share=args.calibration_share, fmr=args.fmr,
        pseudo_ui_size=args.pseudo_ui_size, seed=args.seed,
    )  # fmt: skip
    require_image_decoder()
    result = fit_quality(
        args.backbone, args.pretrained, args.faces, args.out, ui=args.ui, pseudo_ui=args.pseudo_ui,
        settings=settings, input_size=args.input_size, embedding_dim=args.embedding_dim,
        skip_small_identities=args.skip_small_identities,
        cache=False if args.no_cache else (True if args.cache is None else args.cache),
        overwrite=args.overwrite, device=args.device, batch_size=args.batch_size, workers=args.workers,
        progress=not args.no_progress,
    )  # fmt: skip
    report = result.report
    identities, faces, embedding = report["identities"], report["faces"], report["embedding_pass"]
    wrote = f"wrote {result.path}" + (f" and {result.calibration_path}" if result.calibration_path else "")
    print(
        f"{wrote}: {settings.target} head on the {settings.regression_input.replace('_', ' ')} of "
        f"{args.backbone} ({args.pretrained}); fitted on {identities['fitted']} identities "
        f"({faces['fitted']} faces), {identities['held_out']} held out; embedding pass "
        f"{embedding['images_read']} of {embedding['images']} images read ({embedding['seconds']:.1f} s), "
        f"fit {report['fit']['seconds']:.1f} s"
    )
    if "held_out_spearman_with_target" in report:
        calibration = report["calibration"]
        print(
            f"held-out identities: Spearman {report['held_out_spearman_with_target']:.3f} between the "
            f"predicted and the actual {settings.target}; calibration on {calibration['mated']} mated / "
            f"{calibration['non_mated']} non-mated comparisons at FMR {calibration['fmr']:g}"
            + (" (SYNTHETIC faces)" if calibration["synthetic"] else "")
        )
    else:
        print(
            "no calibration (--calibration-share 0): run recognizability calibrate --checkpoint "
            f"{result.path}"
        )
    if report["identities_left_out_small"]:
        print(
            f"left out {len(report['identities_left_out_small'])} identities with one image", file=sys.stderr
        )
    report_unreadable(result.unreadable)
    return 0


def _fit_quality_parser(commands: Any) -> None:
    from .quality_fit import REGRESSION_INPUTS, TARGETS, QualityFitSettings

    default = QualityFitSettings()  # the one place the fit's defaults are written

    fit = commands.add_parser(
        "fit-quality",
        help="fit a quality score to a frozen recognizer: a --checkpoint for quality, export and evaluate",
    )
    fit.add_argument("--backbone", required=True, help="backbone name (recognizability.backbones registry)")
    fit.add_argument(
        "--pretrained", required=True, help="a tag shipped with the package or a checkpoint file"
    )
    fit.add_argument("--input-size", type=int, help="S of the S x S input (small_vlr_net; default its own)")
    fit.add_argument("--embedding-dim", type=int, help="D, when the checkpoint's differs from the default")
    fit.add_argument("--faces", required=True, help="labelled faces FOLDER/<identity>/<images>")
    ui = fit.add_mutually_exclusive_group()
    ui.add_argument("--ui", help="--target index: a folder of unrecognisable face images (the UI set)")
    ui.add_argument(
        "--pseudo-ui", action="store_true",
        help="--target index without a UI set: the labelled faces degraded beyond recognition stand in",
    )  # fmt: skip
    fit.add_argument("--out", required=True, help="the quality model file (its calibration goes beside it)")
    fit.add_argument("--overwrite", action="store_true", help="replace an existing --out and its calibration")
    fit.add_argument(
        "--target", choices=TARGETS, default=default.target,
        help=f"regression target ({default.target}): the paper's index (needs --ui or --pseudo-ui) or "
        "CR-FIQA's certainty ratio",
    )  # fmt: skip
    fit.add_argument(
        "--input", choices=REGRESSION_INPUTS, default=default.regression_input, help="what the head reads"
    )
    fit.add_argument("--dropout", type=float, help="head dropout (default 0.9 on the feature map, 0 on v)")
    fit.add_argument(
        "--diversion-weight", type=float,
        help="weight of the index diversion term (default 0.4 with --target index, 0 with the ratio)",
    )  # fmt: skip
    fit.add_argument(
        "--tau", type=float, default=default.tau, help=f"tau of the diversion term ({default.tau})"
    )
    fit.add_argument(
        "--steps", type=int, default=default.steps, help=f"Adam steps of the fit ({default.steps})"
    )
    fit.add_argument(
        "--learning-rate", type=float, default=default.learning_rate,
        help=f"peak learning rate ({default.learning_rate:g})",
    )  # fmt: skip
    fit.add_argument(
        "--calibration-share", type=float, default=default.calibration_share,
        help=f"share of identities held out to calibrate the score on ({default.calibration_share}; 0: none)",
    )  # fmt: skip
    fit.add_argument(
        "--fmr", type=float, default=default.fmr, help=f"FMR of the calibration ({default.fmr:g})"
    )
    fit.add_argument(
        "--pseudo-ui-size", type=int, default=default.pseudo_ui_size,
        help=f"pseudo-UI side in pixels ({default.pseudo_ui_size})",
    )  # fmt: skip
    fit.add_argument(
        "--seed", type=int, default=default.seed,
        help=f"seed of the split, the fit and its dropout ({default.seed})",
    )  # fmt: skip
    fit.add_argument(
        "--skip-small-identities", action="store_true",
        help="leave out identities with one image instead of refusing them",
    )  # fmt: skip
    cache = fit.add_mutually_exclusive_group()
    cache.add_argument("--cache", help="feature cache folder (default $RECOGNIZABILITY_CACHE/fit-quality)")
    cache.add_argument("--no-cache", action="store_true", help="cache nothing")
    fit.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    add_image_batch_options(fit)
    fit.set_defaults(run=_fit_quality)


def _model_options(parser: argparse.ArgumentParser, *, onnx: bool = True) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--checkpoint", help="last.pt of a training run, or a quality model of fit-quality")
    if onnx:
        group.add_argument("--onnx", help="a model written by recognizability export")
    parser.add_argument(
        "--calibration",
        help="calibration JSON (default: <checkpoint stem>.calibration.json, or the ONNX metadata)",
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (ONNX: cpu or cuda)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recognizability",
        description="Face quality (xi_hat, calibrated 0-100) and recognition with a trained model, and a "
        "quality score fitted to a recognizer you already run.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    export = commands.add_parser("export", help="write the model (backbone + regression head) as ONNX")
    _model_options(export, onnx=False)
    export.add_argument("--out", required=True, help="the .onnx file to write")
    export.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    export.set_defaults(onnx=None, run=_export)

    quality = commands.add_parser("quality", help="quality 0-100 and xi_hat of images -> CSV")
    quality.add_argument("images", nargs="*", help="image files, folders (walked recursively) and globs")
    _model_options(quality)
    add_image_batch_options(quality)
    quality.add_argument("--out", help="CSV to write (columns path, quality, xi_hat); - for standard output")
    quality.add_argument(
        "--threshold-for", type=float, metavar="FNMR",
        help="print the quality threshold that reaches this FNMR at the calibration's FMR, and the share "
        "of faces it discards",
    )  # fmt: skip
    quality.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    quality.set_defaults(run=_quality)

    calibration = commands.add_parser("calibrate", help="fit the xi_hat -> quality 0-100 calibration")
    _model_options(calibration)
    add_image_batch_options(calibration)
    calibration.add_argument(
        "--probe", help="labelled probe folder PROBE/<identity>/... (default: synthetic)"
    )
    calibration.add_argument("--gallery", help="labelled gallery folder GALLERY/<identity>/...")
    calibration.add_argument("--fmr", type=float, default=1e-3, help="FMR of the comparison threshold (1e-3)")
    calibration.add_argument("--synthetic-seed", type=int, default=1, help="seed of the synthetic set (1)")
    calibration.add_argument("--out", help="calibration JSON (default: beside the checkpoint)")
    calibration.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    calibration.set_defaults(run=_calibrate)

    evaluate = commands.add_parser(
        "evaluate", help="rank-k, mAP, TAR@FAR and the quality's EDC on your folders"
    )
    _model_options(evaluate)
    add_image_batch_options(evaluate)
    evaluate.add_argument("--probe", required=True, help="PROBE/<identity>/<images>")
    evaluate.add_argument("--gallery", required=True, help="GALLERY/<identity>/<images>")
    evaluate.add_argument("--distractors", help="a folder of distractor images (no identities)")
    evaluate.add_argument("--out", required=True, help="folder for report.json and the plots")
    evaluate.add_argument("--no-plots", action="store_true", help="write the report only")
    add_vector_option(evaluate)
    evaluate.add_argument("--overwrite", action="store_true", help="replace an existing report")
    evaluate.set_defaults(run=_evaluate)
    add_figures_command(commands)
    _fit_quality_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``recognizability`` console command; returns the exit status (2: a usage error,
    a file that cannot be used, or nothing that could be done)."""
    args = build_parser().parse_args(argv)
    try:
        status: int = args.run(args)
    except (OSError, ValueError, TypeError, ImportError) as error:  # FileNotFound, FileExists, ...
        print(f"recognizability {args.command}: error: {error}", file=sys.stderr)
        return 2
    return status


_PREDICT_RETIRED = (
    "recognizability-predict was retired: scoring a folder is one pipeline, the recognizability command's.\n"
    "  once per model:  recognizability calibrate --checkpoint OUT/full/last.pt\n"
    "  then:            recognizability quality DIR --checkpoint OUT/full/last.pt --out scores.csv\n"
    "(columns path, quality 0-100, xi_hat; docs/deployment.md)"
)


def predict_main(argv: Sequence[str] | None = None) -> int:
    """The retired ``recognizability-predict`` command: says what replaces it (exit status 2)."""
    del argv
    print(_PREDICT_RETIRED, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
