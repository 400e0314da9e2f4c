"""Image decoding and image-file listing shared by the dataset readers.

Decoding needs Pillow, an optional extra (``pip install recognizability[image]``); it is imported on first
use so that ``import recognizability.data`` works without it.

Symbolic links inside a dataset folder are followed, to files and to folders alike (datasets are often
assembled from links to other disks); a record keeps the link's own path, inside the dataset root, so paths
relative to the root (``synthetic_metadata.csv``, .mat listings) work. A link to a folder that is being walked
(a cycle) and a broken link are left out and counted in the reader's ``report``, never silently.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .records import ReadReport

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageDecodeError",
    "decode_image",
    "is_image_file",
    "list_image_files",
    "pillow_image",
    "walk_files",
]

#: Extensions the readers accept, compared case-insensitively (``.JPG`` counts).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
#: The accepted extensions as written in messages: ``.jpg/.jpeg/.png/.bmp/.webp``.
EXTENSIONS_TEXT = "/".join(IMAGE_EXTENSIONS)

NOT_AN_IMAGE = f"not an image file (extension not {EXTENSIONS_TEXT})"
BROKEN_LINK = "broken symbolic link (its target does not exist)"
LINK_CYCLE = "symbolic link to a folder that is being walked (a cycle; not walked again)"
NOT_A_FILE = "not a regular file or folder"

#: File formats decoded (Pillow's names; MPO is the multi-picture JPEG some cameras write).
_FORMATS = ("JPEG", "MPO", "PNG", "BMP", "WEBP")
#: The decoded formats as written in messages.
_FORMATS_TEXT = "JPEG, PNG, BMP or WebP"
#: Pillow modes with 8-bit channels, converted to RGB without loss of range.
_EIGHT_BIT_MODES = ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "RGBa", "CMYK", "YCbCr", "La")


class ImageDecodeError(OSError):
    """An image file exists but could not be decoded."""


def pillow_image() -> Any:
    """Pillow's ``PIL.Image`` module, or an ImportError naming the extra to install (Pillow is optional)."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(
            "decoding images needs Pillow, which is not installed: pip install 'recognizability[image]'"
        ) from None
    return Image


def is_image_file(path: Path) -> bool:
    """Whether ``path`` has an image extension (:data:`IMAGE_EXTENSIONS`: .jpg, .jpeg, .png, .bmp or .webp,
    any case) and is not a hidden file."""
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def decode_image(path: str | os.PathLike[str]) -> Tensor:
    """Decode one image file into a uint8 tensor of shape (3, H, W), channels in RGB order.

    Grayscale, palette and RGBA/CMYK images are converted to RGB (grayscale is repeated over the three
    channels). Only JPEG, PNG, BMP and WebP files with 8-bit channels are accepted, whatever the extension
    says. Pillow's decompression-bomb limit is kept: an image of more than ``2 * PIL.Image.MAX_IMAGE_PIXELS``
    pixels (178956970 by default, e.g. 14000 x 14000) is refused before its pixels are read.

    Raises:
        FileNotFoundError: ``path`` does not exist (or is a broken link).
        ImageDecodeError: the file exists but is not a readable JPEG/PNG/BMP/WebP image with 8-bit channels:
            empty, truncated, corrupt, another format (GIF, TIFF, text...), 16-bit/float pixels, or more
            pixels than Pillow's decompression-bomb limit. The message names the file, what was expected and
            what was found.
        ImportError: Pillow is not installed.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"expected path to be a str or os.PathLike, got {type(path).__name__}")
    file = Path(path)
    image_module = pillow_image()
    if not file.is_file():
        if file.is_symlink():
            raise FileNotFoundError(f"image file {file} is a broken symbolic link to {os.readlink(file)}")
        raise FileNotFoundError(f"image file not found: {file}")
    expected = f"expected a {_FORMATS_TEXT} image with 8-bit channels"
    if file.stat().st_size == 0:
        raise ImageDecodeError(f"could not decode image {file}: {expected}, got an empty file (0 bytes)")
    try:
        with image_module.open(file) as image:
            if image.format not in _FORMATS:
                found = f"a {image.format} file"
                raise ImageDecodeError(f"could not decode image {file}: {expected}, got {found}")
            if image.mode not in _EIGHT_BIT_MODES:
                raise ImageDecodeError(
                    f"could not decode image {file}: {expected}, got pixel mode {image.mode!r} "
                    "(16-bit or floating-point channels)"
                )
            rgb = image.convert("RGB")
            array = np.asarray(rgb, dtype=np.uint8)
    except ImageDecodeError:
        raise
    except image_module.DecompressionBombError as error:  # not an OSError: named here so that it is skipped
        raise ImageDecodeError(
            f"could not decode image {file}: expected an image of at most {_bomb_limit(image_module)} pixels "
            f"(Pillow's decompression-bomb limit, 2 x PIL.Image.MAX_IMAGE_PIXELS), got {_bomb_pixels(error)}"
        ) from error
    except (OSError, ValueError, SyntaxError) as error:  # PIL raises these for truncated/corrupt files
        raise ImageDecodeError(
            f"could not decode image {file}: {expected}, got a file Pillow cannot decode "
            f"(truncated or corrupt?): {error}"
        ) from error
    return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()


def _bomb_limit(image_module: Any) -> str:
    """The pixel count above which Pillow refuses to open an image, as text."""
    limit = image_module.MAX_IMAGE_PIXELS
    return str(2 * int(limit)) if limit is not None else "the limit"


def _bomb_pixels(error: Exception) -> str:
    """The pixel count of an image Pillow refused as a decompression bomb, read from its message."""
    match = re.search(r"\((\d+) pixels\)", str(error))
    return f"{match.group(1)} pixels" if match else f"more ({error})"


def walk_files(folder: Path, report: ReadReport) -> list[Path]:
    """Every file under ``folder``, recursively, in sorted path order, following symbolic links.

    Paths are the links' own paths (inside ``folder``). Links that close a cycle, broken links and entries
    that are neither files nor folders (sockets, FIFOs) are left out and counted in ``report``.

    Raises:
        FileNotFoundError: ``folder`` is not a folder.
    """
    if not folder.is_dir():
        raise FileNotFoundError(f"expected a folder at {folder}, but it does not exist")
    found: list[Path] = []

    def visit(current: Path, ancestors: frozenset[str]) -> None:
        for path in sorted(current.iterdir()):
            if path.is_dir():
                real = os.path.realpath(path)
                if real in ancestors:
                    report.exclude(LINK_CYCLE, path)
                    continue
                visit(path, ancestors | {real})
            elif path.is_file():
                found.append(path)
            elif path.is_symlink():
                report.exclude(BROKEN_LINK, path)
            else:
                report.exclude(NOT_A_FILE, path)

    visit(folder, frozenset({os.path.realpath(folder)}))
    return sorted(found)


def list_image_files(folder: Path, report: ReadReport, *, recursive: bool = True) -> list[Path]:
    """Image files under ``folder`` in sorted (deterministic) order.

    Files without an image extension are left out and counted in ``report`` (never silently). Sub-folders are
    walked when ``recursive``; otherwise each sub-folder is counted as excluded. Symbolic links: see the
    module docstring (:func:`walk_files`).
    """
    if not folder.is_dir():
        raise FileNotFoundError(f"expected a folder of images at {folder}, but it does not exist")
    if recursive:
        files = walk_files(folder, report)
    else:
        files = []
        for path in sorted(folder.iterdir()):
            if path.is_dir():
                report.exclude("sub-folder (not walked)", path)
            elif path.is_file():
                files.append(path)
            elif path.is_symlink():
                report.exclude(BROKEN_LINK, path)
            else:
                report.exclude(NOT_A_FILE, path)
    found: list[Path] = []
    for path in files:
        if is_image_file(path):
            found.append(path)
        else:
            report.exclude(NOT_AN_IMAGE, path)
    return found
