"""SCface reader on a small fake tree (subjects 049-052 around the paper's 050/051 split)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from recognizability.data import SCFace
from tests.helpers.fake_trees import build_scface, write_image


@pytest.fixture(scope="module")
def scface(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_scface(tmp_path_factory.mktemp("scface") / "SCface_database")


def test_paper_split_cameras_and_distances(scface: Path) -> None:
    train, probe = SCFace(scface, "train"), SCFace(scface, "probe")
    # Subjects 049, 050 train; 051, 052 probe; cameras 1-5 x distances 1-3 each.
    assert len(train) == 2 * 5 * 3 and len(probe) == 2 * 5 * 3
    assert sorted({r.label for r in train.samples}) == [48, 49]
    assert sorted({r.label for r in probe.samples}) == [50, 51]
    for record in train.samples + probe.samples:
        name = record.path.stem  # <sss>_cam<c>_<d>
        assert name == f"{record.identity}_cam{record.camera}_{record.distance}"
        assert record.label == int(record.identity or "") - 1
        assert record.path.parent.name == f"cam_{record.camera}"
    assert {r.camera for r in probe.samples} == {1, 2, 3, 4, 5}
    assert {r.distance for r in probe.samples} == {1, 2, 3}
    # Cameras 6 and 7 (infrared) are left out and counted: 4 subjects x 2 cameras x 3 distances.
    assert probe.report.excluded == {"camera not selected (cameras=...)": 24}


def test_camera_and_distance_selection(scface: Path) -> None:
    data = SCFace(scface, "probe", cameras=(6, 7), distances=(1,))
    assert {(r.camera, r.distance) for r in data.samples} == {(6, 1), (7, 1)}
    assert len(data) == 2 * 2


def test_gallery_all_or_test_only_with_labels_shared_with_probe(scface: Path) -> None:
    full = SCFace(scface, "gallery")
    assert [r.label for r in full.samples] == [48, 49, 50, 51]
    assert all(r.path.suffix == ".JPG" for r in full.samples)  # cropped mugshots, upper-case extension
    test_only = SCFace(scface, "gallery", gallery="test")
    assert [r.label for r in test_only.samples] == [50, 51]
    assert test_only.report.excluded == {"mugshot of a train subject (gallery='test')": 2}
    probe_labels = {r.label for r in SCFace(scface, "probe").samples}
    assert probe_labels <= {r.label for r in full.samples}
    image, label = full[0]
    assert image.shape == (3, 50, 40) and label == 48


def test_num_train_subjects_moves_the_split(scface: Path) -> None:
    assert sorted({r.label for r in SCFace(scface, "train", num_train_subjects=51).samples}) == [48, 49, 50]


def test_mugshot_folder_choice(tmp_path: Path) -> None:
    root = build_scface(tmp_path / "db", subjects=(1, 2), mugshots=("original",))
    data = SCFace(root, "gallery")  # auto: cropped missing -> original
    assert "mugshot_frontal_original_all" in data.report.notes[0]
    with pytest.raises(FileNotFoundError, match=r"mugshot_frontal_cropped_all.*pass mugshot='original'"):
        SCFace(root, "gallery", mugshot="cropped")


def test_malformed_trees_fail_naming_the_path(tmp_path: Path) -> None:
    root = build_scface(tmp_path / "db", subjects=(60,))
    write_image(root / "surveillance_cameras_distance_2" / "cam_3" / "060_cam4_2.jpg")
    with pytest.raises(
        ValueError, match=r"060_cam4_2\.jpg names camera 4, distance 2 .* camera 3, distance 2"
    ):
        SCFace(root, "probe")
    (root / "surveillance_cameras_distance_2" / "cam_3" / "060_cam4_2.jpg").unlink()
    write_image(root / "surveillance_cameras_distance_2" / "cam_3" / "frame.jpg")
    with pytest.raises(ValueError, match=r"expected a surveillance image named <sss>_cam<c>_<d>\.jpg"):
        SCFace(root, "probe")
    (root / "surveillance_cameras_distance_2" / "cam_3" / "frame.jpg").unlink()
    shutil.rmtree(root / "surveillance_cameras_distance_3")
    with pytest.raises(FileNotFoundError, match="surveillance_cameras_distance_3"):
        SCFace(root, "probe")
    assert len(SCFace(root, "probe", distances=(1, 2))) == 10
    with pytest.raises(FileNotFoundError, match="no train image"):
        SCFace(root, "train", distances=(1, 2))


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        (
            {"cameras": (0, 1)},
            r"expected cameras to be a non-empty collection of ints in 1\.\.7, got \(0, 1\)",
        ),
        ({"distances": ()}, r"expected distances .* got \(\)"),
        ({"gallery": "some"}, r"expected gallery to be one of \['all', 'test'\], got 'some'"),
        ({"mugshot": "rotation"}, "expected mugshot"),
        ({"num_train_subjects": -1}, "num_train_subjects"),
    ],
)
def test_bad_arguments(scface: Path, kwargs: dict[str, object], pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        SCFace(scface, "probe", **kwargs)  # type: ignore[arg-type]
