"""The learned recognizability index of every image in a folder, from a training checkpoint, written as CSV.

    python -m recognizability.training.predict --checkpoint runs/tinyface/full/last.pt --images DIR \\
        --out q.csv

At deployment the quality score is xi_hat, the output of the perceptibility regression module on the
backbone's feature map (paper Sec. 3.2): no UI centre and no class prototypes are needed. Each image is read,
resized to the checkpoint's input size (bicubic) and normalised exactly as in training and evaluation.

CSV columns: ``path`` (relative to the folder, posix), ``recognizability_index`` (xi_hat; higher = more
recognisable) and ``ui_distance`` (1 - cos(v, u) with the checkpoint's UI centre: the ERS baseline).

The folder is walked recursively in sorted order (``.jpg``/``.jpeg``/``.png``, any case) by
:class:`~recognizability.data.ImageFolder`: symbolic links are followed, to files and folders alike, wherever
they point, and each image is named by the link's own path inside the folder; a link that closes a cycle is
not walked again. Files that cannot be read (corrupt or undecodable images, permission denied, broken links)
are skipped and listed (``QualityPrediction.skipped``; the command prints them on stderr); scoring goes on.

The checkpoint is read with ``torch.load(weights_only=True)``: a file holding pickled objects is refused,
never run.
"""

from __future__ import annotations

import argparse
import csv
import os
import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from recognizability._validation import check_positive_int
from recognizability.backbones import normalize_for
from recognizability.data import IMAGE_EXTENSIONS, ImageDecodeError, ImageFolder, decode_image
from recognizability.data import transforms as T
from recognizability.functional import ui_cosine

from .checkpoint import TRAINING_CHECKPOINT, CheckpointError, load_checkpoint, read_training_checkpoint
from .config import TrainingConfig
from .distributed import resolve_device
from .guards import evaluation_mode
from .model import RecognizabilityModel, build_model

__all__ = ["QualityPrediction", "load_trained_model", "predict_quality", "write_quality_csv"]

CSV_COLUMNS: tuple[str, ...] = ("path", "recognizability_index", "ui_distance")


@dataclass(frozen=True)
class QualityPrediction:
    """Scores of N images.

    Attributes:
        paths: the N image paths, relative to the folder (posix).
        recognizability_index: float32 (N,) learned index xi_hat.
        ui_distance: float32 (N,) 1 - cos(v, u) with the checkpoint's UI centre.
        skipped: ``(path relative to the folder, reason)`` of every file that could not be read.
    """

    paths: list[str]
    recognizability_index: torch.Tensor
    ui_distance: torch.Tensor
    skipped: tuple[tuple[str, str], ...] = field(default=())


def load_trained_model(
    checkpoint: str | os.PathLike[str], device: str | torch.device = "cpu"
) -> tuple[RecognizabilityModel, TrainingConfig]:
    """Rebuild the :class:`RecognizabilityModel` of a training run's checkpoint and load its weights.

    The file is read with ``torch.load(weights_only=True)`` and checked whole
    (:func:`~recognizability.training.checkpoint.read_training_checkpoint`): no pickled code is ever run,
    and a file that is not a training checkpoint of this library is refused with an error naming it. The
    backbone is built from the checkpoint's settings without re-reading ``settings.pretrained`` (the trained
    weights replace it); the number of classes is read from the stored ArcFace prototypes.

    Args:
        checkpoint: ``OUT/<run>/last.pt``.
        device: where the model is placed.

    Returns:
        (model in eval mode, the run's settings).

    Raises:
        FileNotFoundError, IsADirectoryError, PermissionError, CheckpointError (a ValueError): see
            :func:`~recognizability.training.checkpoint.read_training_checkpoint`.
    """
    if not isinstance(checkpoint, (str, os.PathLike)):
        raise TypeError(f"expected --checkpoint to be a path, got {type(checkpoint).__name__}")
    loaded = read_training_checkpoint(
        checkpoint, expected=f"--checkpoint to be {TRAINING_CHECKPOINT}", map_location="cpu"
    )
    if loaded.num_classes is None:
        raise CheckpointError(
            f"checkpoint {str(checkpoint)!r}: expected the ArcFace prototypes 'head.weight' (C, D) of a "
            f"RecognizabilityModel in its model state, found none",
            path=str(checkpoint),
        )
    try:
        settings = TrainingConfig.from_dict(loaded.settings).replace(pretrained=None)
    except (KeyError, TypeError, ValueError) as err:
        if _is_pretraining_settings(loaded.settings):
            raise CheckpointError(
                f"checkpoint {str(checkpoint)!r} is a pretraining (stage 1) checkpoint of "
                f"recognizability.training.pretrain (a backbone and its ArcFace head, no recognizability "
                f"modules); expected --checkpoint to be {TRAINING_CHECKPOINT} of a fine-tuning (stage 2) "
                f"run. Fine-tune from it first: pass the backbone.pt next to it as --pretrained of an "
                f"example script",
                path=str(checkpoint),
            ) from None
        raise CheckpointError(
            f"checkpoint {str(checkpoint)!r}: its settings cannot be read by this version "
            f"({type(err).__name__}: {err})",
            path=str(checkpoint),
        ) from None
    try:
        model = build_model(settings, loaded.num_classes, "cpu")
    except (KeyError, ValueError, TypeError) as err:
        raise CheckpointError(
            f"checkpoint {str(checkpoint)!r}: could not rebuild its model ({type(err).__name__}: {err})",
            path=str(checkpoint),
        ) from None
    load_checkpoint(loaded, model=model, restore_rng=False)
    model.eval()
    return model.to(device), settings


def _is_pretraining_settings(settings: dict[str, Any]) -> bool:
    from .pretrain import PretrainConfig  # the stage-1 command; imported only to name its checkpoints

    try:
        PretrainConfig.from_dict(settings)
    except (KeyError, TypeError, ValueError):
        return False
    return True


def _decode_readable(
    paths: Sequence[Path], folder: Path
) -> tuple[list[tuple[Tensor, int]], list[str], list[tuple[str, str]]]:
    """Decode each file; the unreadable ones are returned as ``(relative path, reason)``."""
    decoded: list[tuple[Tensor, int]] = []
    names: list[str] = []
    skipped: list[tuple[str, str]] = []
    for path in paths:
        name = _relative(path, folder)
        try:
            decoded.append((decode_image(path), -1))
        except (ImageDecodeError, OSError) as err:
            skipped.append((name, f"{type(err).__name__}: {err}"))
            continue
        names.append(name)
    return decoded, names, skipped


def _left_out_by_the_reader(report: Any, folder: Path) -> list[tuple[str, str]]:
    """The files the folder reader left out for a reason other than their extension (broken links, cycles,
    special files), as ``(relative path, reason)``; the reader keeps five examples per reason."""
    out: list[tuple[str, str]] = []
    for reason, count in sorted(report.excluded.items()):
        if reason.startswith("not an image file"):
            continue
        examples = report.excluded_examples.get(reason, [])
        out += [(_relative(Path(p), folder), reason) for p in examples]
        if count > len(examples):
            out.append((f"({count - len(examples)} more)", reason))
    return out


def _relative(path: Path, folder: Path) -> str:
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return str(path)


def predict_quality(
    checkpoint: str | os.PathLike[str],
    images: str | os.PathLike[str],
    *,
    device: str | torch.device = "cpu",
    batch_size: int = 256,
) -> QualityPrediction:
    """Score every .jpg/.jpeg/.png image under ``images`` (walked recursively, sorted) with a checkpoint.

    Symbolic links are followed (files and folders) and named by the link's path in the folder; a link
    closing a cycle is not walked again. Unreadable files (corrupt, permission denied, broken links) are
    skipped and listed in ``QualityPrediction.skipped``.

    Args:
        checkpoint: ``last.pt`` of a training run (read safely, see :func:`load_trained_model`).
        images: a folder of face images (any size; each is resized to the run's input size).
        device: where the network runs.
        batch_size: images per forward pass.

    Raises:
        FileNotFoundError: ``images`` is not a folder or holds no image; ``checkpoint`` does not exist.
        ValueError: ``batch_size`` < 1, ``device`` not available (CUDA on a machine without it), or no image
            in the folder could be read (the reasons are listed).
        CheckpointError: ``checkpoint`` is not a training checkpoint that can be read safely, or holds no
            fitted UI centre (checked before any image is scored).
    """
    check_positive_int(batch_size, "batch_size")
    if not isinstance(images, (str, os.PathLike)):
        raise TypeError(f"expected --images to be a folder path, got {type(images).__name__}")
    folder = Path(images).expanduser().absolute()
    if not folder.is_dir():
        raise FileNotFoundError(f"expected --images to be a folder of images, got {str(images)!r}")
    resolved = resolve_device(device)
    model, _ = load_trained_model(checkpoint, resolved)
    if not model.ui_center.is_initialized:
        raise CheckpointError(
            f"checkpoint {str(checkpoint)!r}: holds no fitted UI centre, which the ui_distance column needs",
            path=str(checkpoint),
        )
    dataset = ImageFolder(folder)
    paths = [Path(sample.path) for sample in dataset.samples]
    height, width = model.backbone.input_size
    names: list[str] = []
    skipped = _left_out_by_the_reader(dataset.report, folder)
    ui_cosines: list[Tensor] = []
    scores: list[Tensor] = []
    with evaluation_mode(model), torch.no_grad():
        for start in range(0, len(paths), batch_size):
            decoded, chunk_names, chunk_skipped = _decode_readable(paths[start : start + batch_size], folder)
            skipped += chunk_skipped
            if not decoded:
                continue
            names += chunk_names
            uint8, _ = T.collate_variable_size(decoded, size=(height, width))
            x = normalize_for(model.backbone, uint8.to(resolved).float())
            feature_map = model.backbone.forward_features(x)
            ui_cosines.append(
                ui_cosine(model.backbone.forward_head(feature_map).float(), model.ui_center.center)
            )
            scores.append(model.criterion.regression(feature_map).float())
    if not names:
        listed = "; ".join(f"{name} ({reason})" for name, reason in skipped[:10])
        raise ValueError(f"expected readable images under {str(images)!r}, got none: {listed}")
    xi_hat = torch.cat(scores)
    ui_distance = 1.0 - torch.cat(ui_cosines)  # d_UI = 1 - cos(v, u), Eq. 2
    return QualityPrediction(names, xi_hat.cpu(), ui_distance.cpu(), tuple(skipped))


def _check_csv_destination(
    out: str | os.PathLike[str],
    overwrite: bool,
    checkpoint: str | os.PathLike[str] | None = None,
    images: str | os.PathLike[str] | None = None,
) -> Path:
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"expected --out to be a file path, got {type(out).__name__}")
    path = Path(out)
    if path.is_dir():
        raise IsADirectoryError(f"expected --out to be a CSV file path, got the folder {str(out)!r}")
    target = path.expanduser().resolve()
    if checkpoint is not None and target == Path(checkpoint).expanduser().resolve():
        raise ValueError(
            f"expected --out to be a new CSV file, got the --checkpoint itself {str(out)!r} (it would be "
            f"replaced, even with --overwrite)"
        )
    if images is not None:
        folder = Path(images).expanduser().resolve()
        if folder in target.parents and target.suffix.lower() in IMAGE_EXTENSIONS:
            raise ValueError(
                f"expected --out to be a CSV file outside the images being scored, got {str(out)!r}, an "
                f"image under --images {str(images)!r}"
            )
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"expected --out {str(out)!r} not to exist (it would be replaced); pass --overwrite to replace it"
        )
    return path


def write_quality_csv(
    prediction: QualityPrediction, out: str | os.PathLike[str], *, overwrite: bool = False
) -> Path:
    """Write ``path,recognizability_index,ui_distance`` rows atomically (temporary file + ``os.replace``).

    Args:
        prediction: from :func:`predict_quality`.
        out: the CSV file (its folder is created).
        overwrite: replace an existing file (otherwise it is an error: nothing of the user's is replaced
            unasked).

    Raises:
        FileExistsError: ``out`` exists and ``overwrite`` is False.
        IsADirectoryError: ``out`` is a folder.
    """
    path = _check_csv_destination(out, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    # a fresh hidden sibling, created with the mode of any new file (umask applied), never an existing one
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(CSV_COLUMNS)
            rows = zip(
                prediction.paths,
                prediction.recognizability_index.tolist(),
                prediction.ui_distance.tolist(),
                strict=True,
            )
            for name, index, distance in rows:
                writer.writerow((name, f"{index:.6f}", f"{distance:.6f}"))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m recognizability.training.predict``."""
    parser = argparse.ArgumentParser(
        description=(
            "Learned recognizability index of a folder of images -> CSV. The folder is walked recursively; "
            "symbolic links to files and folders are followed (images are named by the link's path), a link "
            "closing a cycle is not walked again; unreadable files and broken links are skipped and listed "
            "on stderr."
        )
    )
    parser.add_argument(
        "--checkpoint",
        required=True,
        help="last.pt of a training run (read with weights_only=True: pickled objects are refused)",
    )
    parser.add_argument(
        "--images",
        required=True,
        help="folder of .jpg/.jpeg/.png images (walked recursively, symbolic links followed)",
    )
    parser.add_argument("--out", required=True, help="CSV file to write (an existing file needs --overwrite)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=256)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status. A bad option value, or a file that cannot be used
    (checkpoint, images, output), is a usage error naming it: ``error: ...`` on stderr, exit status 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        out = _check_csv_destination(args.out, args.overwrite, args.checkpoint, args.images)  # before scoring
        check_positive_int(args.batch_size, "--batch-size")
        resolve_device(args.device)
        prediction = predict_quality(
            args.checkpoint, args.images, device=args.device, batch_size=args.batch_size
        )
        write_quality_csv(prediction, out, overwrite=args.overwrite)
    except (OSError, ValueError, TypeError) as err:  # CheckpointError is a ValueError
        parser.error(str(err))
    for name, reason in prediction.skipped:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    skipped = f" ({len(prediction.skipped)} unreadable files skipped)" if prediction.skipped else ""
    print(f"wrote {len(prediction.paths)} rows to {args.out}{skipped}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
