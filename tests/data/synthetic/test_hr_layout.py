"""The clean high-resolution (``hr``) pretraining layout: tree, determinism, own identities, reader, CLI."""

from __future__ import annotations

import csv
import hashlib
import itertools
from pathlib import Path

import numpy as np
import pytest

from recognizability.data import ImageFolder
from recognizability.data.synthetic import HRSizes, generate, sample_identities, sizes_for
from recognizability.data.synthetic import layouts as synthetic_layouts
from recognizability.data.synthetic.__main__ import main as cli_main
from recognizability.data.synthetic.layouts import _STREAMS

Image = pytest.importorskip("PIL.Image")

TINY_HR = dict(identities=3, images_per_identity=4, image_size=32)


def digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_tree_layout_sizes_and_metadata(tmp_path: Path) -> None:
    root = generate("hr", tmp_path / "hr", seed=0, **TINY_HR)
    pngs = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.png"))
    assert pngs == [f"{i:06d}/{k:04d}.png" for i in (1, 2, 3) for k in (1, 2, 3, 4)]
    assert sorted(p.name for p in root.iterdir() if p.is_file()) == [
        "SYNTHETIC.txt",
        "synthetic_metadata.csv",
    ]
    text = (root / "SYNTHETIC.txt").read_text()
    assert "SYNTHETIC DATA" in text and "layout: hr" in text and "seed: 0" in text
    with (root / "synthetic_metadata.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["path"] for r in rows] == pngs
    assert [r["identity"] for r in rows] == [p.split("/")[0] for p in pngs]
    for row in rows:
        # No very-low-resolution degradation: full size, no blur, noise or quantisation; at 32 pixels the
        # resolution term is 0, so severity is at most the occlusion term (weight 0.15): no image is hard.
        assert (row["height"], row["width"], row["quantisation_levels"]) == ("32", "32", "256")
        assert float(row["gaussian_sigma"]) == float(row["noise_sigma"]) == float(row["motion_length"]) == 0.0
        assert float(row["severity"]) <= 0.15 + 1e-9 and row["hard"] == "0"
        with Image.open(root / row["path"]) as image:
            assert image.size == (32, 32) and image.mode == "RGB"


def test_images_vary_within_an_identity_and_differ_between_identities(tmp_path: Path) -> None:
    root = generate("hr", tmp_path / "hr", seed=0, **TINY_HR)

    def pixels(name: str) -> np.ndarray:
        with Image.open(root / name) as image:
            return np.asarray(image, dtype=np.float64)

    same = [pixels(f"000001/{k:04d}.png") for k in (1, 2, 3, 4)]
    # pose, light and expression vary from one image of a person to the next
    assert all(np.abs(a - b).mean() > 1.0 for a, b in itertools.pairwise(same))
    assert np.abs(pixels("000001/0001.png") - pixels("000002/0001.png")).mean() > 1.0


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    a = digest(generate("hr", tmp_path / "a", seed=3, **TINY_HR))
    b = digest(generate("hr", tmp_path / "b", seed=3, **TINY_HR))
    c = digest(generate("hr", tmp_path / "c", seed=4, **TINY_HR))
    assert a == b
    assert set(a) == set(c) and all(a[n] != c[n] for n in a if n.endswith(".png"))
    # An image does not depend on how many identities or images were asked for.
    d = digest(generate("hr", tmp_path / "d", seed=3, identities=5, images_per_identity=6, image_size=32))
    assert all(d[n] == a[n] for n in a if n.endswith(".png"))


def test_large_images_are_rendered_at_full_resolution(tmp_path: Path) -> None:
    root = generate("hr", tmp_path / "hr", seed=0, identities=1, images_per_identity=1, image_size=112)
    with Image.open(root / "000001/0001.png") as image:
        assert image.size == (112, 112)
        edges = np.abs(np.diff(np.asarray(image, dtype=np.float64), axis=1)).max()
    assert edges > 60  # crisp edges: no blur at 112 x 112


def test_identities_never_appear_in_another_layout_or_role() -> None:
    assert len(set(_STREAMS.values())) == len(_STREAMS)  # one random stream per (layout, role)
    hr_stream = _STREAMS[("hr", "identity")]
    hr = sample_identities(0, hr_stream, range(64)).values
    for key, stream in _STREAMS.items():
        if key != ("hr", "identity"):
            other = sample_identities(0, stream, range(64)).values
            closest = np.abs(hr[:, None, :] - other[None, :, :]).max(axis=2).min()
            assert closest > 0.0, key
    # The same holds across seeds: an hr set of seed 0 against the training identities of seed 1.
    other_seed = sample_identities(1, _STREAMS[("tinyface", "train")], range(64)).values
    assert np.abs(hr[:, None, :] - other_seed[None, :, :]).max(axis=2).min() > 0.0


def test_read_by_image_folder_as_labelled_identities(tmp_path: Path) -> None:
    root = generate("hr", tmp_path / "hr", seed=0, **TINY_HR)
    data = ImageFolder(root, identity_folders=True)
    assert data.synthetic and len(data) == 12
    assert data.labels == [0] * 4 + [1] * 4 + [2] * 4
    assert [r.identity for r in data.samples[::4]] == ["000001", "000002", "000003"]
    assert all(r.severity is not None and r.hard is False for r in data.samples)
    assert data.report.excluded == {"file outside an identity folder": 2}  # SYNTHETIC.txt, the CSV
    image, label = data[5]
    assert tuple(image.shape) == (3, 32, 32) and label == 1
    assert len(ImageFolder(root)) == 12 and set(ImageFolder(root).labels) == {-1}


def test_presets() -> None:
    assert sizes_for("hr") == HRSizes(identities=1000, images_per_identity=16, image_size=32)
    assert sizes_for("hr", "gpu") == HRSizes(identities=2000, images_per_identity=32, image_size=112)
    assert sizes_for("hr", "full") == HRSizes(identities=8631, images_per_identity=362, image_size=112)
    assert sizes_for("hr", "gpu", identities=10).identities == 10
    with pytest.raises(ValueError, match="expected scale 'small', 'full' or 'gpu' for layout 'hr'"):
        sizes_for("hr", "evidence")


def test_cli_writes_the_same_tree_as_the_api(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--layout", "hr", "--out", str(tmp_path / "cli"), "--seed", "1", "--identities", "2"]
    args += ["--images-per-identity", "2", "--image-size", "12"]
    assert cli_main(args) == 0
    assert "wrote synthetic hr tree" in capsys.readouterr().out
    api = generate("hr", tmp_path / "api", seed=1, identities=2, images_per_identity=2, image_size=12)
    assert digest(tmp_path / "cli") == digest(api)


@pytest.mark.slow
def test_workers_write_the_same_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rendering in worker processes cuts the same batches as one process, so the files are identical."""
    monkeypatch.setattr(synthetic_layouts, "_BATCHES_PER_TASK", 1)  # three batches -> three tasks
    sizes = dict(identities=3, images_per_identity=50, image_size=16)
    one = digest(generate("hr", tmp_path / "one", seed=0, **sizes))
    two = digest(generate("hr", tmp_path / "two", seed=0, workers=2, **sizes))
    assert one == two and len(one) == 152
