"""Where a run's images come from: a real dataset root, or the embedded synthetic benchmark in a cache folder.

``resolve_benchmark`` returns the dataset root, the UI root and the provenance ("real" or "synthetic").
Without ``--data-root`` the synthetic benchmark is generated once (deterministically, from the seed) into
``$RECOGNIZABILITY_CACHE`` (default ``~/.cache/recognizability``) and reused. A tree is synthetic when it
carries the generator's ``SYNTHETIC.txt`` marker; every report says which.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

import recognizability
from recognizability import data as rdata

from .loop import ImageSet, VerificationPairs, load_image_set

__all__ = [
    "Benchmark",
    "cache_dir",
    "load_test_sets",
    "load_train_set",
    "load_ui_set",
    "load_verification_pairs",
    "resolve_benchmark",
]

SYNTHETIC_MARKER = "SYNTHETIC.txt"


@dataclass(frozen=True)
class Benchmark:
    """A resolved benchmark: ``root`` of the dataset layout, ``ui_root`` of the UI folder, ``provenance``."""

    dataset: str
    root: Path
    ui_root: Path
    provenance: str  # "real" or "synthetic"
    synthetic_seed: int | None = None
    synthetic_sizes: dict[str, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "root": str(self.root),
            "ui_root": str(self.ui_root),
            "provenance": self.provenance,
            "synthetic_seed": self.synthetic_seed,
            "synthetic_sizes": self.synthetic_sizes,
        }


def cache_dir() -> Path:
    """``$RECOGNIZABILITY_CACHE`` or ``~/.cache/recognizability``."""
    env = os.environ.get("RECOGNIZABILITY_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "recognizability"


def is_synthetic(root: Path) -> bool:
    return (Path(root) / SYNTHETIC_MARKER).is_file()


def _generate_cached(layout: str, seed: int, sizes: dict[str, int], cache: Path) -> Path:
    """Generate the synthetic ``layout`` once into the cache (atomically: temp folder + rename); reuse it.

    The folder name carries the library version and a digest of every resolved size, so a tree written by
    another release or with other (default) sizes is never mistaken for this one.
    """
    from recognizability.data import synthetic

    resolved = dataclasses.asdict(synthetic.sizes_for(layout, "small", **sizes))
    digest = hashlib.sha256(repr(sorted(resolved.items())).encode()).hexdigest()[:10]
    target = cache / "synthetic" / f"{layout}-seed{seed}-v{recognizability.__version__}-{digest}"
    if (target / SYNTHETIC_MARKER).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        generate: Any = synthetic.generate  # sizes are keyword ints; mypy cannot match ** to named options
        generate(layout, tmp, seed=seed, **sizes)
        if target.exists():  # another process finished first
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def resolve_benchmark(
    dataset: str,
    data_root: str | os.PathLike[str] | None,
    ui_root: str | os.PathLike[str] | None,
    *,
    seed: int = 0,
    sizes: dict[str, int] | None = None,
    ui_sizes: dict[str, int] | None = None,
    cache: Path | None = None,
) -> Benchmark:
    """Resolve the dataset and UI roots, generating the synthetic benchmark when ``data_root`` is None.

    Args:
        dataset: "tinyface", "scface" or "survface".
        data_root: a real (or previously generated) tree in that dataset's layout, or None.
        ui_root: a folder of unrecognisable images, or None (the synthetic UI set).
        seed: seed of the synthetic benchmark.
        sizes, ui_sizes: keyword sizes passed to ``recognizability.data.synthetic.generate`` (None: its small
            default).
        cache: cache folder (None: :func:`cache_dir`).
    """
    cache = cache if cache is not None else cache_dir()
    sizes = dict(sizes or {})
    if data_root is None:
        root = _generate_cached(dataset, seed, sizes, cache)
    else:
        root = Path(data_root)
        if not root.is_dir():
            raise FileNotFoundError(
                f"expected --data-root to be a folder in the {dataset} layout, got {str(root)!r}"
            )
    if ui_root is None:
        ui = _generate_cached("ui", seed, dict(ui_sizes or {}), cache)
    else:
        ui = Path(ui_root)
        if not ui.is_dir():
            raise FileNotFoundError(f"expected --ui-root to be a folder of images, got {str(ui)!r}")
    synthetic = is_synthetic(root)
    return Benchmark(
        dataset=dataset,
        root=root,
        ui_root=ui,
        provenance="synthetic" if synthetic else "real",
        synthetic_seed=seed if synthetic and data_root is None else None,
        synthetic_sizes=sizes if synthetic and data_root is None else None,
    )


_READERS = {"tinyface": "TinyFace", "scface": "SCFace", "survface": "SurvFace"}


def _reader(dataset: str) -> Any:
    return getattr(rdata, _READERS[dataset])


def load_train_set(benchmark: Benchmark, size: int) -> ImageSet:
    """The training subset, decoded and resized to ``size`` (labels 0..C-1)."""
    return load_image_set(_reader(benchmark.dataset)(benchmark.root, "train"), size)


def load_ui_set(benchmark: Benchmark, size: int) -> ImageSet:
    """Every image of the UI folder (walked recursively), resized to ``size``."""
    return load_image_set(rdata.ImageFolder(benchmark.ui_root), size)


#: Test subsets each protocol needs, in the readers' subset names.
TEST_SUBSETS: dict[str, tuple[str, ...]] = {
    "tinyface": ("probe", "gallery", "distractor"),
    "scface": ("probe", "gallery"),
    "survface": ("gallery", "mated_probe", "unmated_probe", "verification"),
}


def load_test_sets(benchmark: Benchmark, size: int) -> dict[str, ImageSet]:
    """The test subsets of the dataset's protocol (see ``TEST_SUBSETS``), each resized to ``size``."""
    reader = _reader(benchmark.dataset)
    subsets = getattr(reader, "SUBSETS", ())
    out: dict[str, ImageSet] = {}
    for name in TEST_SUBSETS[benchmark.dataset]:
        if name in subsets:
            out[name] = load_image_set(reader(benchmark.root, name), size)
    return out


def load_verification_pairs(benchmark: Benchmark, size: int) -> VerificationPairs | None:
    """SurvFace verification pairs (``recognizability.data.survface_verification_pairs``) with their distinct
    images decoded and resized to ``size``; None for other datasets or when the tree has no pairs."""
    if benchmark.dataset != "survface":
        return None
    try:
        pairs = rdata.survface_verification_pairs(benchmark.root)
    except FileNotFoundError:
        return None
    if not pairs:
        return None
    # The pair images live in one folder (verification_images); read it once and index the pairs into it.
    folder = Path(os.path.commonpath([str(p) for a, b, _ in pairs for p in (a, b)]))
    if folder.is_file():
        folder = folder.parent
    images = load_image_set(rdata.ImageFolder(folder), size)
    position = {Path(path).resolve(): i for i, path in enumerate(images.paths)}
    first = torch.tensor([position[Path(a).resolve()] for a, _, _ in pairs], dtype=torch.int64)
    second = torch.tensor([position[Path(b).resolve()] for _, b, _ in pairs], dtype=torch.int64)
    is_same = torch.tensor([bool(same) for _, _, same in pairs], dtype=torch.bool)
    return VerificationPairs(images, first, second, is_same)
