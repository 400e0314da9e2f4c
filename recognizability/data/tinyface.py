"""TinyFace (Cheng, Zhu and Gong, ACCV 2018) read as its owners distribute it.

Layout (``root`` is the folder holding ``Training_Set`` and ``Testing_Set``)::

    root/
      Training_Set/<PersonID>/<PersonID>_<k>.jpg
      Testing_Set/
        Probe/<PersonID>_<k>.jpg
        Gallery_Match/<PersonID>_<k>.jpg
        Gallery_Distractor/...                   (walked recursively)
        probe_img_ID_pairs.mat                   probe_set (N x 1 cell of names), probe_ids (N x 1)
        gallery_match_img_ID_pairs.mat          gallery_set, gallery_ids
      Face_Identification_Evaluation/            some copies keep the two .mat files here instead

Label rules:

- ``train``: identity folders in natural order of their PersonID -> contiguous labels 0..N_train-1 (folders
  with no image get no label and are reported).
- ``probe`` / ``gallery``: the label is the rank of the image's .mat id among the sorted ids of *both* .mat
  files, so the same person has the same label in probe and gallery (contiguous 0..N_test-1). The file-name
  PersonIDs are checked against the .mat ids: they must relabel each other one-to-one, otherwise
  :class:`MatFormatError`.
- ``distractor``: label -1 (unknown identity; the official protocol's -100).

TinyFace's training and test identities are disjoint, so the train and test label spaces are unrelated: train
labels index the classifier, test labels only say which probe and gallery images match.
"""

from __future__ import annotations

import os
from pathlib import Path

from .._validation import check_choice
from ._base import FaceDataset, ImageTransform, check_transform, require_images, resolve_root
from ._images import list_image_files
from ._mat import read_protocol_listings
from ._protocol import check_bijection, list_identity_folders, match_listed_files
from .records import UNLABELLED, FaceRecord, ReadReport

__all__ = ["TinyFace"]

_LAYOUT = "a TinyFace root holding Training_Set/ and Testing_Set/"

# (file name, candidate variables for the names, candidate variables for the ids, image folder)
_MAT_FILES = {
    "probe": ("probe_img_ID_pairs.mat", ("probe_set",), ("probe_ids",), "Probe"),
    "gallery": (
        "gallery_match_img_ID_pairs.mat",
        ("gallery_set", "gallery_match_set"),
        ("gallery_ids", "gallery_match_ids"),
        "Gallery_Match",
    ),
}


def _person_id(name: str, mat_path: Path) -> str:
    stem = Path(name).stem
    if "_" not in stem:
        raise ValueError(f"{mat_path}: expected test file names of the form <PersonID>_<k>.jpg, got {name!r}")
    return stem.split("_", 1)[0]


class TinyFace(FaceDataset):
    """One subset of TinyFace: ``"train"``, ``"probe"``, ``"gallery"`` (Gallery_Match) or ``"distractor"``.

    Args:
        root: folder holding ``Training_Set`` and ``Testing_Set``.
        subset: which subset to read.
        transform: optional callable applied to each decoded uint8 (3, H, W) image.

    ``dataset[i]`` is ``(image uint8 (3, H, W) at stored size, label)``; records carry ``identity`` (PersonID)
    and, for probe/gallery, ``protocol_id`` (the .mat id). See the module docstring for the label rules.

    Raises:
        FileNotFoundError: a folder or .mat file of the layout is missing (the message names the path
            searched), or the subset holds no image (an empty Gallery_Distractor folder, a .mat file listing
            no image): an empty test subset is an error, never a silent empty dataset.
        MatFormatError: a .mat file lacks the expected variables, or its ids disagree with the file names.
    """

    SUBSETS = ("train", "probe", "gallery", "distractor")

    def __init__(
        self, root: str | os.PathLike[str], subset: str, *, transform: ImageTransform | None = None
    ) -> None:
        check_choice(subset, "subset", self.SUBSETS)
        check_transform(transform)
        base = resolve_root(root, "TinyFace", _LAYOUT)
        report = ReadReport("TinyFace", subset, base)
        if subset == "train":
            samples = self._read_train(base, report)
        elif subset == "distractor":
            folder = base / "Testing_Set" / "Gallery_Distractor"
            samples = [
                FaceRecord(path, UNLABELLED, subset)
                for path in list_image_files(folder, report, recursive=True)
            ]
            require_images(samples, "TinyFace", subset, folder, report)
        else:
            samples = self._read_test(base, subset, report)
        super().__init__(base, subset, samples, report, transform)

    @staticmethod
    def _read_train(base: Path, report: ReadReport) -> list[FaceRecord]:
        samples: list[FaceRecord] = []
        for label, (person, images) in enumerate(list_identity_folders(base / "Training_Set", report)):
            samples.extend(FaceRecord(path, label, "train", identity=person) for path in images)
        return samples

    @staticmethod
    def _read_test(base: Path, subset: str, report: ReadReport) -> list[FaceRecord]:
        testing = base / "Testing_Set"
        if not testing.is_dir():
            raise FileNotFoundError(f"TinyFace: expected the folder {testing}; it does not exist")
        folders = [
            testing,
            base / "Face_Identification_Evaluation",
            testing / "Face_Identification_Evaluation",
        ]
        listings = read_protocol_listings(_MAT_FILES, folders, "TinyFace")
        check_bijection(
            (
                (_person_id(name, mat_path), mat_id)
                for mat_path, names, ids in listings.values()
                for name, mat_id in zip(names, ids, strict=True)
            ),
            "TinyFace probe/gallery .mat files",
        )
        label_of = {
            mat_id: rank
            for rank, mat_id in enumerate(sorted({i for _, _, ids in listings.values() for i in ids}))
        }
        mat_path, names, ids = listings[subset]
        report.notes.append(
            f"names and ids read from {mat_path}; file-name PersonIDs agree one-to-one with the ids"
        )
        folder = testing / _MAT_FILES[subset][3]
        paths = match_listed_files(folder, names, mat_path, report)
        samples = [
            FaceRecord(
                path, label_of[mat_id], subset, identity=_person_id(name, mat_path), protocol_id=mat_id
            )
            for path, name, mat_id in zip(paths, names, ids, strict=True)
        ]
        require_images(samples, "TinyFace", subset, folder, report)
        return samples
