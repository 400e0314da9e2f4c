"""Synthetic trees: byte-identical per seed, layouts and .mat files as in the real datasets, metadata, CLI."""

from __future__ import annotations

import csv
import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from recognizability.data.synthetic import (
    METADATA_COLUMNS,
    TinyFaceSizes,
    generate,
    sizes_for,
)
from recognizability.data.synthetic.__main__ import main as cli_main
from tests.helpers.synthetic_sizes import TINY

Image = pytest.importorskip("PIL.Image")


def tree_digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def images(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*.png")}


def metadata(root: Path) -> list[dict[str, str]]:
    with (root / "synthetic_metadata.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == METADATA_COLUMNS
        return list(reader)


@pytest.mark.parametrize("layout", sorted(TINY))
def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path, layout: str) -> None:
    a = tree_digest(generate(layout, tmp_path / "a", seed=5, **TINY[layout]))
    b = tree_digest(generate(layout, tmp_path / "b", seed=5, **TINY[layout]))
    c = tree_digest(generate(layout, tmp_path / "c", seed=6, **TINY[layout]))
    assert a == b
    assert len(a) == len(c)
    # Another seed: different pixels in every image that has the same name. (Images per identity and
    # SurvFace camera numbers are drawn from the seed too, so those names differ; SCface/UI names are fixed.)
    common = [name for name in a if name.endswith(".png") and name in c]
    if layout in ("scface", "ui"):
        assert set(a) == set(c)
    assert common and all(a[n] != c[n] for n in common)


@pytest.mark.parametrize("layout", sorted(TINY))
def test_metadata_lists_every_image_once_with_valid_ground_truth(tmp_path: Path, layout: str) -> None:
    root = generate(layout, tmp_path / layout, seed=0, **TINY[layout])
    rows = metadata(root)
    assert [r["path"] for r in rows] == sorted({r["path"] for r in rows}, key=[r["path"] for r in rows].index)
    assert {r["path"] for r in rows} == images(root)
    for row in rows:
        s = float(row["severity"])
        assert 0.0 <= s <= 1.0 and row["hard"] == ("1" if s >= 0.5 else "0")
        with Image.open(root / row["path"]) as image:
            assert image.size == (int(row["width"]), int(row["height"])) and image.mode == "RGB"
    text = (root / "SYNTHETIC.txt").read_text()
    assert "SYNTHETIC" in text and f"layout: {layout}" in text


def test_tinyface_layout_and_mat_files(tmp_path: Path) -> None:
    root = generate("tinyface", tmp_path / "t", seed=0, **TINY["tinyface"])
    names = images(root)
    train = sorted(n for n in names if n.startswith("Training_Set/"))
    assert len(train) == 6
    for name in train:
        _, pid, file = name.split("/")
        assert file.startswith(f"{pid}_") and file.removeprefix(f"{pid}_").removesuffix(".png").isdigit()
    assert {n.split("/")[1] for n in train} == {"1", "2", "3"}
    folders = {"Probe": 4, "Gallery_Match": 5, "Gallery_Distractor": 3}
    for folder, count in folders.items():
        files = [n for n in names if n.startswith(f"Testing_Set/{folder}/")]
        assert len(files) == count and all(len(Path(f).stem.split("_")) == 2 for f in files)

    gallery = scipy.io.loadmat(root / "Testing_Set/gallery_match_img_ID_pairs.mat")
    probe = scipy.io.loadmat(root / "Testing_Set/probe_img_ID_pairs.mat")
    assert {k for k in gallery if not k.startswith("__")} == {"gallery_set", "gallery_ids"}
    assert {k for k in probe if not k.startswith("__")} == {"probe_set", "probe_ids"}
    assert gallery["gallery_set"].shape == (5, 1) and gallery["gallery_ids"].shape == (5, 1)
    assert probe["probe_set"].shape == (4, 1) and probe["probe_ids"].dtype == np.uint16
    gallery_names = [gallery["gallery_set"][i][0][0] for i in range(5)]
    assert {f"Testing_Set/Gallery_Match/{n}" for n in gallery_names} == {
        n for n in names if "Gallery_Match" in n
    }
    # ids are the rank (from 1) of the PersonID in sorted order: same PersonID <-> same id, order preserved.
    pid_to_id: dict[int, int] = {}
    for mat, var in ((gallery, "gallery"), (probe, "probe")):
        for cell, ident in zip(mat[f"{var}_set"][:, 0], mat[f"{var}_ids"][:, 0], strict=True):
            pid = int(cell[0].split("_")[0])
            assert pid_to_id.setdefault(pid, int(ident)) == int(ident)
    pids = sorted(pid_to_id)
    assert [pid_to_id[p] for p in pids] == list(range(1, len(pids) + 1))
    # Probe identities have mates; distractor identities do not appear in the gallery or probes.
    distractor_pids = {int(Path(n).stem.split("_")[0]) for n in names if "Distractor" in n}
    assert not distractor_pids & set(pid_to_id)


def test_scface_layout(tmp_path: Path) -> None:
    root = generate("scface", tmp_path / "s", seed=0, **TINY["scface"])
    expected = {f"mugshot_frontal_cropped_all/{s:03d}_frontal.png" for s in (1, 2, 3)}
    expected |= {
        f"surveillance_cameras_distance_{d}/cam_{c}/{s:03d}_cam{c}_{d}.png"
        for d in (1, 2, 3)
        for c in (1, 2)
        for s in (1, 2, 3)
    }
    assert images(root) == expected
    rows = {r["path"]: r for r in metadata(root)}
    with Image.open(root / "mugshot_frontal_cropped_all/001_frontal.png") as mugshot:
        assert mugshot.size == (112, 112)
    assert float(rows["mugshot_frontal_cropped_all/001_frontal.png"]["severity"]) == 0.0
    # Distance 1 is the farthest: smaller images and higher severity on average than distance 3.
    by_distance = {
        d: np.mean(
            [
                float(r["severity"])
                for p, r in rows.items()
                if p.startswith(f"surveillance_cameras_distance_{d}")
            ]
        )
        for d in (1, 3)
    }
    assert by_distance[1] > by_distance[3]


def test_survface_layout_and_mat_files(tmp_path: Path) -> None:
    root = generate("survface", tmp_path / "q", seed=0, **TINY["survface"])
    names = images(root)
    test = "Face_Identification_Test_Set"
    counts = {
        "training_set/": 4,
        f"{test}/gallery/": 3,
        f"{test}/mated_probe/": 3,
        f"{test}/unmated_probe/": 2,
        "Face_Verification_Test_Set/verification_images/": 8,
    }
    for prefix, count in counts.items():
        assert sum(n.startswith(prefix) for n in names) == count, prefix
    for name in names:
        pid, cam, k = Path(name).stem.split("_")
        assert pid.isdigit() and cam.startswith("cam") and cam[3:].isdigit() and k.isdigit()
        if name.startswith("training_set/"):
            assert name.split("/")[1] == pid
    gallery = scipy.io.loadmat(root / test / "gallery_img_ID_pairs.mat")
    mated = scipy.io.loadmat(root / test / "mated_probe_img_ID_pairs.mat")
    assert gallery["gallery_set"].shape == (3, 1) and gallery["gallery_ids"].shape == (3, 1)
    assert mated["mated_probe_set"].shape == (3, 1) and int(mated["mated_probe_ids"].min()) == 1
    assert set(mated["mated_probe_ids"].ravel()) <= set(gallery["gallery_ids"].ravel())
    unmated_pids = {Path(n).stem.split("_")[0] for n in names if "/unmated_probe/" in n}
    gallery_pids = {cell[0].split("_")[0] for cell in gallery["gallery_set"][:, 0]}
    assert not unmated_pids & gallery_pids
    for polarity in ("positive", "negative"):
        pairs = scipy.io.loadmat(root / f"Face_Verification_Test_Set/{polarity}_pairs_names.mat")
        cells = pairs[f"{polarity}_pairs_names"]
        assert cells.shape == (2, 2)
        for a, b in cells:
            assert f"Face_Verification_Test_Set/verification_images/{a[0]}" in names
            same = a[0].split("_")[0] == b[0].split("_")[0]
            assert same == (polarity == "positive")


def test_ui_layout_and_with_ui(tmp_path: Path) -> None:
    root = generate("ui", tmp_path / "u", seed=0, **TINY["ui"])
    assert images(root) == {f"ui_{k:05d}.png" for k in range(4)} | {f"nonface_{k:05d}.png" for k in range(2)}
    rows = metadata(root)
    assert all(int(r["height"]) <= 8 for r in rows if r["path"].startswith("ui_"))
    assert all(r["hard"] == "1" for r in rows if r["path"].startswith("ui_"))
    with_ui = generate("tinyface", tmp_path / "t", seed=0, with_ui=True, **TINY["tinyface"])
    assert (with_ui / "UI" / "SYNTHETIC.txt").is_file() and len(images(with_ui / "UI")) == 300
    assert not any(r["path"].startswith("UI/") for r in metadata(with_ui))


def test_sizes_presets_and_errors(tmp_path: Path) -> None:
    full = sizes_for("tinyface", "full")
    assert (full.train_identities, full.train_images, full.probe_images) == (2570, 7804, 3728)
    assert (full.gallery_images, full.distractor_images, full.probe_identities) == (4443, 153428, 2563)
    assert sizes_for("survface", "full").verification_pairs == 5320
    assert sizes_for("ui", "full").face_images + sizes_for("ui", "full").nonface_images == 11707
    assert TinyFaceSizes.small() == sizes_for("tinyface")
    with pytest.raises(
        ValueError,
        match=r"expected layout to be one of \['tinyface', 'scface', 'survface', 'ui', 'hr'\], got 'lfw'",
    ):
        generate("lfw", tmp_path / "x")
    with pytest.raises(ValueError, match="expected scale 'small' or 'full'"):
        generate("ui", tmp_path / "x", scale="huge")
    with pytest.raises(TypeError, match="expected size names among"):
        generate("ui", tmp_path / "x", subjects=3)
    with pytest.raises(ValueError, match="probe_identities <= test_identities"):
        generate("tinyface", tmp_path / "x", test_identities=2, probe_identities=3)
    with pytest.raises(ValueError, match="non-negative int, got -1"):
        generate("ui", tmp_path / "x", face_images=-1)
    with pytest.raises(ValueError, match="seed to be a non-negative int"):
        generate("ui", tmp_path / "x", seed=-3)
    with pytest.raises(ValueError, match="with_ui=False for layout='ui'"):
        generate("ui", tmp_path / "x", with_ui=True)
    assert not (tmp_path / "x").exists()  # refused before writing anything


def test_overwrite_policy(tmp_path: Path) -> None:
    root = generate("ui", tmp_path / "u", seed=0, **TINY["ui"])
    with pytest.raises(FileExistsError, match="non-empty"):
        generate("ui", root, seed=1, **TINY["ui"])
    generate("ui", root, seed=1, overwrite=True, face_images=1, nonface_images=0)
    assert images(root) == {"ui_00000.png"}  # the earlier tree was replaced, not merged
    user = tmp_path / "mine"
    user.mkdir()
    (user / "notes.txt").write_text("keep")
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        generate("ui", user, overwrite=True)
    assert (user / "notes.txt").read_text() == "keep"


def test_cli_writes_the_same_tree_as_the_api(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "--layout",
        "ui",
        "--out",
        str(tmp_path / "cli"),
        "--seed",
        "2",
        "--face-images",
        "3",
        "--nonface-images",
        "1",
    ]
    assert cli_main(args) == 0
    assert "wrote synthetic ui tree" in capsys.readouterr().out
    api = generate("ui", tmp_path / "api", seed=2, face_images=3, nonface_images=1)
    assert tree_digest(tmp_path / "cli") == tree_digest(api)
    with pytest.raises(SystemExit):
        cli_main(["--layout", "ui", "--out", str(tmp_path / "bad"), "--subjects", "3"])
    assert "accepts size flags" in capsys.readouterr().err


def test_cli_as_a_module(tmp_path: Path) -> None:
    out = tmp_path / "m"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "recognizability.data.synthetic",
            "--layout",
            "ui",
            "--out",
            str(out),
            "--face-images",
            "2",
            "--nonface-images",
            "0",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert images(out) == {"ui_00000.png", "ui_00001.png"}
