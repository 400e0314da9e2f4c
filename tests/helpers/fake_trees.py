"""Builders of small fake dataset trees in the real on-disk layouts (see docs/datasets.md).

Images are tiny JPEG/PNG/BMP/WebP files written with Pillow; protocol .mat files are written with
``scipy.io.savemat`` from object arrays of shape (N, 1) (or (N, 2)), which MATLAB/scipy store as cell arrays,
so ``loadmat`` returns them in the same nested form as the distributed files.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image


def write_image(path: Path, size: tuple[int, int] = (16, 20), value: int = 100, mode: str = "RGB") -> Path:
    """Write a small image of (width, height) ``size``, pixels seeded by ``value``; the format follows the
    suffix: PNG, BMP, WebP (lossless) or JPEG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = size
    rng = np.random.default_rng(value)
    channels = 3 if mode == "RGB" else 1
    array = rng.integers(0, 256, size=(height, width, channels), dtype=np.uint8)
    image = Image.fromarray(array[..., 0] if mode == "L" else array, mode=mode)
    fmt = {".png": "PNG", ".bmp": "BMP", ".webp": "WEBP"}.get(path.suffix.lower(), "JPEG")
    image.save(path, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    return path


def write_huge_png(path: Path, width: int = 14000, height: int = 14000) -> Path:
    """A PNG file of a few bytes whose header declares ``width`` x ``height`` 8-bit RGB pixels (no pixel data
    follows): Pillow refuses it as a decompression bomb from the header alone."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )
    return path


def cell_column(names: Sequence[str]) -> np.ndarray:
    """An (N, 1) object array of strings: saved by savemat as an N x 1 cell array."""
    cells = np.empty((len(names), 1), dtype=object)
    for i, name in enumerate(names):
        cells[i, 0] = name
    return cells


def cell_pairs(pairs: Sequence[tuple[str, str]]) -> np.ndarray:
    cells = np.empty((len(pairs), 2), dtype=object)
    for i, (a, b) in enumerate(pairs):
        cells[i, 0], cells[i, 1] = a, b
    return cells


def save_name_id_mat(
    path: Path, names_var: str, ids_var: str, names: Sequence[str], ids: Sequence[int]
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(
        str(path), {names_var: cell_column(names), ids_var: np.asarray(ids, dtype=np.uint16).reshape(-1, 1)}
    )
    return path


# TinyFace ----------------------------------------

#: Training identities -> number of images. "5" is given an empty folder by build_tinyface.
TINYFACE_TRAIN = {"1": 2, "2": 1, "10": 3}
#: Test PersonIDs; ids in the .mat are their rank (1-based) in sorted order, as in the real files.
TINYFACE_PROBE = ["3_1.jpg", "7_1.jpg", "12_1.jpg", "12_2.jpg"]
TINYFACE_GALLERY = ["12_3.jpg", "3_2.jpg", "3_3.jpg", "7_2.jpg", "30_1.jpg"]
TINYFACE_MAT_ID = {"3": 1, "7": 2, "12": 3, "30": 4}


def build_tinyface(root: Path, *, mat_folder: str = "Testing_Set", ext: str = ".jpg") -> Path:
    for k, (person, count) in enumerate(TINYFACE_TRAIN.items()):
        for i in range(count):
            write_image(root / "Training_Set" / person / f"{person}_{i + 1}{ext}", value=10 * k + i)
    (root / "Training_Set" / "5").mkdir(parents=True)
    (root / "Training_Set" / "10" / "Thumbs.db").write_bytes(b"not an image")
    testing = root / "Testing_Set"
    for folder, names in (("Probe", TINYFACE_PROBE), ("Gallery_Match", TINYFACE_GALLERY)):
        for i, name in enumerate(names):
            write_image(testing / folder / name.replace(".jpg", ext), size=(12 + i, 15), value=100 + i)
    write_image(testing / "Gallery_Distractor" / "d_1.jpg", value=200)
    write_image(testing / "Gallery_Distractor" / "sub" / "d_2.JPG", value=201)
    mats = root / mat_folder if mat_folder != "Testing_Set" else testing
    probe = [n.replace(".jpg", ext) for n in TINYFACE_PROBE]
    gallery = [n.replace(".jpg", ext) for n in TINYFACE_GALLERY]
    save_name_id_mat(
        mats / "probe_img_ID_pairs.mat",
        "probe_set",
        "probe_ids",
        probe,
        [TINYFACE_MAT_ID[n.split("_")[0]] for n in probe],
    )
    save_name_id_mat(
        mats / "gallery_match_img_ID_pairs.mat",
        "gallery_set",
        "gallery_ids",
        gallery,
        [TINYFACE_MAT_ID[n.split("_")[0]] for n in gallery],
    )
    return root


# SCface ----------------------------------------

SCFACE_SUBJECTS = (49, 50, 51, 52)


def build_scface(
    root: Path, subjects: Sequence[int] = SCFACE_SUBJECTS, *, mugshots: Sequence[str] = ("cropped",)
) -> Path:
    for s in subjects:
        for d in (1, 2, 3):
            for c in range(1, 8):
                write_image(
                    root / f"surveillance_cameras_distance_{d}" / f"cam_{c}" / f"{s:03d}_cam{c}_{d}.jpg",
                    size=(10 + 2 * d, 12 + 2 * d),
                    value=s * 100 + d * 10 + c,
                )
        for kind in mugshots:
            ext = ".JPG" if kind == "cropped" else ".jpg"
            write_image(
                root / f"mugshot_frontal_{kind}_all" / f"{s:03d}_frontal{ext}", size=(40, 50), value=s
            )
    (root / "features.txt").write_text("not read")
    return root


# QMUL-SurvFace ----------------------------------------

SURV_GALLERY = ["11_cam1_1.jpg", "11_cam2_2.jpg", "4_cam1_1.jpg", "20_cam3_1.jpg"]
SURV_MATED = ["4_cam2_3.jpg", "11_cam1_4.jpg", "20_cam1_2.jpg"]
SURV_MAT_ID = {"4": 1, "11": 2, "20": 3}
SURV_POSITIVE = [("a_1.jpg", "a_2.jpg"), ("b_1.jpg", "b_2.jpg")]
SURV_NEGATIVE = [("a_1.jpg", "b_1.jpg"), ("c_1.jpg", "a_2.jpg"), ("b_2.jpg", "c_1.jpg")]


def build_survface(root: Path, *, mat_folder: str = "Face_Identification_Test_Set") -> Path:
    for k, (pid, count) in enumerate({"100": 2, "7": 3}.items()):
        for i in range(count):
            write_image(root / "training_set" / pid / f"{pid}_cam{i + 1}_{i + 1}.jpg", value=k * 10 + i)
    test = root / "Face_Identification_Test_Set"
    for folder, names in (("gallery", SURV_GALLERY), ("mated_probe", SURV_MATED)):
        for i, name in enumerate(names):
            write_image(test / folder / name, size=(20 + i, 24), value=300 + i)
    write_image(test / "unmated_probe" / "900_cam1_1.jpg", value=400)
    write_image(test / "unmated_probe" / "901_cam2_1.jpg", value=401)
    mats = root / mat_folder
    save_name_id_mat(
        mats / "gallery_img_ID_pairs.mat",
        "gallery_set",
        "gallery_ids",
        SURV_GALLERY,
        [SURV_MAT_ID[n.split("_")[0]] for n in SURV_GALLERY],
    )
    save_name_id_mat(
        mats / "mated_probe_img_ID_pairs.mat",
        "mated_probe_set",
        "mated_probe_ids",
        SURV_MATED,
        [SURV_MAT_ID[n.split("_")[0]] for n in SURV_MATED],
    )
    verification = root / "Face_Verification_Test_Set"
    for i, name in enumerate(sorted({n for pair in SURV_POSITIVE + SURV_NEGATIVE for n in pair})):
        write_image(verification / "verification_images" / name, value=500 + i)
    scipy.io.savemat(
        str(verification / "positive_pairs_names.mat"), {"positive_pairs_names": cell_pairs(SURV_POSITIVE)}
    )
    scipy.io.savemat(
        str(verification / "negative_pairs_names.mat"), {"negative_pairs_names": cell_pairs(SURV_NEGATIVE)}
    )
    return root
