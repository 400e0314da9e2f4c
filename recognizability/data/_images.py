"""Image decoding and image-file listing shared by the dataset readers.

Decoding needs Pillow, an optional extra (``pip install recognizability[image]``); it is imported on first
use so that ``import recognizability.data`` works without it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .records import ReadReport

__all__ = ["IMAGE_EXTENSIONS", "ImageDecodeError", "decode_image", "is_image_file", "list_image_files"]

#: Extensions the readers accept, compared case-insensitively (``.JPG`` counts).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")

NOT_AN_IMAGE = "not an image file (extension not .jpg/.jpeg/.png)"


class ImageDecodeError(OSError):
    """An image file exists but could not be decoded."""


def _pillow() -> Any:
    try:
        from PIL import Image
    except ImportError as error:  # pragma: no cover - exercised only without Pillow installed
        raise ImportError(
            "decoding images needs Pillow, an optional extra: pip install recognizability[image]"
        ) from error
    return Image


def is_image_file(path: Path) -> bool:
    """Whether ``path`` has an image extension (.jpg, .jpeg or .png, any case) and is not a hidden file."""
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def decode_image(path: str | os.PathLike[str]) -> Tensor:
    """Decode one image file into a uint8 tensor of shape (3, H, W), channels in RGB order.

    Grayscale, palette and RGBA/CMYK images are converted to RGB (grayscale is repeated over the three
    channels).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ImageDecodeError: the file exists but is not a readable image.
        ImportError: Pillow is not installed.
    """
    file = Path(path)
    image_module = _pillow()
    if not file.is_file():
        raise FileNotFoundError(f"image file not found: {file}")
    try:
        with image_module.open(file) as image:
            rgb = image.convert("RGB")
            array = np.asarray(rgb, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError) as error:  # PIL raises these for truncated/corrupt files
        raise ImageDecodeError(f"could not decode image {file}: {error}") from error
    return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()


def list_image_files(folder: Path, report: ReadReport, *, recursive: bool = True) -> list[Path]:
    """Image files under ``folder`` in sorted (deterministic) order.

    Files without an image extension are left out and counted in ``report`` (never silently). Sub-folders are
    walked when ``recursive``; otherwise each sub-folder is counted as excluded.
    """
    if not folder.is_dir():
        raise FileNotFoundError(f"expected a folder of images at {folder}, but it does not exist")
    found: list[Path] = []
    walker = sorted(folder.rglob("*")) if recursive else sorted(folder.iterdir())
    for path in walker:
        if path.is_dir():
            if not recursive:
                report.exclude("sub-folder (not walked)", path)
            continue
        if is_image_file(path):
            found.append(path)
        else:
            report.exclude(NOT_AN_IMAGE, path)
    return found
