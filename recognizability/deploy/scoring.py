"""Scoring images with a deployed model (PyTorch or ONNX Runtime): embeddings, ``xi_hat``, quality 0-100."""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

from recognizability._files import check_new_output, write_atomically

from .calibration import QualityCalibration
from .images import UnreadableImage, image_batches
from .model import Preprocessing

__all__ = ["CSV_COLUMNS", "STDOUT", "EmbeddedImages", "Scorer", "embed_images", "write_scores_csv"]

#: Columns of the quality CSV.
CSV_COLUMNS: tuple[str, ...] = ("path", "quality", "xi_hat")
#: The ``--out`` that means standard output, as command-line users expect.
STDOUT = "-"


class Scorer(Protocol):
    """What the commands need of a model: :class:`QualityModel` and :class:`OnnxQualityModel` both fit."""

    preprocessing: Preprocessing
    calibration: QualityCalibration | None

    def embed_and_score(self, images: Tensor) -> tuple[Tensor, Tensor]: ...


@dataclass
class EmbeddedImages:
    """The readable images of a list of paths, embedded and scored.

    Attributes:
        paths: the N readable paths, in input order.
        indices: (N,) their positions in the input list.
        embeddings: float32 (N, D). xi_hat: float32 (N,).
        unreadable: the skipped inputs and why.
    """

    paths: list[Path]
    indices: Tensor
    embeddings: Tensor
    xi_hat: Tensor
    unreadable: list[UnreadableImage]

    def quality(self, calibration: QualityCalibration) -> NDArray[np.int64]:
        """Calibrated quality 0-100 of each image (N,)."""
        return calibration.quality(self.xi_hat)


def _progress(total: int, description: str, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=description, unit="img", dynamic_ncols=True, file=sys.stderr)


def embed_images(
    scorer: Scorer,
    paths: Sequence[Path],
    *,
    batch_size: int = 256,
    workers: int = 1,
    progress: bool = False,
    description: str = "scoring",
) -> EmbeddedImages:
    """Decode, resize (``scorer.preprocessing``) and run every image; unreadable ones are skipped and listed.

    Args:
        scorer: a :class:`~recognizability.deploy.QualityModel` or
            :class:`~recognizability.deploy.OnnxQualityModel`.
        paths: image files.
        batch_size: images per forward pass. workers: background decoding processes (0: in this process).
        progress: show a tqdm bar (when tqdm is installed).
    """
    bar = _progress(len(paths), description, progress)
    indices: list[int] = []
    embeddings: list[Tensor] = []
    scores: list[Tensor] = []
    unreadable: list[UnreadableImage] = []
    try:
        for batch in image_batches(paths, scorer.preprocessing, batch_size, workers):
            unreadable.extend(batch.unreadable)
            if batch.indices:
                v, xi = scorer.embed_and_score(batch.images.float())
                indices.extend(batch.indices)
                embeddings.append(v)
                scores.append(xi)
            if bar is not None:
                bar.update(len(batch.indices) + len(batch.unreadable))
    finally:
        if bar is not None:
            bar.close()
    if embeddings:
        v_all, xi_all = torch.cat(embeddings).float(), torch.cat(scores).float()
    else:
        v_all, xi_all = torch.empty((0, 0)), torch.empty((0,))
    return EmbeddedImages(
        [paths[i] for i in indices], torch.tensor(indices, dtype=torch.int64), v_all, xi_all, unreadable
    )


def write_scores_csv(
    paths: Sequence[Path | str],
    quality: NDArray[np.int64],
    xi_hat: Tensor,
    out: str | os.PathLike[str],
    *,
    overwrite: bool = False,
) -> Path | None:
    """Write ``path,quality,xi_hat`` rows atomically (:func:`~recognizability._files.write_atomically`), or to
    standard output when ``out`` is ``"-"`` (:data:`STDOUT`).

    Returns:
        The file written (None for standard output).

    Raises:
        FileExistsError: ``out`` exists and ``overwrite`` is False
            (:func:`~recognizability._files.check_new_output`).
    """
    rows = [
        (os.fspath(name), int(q), f"{xi:.6f}")
        for name, q, xi in zip(paths, quality.tolist(), xi_hat.tolist(), strict=True)
    ]

    def write(handle: IO[str]) -> None:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        writer.writerows(rows)

    if os.fspath(out) == STDOUT:
        write(sys.stdout)
        sys.stdout.flush()
        return None
    path = check_new_output(out, overwrite=overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomically(path, write, text=True, shared=True)
