"""QMUL-SurvFace reader and verification pairs on a small fake tree."""

from __future__ import annotations

from pathlib import Path

import pytest
import scipy.io

from recognizability.data import MatFormatError, SurvFace, survface_verification_pairs
from tests.helpers.fake_trees import (
    SURV_GALLERY,
    SURV_MAT_ID,
    SURV_MATED,
    SURV_NEGATIVE,
    SURV_POSITIVE,
    build_survface,
    cell_pairs,
    save_name_id_mat,
    write_image,
)


@pytest.fixture
def survface(tmp_path: Path) -> Path:
    return build_survface(tmp_path / "QMUL-SurvFace")


def test_training_set_labels_and_cameras(survface: Path) -> None:
    data = SurvFace(survface, "train")
    assert [r.identity for r in data.samples] == ["7", "7", "7", "100", "100"]  # natural order: 7 < 100
    assert data.labels == [0, 0, 0, 1, 1]
    assert [r.camera for r in data.samples] == [1, 2, 3, 1, 2]


def test_gallery_and_mated_probes_share_labels_from_mat_ids(survface: Path) -> None:
    gallery, mated = SurvFace(survface, "gallery"), SurvFace(survface, "mated_probe")
    assert [r.path.name for r in gallery.samples] == SURV_GALLERY
    assert [r.path.name for r in mated.samples] == SURV_MATED
    for data in (gallery, mated):
        for record in data.samples:
            mat_id = SURV_MAT_ID[record.path.name.split("_")[0]]
            assert record.protocol_id == mat_id and record.label == mat_id - 1  # ids 1..3 -> labels 0..2
    assert [r.camera for r in mated.samples] == [2, 1, 1]
    assert any("agree one-to-one" in note for note in gallery.report.notes)


def test_unmated_probes_are_unlabelled(survface: Path) -> None:
    data = SurvFace(survface, "unmated_probe")
    assert data.labels == [-1, -1] and [r.identity for r in data.samples] == ["900", "901"]


def test_mat_files_in_evaluation_folder(tmp_path: Path) -> None:
    root = build_survface(tmp_path / "s", mat_folder="Face_Identification_Evaluation")
    assert len(SurvFace(root, "mated_probe")) == len(SURV_MATED)


def test_missing_mat_and_wrong_variable(survface: Path) -> None:
    path = survface / "Face_Identification_Test_Set" / "mated_probe_img_ID_pairs.mat"
    save_name_id_mat(path, "mated_probe_names", "mated_probe_ids", SURV_MATED, [1, 2, 3])
    with pytest.raises(MatFormatError, match=r"'mated_probe_set' or 'probe_set', found variables: .*names"):
        SurvFace(survface, "gallery")
    path.unlink()
    with pytest.raises(FileNotFoundError, match=r"mated_probe_img_ID_pairs\.mat"):
        SurvFace(survface, "gallery")


def test_mismatched_ids_fail(survface: Path) -> None:
    path = survface / "Face_Identification_Test_Set" / "mated_probe_img_ID_pairs.mat"
    save_name_id_mat(path, "mated_probe_set", "mated_probe_ids", SURV_MATED, [1, 3, 3])  # 11 given 20's id
    with pytest.raises(MatFormatError, match="one-to-one"):
        SurvFace(survface, "mated_probe")


def test_verification_pairs_positives_first_in_mat_order(survface: Path) -> None:
    pairs = survface_verification_pairs(survface)
    expected = [(a, b, True) for a, b in SURV_POSITIVE] + [(a, b, False) for a, b in SURV_NEGATIVE]
    assert [(a.name, b.name, same) for a, b, same in pairs] == expected
    assert all(a.is_file() and b.is_file() for a, b, _ in pairs)


def test_verification_pairs_errors(survface: Path) -> None:
    folder = survface / "Face_Verification_Test_Set"
    (folder / "verification_images" / "c_1.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"negative_pairs_names\.mat names 'c_1\.jpg'"):
        survface_verification_pairs(survface)
    scipy.io.savemat(
        str(folder / "positive_pairs_names.mat"), {"positive_pairs_names": cell_pairs([("a", "b")]).T}
    )
    with pytest.raises(MatFormatError, match=r"should be an N x 2 cell array, got shape \(2, 1\)"):
        survface_verification_pairs(survface)
    (folder / "negative_pairs_names.mat").unlink()
    (folder / "positive_pairs_names.mat").unlink()
    with pytest.raises(FileNotFoundError, match=r"positive_pairs_names\.mat"):
        survface_verification_pairs(survface)


def test_empty_identity_folder_is_reported(survface: Path) -> None:
    (survface / "training_set" / "55").mkdir()
    data = SurvFace(survface, "train")
    assert data.labels == [0, 0, 0, 1, 1]
    assert data.report.excluded == {"identity folder with no image (no label given to it)": 1}


def test_names_without_pid_skip_the_name_check_and_say_so(tmp_path: Path) -> None:
    root = tmp_path / "q"
    test = root / "Face_Identification_Test_Set"
    gallery, mated = ["g0001.jpg", "g0002.jpg"], ["p0001.jpg"]
    for name in gallery:
        write_image(test / "gallery" / name)
    write_image(test / "mated_probe" / mated[0])
    save_name_id_mat(test / "gallery_img_ID_pairs.mat", "gallery_set", "gallery_ids", gallery, [5, 9])
    save_name_id_mat(test / "mated_probe_img_ID_pairs.mat", "mated_probe_set", "mated_probe_ids", mated, [9])
    data = SurvFace(root, "mated_probe")
    assert data.labels == [1] and data.samples[0].identity is None
    assert any("not checked" in note for note in data.report.notes)
