"""Image inputs for the deployment commands: files, folders and globs; decoding in a background worker.

Unreadable inputs never stop a run: each one is recorded as an :class:`UnreadableImage` (path and reason),
skipped, and listed at the end.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from recognizability.data import (
    IMAGE_EXTENSIONS,
    ImageDecodeError,
    ReadReport,
    decode_image,
    is_image_file,
    list_image_files,
)
from recognizability.data._images import pillow_image

from .._validation import check_positive_int
from .model import Preprocessing

_EXTENSIONS = "/".join(IMAGE_EXTENSIONS)

__all__ = [
    "ImageBatch",
    "UnreadableImage",
    "add_image_batch_options",
    "check_image_batch_options",
    "collect_images",
    "image_batches",
    "report_unreadable",
    "require_image_decoder",
]


def add_image_batch_options(parser: argparse.ArgumentParser, *, progress: bool = True) -> None:
    """The options of every command that reads images in batches: ``--batch-size``, ``--workers`` and, with
    ``progress``, ``--no-progress``; :func:`check_image_batch_options` checks their values."""
    parser.add_argument("--batch-size", type=int, default=256, help="images per forward pass (256)")
    parser.add_argument("--workers", type=int, default=1, help="background image-decoding processes (1)")
    if progress:
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def check_image_batch_options(args: argparse.Namespace) -> None:
    """``--batch-size`` >= 1 and ``--workers`` >= 0, or a ValueError naming the option and the value."""
    check_positive_int(args.batch_size, "--batch-size")
    check_positive_int(args.workers, "--workers", minimum=0)


@dataclass(frozen=True)
class UnreadableImage:
    """An input that was skipped: its path (or pattern) and why."""

    path: str
    reason: str


def report_unreadable(unreadable: Sequence[UnreadableImage]) -> None:
    """List the skipped inputs on standard error, each with its reason (nothing when there are none)."""
    if unreadable:
        print(f"skipped {len(unreadable)} unreadable input(s):", file=sys.stderr)
        for item in unreadable:
            print(f"  {item.path}: {item.reason}", file=sys.stderr)


def require_image_decoder() -> None:
    """Check, once and before any work, that images can be decoded here (Pillow, an optional extra).

    Raises:
        ImportError: naming the extra to install (otherwise every decoding worker would fail on its own).
    """
    pillow_image()


def _left_out(report: ReadReport) -> list[UnreadableImage]:
    """Every file a folder walk left out (not an image file, broken link, cycle, special file), with why."""
    out: list[UnreadableImage] = []
    for reason, count in sorted(report.excluded.items()):
        examples = report.excluded_examples.get(reason, [])
        out += [UnreadableImage(str(path), reason) for path in examples]
        if count > len(examples):
            out.append(UnreadableImage(f"({count - len(examples)} more)", reason))
    return out


def collect_images(items: Sequence[str | os.PathLike[str]]) -> tuple[list[Path], list[UnreadableImage]]:
    """Expand files, folders (walked recursively, sorted) and glob patterns into image paths.

    Returns:
        the image paths (each once, in the order found) and the inputs that gave no image (a missing path,
        a pattern matching nothing, a file without an image extension) and the files a folder walk left out.
    """
    found: list[Path] = []
    problems: list[UnreadableImage] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        key = path.absolute()
        if key not in seen:
            seen.add(key)
            found.append(path)

    for item in items:
        text = os.fspath(item)
        path = Path(text)
        if path.is_dir():
            report = ReadReport("quality", "all", path)
            images = list_image_files(path, report, recursive=True)
            problems += _left_out(report)
            if not images:
                problems.append(UnreadableImage(text, "folder holds no image file"))
            for image in images:
                add(image)
        elif path.is_file():
            if is_image_file(path):
                add(path)
            else:
                problems.append(
                    UnreadableImage(text, f"not an image file (extension not one of {_EXTENSIONS})")
                )
        elif glob.has_magic(text):
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True))
            files = [m for m in matches if m.is_file() and is_image_file(m)]
            if not files:
                problems.append(UnreadableImage(text, f"pattern matches no image file ({_EXTENSIONS})"))
            for match in files:
                add(match)
        else:
            problems.append(UnreadableImage(text, "no such file or folder"))
    return found, problems


class _DecodedImages(Dataset[tuple[int, Tensor | None, str]]):
    """``dataset[i] = (i, uint8 (3, S, S) or None, error text)``: decode and resize one image."""

    def __init__(self, paths: Sequence[Path], preprocessing: Preprocessing) -> None:
        self.paths = list(paths)
        self.preprocessing = preprocessing

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[int, Tensor | None, str]:
        try:
            image = decode_image(self.paths[index])
        except (ImageDecodeError, FileNotFoundError, OSError) as error:
            return index, None, str(error)
        return index, self.preprocessing.resize_image(image), ""


@dataclass
class ImageBatch:
    """One batch: ``images`` uint8 (b, 3, S, S) of the readable ``indices`` (into the path list), and the
    unreadable images of the batch with their ``unreadable_indices``."""

    indices: list[int]
    images: Tensor
    unreadable: list[UnreadableImage]
    unreadable_indices: list[int] = field(default_factory=list)


def _collate(paths: Sequence[Path]) -> Any:
    def collate(items: Sequence[tuple[int, Tensor | None, str]]) -> ImageBatch:
        good = [(i, image) for i, image, _ in items if image is not None]
        bad = [UnreadableImage(str(paths[i]), error) for i, image, error in items if image is None]
        if good:
            stacked = torch.stack([image for _, image in good])
        else:
            stacked = torch.empty((0, 3, 0, 0), dtype=torch.uint8)
        failed = [i for i, image, _ in items if image is None]
        return ImageBatch([i for i, _ in good], stacked, bad, failed)

    return collate


def image_batches(
    paths: Sequence[Path], preprocessing: Preprocessing, batch_size: int = 256, workers: int = 1
) -> Iterator[ImageBatch]:
    """Batches of decoded, resized images, in path order, read by ``workers`` background processes.

    With ``workers >= 1`` a ``DataLoader`` worker decodes and resizes the next batches while the model runs
    on the current one (prefetching 4 batches per worker), so the model does not wait for the disk; with 0 the
    images are read in this process.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"expected batch_size to be an int >= 1, got {batch_size!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ValueError(f"expected workers to be an int >= 0, got {workers!r}")
    if not paths:
        return iter(())
    loader = DataLoader(
        _DecodedImages(paths, preprocessing),
        batch_size=batch_size,
        shuffle=False,
        num_workers=workers,
        collate_fn=_collate(paths),
        prefetch_factor=4 if workers else None,
    )
    return iter(loader)
