"""QMUL-SurvFace (Cheng, Zhu and Gong, 2018) read as its owners distribute it.

Layout (``root`` is the ``QMUL-SurvFace`` folder)::

    root/
      training_set/<pid>/<pid>_cam<c>_<k>.jpg
      Face_Identification_Test_Set/
        gallery/  mated_probe/  unmated_probe/
        gallery_img_ID_pairs.mat           gallery_set (N x 1 cell of names), gallery_ids (N x 1)
        mated_probe_img_ID_pairs.mat       mated_probe_set, mated_probe_ids (ids start at 1)
      Face_Identification_Evaluation/      some copies hold the .mat files here instead
      Face_Verification_Test_Set/
        verification_images/
        positive_pairs_names.mat           positive_pairs_names (N x 2 cell of names)
        negative_pairs_names.mat           negative_pairs_names (N x 2 cell of names)

Label rules:

- ``train``: identity folders in natural order of their pid -> contiguous labels 0..N_train-1.
- ``gallery`` / ``mated_probe``: the rank of the image's .mat id among the sorted ids of both .mat files (ids
  1..3000 give labels 0..2999), so a mated probe has its gallery mate's label. When every listed name starts
  with ``<pid>_``, the pids are checked to relabel the ids one-to-one (:class:`MatFormatError` otherwise).
- ``unmated_probe``: label -1 (their identities are absent from the gallery).

Training and test identities are disjoint: train labels index the classifier; test labels say which images
match.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .._validation import check_choice
from ._base import FaceDataset, ImageTransform, check_transform, require_images, resolve_root
from ._images import list_image_files, walk_files
from ._mat import find_variable, load_mat, locate_file, read_name_cells, read_protocol_listings
from ._protocol import check_bijection, list_identity_folders, match_listed_files
from .records import UNLABELLED, FaceRecord, ReadReport

__all__ = ["SurvFace", "survface_verification_pairs"]

_LAYOUT = "a QMUL-SurvFace folder holding training_set/, Face_Identification_Test_Set/, ..."
_CAMERA = re.compile(r"_cam(\d+)_", re.IGNORECASE)
_IDENTIFICATION = "Face_Identification_Test_Set"
_VERIFICATION = "Face_Verification_Test_Set"

# subset -> (file name, candidate name variables, candidate id variables, image folder)
_MAT_FILES = {
    "gallery": ("gallery_img_ID_pairs.mat", ("gallery_set",), ("gallery_ids",), "gallery"),
    "mated_probe": (
        "mated_probe_img_ID_pairs.mat",
        ("mated_probe_set", "probe_set"),
        ("mated_probe_ids", "probe_ids"),
        "mated_probe",
    ),
}


def _camera(name: str) -> int | None:
    match = _CAMERA.search(Path(name).name)
    return int(match.group(1)) if match else None


def _pid(name: str) -> str | None:
    stem = Path(name).stem
    return stem.split("_", 1)[0] if "_" in stem else None


class SurvFace(FaceDataset):
    """One subset of QMUL-SurvFace: ``"train"``, ``"gallery"``, ``"mated_probe"`` or ``"unmated_probe"``.

    Args:
        root: the ``QMUL-SurvFace`` folder.
        subset: which subset to read.
        transform: optional callable applied to each decoded uint8 (3, H, W) image.

    Records carry ``identity`` (the pid, when the file name carries one), ``camera`` (from ``_cam<c>_`` in the
    name, else ``None``) and, for gallery/mated_probe, ``protocol_id`` (the .mat id). Label rules: see the
    module docstring.

    Raises:
        FileNotFoundError: a folder or .mat file of the layout is missing (the message names the paths
            searched), or the subset holds no image (an empty unmated_probe folder, a .mat file listing no
            image): an empty test subset is an error, never a silent empty dataset.
        MatFormatError: a .mat file lacks the expected variables, or its ids disagree with the file names.
    """

    SUBSETS = ("train", "gallery", "mated_probe", "unmated_probe")

    def __init__(
        self, root: str | os.PathLike[str], subset: str, *, transform: ImageTransform | None = None
    ) -> None:
        check_choice(subset, "subset", self.SUBSETS)
        check_transform(transform)
        base = resolve_root(root, "SurvFace", _LAYOUT)
        report = ReadReport("SurvFace", subset, base)
        if subset == "train":
            samples: list[FaceRecord] = []
            for label, (pid, images) in enumerate(list_identity_folders(base / "training_set", report)):
                samples.extend(
                    FaceRecord(path, label, subset, identity=pid, camera=_camera(path.name))
                    for path in images
                )
        elif subset == "unmated_probe":
            folder = base / _IDENTIFICATION / "unmated_probe"
            samples = [
                FaceRecord(path, UNLABELLED, subset, identity=_pid(path.name), camera=_camera(path.name))
                for path in list_image_files(folder, report, recursive=True)
            ]
            require_images(samples, "SurvFace", subset, folder, report)
        else:
            samples = self._read_listed(base, subset, report)
        super().__init__(base, subset, samples, report, transform)

    @staticmethod
    def _read_listed(base: Path, subset: str, report: ReadReport) -> list[FaceRecord]:
        test_set = base / _IDENTIFICATION
        if not test_set.is_dir():
            raise FileNotFoundError(f"SurvFace: expected the folder {test_set}; it does not exist")
        folders = [test_set, base / "Face_Identification_Evaluation", base]
        listings = read_protocol_listings(_MAT_FILES, folders, "SurvFace")
        all_names = [name for _, names, _ in listings.values() for name in names]
        if all(_pid(name) is not None for name in all_names):
            check_bijection(
                (
                    (str(_pid(name)), mat_id)
                    for _, names, ids in listings.values()
                    for name, mat_id in zip(names, ids, strict=True)
                ),
                "SurvFace gallery/mated_probe .mat files",
            )
            report.notes.append("file-name pids agree one-to-one with the .mat ids")
        else:
            report.notes.append("file names carry no <pid>_ prefix: pid/.mat-id consistency not checked")
        all_ids = sorted({mat_id for _, _, ids in listings.values() for mat_id in ids})
        label_of = {mat_id: rank for rank, mat_id in enumerate(all_ids)}
        mat_path, names, ids = listings[subset]
        report.notes.append(f"names and ids read from {mat_path}")
        folder = test_set / _MAT_FILES[subset][3]
        paths = match_listed_files(folder, names, mat_path, report)
        samples = [
            FaceRecord(
                path,
                label_of[mat_id],
                subset,
                identity=_pid(name),
                protocol_id=mat_id,
                camera=_camera(name),
            )
            for path, name, mat_id in zip(paths, names, ids, strict=True)
        ]
        require_images(samples, "SurvFace", subset, folder, report)
        return samples


def _resolve(name: str, on_disk: dict[str, Path], images: Path, mat_path: Path) -> Path:
    path = on_disk.get(Path(name.replace("\\", "/")).name.lower())
    if path is None:
        raise FileNotFoundError(f"{mat_path} names {name!r}, which is not in {images}")
    return path


def survface_verification_pairs(root: str | os.PathLike[str]) -> list[tuple[Path, Path, bool]]:
    """The QMUL-SurvFace verification pairs as ``(path_a, path_b, is_same)``, in the .mat files' order.

    Positive pairs (``positive_pairs_names.mat``, variable ``positive_pairs_names``, an N x 2 cell of names)
    come first, then negative pairs (``negative_pairs_names.mat``). Names resolve in
    ``Face_Verification_Test_Set/verification_images`` (case-insensitively). The .mat files are looked for in
    ``Face_Verification_Test_Set``, ``Face_Verification_Evaluation`` and ``root``.

    Raises:
        FileNotFoundError: a .mat file or a named image is missing (the message names them).
        MatFormatError: a .mat file lacks the expected variable or is not an N x 2 cell of names.
    """
    base = resolve_root(root, "SurvFace", _LAYOUT)
    test_set = base / _VERIFICATION
    images = test_set / "verification_images"
    if not images.is_dir():
        raise FileNotFoundError(f"SurvFace: expected the folder {images}; it does not exist")
    report = ReadReport("SurvFace", "verification", base)
    on_disk = {path.name.lower(): path for path in walk_files(images, report)}
    folders = [test_set, base / "Face_Verification_Evaluation", base]
    pairs: list[tuple[Path, Path, bool]] = []
    for kind, is_same in (("positive", True), ("negative", False)):
        mat_path = locate_file(f"{kind}_pairs_names.mat", folders, f"SurvFace {kind} verification pairs")
        variable, value = find_variable(load_mat(mat_path), (f"{kind}_pairs_names",), mat_path)
        for row in read_name_cells(value, mat_path, variable, columns=2):
            first, second = (_resolve(name, on_disk, images, mat_path) for name in row)
            pairs.append((first, second, is_same))
    return pairs
