"""The behaviour every dataset reader shares: samples, report, lazy decoding, synthetic metadata."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from torch import Tensor
from torch.utils.data import Dataset

from ._images import ImageDecodeError, decode_image
from .metadata import attach_metadata, is_synthetic_tree
from .records import FaceRecord, ReadReport

__all__ = ["FaceDataset", "check_transform", "require_images", "resolve_root"]

ImageTransform = Callable[[Tensor], Tensor]


def resolve_root(root: str | os.PathLike[str], dataset: str, expected: str) -> Path:
    """``root`` as an absolute Path; FileNotFoundError naming it and the layout expected if not a folder."""
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(
            f"{dataset}: expected root to be a path (str or os.PathLike), got {type(root).__name__}"
        )
    path = Path(root).expanduser().absolute()
    if not path.is_dir():
        raise FileNotFoundError(f"{dataset}: root {path} is not a folder; expected {expected}")
    return path


def require_images(
    samples: Sequence[FaceRecord], dataset: str, subset: str, folder: Path, report: ReadReport
) -> None:
    """FileNotFoundError naming ``folder`` when a subset holds no image (an empty test subset would make
    every metric computed on it meaningless without a word); the files left out are summarised."""
    if samples:
        return
    left_out = "; ".join(f"{count} {reason}" for reason, count in sorted(report.excluded.items()))
    detail = f" (left out: {left_out})" if left_out else ""
    raise FileNotFoundError(f"{dataset}: expected {subset} images in {folder}, found none{detail}")


def check_transform(transform: object) -> None:
    """TypeError unless ``transform`` is None or callable (checked before any file is listed)."""
    if transform is not None and not callable(transform):
        raise TypeError(f"expected transform to be a callable or None, got {type(transform).__name__}")


class FaceDataset(Dataset[tuple[Tensor, int]]):
    """A list of :class:`FaceRecord` read once, decoded lazily.

    ``dataset[i]`` is ``(image, label)``: ``image`` a uint8 tensor of shape (3, H, W) in RGB at the file's
    stored size (VLR images differ in size: batch them with
    :func:`recognizability.data.transforms.collate_variable_size`), ``label`` an int (negative = unlabelled).
    An optional per-image ``transform`` is applied to the decoded tensor.

    Attributes:
        root: the dataset root folder.
        subset: the subset read.
        samples: list of :class:`FaceRecord`.
        report: :class:`ReadReport`, the counts read and excluded (and why).
        synthetic: True when the tree was written by the synthetic generator (``SYNTHETIC.txt`` at the root).
    """

    def __init__(
        self,
        root: Path,
        subset: str,
        samples: Sequence[FaceRecord],
        report: ReadReport,
        transform: ImageTransform | None = None,
    ) -> None:
        check_transform(transform)
        self.root = root
        self.subset = subset
        self.synthetic = is_synthetic_tree(root)
        if self.synthetic:
            report.notes.append(
                "synthetic tree (SYNTHETIC.txt at the root): figures are not comparable to the paper"
            )
        self.samples: list[FaceRecord] = attach_metadata(samples, root, report)
        report.read = len(self.samples)
        report.identities = len({record.label for record in self.samples if record.label >= 0})
        report.unlabelled = sum(1 for record in self.samples if record.label < 0)
        self.report = report
        self.transform = transform

    @property
    def labels(self) -> list[int]:
        """The label of every sample, in sample order."""
        return [record.label for record in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        record = self.samples[index]
        image = decode_image(record.path)
        if self.transform is not None:
            image = self.transform(image)
        return image, record.label

    def verify_images(self) -> None:
        """Decode every image once; raise :class:`ImageDecodeError` naming every unreadable file (first 10).

        Cheap for VLR datasets (tiny images); call it once after download to catch corrupt files before
        training.
        """
        bad: list[str] = []
        for record in self.samples:
            try:
                decode_image(record.path)
            except (ImageDecodeError, FileNotFoundError) as error:
                bad.append(str(error))
        if bad:
            shown = "\n  ".join(bad[:10])
            raise ImageDecodeError(
                f"{len(bad)} of {len(self.samples)} images could not be decoded:\n  {shown}"
            )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(root={str(self.root)!r}, subset={self.subset!r}, "
            f"samples={len(self.samples)}, synthetic={self.synthetic})"
        )
