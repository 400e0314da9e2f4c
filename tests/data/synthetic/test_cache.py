"""The generation cache: one folder per layout, seed, generator version and resolved sizes, written
atomically, reused, never mistaken for another version's tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from recognizability.data import synthetic
from recognizability.data.synthetic import GENERATOR_VERSION, cache_dir, cached_tree_path, generate_cached
from recognizability.data.synthetic import cache as cache_module

TINY_UI = {"face_images": 2, "nonface_images": 1}


def test_cache_dir_honours_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RECOGNIZABILITY_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("RECOGNIZABILITY_CACHE")
    assert cache_dir() == Path.home() / ".cache" / "recognizability"


def test_generated_once_then_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = generate_cached("ui", 3, TINY_UI, tmp_path)
    assert root.parent == tmp_path / "synthetic"
    assert root.name.startswith(f"ui-seed3-gen{GENERATOR_VERSION}-")
    assert (root / "SYNTHETIC.txt").is_file() and len(list(root.glob("*.png"))) == 3
    assert [p.name for p in root.parent.iterdir()] == [root.name]  # no temporary folder left

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("generated again")

    monkeypatch.setattr("recognizability.data.synthetic.generate", fail)
    assert generate_cached("ui", 3, dict(TINY_UI), tmp_path) == root


def test_folders_differ_by_sizes_seed_scale_and_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = cached_tree_path("ui", 0, TINY_UI, tmp_path)
    assert cached_tree_path("ui", 0, {"face_images": 3, "nonface_images": 1}, tmp_path) != base
    assert cached_tree_path("ui", 1, TINY_UI, tmp_path) != base
    assert cached_tree_path("ui", 0, None, tmp_path, "full") != cached_tree_path("ui", 0, None, tmp_path)
    # Explicit sizes equal to the defaults resolve to the same tree.
    assert cached_tree_path("ui", 0, {"face_images": 285}, tmp_path) == cached_tree_path(
        "ui", 0, None, tmp_path
    )
    monkeypatch.setattr(cache_module, "GENERATOR_VERSION", GENERATOR_VERSION + 1)
    assert cached_tree_path("ui", 0, TINY_UI, tmp_path) != base


def test_a_tree_of_an_older_version_is_not_reused(tmp_path: Path) -> None:
    current = cached_tree_path("ui", 0, TINY_UI, tmp_path)
    old = current.with_name(current.name.replace(f"gen{GENERATOR_VERSION}", "gen1"))
    old.mkdir(parents=True)
    (old / "SYNTHETIC.txt").write_text("SYNTHETIC DATA\n")
    assert generate_cached("ui", 0, TINY_UI, tmp_path) == current != old


def test_a_failed_generation_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(out_dir: Path, *args: object) -> None:  # the UI writer, failing half-way
        (Path(out_dir) / "half.png").write_bytes(b"")
        raise RuntimeError("disk full")

    monkeypatch.setitem(synthetic._WRITERS, "ui", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        generate_cached("ui", 0, TINY_UI, tmp_path)
    assert list(tmp_path.iterdir()) == []  # not even the synthetic/ folder the call made


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"layout": "nope", "seed": 0}, ValueError, "layout"),
        ({"layout": "ui", "seed": -1}, ValueError, "seed"),
        ({"layout": "ui", "seed": 0, "sizes": {"faces": 2}}, TypeError, "size names"),
        (
            {"layout": "ui", "seed": 0, "sizes": {"face_images": 0, "nonface_images": 0}},
            ValueError,
            "at least one",
        ),
        ({"layout": "ui", "seed": 0, "sizes": [("face_images", 2)]}, TypeError, "mapping"),
        ({"layout": "ui", "seed": 0, "scale": "huge"}, ValueError, "scale"),
        ({"layout": "ui", "seed": 0, "cache": 3}, TypeError, "cache"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_written(
    tmp_path: Path, kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    kwargs.setdefault("cache", tmp_path)
    with pytest.raises(error, match=match):
        generate_cached(**kwargs)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
