"""SCface (Grgic, Delac and Grgic, 2011) read as its owners distribute it.

Layout (``root`` is the ``SCface_database`` folder)::

    root/
      mugshot_frontal_cropped_all/<sss>_frontal.JPG      (extension case varies)
      mugshot_frontal_original_all/<sss>_frontal.jpg
      surveillance_cameras_distance_<d>/cam_<c>/<sss>_cam<c>_<d>.jpg     d in 1..3, c in 1..7

``<sss>`` is the subject number 001..130. Distance 1 is the farthest (4.20 m), 2 is 2.60 m, 3 is 1.00 m.
Cameras 1-5 are visible light, 6-7 infrared; the protocol uses 1-5.

The paper's protocol: subjects 001-050 train (their surveillance images only, not their mugshots), subjects
051-130 are probes (5 cameras x 3 distances), matched against a gallery of all 130 frontal mugshots
(``gallery="all"``) or, as in some public code, the 80 test mugshots only (``gallery="test"``).

Label rule, shared by every subset: ``label = subject number - 1`` (subject 001 -> 0, 130 -> 129). The same
person therefore has the same label in train, probe and gallery, and the train labels are contiguous 0..49
when subjects 001-050 are all present.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from .._validation import check_choice, check_positive_int
from ._base import FaceDataset, ImageTransform, check_transform, resolve_root
from ._images import NOT_AN_IMAGE, is_image_file, walk_files
from .records import FaceRecord, ReadReport

__all__ = ["SCFace"]

_LAYOUT = "an SCface_database folder holding mugshot_frontal_*_all/ and surveillance_cameras_distance_<d>/"
_MUGSHOT_FOLDERS = {"cropped": "mugshot_frontal_cropped_all", "original": "mugshot_frontal_original_all"}
_SURVEILLANCE_NAME = re.compile(r"^(\d+)_cam(\d+)_(\d+)$")
_MUGSHOT_NAME = re.compile(r"^(\d+)_frontal$", re.IGNORECASE)
_CAMERA_FOLDER = re.compile(r"^cam_?(\d+)$", re.IGNORECASE)


def _check_indices(values: Iterable[int], name: str, allowed: range) -> tuple[int, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(
            f"expected {name} to be a collection of ints in {allowed.start}..{allowed.stop - 1}, "
            f"got {type(values).__name__} {values!r}"
        )
    chosen = tuple(values)
    if not chosen or any(isinstance(v, bool) or not isinstance(v, int) or v not in allowed for v in chosen):
        raise ValueError(
            f"expected {name} to be a non-empty collection of ints in {allowed.start}..{allowed.stop - 1}, "
            f"got {chosen!r}"
        )
    return chosen


class SCFace(FaceDataset):
    """One subset of SCface: ``"train"``, ``"probe"`` or ``"gallery"``.

    Args:
        root: the ``SCface_database`` folder.
        subset: ``"train"`` (surveillance images of subjects 1..``num_train_subjects``), ``"probe"``
            (surveillance images of the other subjects) or ``"gallery"`` (frontal mugshots).
        cameras: surveillance cameras to read (default 1-5, the visible-light ones of the protocol).
        distances: distances to read (default 1, 2, 3).
        gallery: ``"all"`` (every subject's mugshot, the paper's protocol) or ``"test"`` (test subjects only).
        mugshot: ``"cropped"``, ``"original"`` or ``"auto"`` (cropped if that folder exists, else original;
            the choice is written to ``report.notes``).
        num_train_subjects: subjects 1..this number form the training split (paper: 50).
        transform: optional callable applied to each decoded uint8 (3, H, W) image.

    Records of train and probe carry ``distance`` (1, 2 or 3) and ``camera``; every record carries
    ``identity`` (the zero-padded subject number). ``label = subject - 1`` in every subset.

    Raises:
        FileNotFoundError: a folder of the layout is missing, or no image matches the selection.
        ValueError: an image name does not follow ``<sss>_cam<c>_<d>`` / ``<sss>_frontal``, or disagrees
            with its folder's camera or distance.
    """

    SUBSETS = ("train", "probe", "gallery")

    def __init__(
        self,
        root: str | os.PathLike[str],
        subset: str,
        *,
        cameras: Iterable[int] = (1, 2, 3, 4, 5),
        distances: Iterable[int] = (1, 2, 3),
        gallery: str = "all",
        mugshot: str = "auto",
        num_train_subjects: int = 50,
        transform: ImageTransform | None = None,
    ) -> None:
        check_choice(subset, "subset", self.SUBSETS)
        check_choice(gallery, "gallery", ("all", "test"))
        check_choice(mugshot, "mugshot", ("auto", "cropped", "original"))
        check_transform(transform)
        check_positive_int(num_train_subjects, "num_train_subjects", minimum=0)
        self.cameras = _check_indices(cameras, "cameras", range(1, 8))
        self.distances = _check_indices(distances, "distances", range(1, 4))
        self.num_train_subjects = num_train_subjects
        base = resolve_root(root, "SCFace", _LAYOUT)
        report = ReadReport("SCFace", subset, base)
        if subset == "gallery":
            samples = self._read_mugshots(base, mugshot, gallery == "test", report)
        else:
            samples = self._read_surveillance(base, subset, report)
        if not samples:
            hint = (
                f"; subjects 1..{num_train_subjects} are the train split: pass a smaller num_train_subjects "
                "for a tree with fewer subjects"
                if subset == "probe"
                else ""
            )
            raise FileNotFoundError(
                f"SCFace: no {subset} image in {base} for cameras {self.cameras}, distances {self.distances} "
                f"and num_train_subjects={num_train_subjects}{hint}"
            )
        super().__init__(base, subset, samples, report, transform)

    def _in_subset(self, subject: int, subset: str) -> bool:
        is_train = subject <= self.num_train_subjects
        return is_train if subset == "train" else not is_train

    def _read_surveillance(self, base: Path, subset: str, report: ReadReport) -> list[FaceRecord]:
        samples: list[FaceRecord] = []
        other_split = 0
        for distance in self.distances:
            distance_folder = base / f"surveillance_cameras_distance_{distance}"
            if not distance_folder.is_dir():
                raise FileNotFoundError(
                    f"SCFace: expected the folder {distance_folder} (cam_<c>/<sss>_cam<c>_{distance}.jpg); "
                    "it does not exist"
                )
            cameras_found: set[int] = set()
            for camera_folder in sorted(distance_folder.iterdir()):
                match = _CAMERA_FOLDER.match(camera_folder.name)
                if not camera_folder.is_dir() or match is None:
                    report.exclude("not a cam_<c> folder", camera_folder)
                    continue
                camera = int(match.group(1))
                cameras_found.add(camera)
                for path in walk_files(camera_folder, report):
                    if not is_image_file(path):
                        report.exclude(NOT_AN_IMAGE, path)
                        continue
                    if camera not in self.cameras:
                        report.exclude("camera not selected (cameras=...)", path)
                        continue
                    subject = self._parse_surveillance(path, camera, distance)
                    if not self._in_subset(subject, subset):
                        other_split += 1
                        continue
                    samples.append(
                        FaceRecord(
                            path,
                            subject - 1,
                            subset,
                            identity=f"{subject:03d}",
                            distance=distance,
                            camera=camera,
                        )
                    )
            missing = sorted(set(self.cameras) - cameras_found)
            if missing:
                raise FileNotFoundError(
                    f"SCFace: expected folders cam_<c> for cameras {missing} in {distance_folder}; missing "
                    f"(the folder has cameras {sorted(cameras_found)}: pass cameras=... to read those)"
                )
        other = "probe" if subset == "train" else "train"
        report.notes.append(
            f"{other_split} selected surveillance images belong to the {other} split "
            f"(train = subjects 1..{self.num_train_subjects})"
        )
        return samples

    @staticmethod
    def _parse_surveillance(path: Path, camera: int, distance: int) -> int:
        match = _SURVEILLANCE_NAME.match(path.stem)
        if match is None:
            raise ValueError(f"SCFace: expected a surveillance image named <sss>_cam<c>_<d>.jpg, got {path}")
        subject, name_camera, name_distance = (int(g) for g in match.groups())
        if (name_camera, name_distance) != (camera, distance):
            raise ValueError(
                f"SCFace: {path} names camera {name_camera}, distance {name_distance} but lies in the "
                f"folder of camera {camera}, distance {distance}"
            )
        return subject

    def _read_mugshots(
        self, base: Path, mugshot: str, test_only: bool, report: ReadReport
    ) -> list[FaceRecord]:
        if mugshot == "auto":
            mugshot = "cropped" if (base / _MUGSHOT_FOLDERS["cropped"]).is_dir() else "original"
        folder = base / _MUGSHOT_FOLDERS[mugshot]
        if not folder.is_dir():
            other = "original" if mugshot == "cropped" else "cropped"
            hint = (
                f"; {_MUGSHOT_FOLDERS[other]} exists: pass mugshot={other!r}"
                if (base / _MUGSHOT_FOLDERS[other]).is_dir()
                else ""
            )
            raise FileNotFoundError(f"SCFace: expected the mugshot folder {folder}; it does not exist{hint}")
        report.notes.append(f"mugshots from {folder.name}; gallery={'test' if test_only else 'all'}")
        samples: list[FaceRecord] = []
        for path in walk_files(folder, report):
            if not is_image_file(path):
                report.exclude(NOT_AN_IMAGE, path)
                continue
            match = _MUGSHOT_NAME.match(path.stem)
            if match is None:
                raise ValueError(f"SCFace: expected a mugshot named <sss>_frontal.jpg, got {path}")
            subject = int(match.group(1))
            if test_only and subject <= self.num_train_subjects:
                report.exclude("mugshot of a train subject (gallery='test')", path)
                continue
            samples.append(FaceRecord(path, subject - 1, "gallery", identity=f"{subject:03d}"))
        samples.sort(key=lambda record: record.label)
        return samples
