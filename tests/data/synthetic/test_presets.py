"""Size presets: every layout's names, TinyFace's ``evidence`` test set, and the checks shared by all."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from recognizability.data.synthetic import PRESETS, generate, presets_of, sizes_for


def test_every_layout_has_small_and_full() -> None:
    assert set(PRESETS) == {"tinyface", "scface", "survface", "ui", "hr"}
    assert all(names[:2] == ("small", "full") for names in PRESETS.values())
    assert presets_of("tinyface") == ("small", "full", "evidence")
    assert presets_of("hr") == ("small", "full", "gpu")


def test_evidence_preset_keeps_the_training_set_and_enlarges_the_test_set() -> None:
    small, evidence = sizes_for("tinyface"), sizes_for("tinyface", "evidence")
    assert (evidence.train_identities, evidence.train_images) == (small.train_identities, small.train_images)
    assert evidence.probe_images >= 2000 and evidence.probe_identities == evidence.test_identities == 1000
    assert (evidence.gallery_images, evidence.distractor_images) == (1500, 2000)


def test_a_larger_test_set_leaves_the_training_files_unchanged(tmp_path: Path) -> None:
    """The training images depend on the training sizes alone, so ``evidence`` trains on ``small``'s files."""

    def training_digest(root: Path) -> dict[str, str]:
        folder = root / "Training_Set"
        return {
            p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.png"))
        }

    train = dict(train_identities=3, train_images=7)
    a = generate("tinyface", tmp_path / "a", seed=2, test_identities=2, probe_identities=2, probe_images=2,
                 gallery_images=2, distractor_images=1, **train)  # fmt: skip
    b = generate("tinyface", tmp_path / "b", seed=2, test_identities=5, probe_identities=5, probe_images=9,
                 gallery_images=6, distractor_images=4, **train)  # fmt: skip
    assert training_digest(a) == training_digest(b) and len(training_digest(a)) == 7


def test_unknown_preset_names_the_layouts_presets(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match="expected scale 'small', 'full' or 'evidence' for layout 'tinyface'"
    ):
        generate("tinyface", tmp_path / "x", scale="gpu")
    with pytest.raises(
        ValueError, match="expected scale 'small' or 'full' for layout 'scface', got 'evidence'"
    ):
        sizes_for("scface", "evidence")
    assert not (tmp_path / "x").exists()
