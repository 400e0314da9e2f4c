"""Bad inputs to every reader, the image decoder, the batched transforms, the synthetic generator and its
command line: each row builds the input, calls, and names the expected error type and the words its message
must hold (the argument or file, what was expected, what was received).

Below the table: a failing generator call leaves nothing half-written, an earlier tree survives a failed
replacement, and symbolic links in dataset folders are followed as documented.
"""

from __future__ import annotations

import io
import math
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from recognizability.data import (
    ImageDecodeError,
    ImageFolder,
    MatFormatError,
    SCFace,
    SurvFace,
    TinyFace,
    decode_image,
    survface_verification_pairs,
)
from recognizability.data import transforms as T
from recognizability.data.synthetic import generate
from recognizability.data.synthetic import layouts as synthetic_layouts
from recognizability.data.synthetic.__main__ import main as cli_main
from tests.helpers.fake_trees import (
    build_scface,
    build_survface,
    build_tinyface,
    save_name_id_mat,
    write_huge_png,
    write_image,
)

Image = pytest.importorskip("PIL.Image")

Call = Callable[[Path], object]
NAN = math.nan


# Builders of bad files -------------------------------------------------------------------------------


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def bad_image(tmp_path: Path, kind: str) -> Path:
    """An image file that is not a decodable 8-bit JPEG/PNG, of the given kind."""
    path = tmp_path / f"{kind}.png"
    good = png_bytes(np.arange(20 * 16 * 3, dtype=np.uint8).reshape(20, 16, 3))
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated_header":
        path.write_bytes(good[:30])
    elif kind == "truncated_data":
        path.write_bytes(good[: len(good) // 2])
    elif kind == "text":
        path.write_text("this is a text file with an image's name\n")
    elif kind == "gif":
        Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(path, format="GIF")
    elif kind == "sixteen_bit":
        Image.fromarray(np.full((8, 8), 40000, dtype=np.uint16)).save(path, format="PNG")
    else:  # pragma: no cover - a typo in the table
        raise AssertionError(kind)
    return path


def bad_mat(path: Path, kind: str) -> None:
    """Overwrite the .mat file ``path`` with a bad one of the given kind."""
    good = path.read_bytes()
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        path.write_bytes(good[:200])
    elif kind == "text":
        path.write_text("probe_set = {'3_1.jpg'}\n")
    elif kind == "wrong_variables":
        scipy.io.savemat(str(path), {"names": np.array([["3_1.jpg"]], dtype=object)})
    elif kind == "ids_not_numbers":
        names = np.empty((1, 1), dtype=object)
        names[0, 0] = "3_1.jpg"
        scipy.io.savemat(str(path), {"probe_set": names, "probe_ids": names})
    else:  # pragma: no cover
        raise AssertionError(kind)


def emptied(root: Path, folder: str) -> Path:
    """``root`` with ``folder`` (relative) emptied of images: only a text file is left in it."""
    shutil.rmtree(root / folder)
    (root / folder).mkdir()
    (root / folder / "notes.txt").write_text("not an image")
    return root


class _GeneratorOn(torch.Generator):
    """A CPU generator that reports another device, as a generator on an accelerator or on the meta device
    does (this torch refuses to build a meta generator: ``torch.Generator(device="meta")`` raises itself)."""

    def __new__(cls, device: str) -> _GeneratorOn:
        return super().__new__(cls)  # a CPU generator underneath

    def __init__(self, device: str) -> None:
        super().__init__()
        self._device = torch.device(device)

    @property
    def device(self) -> torch.device:  # type: ignore[override]
        return self._device


def _batch() -> torch.Tensor:
    return torch.zeros(2, 3, 8, 8, dtype=torch.uint8)


def tinyface_with_bad_probe_mat(tmp_path: Path, kind: str) -> Path:
    root = build_tinyface(tmp_path / "tinyface")
    bad_mat(root / "Testing_Set" / "probe_img_ID_pairs.mat", kind)
    return root


def tinyface_with_bad_image(tmp_path: Path, kind: str) -> TinyFace:
    root = build_tinyface(tmp_path / "tinyface")
    target = root / "Testing_Set" / "Probe" / "3_1.jpg"
    shutil.copyfile(bad_image(tmp_path, kind), target)
    return TinyFace(root, "probe")


def first_sample(data: TinyFace) -> object:
    return data[[r.path.name for r in data.samples].index("3_1.jpg")]


def tree_with_metadata(tmp_path: Path, content: bytes) -> Path:
    root = tmp_path / "folder"
    write_image(root / "a.png")
    (root / "synthetic_metadata.csv").write_bytes(content)
    return root


def user_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep")
    return folder


def synthetic_tree_with_user_file(tmp_path: Path) -> Path:
    root = generate("ui", tmp_path / "ui", face_images=2, nonface_images=0)
    (root / "my_results.json").write_text("{}")
    return root


def link_to_empty_folder(tmp_path: Path) -> Path:
    (tmp_path / "target").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "target")
    return tmp_path / "link"


TINY_UI = {"face_images": 2, "nonface_images": 1}
TINY_TINYFACE = dict(
    train_identities=2,
    train_images=2,
    test_identities=2,
    probe_identities=2,
    probe_images=2,
    gallery_images=2,
    distractor_images=1,
)
TINY_SURVFACE = dict(
    train_identities=1,
    train_images=1,
    watchlist_identities=1,
    gallery_images=1,
    mated_probe_images=1,
    unmated_identities=1,
    unmated_probe_images=1,
    verification_pairs=1,
)


def cli(*args: str) -> Call:
    def run(tmp_path: Path) -> object:
        return cli_main([a.replace("OUT", str(tmp_path / "out")) for a in args])

    return run


# The table ---------------------------------------------------------------------------------------------

ROWS = [
    # decode_image: every bad file names the file and what was expected
    pytest.param(
        lambda p: decode_image(5),
        TypeError,
        "expected path to be a str or os.PathLike, got int",
        id="decode-not-a-path",
    ),
    pytest.param(
        lambda p: decode_image(p / "absent.png"), FileNotFoundError, "absent.png", id="decode-missing"
    ),
    pytest.param(
        lambda p: decode_image(bad_image(p, "empty")),
        ImageDecodeError,
        r"empty\.png: expected a JPEG, PNG, BMP or WebP image .* got an empty file \(0 bytes\)",
        id="decode-empty",
    ),
    pytest.param(
        lambda p: decode_image(bad_image(p, "truncated_header")),
        ImageDecodeError,
        r"truncated_header\.png: expected a JPEG, PNG, BMP or WebP .* \(truncated or corrupt\?\)",
        id="decode-truncated-header",
    ),
    pytest.param(
        lambda p: decode_image(bad_image(p, "truncated_data")),
        ImageDecodeError,
        r"truncated_data\.png: expected a JPEG, PNG, BMP or WebP .* \(truncated or corrupt\?\)",
        id="decode-truncated-data",
    ),
    pytest.param(
        lambda p: decode_image(bad_image(p, "text")),
        ImageDecodeError,
        r"text\.png: expected a JPEG, PNG, BMP or WebP image",
        id="decode-text-file",
    ),
    pytest.param(
        lambda p: decode_image(bad_image(p, "gif")),
        ImageDecodeError,
        r"gif\.png: expected a JPEG, PNG, BMP or WebP image with 8-bit channels, got a GIF file",
        id="decode-gif",
    ),
    pytest.param(
        lambda p: decode_image(write_huge_png(p / "huge.png")),
        ImageDecodeError,
        r"could not decode image .*huge\.png: expected an image of at most 178956970 pixels \(Pillow's "
        r"decompression-bomb limit, 2 x PIL\.Image\.MAX_IMAGE_PIXELS\), got 196000000 pixels$",
        id="decode-decompression-bomb",
    ),
    pytest.param(
        lambda p: decode_image(bad_image(p, "sixteen_bit")),
        ImageDecodeError,
        r"sixteen_bit\.png: .* got pixel mode 'I;16'",
        id="decode-16-bit",
    ),
    # a bad image inside a dataset fails when read, naming the file
    pytest.param(
        lambda p: first_sample(tinyface_with_bad_image(p, "empty")),
        ImageDecodeError,
        r"Probe/3_1\.jpg: expected a JPEG, PNG, BMP or WebP .* empty file",
        id="tinyface-empty-image",
    ),
    pytest.param(
        lambda p: first_sample(tinyface_with_bad_image(p, "truncated_data")),
        ImageDecodeError,
        r"Probe/3_1\.jpg: expected a JPEG",
        id="tinyface-truncated-image",
    ),
    pytest.param(
        lambda p: tinyface_with_bad_image(p, "gif").verify_images(),
        ImageDecodeError,
        r"1 of 4 images could not be decoded:\n  could not decode image .*3_1\.jpg: .*GIF",
        id="verify-images-names-bad-files",
    ),
    # ImageFolder
    pytest.param(
        lambda p: ImageFolder(3),
        TypeError,
        "ImageFolder: expected root to be a path",
        id="folder-root-not-a-path",
    ),
    pytest.param(
        lambda p: ImageFolder(p / "absent"),
        FileNotFoundError,
        r"ImageFolder: root .*absent is not a folder",
        id="folder-missing",
    ),
    pytest.param(
        lambda p: ImageFolder(bad_image(p, "gif")),
        FileNotFoundError,
        "is not a folder; expected a folder of",
        id="folder-root-is-a-file",
    ),
    pytest.param(
        lambda p: ImageFolder(p),
        FileNotFoundError,
        "expected .jpg/.jpeg/.png/.bmp/.webp images under .*; found none",
        id="folder-empty",
    ),
    pytest.param(
        lambda p: ImageFolder(p, label="a"),
        TypeError,
        "expected label to be an int, got str",
        id="folder-label-str",
    ),
    pytest.param(
        lambda p: ImageFolder(p, label=True),
        TypeError,
        "expected label to be an int, got bool",
        id="folder-label-bool",
    ),
    pytest.param(
        lambda p: ImageFolder(p, recursive="yes"),
        TypeError,
        "expected recursive to be a bool, got str",
        id="folder-recursive-str",
    ),
    pytest.param(
        lambda p: ImageFolder(p, transform=3),
        TypeError,
        "expected transform to be a callable or None, got int",
        id="folder-transform",
    ),
    pytest.param(
        lambda p: ImageFolder(p, identity_folders=True, label=2),
        ValueError,
        "expected label and recursive at their defaults with identity_folders=True",
        id="folder-identities-with-label",
    ),
    pytest.param(
        lambda p: ImageFolder(write_image(p / "f" / "a.png").parent, identity_folders=True),
        FileNotFoundError,
        "expected identity sub-folders holding images in",
        id="folder-identities-none",
    ),
    # synthetic_metadata.csv beside the images
    pytest.param(
        lambda p: ImageFolder(tree_with_metadata(p, b"path,severity,hard\na.png,2.0,1\n")),
        ValueError,
        r"synthetic_metadata\.csv line 2: severity should lie in \[0, 1\], got 2\.0",
        id="metadata-severity-range",
    ),
    pytest.param(
        lambda p: ImageFolder(tree_with_metadata(p, b"path,severity,hard\na.png,0.5\n")),
        ValueError,
        r"synthetic_metadata\.csv line 2: expected a value in each of the columns",
        id="metadata-short-row",
    ),
    pytest.param(
        lambda p: ImageFolder(tree_with_metadata(p, b"path,hard\na.png,1\n")),
        ValueError,
        r"synthetic_metadata\.csv: expected columns .* missing \['severity'\]",
        id="metadata-missing-column",
    ),
    pytest.param(
        lambda p: ImageFolder(tree_with_metadata(p, b"\xff\xfe\x00\x01path")),
        ValueError,
        r"synthetic_metadata\.csv: expected a UTF-8 CSV table",
        id="metadata-not-text",
    ),
    pytest.param(
        lambda p: ImageFolder(tree_with_metadata(p, b"path,severity,hard\na.png,x,1\n")),
        ValueError,
        "line 2: severity should be a number, got 'x'",
        id="metadata-severity-text",
    ),
    # TinyFace
    pytest.param(
        lambda p: TinyFace(p, "test"),
        ValueError,
        r"expected subset to be one of \['train', 'probe', 'gallery', 'distractor'\], got 'test'",
        id="tinyface-subset",
    ),
    pytest.param(
        lambda p: TinyFace(p / "absent", "train"),
        FileNotFoundError,
        "TinyFace: root .*absent is not a folder; expected a TinyFace root",
        id="tinyface-missing-root",
    ),
    pytest.param(
        lambda p: TinyFace(p, "train"),
        FileNotFoundError,
        r"expected the identity folder .*Training_Set \(one sub-folder per identity\)",
        id="tinyface-no-training-set",
    ),
    pytest.param(
        lambda p: TinyFace(p, "probe"),
        FileNotFoundError,
        "TinyFace: expected the folder .*Testing_Set",
        id="tinyface-no-testing-set",
    ),
    pytest.param(
        lambda p: TinyFace(p, "train", transform="resize"),
        TypeError,
        "expected transform to be a callable or None, got str",
        id="tinyface-transform",
    ),
    pytest.param(
        lambda p: TinyFace(emptied(build_tinyface(p / "t"), "Testing_Set/Gallery_Distractor"), "distractor"),
        FileNotFoundError,
        r"TinyFace: expected distractor images in .*Testing_Set/Gallery_Distractor, found none \(left out: 1 "
        r"not an image file",
        id="tinyface-empty-distractors",
    ),
    pytest.param(
        lambda p: TinyFace(
            save_name_id_mat(
                build_tinyface(p / "t") / "Testing_Set/probe_img_ID_pairs.mat",
                "probe_set",
                "probe_ids",
                [],
                [],
            ).parents[1],
            "probe",
        ),
        FileNotFoundError,
        r"TinyFace: expected probe images in .*Testing_Set/Probe, found none \(left out: 4 not listed in "
        r"probe_img_ID_pairs\.mat\)",
        id="tinyface-empty-probe-listing",
    ),
    pytest.param(
        lambda p: TinyFace(tinyface_with_bad_probe_mat(p, "empty"), "probe"),
        MatFormatError,
        r"probe_img_ID_pairs\.mat: expected a MATLAB v5/v7 \.mat file, got an empty file",
        id="tinyface-mat-empty",
    ),
    pytest.param(
        lambda p: TinyFace(tinyface_with_bad_probe_mat(p, "truncated"), "probe"),
        MatFormatError,
        r"probe_img_ID_pairs\.mat: expected a MATLAB v5/v7 \.mat file, got a file scipy\.io\.loadmat cannot "
        r"read \(truncated",
        id="tinyface-mat-truncated",
    ),
    pytest.param(
        lambda p: TinyFace(tinyface_with_bad_probe_mat(p, "text"), "gallery"),
        MatFormatError,
        r"probe_img_ID_pairs\.mat: expected a MATLAB v5/v7 \.mat file",
        id="tinyface-mat-text",
    ),
    pytest.param(
        lambda p: TinyFace(tinyface_with_bad_probe_mat(p, "wrong_variables"), "probe"),
        MatFormatError,
        r"probe_img_ID_pairs\.mat: expected a variable named 'probe_set', found variables: 'names'",
        id="tinyface-mat-variables",
    ),
    pytest.param(
        lambda p: TinyFace(tinyface_with_bad_probe_mat(p, "ids_not_numbers"), "probe"),
        MatFormatError,
        r"variable 'probe_ids' should be a numeric id vector",
        id="tinyface-mat-ids",
    ),
    pytest.param(
        lambda p: TinyFace(
            build_tinyface(p / "t").joinpath("Testing_Set/Probe/3_1.jpg").unlink() or p / "t", "probe"
        ),
        FileNotFoundError,
        r"1 of 4 images listed in .*probe_img_ID_pairs\.mat are missing from .*Probe, e\.g\. '3_1\.jpg'",
        id="tinyface-listed-image-missing",
    ),
    # SCFace
    pytest.param(
        lambda p: SCFace(p, "gallery", cameras=3),
        TypeError,
        "expected cameras to be a collection of ints in 1..7, got int 3",
        id="scface-cameras-int",
    ),
    pytest.param(
        lambda p: SCFace(p, "gallery", cameras=(0, 1)),
        ValueError,
        r"expected cameras to be a non-empty collection of ints in 1\.\.7, got \(0, 1\)",
        id="scface-cameras-range",
    ),
    pytest.param(
        lambda p: SCFace(p, "gallery", distances=(True,)),
        ValueError,
        r"expected distances to be a non-empty collection of ints in 1\.\.3, got \(True,\)",
        id="scface-distances-bool",
    ),
    pytest.param(
        lambda p: SCFace(p, "gallery", num_train_subjects=True),
        ValueError,
        "expected num_train_subjects to be a non-negative int, got True",
        id="scface-train-subjects-bool",
    ),
    pytest.param(
        lambda p: SCFace(p, "gallery", gallery="train"),
        ValueError,
        r"expected gallery to be one of \['all', 'test'\], got 'train'",
        id="scface-gallery",
    ),
    pytest.param(
        lambda p: SCFace(p, "gallery"),
        FileNotFoundError,
        "SCFace: expected the mugshot folder .*mugshot_frontal_original_all",
        id="scface-no-mugshots",
    ),
    pytest.param(
        lambda p: SCFace(build_scface(p / "s"), "probe", cameras=(1,), num_train_subjects=200),
        FileNotFoundError,
        r"SCFace: no probe image in .* num_train_subjects=200",
        id="scface-empty-selection",
    ),
    pytest.param(
        lambda p: SCFace(
            write_image(build_scface(p / "s") / "surveillance_cameras_distance_1/cam_1/photo.jpg").parents[2],
            "train",
        ),
        ValueError,
        r"expected a surveillance image named <sss>_cam<c>_<d>\.jpg, got .*photo\.jpg",
        id="scface-bad-name",
    ),
    pytest.param(
        lambda p: SCFace(
            write_image(
                build_scface(p / "s") / "surveillance_cameras_distance_1/cam_2/051_cam3_1.jpg"
            ).parents[2],
            "probe",
        ),
        ValueError,
        r"051_cam3_1\.jpg names camera 3, distance 1 but lies in the folder of camera 2",
        id="scface-name-folder-disagree",
    ),
    pytest.param(
        lambda p: SCFace(generate("scface", p / "s", subjects=3, cameras=5), "probe"),
        FileNotFoundError,
        r"no probe image .* subjects 1\.\.50 are the train split: pass a smaller num_train_subjects",
        id="scface-synthetic-tree-with-few-subjects",
    ),
    pytest.param(
        lambda p: SCFace(generate("scface", p / "s", subjects=52, cameras=2), "probe"),
        FileNotFoundError,
        r"cameras \[3, 4, 5\] .* \(the folder has cameras \[1, 2\]: pass cameras=\.\.\. to read those\)",
        id="scface-synthetic-tree-with-few-cameras",
    ),
    # SurvFace
    pytest.param(
        lambda p: SurvFace(p, "probe"),
        ValueError,
        r"expected subset to be one of \['train', 'gallery', 'mated_probe', 'unmated_probe'\], got 'probe'",
        id="survface-subset",
    ),
    pytest.param(
        lambda p: SurvFace(p, "gallery"),
        FileNotFoundError,
        "SurvFace: expected the folder .*Face_Identification_Test_Set",
        id="survface-no-test-set",
    ),
    pytest.param(
        lambda p: SurvFace(p, "unmated_probe"),
        FileNotFoundError,
        "expected a folder of images at .*unmated_probe",
        id="survface-no-unmated",
    ),
    pytest.param(
        lambda p: SurvFace(
            emptied(build_survface(p / "q"), "Face_Identification_Test_Set/unmated_probe"), "unmated_probe"
        ),
        FileNotFoundError,
        r"SurvFace: expected unmated_probe images in .*Face_Identification_Test_Set/unmated_probe, "
        r"found none \(left out: 1 not an image file \(extension not \.jpg/\.jpeg/\.png/\.bmp/\.webp\)\)",
        id="survface-empty-unmated-probe",
    ),
    pytest.param(
        lambda p: SurvFace(
            (
                save_name_id_mat(
                    build_survface(p / "q") / "Face_Identification_Test_Set/mated_probe_img_ID_pairs.mat",
                    "mated_probe_set",
                    "mated_probe_ids",
                    [],
                    [],
                ),
                p / "q",
            )[1],
            "mated_probe",
        ),
        FileNotFoundError,
        r"SurvFace: expected mated_probe images in .*mated_probe, found none \(left out: \d+ not listed in "
        r"mated_probe_img_ID_pairs\.mat\)",
        id="survface-empty-mated-probe-listing",
    ),
    pytest.param(
        lambda p: survface_verification_pairs(p),
        FileNotFoundError,
        "SurvFace: expected the folder .*verification_images",
        id="survface-no-verification",
    ),
    pytest.param(
        lambda p: (
            os.remove(build_survface(p / "q") / "Face_Verification_Test_Set/positive_pairs_names.mat"),
            survface_verification_pairs(p / "q"),
        ),
        FileNotFoundError,
        r"expected the file 'positive_pairs_names\.mat' in one of: ",
        id="survface-pairs-mat-missing",
    ),
    pytest.param(
        lambda p: (
            bad_mat(build_survface(p / "q") / "Face_Verification_Test_Set/negative_pairs_names.mat", "empty"),
            survface_verification_pairs(p / "q"),
        ),
        MatFormatError,
        r"negative_pairs_names\.mat: expected a MATLAB v5/v7 \.mat file, got an empty file",
        id="survface-pairs-mat-empty",
    ),
    # batched transforms
    pytest.param(
        lambda p: T.collate_variable_size([]), ValueError, "expected a non-empty batch", id="collate-empty"
    ),
    pytest.param(
        lambda p: T.collate_variable_size(5),
        TypeError,
        r"expected batch to be a sequence of \(image, label\) pairs, got int",
        id="collate-not-a-sequence",
    ),
    pytest.param(
        lambda p: T.collate_variable_size([(torch.zeros(3, 4, 4), 0)], antialias="yes"),
        TypeError,
        "expected antialias to be a bool, got str",
        id="collate-antialias",
    ),
    pytest.param(
        lambda p: T.collate_variable_size([(torch.zeros(3, 4, 4), "a")]),
        TypeError,
        r"expected batch\[0\] label to be an int, got str 'a'",
        id="collate-label-str",
    ),
    pytest.param(
        lambda p: T.collate_variable_size([(torch.zeros(3, 4, 4), 0), (torch.zeros(1, 4, 4), 1)], mode="pad"),
        ValueError,
        r"expected every image with batch\[0\]'s 3 channels and dtype torch\.float32, "
        r"got batch\[1\] with 1 channels",
        id="collate-mixed-channels",
    ),
    pytest.param(
        lambda p: T.collate_variable_size([(torch.zeros(3, 4, 4), 0)], mode="crop"),
        ValueError,
        r"expected mode to be one of \['resize', 'pad'\], got 'crop'",
        id="collate-mode",
    ),
    pytest.param(
        lambda p: T.resize_batch(torch.zeros(1, 3, 4, 4), 0),
        ValueError,
        "expected size to hold positive ints, got 0",
        id="resize-size",
    ),
    pytest.param(
        lambda p: T.resize_batch(torch.zeros(3, 4, 4), 8),
        ValueError,
        r"expected images of shape \(B, C, H, W\), got shape \(3, 4, 4\)",
        id="resize-3d",
    ),
    pytest.param(
        lambda p: T.normalize(torch.zeros(1, 3, 4, 4), "XYZ"),
        ValueError,
        r"expected channel_order to be one of \['RGB', 'BGR'\], got 'XYZ'",
        id="normalize-order",
    ),
    pytest.param(
        lambda p: T.normalize(torch.zeros(1, 4, 4, 4)),
        ValueError,
        r"expected images with 3 channels \(B, 3, H, W\), got shape \(1, 4, 4, 4\)",
        id="normalize-channels",
    ),
    pytest.param(
        lambda p: T.degrade(torch.zeros(1, 3, 4, 4), size="a"),
        TypeError,
        "expected size to be an int or a pair",
        id="degrade-size",
    ),
    pytest.param(
        lambda p: T.random_horizontal_flip(torch.zeros(1, 3, 4, 4), p=1.5),
        ValueError,
        r"expected p to be a float in \[0, 1\], got 1\.5",
        id="flip-p",
    ),
    pytest.param(
        lambda p: T.random_rotation(torch.zeros(1, 3, 4, 4), max_degrees=-1),
        ValueError,
        r"expected max_degrees to be a float in \[0, 180\], got -1",
        id="rotation-degrees",
    ),
    pytest.param(
        lambda p: T.rotate_batch(torch.zeros(1, 3, 4, 4), torch.zeros(2)),
        ValueError,
        r"expected degrees of shape \(1,\)",
        id="rotate-shape",
    ),
    pytest.param(
        lambda p: T.rotate_batch(_batch(), NAN),
        ValueError,
        "expected degrees to be a finite float, got nan",
        id="rotate-nan-float",
    ),
    pytest.param(
        lambda p: T.rotate_batch(_batch(), -math.inf),
        ValueError,
        "expected degrees to be a finite float, got -inf",
        id="rotate-inf-float",
    ),
    pytest.param(
        lambda p: T.rotate_batch(_batch(), torch.tensor([10.0, NAN])),
        ValueError,
        r"expected degrees with finite values, got 1 non-finite value\(s\)",
        id="rotate-nan-tensor",
    ),
    pytest.param(
        lambda p: T.rotate_batch(_batch(), "10"),
        TypeError,
        r"expected degrees to be a tensor of shape \(2,\) or a float, got str",
        id="rotate-degrees-str",
    ),
    pytest.param(
        lambda p: T.rotate_batch(_batch(), torch.ones(2, dtype=torch.bool)),
        TypeError,
        r"expected degrees with a real \(integer or floating\) dtype, got torch\.bool",
        id="rotate-degrees-bool",
    ),
    pytest.param(
        lambda p: T.rotate_batch(_batch(), 10.0, value_range=(255.0, 0.0)),
        ValueError,
        r"expected value_range to be None or a pair \(low, high\) of finite floats with low <= high, "
        r"got \(255\.0, 0\.0\)",
        id="rotate-value-range-order",
    ),
    pytest.param(
        lambda p: T.resize_batch(_batch(), 4, value_range=(0.0, NAN)),
        ValueError,
        r"expected value_range\[1\] to be a finite float, got nan",
        id="resize-value-range-nan",
    ),
    pytest.param(
        lambda p: T.resize_batch(_batch(), 4, value_range=255),
        TypeError,
        r"expected value_range to be None or a pair \(low, high\) .* got 255",
        id="resize-value-range-number",
    ),
    pytest.param(
        lambda p: T.resize_batch(_batch(), 4, antialias="no"),
        TypeError,
        "expected antialias to be a bool, got str",
        id="resize-antialias",
    ),
    pytest.param(
        lambda p: T.resize_batch(_batch(), (4, 4.0)),
        TypeError,
        r"expected size to be an int or a pair \(H, W\) of ints, got \(4, 4\.0\)",
        id="resize-size-float",
    ),
    pytest.param(
        lambda p: T.degrade(_batch(), 4, antialias=None),
        TypeError,
        "expected antialias to be a bool, got NoneType",
        id="degrade-antialias",
    ),
    pytest.param(
        lambda p: T.random_horizontal_flip(_batch(), generator=7),
        TypeError,
        "expected generator to be a torch.Generator or None, got int",
        id="flip-generator-type",
    ),
    pytest.param(
        lambda p: T.random_horizontal_flip(_batch(), generator=_GeneratorOn("meta")),
        ValueError,
        r"expected generator on the cpu or on the device of images \(cpu\), got a generator on meta",
        id="flip-generator-device",
    ),
    pytest.param(
        lambda p: T.random_rotation(_batch(), generator=_GeneratorOn("cuda:0")),
        ValueError,
        r"expected generator on the cpu or on the device of images \(cpu\), got a generator on cuda:0",
        id="rotation-generator-device",
    ),
    pytest.param(
        lambda p: T.random_rescale(_batch(), sizes=64),
        TypeError,
        r"expected sizes to be a tuple or list of sizes \(ints or \(H, W\) pairs\), got int 64",
        id="rescale-sizes-int",
    ),
    pytest.param(
        lambda p: T.random_rescale(_batch(), sizes=(4, 0)),
        ValueError,
        r"expected sizes\[1\] to hold positive ints, got 0",
        id="rescale-size-item",
    ),
    pytest.param(
        lambda p: T.random_rescale(_batch(), generator=_GeneratorOn("meta")),
        ValueError,
        r"expected generator on the cpu or on the device of images \(cpu\), got a generator on meta",
        id="rescale-generator-device",
    ),
    pytest.param(
        lambda p: T.random_rescale(torch.zeros(1, 3, 4, 4), sizes=()),
        ValueError,
        "expected at least one size in sizes",
        id="rescale-sizes",
    ),
    pytest.param(
        lambda p: T.TrainAugmentation(flip_p=2),
        ValueError,
        r"expected flip_p to be a float in \[0, 1\], got 2",
        id="train-augmentation",
    ),
    pytest.param(
        lambda p: T.TrainAugmentation(generator="seed"),
        TypeError,
        "expected generator to be a torch.Generator or None, got str",
        id="train-augmentation-generator-type",
    ),
    pytest.param(
        lambda p: T.TrainAugmentation(8, generator=_GeneratorOn("meta"))(_batch()),
        ValueError,
        r"expected generator on the cpu or on the device of images \(cpu\), got a generator on meta",
        id="train-augmentation-generator-device",
    ),
    pytest.param(
        lambda p: T.TrainAugmentation(rescale_sizes=64),
        TypeError,
        r"expected rescale_sizes to be a tuple or list of sizes .* got int 64",
        id="train-augmentation-rescale-sizes",
    ),
    pytest.param(
        lambda p: T.TrainAugmentation(normalize_output=1),
        TypeError,
        "expected normalize_output to be a bool, got int",
        id="train-augmentation-normalize-output",
    ),
    pytest.param(
        lambda p: T.TrainAugmentation(size="112"),
        TypeError,
        r"expected size to be an int or a pair \(H, W\) of ints, got '112'",
        id="train-augmentation-size",
    ),
    pytest.param(
        lambda p: T.EvalTransform(flip="yes"),
        TypeError,
        "expected flip to be a bool, got str",
        id="eval-transform-flip",
    ),
    pytest.param(
        lambda p: T.EvalTransform(degrade_size=(16, 0)),
        ValueError,
        r"expected degrade_size to hold positive ints, got \(16, 0\)",
        id="eval-transform-degrade-size",
    ),
    pytest.param(
        lambda p: T.EvalTransform(size=-1),
        ValueError,
        "expected size to hold positive ints, got -1",
        id="eval-transform",
    ),
    # the generator: every argument checked before anything is written
    pytest.param(
        lambda p: generate("vggface", p / "out"),
        ValueError,
        r"expected layout to be one of \['tinyface', 'scface', 'survface', 'ui', 'hr'\], got 'vggface'",
        id="generate-layout",
    ),
    pytest.param(
        lambda p: generate("ui", p / "out", seed=-1),
        ValueError,
        "expected seed to be a non-negative int, got -1",
        id="generate-seed-negative",
    ),
    pytest.param(
        lambda p: generate("ui", p / "out", seed=True),
        ValueError,
        "expected seed to be a non-negative int, got True",
        id="generate-seed-bool",
    ),
    pytest.param(
        lambda p: generate("ui", p / "out", seed=1.5),
        ValueError,
        "expected seed to be a non-negative int, got 1.5",
        id="generate-seed-float",
    ),
    pytest.param(
        lambda p: generate("scface", p / "out", scale="evidence"),
        ValueError,
        "expected scale 'small' or 'full' for layout 'scface', got 'evidence'",
        id="generate-preset-of-another-layout",
    ),
    pytest.param(
        lambda p: generate("ui", p / "out", subjects=3),
        TypeError,
        r"UISizes: expected size names among \['face_images', 'nonface_images'\], got \['subjects'\]",
        id="generate-size-name",
    ),
    pytest.param(
        lambda p: generate("ui", p / "out", face_images=True),
        ValueError,
        "expected face_images to be a non-negative int, got True",
        id="generate-size-bool",
    ),
    pytest.param(
        lambda p: generate("ui", p / "out", face_images=0, nonface_images=0),
        ValueError,
        "UISizes: expected at least one image",
        id="generate-ui-empty",
    ),
    pytest.param(
        lambda p: generate("tinyface", p / "out", **{**TINY_TINYFACE, "distractor_images": 0}),
        ValueError,
        r"TinyFaceSizes: expected distractor_images >= 1 \(the layout always has "
        r"Testing_Set/Gallery_Distractor\), got .*distractor_images=0",
        id="generate-tinyface-no-distractors",
    ),
    pytest.param(
        lambda p: generate(
            "tinyface", p / "out", **{**TINY_TINYFACE, "train_identities": 0, "train_images": 0}
        ),
        ValueError,
        r"expected train_identities >= 1 \(Training_Set needs an identity\)",
        id="generate-tinyface-no-training",
    ),
    pytest.param(
        lambda p: generate(
            "tinyface",
            p / "out",
            **{**TINY_TINYFACE, "test_identities": 70000, "probe_identities": 1, "gallery_images": 70000},
        ),
        ValueError,
        r"expected test_identities <= 65535 \(uint16 \.mat ids\)",
        id="generate-tinyface-ids-overflow",
    ),
    pytest.param(
        lambda p: generate(
            "survface", p / "out", **{**TINY_SURVFACE, "unmated_identities": 0, "unmated_probe_images": 0}
        ),
        ValueError,
        r"expected unmated_identities >= 1 \(the layout always has "
        r"Face_Identification_Test_Set/unmated_probe\)",
        id="generate-survface-no-unmated",
    ),
    pytest.param(
        lambda p: generate("survface", p / "out", **{**TINY_SURVFACE, "verification_pairs": 0}),
        ValueError,
        "expected verification_pairs >= 1",
        id="generate-survface-no-pairs",
    ),
    pytest.param(
        lambda p: generate(
            "survface", p / "out", **{**TINY_SURVFACE, "train_identities": 0, "train_images": 0}
        ),
        ValueError,
        r"expected train_identities >= 1 \(training_set needs an identity\)",
        id="generate-survface-no-training",
    ),
    pytest.param(
        lambda p: generate("scface", p / "out", subjects=1000),
        ValueError,
        r"expected 1 <= subjects <= 999 \(three-digit subject names\)",
        id="generate-scface-subjects",
    ),
    pytest.param(
        lambda p: generate("hr", p / "out", identities=0),
        ValueError,
        "HRSizes: expected identities >= 1, got identities=0",
        id="generate-hr-no-identity",
    ),
    pytest.param(
        lambda p: generate("hr", p / "out", images_per_identity=0),
        ValueError,
        "expected images_per_identity >= 1",
        id="generate-hr-no-image",
    ),
    pytest.param(
        lambda p: generate("hr", p / "out", image_size=7),
        ValueError,
        "expected 8 <= image_size <= 224, got .*image_size=7",
        id="generate-hr-image-size",
    ),
    pytest.param(
        lambda p: generate("hr", p / "out", with_ui=True),
        ValueError,
        r"expected with_ui=False for layout='hr' \(the tree is identity folders only\)",
        id="generate-hr-with-ui",
    ),
    pytest.param(
        lambda p: generate("ui", p / "out", workers=0),
        ValueError,
        "expected workers to be a positive int, got 0",
        id="generate-workers",
    ),
    pytest.param(
        lambda p: generate("ui", 3),
        TypeError,
        r"expected out_dir to be a path \(str or os\.PathLike\), got int",
        id="generate-out-not-a-path",
    ),
    pytest.param(
        lambda p: generate("ui", bad_image(p, "empty"), **TINY_UI),
        FileExistsError,
        r"expected out_dir to be a folder or absent, got the file .*empty\.png",
        id="generate-out-is-a-file",
    ),
    pytest.param(
        lambda p: generate("ui", link_to_empty_folder(p), **TINY_UI),
        FileExistsError,
        r"expected out_dir to be a folder or absent, got the symbolic link .*link -> ",
        id="generate-out-is-a-link",
    ),
    pytest.param(
        lambda p: generate("ui", user_folder(p), **TINY_UI),
        FileExistsError,
        r"expected out_dir empty or absent, got non-empty .*mine \(pass overwrite=True\)",
        id="generate-user-folder",
    ),
    pytest.param(
        lambda p: generate("ui", user_folder(p), overwrite=True, **TINY_UI),
        FileExistsError,
        r"refusing to overwrite .*mine: expected a synthetic tree with SYNTHETIC\.txt",
        id="generate-overwrite-user-folder",
    ),
    pytest.param(
        lambda p: generate("ui", synthetic_tree_with_user_file(p), overwrite=True, **TINY_UI),
        FileExistsError,
        r"expected only the files the generator wrote, found 1 others, e\.g\. .*my_results\.json",
        id="generate-overwrite-tree-with-user-file",
    ),
]

# The command line: errors exit with status 2 and a message naming the argument.
CLI_ROWS = [
    pytest.param(
        cli("--layout", "lfw", "--out", "OUT"), "argument --layout: invalid choice: 'lfw'", id="cli-layout"
    ),
    pytest.param(
        cli("--layout", "ui", "--out", "OUT", "--seed", "abc"),
        "argument --seed: invalid int value: 'abc'",
        id="cli-seed-text",
    ),
    pytest.param(
        cli("--layout", "ui", "--out", "OUT", "--seed", "-1"),
        "expected seed to be a non-negative int, got -1",
        id="cli-seed-negative",
    ),
    pytest.param(
        cli("--layout", "scface", "--out", "OUT", "--scale", "gpu"),
        "expected scale 'small' or 'full' for layout 'scface', got 'gpu'",
        id="cli-preset",
    ),
    pytest.param(
        cli("--layout", "ui", "--out", "OUT", "--identities", "3"),
        r"--layout ui accepts size flags .* got \['--identities'\]",
        id="cli-size-flag-of-another-layout",
    ),
    pytest.param(
        cli("--layout", "tinyface", "--out", "OUT", "--distractor-images", "0"),
        r"expected distractor_images >= 1",
        id="cli-no-distractors",
    ),
    pytest.param(
        cli("--layout", "hr", "--out", "OUT", "--image-size", "4"),
        r"expected 8 <= image_size <= 224",
        id="cli-hr-image-size",
    ),
    pytest.param(
        cli("--layout", "hr", "--out", "OUT", "--with-ui"),
        r"expected with_ui=False for layout='hr'",
        id="cli-hr-with-ui",
    ),
    pytest.param(
        cli("--layout", "ui", "--out", "OUT", "--workers", "0"),
        "expected workers to be a positive int, got 0",
        id="cli-workers",
    ),
    pytest.param(
        cli("--layout", "ui", "--out", "OUT", "--face-images", "-2"),
        "expected face_images to be a non-negative int, got -2",
        id="cli-negative-size",
    ),
]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): (b"<dir>" if p.is_dir() else p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if not p.is_symlink()
    }


@pytest.mark.parametrize(("call", "error", "words"), ROWS)
def test_bad_input_gets_a_clear_error(tmp_path: Path, call: Call, error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words):
        call(tmp_path)
    assert not (tmp_path / "out").exists()  # the generator wrote nothing
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name or ".replaced-" in p.name]


@pytest.mark.parametrize(("call", "words"), CLI_ROWS)
def test_bad_command_line_exits_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], call: Call, words: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        call(tmp_path)
    assert exit_info.value.code == 2
    assert re.search(words, capsys.readouterr().err), words
    assert list(tmp_path.iterdir()) == []


def test_the_table_covers_every_reader_and_public_transform() -> None:
    ids = " ".join(row.id or "" for row in ROWS)
    for prefix in ("decode", "folder", "metadata", "tinyface", "scface", "survface", "generate", "collate"):
        assert f"{prefix}-" in ids, prefix
    for name in T.__all__:
        short = {
            "EvalTransform": "eval-transform",
            "TrainAugmentation": "train-augmentation",
            "collate_variable_size": "collate-",
            "degrade": "degrade-",
            "normalize": "normalize-",
            "random_horizontal_flip": "flip-",
            "random_rescale": "rescale-",
            "random_rotation": "rotation-",
            "resize_batch": "resize-",
            "rotate_batch": "rotate-",
        }[name]
        assert short in ids, name


Draw = Callable[[torch.Generator], object]

_REFUSED_ARGUMENTS: list[Draw] = [
    lambda g: T.random_rescale(_batch(), sizes=(4, 0), generator=g),
    lambda g: T.random_rescale(_batch(), value_range=(1.0, 0.0), generator=g),
    lambda g: T.random_rotation(_batch(), value_range=(1.0, 0.0), generator=g),
    lambda g: T.random_horizontal_flip(_batch(), p=2.0, generator=g),
    lambda g: T.TrainAugmentation(8, generator=g)(torch.zeros(2, 3, 8)),
]
_REFUSED_DEVICE: list[Draw] = [
    lambda g: T.random_rescale(_batch(), generator=g),
    lambda g: T.random_rotation(_batch(), generator=g),
    lambda g: T.random_horizontal_flip(_batch(), generator=g),
    lambda g: T.TrainAugmentation(8, generator=g)(_batch()),
]


@pytest.mark.parametrize("reported_device", ["cpu", "meta"])
def test_refused_random_transforms_draw_nothing(reported_device: str) -> None:
    """A refused call leaves the generator where it was: the next draws are the ones an unrefused run sees."""
    if reported_device == "cpu":
        generator, calls = torch.Generator(), _REFUSED_ARGUMENTS
    else:
        generator, calls = _GeneratorOn(reported_device), _REFUSED_ARGUMENTS + _REFUSED_DEVICE
    state = generator.manual_seed(3).get_state().clone()
    for call in calls:
        with pytest.raises((TypeError, ValueError)):
            call(generator)
    assert torch.equal(generator.get_state(), state)


def test_rotate_batch_takes_one_angle_for_all_and_checks_tensor_angles_while_value_checks_are_on() -> None:
    from recognizability import value_checks

    images = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 255
    assert torch.equal(T.rotate_batch(images, 30.0), T.rotate_batch(images, torch.tensor([30.0, 30.0])))
    assert torch.equal(T.rotate_batch(images, 90), T.rotate_batch(images, torch.tensor([90, 90])))
    with value_checks(False):  # documented: a tensor is not read then (no host sync); NaN propagates
        assert T.rotate_batch(images, torch.tensor([0.0, NAN]))[1].isnan().all()
        with pytest.raises(ValueError, match="expected degrees to be a finite float, got nan"):
            T.rotate_batch(images, NAN)  # a Python float is checked whatever the switch


# Nothing half-written ----------------------------------------------------------------------------------


class _Interrupted(Exception):
    pass


def _fail_after(monkeypatch: pytest.MonkeyPatch, images: int) -> None:
    """Make the generator's PNG writer raise after ``images`` images (a full disk, a kill...)."""
    real = synthetic_layouts.write_png
    count = {"n": 0}

    def write_png(path: Path, image: np.ndarray) -> None:
        count["n"] += 1
        if count["n"] > images:
            raise _Interrupted(f"stopped before {path}")
        real(path, image)

    monkeypatch.setattr(synthetic_layouts, "write_png", write_png)


def test_a_failing_generation_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fail_after(monkeypatch, 3)
    with pytest.raises(_Interrupted):
        generate("tinyface", tmp_path / "deep" / "er" / "out", **TINY_TINYFACE)
    assert list(tmp_path.iterdir()) == []  # neither the tree, nor its temporary folder, nor the parents made


def test_a_failing_generation_into_an_empty_folder_leaves_it_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "out").mkdir()
    _fail_after(monkeypatch, 2)
    with pytest.raises(_Interrupted):
        generate("ui", tmp_path / "out", **TINY_UI)
    assert [p.name for p in tmp_path.iterdir()] == ["out"] and list((tmp_path / "out").iterdir()) == []


def test_a_failing_replacement_keeps_the_earlier_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = generate("ui", tmp_path / "out", seed=0, **TINY_UI)
    before = snapshot(root)
    _fail_after(monkeypatch, 1)
    with pytest.raises(_Interrupted):
        generate("ui", root, seed=1, overwrite=True, with_ui=False, face_images=3, nonface_images=0)
    assert snapshot(root) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_killed_generation_is_cleaned_up_by_the_next_call(tmp_path: Path) -> None:
    stale = tmp_path / ".out.partial-999999999-0a0b0c0d"  # no such process
    (stale / "Training_Set").mkdir(parents=True)
    (stale / "Training_Set" / "x.png").write_bytes(b"half")
    generate("ui", tmp_path / "out", **TINY_UI)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_replacing_a_tree_with_its_ui_set_is_allowed(tmp_path: Path) -> None:
    """``overwrite`` accepts a tree whose only extra content is the nested UI set it wrote itself."""
    root = generate("tinyface", tmp_path / "out", with_ui=True, **TINY_TINYFACE)
    generate("tinyface", root, seed=1, overwrite=True, **TINY_TINYFACE)
    assert not (root / "UI").exists() and (root / "SYNTHETIC.txt").is_file()


def test_the_command_line_refuses_a_users_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = user_folder(tmp_path)
    for extra in ([], ["--overwrite"]):
        with pytest.raises(SystemExit):
            cli_main(["--layout", "ui", "--out", str(folder), *extra])
        assert "mine" in capsys.readouterr().err
    assert [p.name for p in folder.iterdir()] == ["notes.txt"] and (
        folder / "notes.txt"
    ).read_text() == "keep"


# Symbolic links: followed, to files and folders; cycles and broken links left out and reported ---------


def test_links_to_files_and_folders_are_followed_and_keep_their_own_path(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    write_image(outside / "x.png", value=1)
    write_image(outside / "more" / "y.png", value=2)
    root = tmp_path / "faces"
    write_image(root / "a.png", value=3)
    (root / "b.png").symlink_to(outside / "x.png")
    (root / "linked").symlink_to(outside / "more")
    data = ImageFolder(root)
    assert [r.path for r in data.samples] == [root / "a.png", root / "b.png", root / "linked" / "y.png"]
    assert data[1][0].shape == (3, 20, 16)
    assert data.report.excluded == {}


def test_cycles_and_broken_links_are_left_out_and_reported(tmp_path: Path) -> None:
    root = tmp_path / "faces"
    write_image(root / "sub" / "a.png")
    (root / "sub" / "loop").symlink_to(root)  # would walk forever
    (root / "gone.png").symlink_to(tmp_path / "deleted.png")
    data = ImageFolder(root)
    assert [r.path for r in data.samples] == [root / "sub" / "a.png"]
    assert data.report.excluded == {
        "broken symbolic link (its target does not exist)": 1,
        "symbolic link to a folder that is being walked (a cycle; not walked again)": 1,
    }
    with pytest.raises(FileNotFoundError, match=r"gone\.png is a broken symbolic link to"):
        decode_image(root / "gone.png")


def test_small_synthetic_scface_trees_read_with_matching_options(tmp_path: Path) -> None:
    """The generator accepts SCface trees smaller than the protocol; the reader's options select them."""
    root = generate("scface", tmp_path / "s", subjects=3, cameras=2)
    train = SCFace(root, "train", cameras=(1, 2), num_train_subjects=2)
    probe = SCFace(root, "probe", cameras=(1, 2), num_train_subjects=2)
    assert len(train) == 2 * 2 * 3 and len(probe) == 1 * 2 * 3 and len(SCFace(root, "gallery")) == 3


def test_linked_identity_folders_and_listed_files_are_read(tmp_path: Path) -> None:
    real = build_tinyface(tmp_path / "real")
    root = tmp_path / "linked"
    (root / "Testing_Set").mkdir(parents=True)
    (root / "Training_Set").symlink_to(real / "Training_Set")
    for name in ("Probe", "Gallery_Match", "Gallery_Distractor"):
        (root / "Testing_Set" / name).symlink_to(real / "Testing_Set" / name)
    for name in ("probe_img_ID_pairs.mat", "gallery_match_img_ID_pairs.mat"):
        (root / "Testing_Set" / name).symlink_to(real / "Testing_Set" / name)
    for subset in ("train", "probe", "gallery", "distractor"):
        linked, direct = TinyFace(root, subset), TinyFace(real, subset)
        assert linked.labels == direct.labels
        assert [r.path.relative_to(root) for r in linked.samples] == [
            r.path.relative_to(real) for r in direct.samples
        ]
