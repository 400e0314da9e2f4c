"""Each synthetic layout read back with the real readers: counts, labels, metadata and pairs agree."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from recognizability.data import ImageFolder, SCFace, SurvFace, TinyFace, survface_verification_pairs
from recognizability.data.synthetic import generate

pytest.importorskip("PIL.Image")


def csv_rows(root: Path) -> dict[str, dict[str, str]]:
    with (root / "synthetic_metadata.csv").open(newline="") as handle:
        return {row["path"]: row for row in csv.DictReader(handle)}


def check_against_metadata(data: TinyFace | SCFace | SurvFace | ImageFolder, root: Path) -> None:
    rows = csv_rows(root)
    for record in data.samples:
        row = rows[record.path.relative_to(root).as_posix()]
        assert record.severity == pytest.approx(float(row["severity"]))
        assert record.hard == (row["hard"] == "1")


def test_tinyface(tmp_path: Path) -> None:
    root = generate(
        "tinyface",
        tmp_path / "t",
        seed=3,
        train_identities=5,
        train_images=9,
        test_identities=4,
        probe_identities=3,
        probe_images=5,
        gallery_images=6,
        distractor_images=4,
    )
    subsets = {s: TinyFace(root, s) for s in ("train", "probe", "gallery", "distractor")}
    assert [len(subsets[s]) for s in subsets] == [9, 5, 6, 4]
    assert sorted(set(subsets["train"].labels)) == list(range(5))
    gallery_labels = {r.identity: r.label for r in subsets["gallery"].samples}
    assert len(gallery_labels) == 4
    assert all(gallery_labels[r.identity] == r.label for r in subsets["probe"].samples)
    assert all(r.label < 0 for r in subsets["distractor"].samples)
    rows = csv_rows(root)
    for data in subsets.values():
        check_against_metadata(data, root)
        assert all(
            rows[r.path.relative_to(root).as_posix()]["identity"] == r.identity
            for r in data.samples
            if r.identity is not None
        )


def test_scface(tmp_path: Path) -> None:
    root = generate("scface", tmp_path / "s", seed=3, subjects=51, cameras=2)
    gallery = SCFace(root, "gallery")
    probe = SCFace(root, "probe", cameras=(1, 2))
    assert len(gallery) == 51 and len(probe) == 1 * 2 * 3
    assert {(r.distance, r.camera) for r in probe.samples} == {(d, c) for d in (1, 2, 3) for c in (1, 2)}
    check_against_metadata(probe, root)


def test_survface_and_ui(tmp_path: Path) -> None:
    root = generate(
        "survface",
        tmp_path / "q",
        seed=3,
        with_ui=True,
        train_identities=3,
        train_images=5,
        watchlist_identities=3,
        gallery_images=4,
        mated_probe_images=4,
        unmated_identities=2,
        unmated_probe_images=3,
        verification_pairs=3,
    )
    assert [len(SurvFace(root, s)) for s in ("train", "gallery", "mated_probe", "unmated_probe")] == [
        5,
        4,
        4,
        3,
    ]
    pairs = survface_verification_pairs(root)
    assert [same for _, _, same in pairs] == [True] * 3 + [False] * 3
    rows = csv_rows(root)
    for a, b, same in pairs:
        ids = [rows[Path(p).relative_to(root).as_posix()]["identity"] for p in (a, b)]
        assert (ids[0] == ids[1]) == same
    ui = ImageFolder(root / "UI")
    assert len(ui) == 300 and set(ui.labels) == {-1}
    check_against_metadata(ui, root / "UI")
