"""The real readers load the synthetic generator's trees unchanged (tiny sizes to stay fast)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from recognizability.data import ImageFolder, SCFace, SurvFace, TinyFace, survface_verification_pairs

synthetic = pytest.importorskip("recognizability.data.synthetic")


def _check_synthetic(data: TinyFace | SCFace | SurvFace | ImageFolder) -> None:
    assert data.synthetic
    assert all(r.severity is not None and 0.0 <= r.severity <= 1.0 for r in data.samples)
    assert all(isinstance(r.hard, bool) for r in data.samples)
    assert all(r.path.suffix == ".png" for r in data.samples)
    assert data.report.excluded == {}
    image, label = data[0]
    assert image.dtype == torch.uint8 and image.shape[0] == 3 and label == data.samples[0].label


def test_tinyface_layout(tmp_path: Path) -> None:
    sizes = dict(train_identities=4, train_images=8, test_identities=3, probe_identities=3, probe_images=4)
    root = synthetic.generate(
        "tinyface", tmp_path / "t", seed=1, gallery_images=5, distractor_images=3, **sizes
    )
    train = TinyFace(root, "train")
    assert sorted(set(train.labels)) == [0, 1, 2, 3] and len(train) == 8
    probe, gallery = TinyFace(root, "probe"), TinyFace(root, "gallery")
    assert len(probe) == 4 and len(gallery) == 5 and len(TinyFace(root, "distractor")) == 3
    person_label = {r.identity: r.label for r in gallery.samples}
    assert all(person_label[r.identity] == r.label for r in probe.samples)
    for data in (train, probe, gallery):
        _check_synthetic(data)


def test_scface_layout(tmp_path: Path) -> None:
    root = synthetic.generate("scface", tmp_path / "s", seed=1, subjects=52, cameras=1)
    train, probe = SCFace(root, "train", cameras=(1,)), SCFace(root, "probe", cameras=(1,))
    gallery = SCFace(root, "gallery")
    assert len(train) == 50 * 3 and len(probe) == 2 * 3 and len(gallery) == 52
    assert sorted({r.label for r in probe.samples}) == [50, 51]
    for data in (train, probe, gallery):
        _check_synthetic(data)


def test_survface_and_ui_layouts(tmp_path: Path) -> None:
    sizes = dict(train_identities=3, train_images=6, watchlist_identities=2, gallery_images=4)
    sizes.update(mated_probe_images=3, unmated_identities=2, unmated_probe_images=2, verification_pairs=4)
    root = synthetic.generate("survface", tmp_path / "q", seed=1, with_ui=True, **sizes)
    gallery, mated = SurvFace(root, "gallery"), SurvFace(root, "mated_probe")
    assert {r.label for r in mated.samples} <= {r.label for r in gallery.samples}
    assert SurvFace(root, "unmated_probe").labels == [-1, -1]
    for data in (SurvFace(root, "train"), gallery, mated):
        _check_synthetic(data)
    pairs = survface_verification_pairs(root)
    assert [same for _, _, same in pairs] == sorted(
        (same for _, _, same in pairs), reverse=True
    )  # positives first
    assert any(same for _, _, same in pairs) and not all(same for _, _, same in pairs)
    ui = ImageFolder(root / "UI")
    assert ui.synthetic and set(ui.labels) == {-1}
