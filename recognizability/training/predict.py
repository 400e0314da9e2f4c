"""The learned recognizability index of every image in a folder, from a training checkpoint, written as CSV.

    python -m recognizability.training.predict --checkpoint runs/tinyface/full/last.pt --images DIR \\
        --out q.csv

At deployment the quality score is xi_hat, the output of the perceptibility regression module on the
backbone's feature map (paper Sec. 3.2): no UI centre and no class prototypes are needed. Each image is read,
resized to the checkpoint's input size (bicubic) and normalised exactly as in training and evaluation.

CSV columns: ``path`` (relative to the folder, posix), ``recognizability_index`` (xi_hat; higher = more
recognisable) and ``ui_distance`` (1 - cos(v, u) with the checkpoint's UI centre: the ERS baseline).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from recognizability.data import ImageFolder

from .checkpoint import TRAINING_CHECKPOINT, CheckpointError, load_checkpoint, read_training_checkpoint
from .loop import embed_image_set, load_image_set
from .model import RecognizabilityModel, build_model
from .settings import TrainingSettings

__all__ = ["QualityPrediction", "load_trained_model", "predict_quality", "write_quality_csv"]

CSV_COLUMNS: tuple[str, ...] = ("path", "recognizability_index", "ui_distance")


@dataclass(frozen=True)
class QualityPrediction:
    """Scores of N images.

    Attributes:
        paths: the N image paths, relative to the folder (posix).
        recognizability_index: float32 (N,) learned index xi_hat.
        ui_distance: float32 (N,) 1 - cos(v, u) with the checkpoint's UI centre.
    """

    paths: list[str]
    recognizability_index: torch.Tensor
    ui_distance: torch.Tensor


def load_trained_model(
    checkpoint: str | os.PathLike[str], device: str | torch.device = "cpu"
) -> tuple[RecognizabilityModel, TrainingSettings]:
    """Rebuild the :class:`RecognizabilityModel` of a checkpoint written by ``fit`` and load its weights.

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
    settings = loaded.settings.replace(pretrained=None)
    if loaded.num_classes is None:
        raise CheckpointError(
            f"checkpoint {str(checkpoint)!r}: expected the ArcFace prototypes 'head.weight' (C, D) of a "
            f"RecognizabilityModel in its model state, found none",
            path=str(checkpoint),
        )
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


def predict_quality(
    checkpoint: str | os.PathLike[str],
    images: str | os.PathLike[str],
    *,
    device: str | torch.device = "cpu",
    batch_size: int = 256,
) -> QualityPrediction:
    """Score every .jpg/.jpeg/.png image under ``images`` (walked recursively, sorted) with a checkpoint.

    Args:
        checkpoint: ``last.pt`` of a training run.
        images: a folder of face images (any size; each is resized to the run's input size).
        device: where the network runs.
        batch_size: images per forward pass.
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"expected batch_size to be an int >= 1, got {batch_size!r}")
    folder = Path(images)
    if not folder.is_dir():
        raise FileNotFoundError(f"expected --images to be a folder of images, got {str(folder)!r}")
    resolved = torch.device(device)
    model, settings = load_trained_model(checkpoint, resolved)
    data = load_image_set(ImageFolder(folder), settings.input_size)
    v, xi_hat = embed_image_set(model, data, settings, resolved, batch_size=batch_size)
    center = model.ui_center.center.to(v)
    ui_distance = 1.0 - torch.nn.functional.normalize(v, dim=1) @ center
    relative = [Path(p).resolve().relative_to(folder.resolve()).as_posix() for p in data.paths]
    return QualityPrediction(relative, xi_hat.cpu(), ui_distance.cpu())


def write_quality_csv(prediction: QualityPrediction, out: str | os.PathLike[str]) -> Path:
    """Write ``path,recognizability_index,ui_distance`` rows (atomically: temporary file + ``os.replace``)."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="") as handle:
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
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Learned recognizability index of a folder of images -> CSV."
    )
    parser.add_argument("--checkpoint", required=True, help="last.pt of a training run")
    parser.add_argument(
        "--images", required=True, help="folder of .jpg/.jpeg/.png images (walked recursively)"
    )
    parser.add_argument("--out", required=True, help="CSV file to write")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args(argv)
    prediction = predict_quality(args.checkpoint, args.images, device=args.device, batch_size=args.batch_size)
    write_quality_csv(prediction, args.out)
    print(f"wrote {len(prediction.paths)} rows to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
