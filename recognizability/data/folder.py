"""Any folder of face images, e.g. a UI (unrecognisable identity) set.

The paper's UI set (11,707 detector-harvested crops from LPW and MARS) is not distributed; this reader serves
any replacement, and the UI folder the synthetic benchmark writes. Every image gets label -1.
"""

from __future__ import annotations

import os

from ._base import FaceDataset, ImageTransform, resolve_root
from ._images import list_image_files
from .records import UNLABELLED, FaceRecord, ReadReport

__all__ = ["ImageFolder"]


class ImageFolder(FaceDataset):
    """Every .jpg/.jpeg/.png file under ``root`` (any case), walked recursively in sorted order; label -1.

    Args:
        root: folder of images (sub-folders are walked when ``recursive``).
        recursive: walk sub-folders (default True); otherwise they are reported as excluded.
        label: the label given to every image (default -1, unlabelled).
        transform: optional callable applied to each decoded uint8 (3, H, W) image.

    Raises:
        FileNotFoundError: ``root`` is not a folder, or holds no image.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        recursive: bool = True,
        label: int = UNLABELLED,
        transform: ImageTransform | None = None,
    ) -> None:
        if not isinstance(label, int):
            raise TypeError(f"expected label to be an int, got {type(label).__name__}")
        base = resolve_root(root, "ImageFolder", "a folder of .jpg/.jpeg/.png images")
        report = ReadReport("ImageFolder", "all", base)
        paths = list_image_files(base, report, recursive=recursive)
        if not paths:
            raise FileNotFoundError(f"ImageFolder: expected .jpg/.jpeg/.png images under {base}; found none")
        samples = [FaceRecord(path, label, "all") for path in paths]
        super().__init__(base, "all", samples, report, transform)
