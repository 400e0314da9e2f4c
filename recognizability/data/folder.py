"""Any folder of face images: a UI (unrecognisable identity) set, or identity folders of clean faces.

The paper's UI set (11,707 detector-harvested crops from LPW and MARS) is not distributed; this reader serves
any replacement, and the UI folder the synthetic benchmark writes: every image gets label -1.

With ``identity_folders=True`` it reads a labelled set laid out one sub-folder per identity, as VGGFace2 and
the synthetic ``hr`` layout are (``root/<identity>/<image>.jpg|png``): the pretraining stage of the paper's
protocol.
"""

from __future__ import annotations

import os

from .._validation import check_bool
from ._base import FaceDataset, ImageTransform, check_transform, resolve_root
from ._images import EXTENSIONS_TEXT, list_image_files
from ._protocol import list_identity_folders
from .records import UNLABELLED, FaceRecord, ReadReport

__all__ = ["ImageFolder"]


class ImageFolder(FaceDataset):
    """Every .jpg/.jpeg/.png/.bmp/.webp file under ``root`` (any case), walked recursively in sorted order;
    label -1.

    Args:
        root: folder of images (sub-folders are walked when ``recursive``).
        recursive: walk sub-folders (default True); otherwise they are reported as excluded.
        label: the label given to every image (default -1, unlabelled).
        identity_folders: read ``root/<identity>/...`` as a labelled set instead: each sub-folder is an
            identity (walked recursively), labels are 0..N-1 in natural order of the folder names ("2" before
            "10"; zero-padded names sort the same either way), records carry ``identity`` = the folder name.
            Files directly in ``root`` and identity folders without an image are left out and counted in
            ``report``. ``label`` and ``recursive`` must keep their defaults.
        transform: optional callable applied to each decoded uint8 (3, H, W) image.

    Symbolic links are followed, to files and to folders (the record's path is the link's path inside
    ``root``); a link to a folder already walked is left out (no cycles), and a broken link is left out;
    both are counted in ``report``.

    Raises:
        FileNotFoundError: ``root`` is not a folder, or holds no image (no identity folder holding an image,
            with ``identity_folders``).
        TypeError: ``label`` is not an int, or ``transform`` is not callable.
        ValueError: ``label`` or ``recursive`` changed together with ``identity_folders``.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        recursive: bool = True,
        label: int = UNLABELLED,
        identity_folders: bool = False,
        transform: ImageTransform | None = None,
    ) -> None:
        if isinstance(label, bool) or not isinstance(label, int):
            raise TypeError(f"expected label to be an int, got {type(label).__name__}")
        check_bool(recursive, "recursive")
        check_bool(identity_folders, "identity_folders")
        if identity_folders and (label != UNLABELLED or not recursive):
            raise ValueError(
                "expected label and recursive at their defaults with identity_folders=True (labels come from "
                f"the folders, which are walked recursively), got label={label!r}, recursive={recursive!r}"
            )
        check_transform(transform)
        if identity_folders:
            expected = f"a folder of identity sub-folders of {EXTENSIONS_TEXT} images"
            base = resolve_root(root, "ImageFolder", expected)
            report = ReadReport("ImageFolder", "identities", base)
            samples = [
                FaceRecord(path, index, "identities", identity=name)
                for index, (name, paths) in enumerate(list_identity_folders(base, report))
                for path in paths
            ]
            super().__init__(base, "identities", samples, report, transform)
            return
        base = resolve_root(root, "ImageFolder", f"a folder of {EXTENSIONS_TEXT} images")
        report = ReadReport("ImageFolder", "all", base)
        paths = list_image_files(base, report, recursive=recursive)
        if not paths:
            raise FileNotFoundError(
                f"ImageFolder: expected {EXTENSIONS_TEXT} images under {base}; found none"
            )
        samples = [FaceRecord(path, label, "all") for path in paths]
        super().__init__(base, "all", samples, report, transform)
