"""The realism goals on a small sample, judged by OpenCV's frontal-face Haar cascade (a detector trained on
real photographs only; ``benchmarks/realism.py`` measures the full sets and a second judge).

Goals: a face found in at least 90 % of clean renders with |yaw| <= 15 degrees and 70 % of all clean renders,
in at most 5 % of the UI set's non-face crops, and less often as severity rises.
"""

from __future__ import annotations

import csv
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from recognizability.data.synthetic import generate
from tests.helpers.paths import REPO, load_script

pytest.importorskip("cv2")
REALISM = REPO / "benchmarks" / "realism.py"


def realism() -> ModuleType:
    return load_script(REALISM, "realism_script")


def judged(root: Path) -> list[tuple[dict[str, str], bool]]:
    script = realism()
    judge = script.haar_judge()
    with (root / "synthetic_metadata.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [(row, bool(judge(script.read_rgb(root / row["path"])))) for row in rows]


def test_clean_renders_read_as_faces(tmp_path: Path) -> None:
    root = generate("hr", tmp_path / "hr", seed=0, identities=40, images_per_identity=3, image_size=32)
    results = judged(root)
    frontal = [hit for row, hit in results if abs(float(row["yaw"])) <= 15.0]
    assert len(frontal) >= 40
    assert np.mean(frontal) >= 0.90
    assert np.mean([hit for _, hit in results]) >= 0.70


def test_non_face_crops_do_not(tmp_path: Path) -> None:
    root = generate("ui", tmp_path / "ui", seed=0, face_images=1, nonface_images=60)
    hits = [hit for row, hit in judged(root) if row["path"].startswith("nonface_")]
    assert len(hits) == 60 and np.mean(hits) <= 0.05


def test_detection_falls_as_severity_rises(tmp_path: Path) -> None:
    sizes = dict(
        train_identities=40,
        train_images=200,
        test_identities=1,
        probe_identities=1,
        probe_images=1,
        gallery_images=1,
        distractor_images=1,
    )
    root = generate("tinyface", tmp_path / "t", seed=0, **sizes)
    results = [(float(row["severity"]), hit) for row, hit in judged(root) if "Training_Set" in row["path"]]
    mild = [hit for s, hit in results if s < 0.2]
    severe = [hit for s, hit in results if s >= 0.4]
    assert len(mild) >= 30 and len(severe) >= 30
    assert np.mean(mild) > np.mean(severe) + 0.2
