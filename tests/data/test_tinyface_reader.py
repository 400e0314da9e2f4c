"""TinyFace reader on small fake trees in the distributed layout (built by vlr_fake_trees)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from recognizability.data import ImageDecodeError, MatFormatError, TinyFace
from tests.helpers.fake_trees import (
    TINYFACE_GALLERY,
    TINYFACE_MAT_ID,
    TINYFACE_PROBE,
    TINYFACE_TRAIN,
    build_tinyface,
    save_name_id_mat,
)


@pytest.fixture
def tinyface(tmp_path: Path) -> Path:
    return build_tinyface(tmp_path / "tinyface")


def test_train_labels_are_contiguous_in_natural_person_order(tinyface: Path) -> None:
    data = TinyFace(tinyface, "train")
    # Identity folders 1, 2, 10 (natural order, not "1" < "10" < "2"); folder 5 is empty and gets no label.
    expected = [label for label, count in enumerate(TINYFACE_TRAIN.values()) for _ in range(count)]
    assert data.labels == expected
    assert [r.identity for r in data.samples] == ["1", "1", "2", "10", "10", "10"]
    assert len(data) == sum(TINYFACE_TRAIN.values())
    assert data.report.read == 6 and data.report.identities == 3
    reasons = data.report.excluded
    assert reasons["identity folder with no image (no label given to it)"] == 1
    assert sum(v for k, v in reasons.items() if k.startswith("not an image")) == 1  # Thumbs.db
    assert not data.synthetic


def test_probe_and_gallery_share_labels_and_keep_mat_order(tinyface: Path) -> None:
    probe, gallery = TinyFace(tinyface, "probe"), TinyFace(tinyface, "gallery")
    assert [r.path.name for r in probe.samples] == TINYFACE_PROBE
    assert [r.path.name for r in gallery.samples] == TINYFACE_GALLERY
    ranks = {mat_id: rank for rank, mat_id in enumerate(sorted(TINYFACE_MAT_ID.values()))}
    for data in (probe, gallery):
        for record in data.samples:
            person = record.path.name.split("_")[0]
            assert record.identity == person
            assert record.protocol_id == TINYFACE_MAT_ID[person]
            assert record.label == ranks[TINYFACE_MAT_ID[person]]
    # Same person, same label across subsets.
    person_label = {r.identity: r.label for r in gallery.samples}
    assert all(person_label[r.identity] == r.label for r in probe.samples)


def test_distractors_are_walked_recursively_and_unlabelled(tinyface: Path) -> None:
    data = TinyFace(tinyface, "distractor")
    assert sorted(r.path.name for r in data.samples) == ["d_1.jpg", "d_2.JPG"]
    assert data.labels == [-1, -1]
    assert data.report.unlabelled == 2 and data.report.identities == 0


def test_getitem_decodes_uint8_rgb_at_stored_size(tinyface: Path) -> None:
    data = TinyFace(tinyface, "probe")
    image, label = data[2]
    assert image.dtype == torch.uint8 and image.shape == (3, 15, 14)  # written as (width 14, height 15)
    assert label == data.samples[2].label


def test_mat_files_in_face_identification_evaluation_are_found(tmp_path: Path) -> None:
    root = build_tinyface(tmp_path / "t", mat_folder="Face_Identification_Evaluation")
    data = TinyFace(root, "gallery")
    assert len(data) == len(TINYFACE_GALLERY)
    assert any("Face_Identification_Evaluation" in note for note in data.report.notes)


def test_png_tree_with_png_names_in_mat_loads(tmp_path: Path) -> None:
    root = build_tinyface(tmp_path / "t", ext=".png")
    assert [r.path.suffix for r in TinyFace(root, "probe").samples] == [".png"] * len(TINYFACE_PROBE)
    assert len(TinyFace(root, "train")) == 6


def test_missing_mat_names_every_place_searched(tinyface: Path) -> None:
    (tinyface / "Testing_Set" / "probe_img_ID_pairs.mat").unlink()
    with pytest.raises(FileNotFoundError, match=r"probe_img_ID_pairs\.mat") as info:
        TinyFace(tinyface, "probe")
    assert "Face_Identification_Evaluation" in str(info.value)


def test_wrong_variable_name_names_expected_and_found(tinyface: Path) -> None:
    path = tinyface / "Testing_Set" / "gallery_match_img_ID_pairs.mat"
    save_name_id_mat(path, "names", "gallery_ids", TINYFACE_GALLERY, [1] * len(TINYFACE_GALLERY))
    with pytest.raises(
        MatFormatError, match=r"expected a variable named 'gallery_set'.*found variables: .*'names'"
    ):
        TinyFace(tinyface, "gallery")


def test_ids_that_are_not_a_relabelling_of_person_ids_fail(tinyface: Path) -> None:
    bad_ids = [TINYFACE_MAT_ID[n.split("_")[0]] for n in TINYFACE_PROBE]
    bad_ids[0] = TINYFACE_MAT_ID["7"]  # person 3 now shares person 7's id
    save_name_id_mat(
        tinyface / "Testing_Set" / "probe_img_ID_pairs.mat", "probe_set", "probe_ids", TINYFACE_PROBE, bad_ids
    )
    with pytest.raises(MatFormatError, match="one-to-one"):
        TinyFace(tinyface, "gallery")  # the check covers both files, whichever subset is read


def test_ids_and_names_of_different_length_fail(tinyface: Path) -> None:
    path = tinyface / "Testing_Set" / "probe_img_ID_pairs.mat"
    scipy.io.savemat(
        str(path),
        {"probe_set": np.array([[n] for n in TINYFACE_PROBE], dtype=object), "probe_ids": np.ones((2, 1))},
    )
    with pytest.raises(ValueError, match="as many ids as names"):
        TinyFace(tinyface, "probe")


def test_listed_image_missing_on_disk_is_an_error(tinyface: Path) -> None:
    (tinyface / "Testing_Set" / "Probe" / "7_1.jpg").unlink()
    with pytest.raises(
        FileNotFoundError, match=r"1 of 4 images listed in .*probe_img_ID_pairs.mat.*'7_1.jpg'"
    ):
        TinyFace(tinyface, "probe")


def test_unlisted_image_on_disk_is_excluded_and_reported(tinyface: Path) -> None:
    shutil.copy(
        tinyface / "Testing_Set" / "Probe" / "7_1.jpg", tinyface / "Testing_Set" / "Probe" / "7_9.jpg"
    )
    data = TinyFace(tinyface, "probe")
    assert len(data) == len(TINYFACE_PROBE)
    assert data.report.excluded == {"not listed in probe_img_ID_pairs.mat": 1}
    assert "excluded 1: not listed" in str(data.report)


def test_unreadable_image_raises_naming_the_file(tinyface: Path) -> None:
    (tinyface / "Testing_Set" / "Probe" / "12_2.jpg").write_bytes(b"\xff\xd8 truncated")
    data = TinyFace(tinyface, "probe")
    with pytest.raises(ImageDecodeError, match=r"12_2\.jpg"):
        data[3]
    with pytest.raises(ImageDecodeError, match=r"1 of 4 images could not be decoded"):
        data.verify_images()


def test_missing_training_set_and_bad_arguments(tmp_path: Path, tinyface: Path) -> None:
    shutil.rmtree(tinyface / "Training_Set")
    with pytest.raises(FileNotFoundError, match="Training_Set"):
        TinyFace(tinyface, "train")
    with pytest.raises(ValueError, match=r"expected subset to be one of .*got 'test'"):
        TinyFace(tinyface, "test")
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        TinyFace(tmp_path / "nowhere", "train")
