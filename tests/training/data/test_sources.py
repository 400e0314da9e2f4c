"""The synthetic benchmark cache: generated once per (layout, seed, resolved sizes, library version)."""

from __future__ import annotations

from pathlib import Path

import recognizability
from recognizability.data.metadata import SYNTHETIC_MARKER, is_synthetic_tree
from recognizability.training.data.sources import _generate_cached


def test_cache_reuses_a_tree_and_separates_other_sizes(tmp_path: Path) -> None:
    first = _generate_cached("ui", 0, {"face_images": 6, "nonface_images": 2}, tmp_path)
    assert is_synthetic_tree(first) and f"v{recognizability.__version__}" in first.name
    stamp = (first / SYNTHETIC_MARKER).stat().st_mtime_ns
    again = _generate_cached("ui", 0, {"nonface_images": 2, "face_images": 6}, tmp_path)
    assert again == first and (again / SYNTHETIC_MARKER).stat().st_mtime_ns == stamp  # reused, not rewritten
    other = _generate_cached("ui", 0, {"face_images": 7, "nonface_images": 2}, tmp_path)
    other_seed = _generate_cached("ui", 1, {"face_images": 6, "nonface_images": 2}, tmp_path)
    assert len({first, other, other_seed}) == 3
    # no temporary folders are left behind
    assert sorted(p.name for p in (tmp_path / "synthetic").iterdir() if p.name.startswith(".")) == []
