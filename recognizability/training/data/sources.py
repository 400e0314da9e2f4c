"""Where a run's images come from, and the images themselves.

:func:`resolve_benchmark` returns the dataset root, the UI root and the provenance ("real" or "synthetic").
Without ``--data-root`` the synthetic stand-in of the benchmark (its spec's layout) is generated once,
deterministically from the seed, into ``$RECOGNIZABILITY_CACHE`` (default ``~/.cache/recognizability``) and
reused. A tree is synthetic when it carries the generator's marker file; every report says which.
:func:`load_run_data` decodes what a run reads: the training set, the UI set, the protocol's test subsets and,
for a benchmark that has them, the verification pairs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from recognizability.data import ImageFolder
from recognizability.data import synthetic as S
from recognizability.data.metadata import is_synthetic_tree

from ..config import BenchmarkSpec, get_benchmark
from .images import ImageSet, VerificationPairs, load_image_set

__all__ = [
    "Benchmark",
    "RunData",
    "load_run_data",
    "load_test_sets",
    "load_train_set",
    "load_ui_set",
    "load_verification_pairs",
    "resolve_benchmark",
]


@dataclass(frozen=True)
class Benchmark:
    """A resolved benchmark: ``root`` of the dataset layout, ``ui_root`` of the UI folder, ``provenance``."""

    dataset: str
    root: Path
    ui_root: Path
    provenance: str  # "real" or "synthetic"
    synthetic_seed: int | None = None
    synthetic_sizes: dict[str, int] | None = None

    @property
    def spec(self) -> BenchmarkSpec:
        """The registered :class:`BenchmarkSpec` of ``dataset``."""
        return get_benchmark(self.dataset)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "root": str(self.root),
            "ui_root": str(self.ui_root),
            "provenance": self.provenance,
            "synthetic_seed": self.synthetic_seed,
            "synthetic_sizes": self.synthetic_sizes,
        }


#: The generator's size preset of the runs' synthetic benchmarks (``--synthetic-size`` changes its fields).
SYNTHETIC_SCALE = "small"


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
    """Resolve the dataset and UI roots, generating the synthetic stand-in when ``data_root`` is None.

    Args:
        dataset: a registered benchmark name.
        data_root: a real (or previously generated) tree in that dataset's layout, or None.
        ui_root: a folder of unrecognisable images, or None (the synthetic UI set).
        seed: seed of the synthetic benchmark.
        sizes, ui_sizes: keyword sizes passed to ``recognizability.data.synthetic.generate`` (None: its small
            default).
        cache: cache folder (None: :func:`recognizability.data.synthetic.cache_dir`).
    """
    spec = get_benchmark(dataset)
    sizes = dict(sizes or {})
    if data_root is None:
        root = S.generate_cached(spec.synthetic_layout, seed, sizes, cache, SYNTHETIC_SCALE)
    else:
        root = Path(data_root)
        if not root.is_dir():
            raise FileNotFoundError(
                f"expected --data-root to be a folder in the {dataset} layout, got {str(root)!r}"
            )
    if ui_root is None:
        ui = S.generate_cached("ui", seed, dict(ui_sizes or {}), cache, SYNTHETIC_SCALE)
    else:
        ui = Path(ui_root)
        if not ui.is_dir():
            raise FileNotFoundError(f"expected --ui-root to be a folder of images, got {str(ui)!r}")
    synthetic = is_synthetic_tree(root)
    generated = synthetic and data_root is None
    return Benchmark(
        dataset=dataset,
        root=root,
        ui_root=ui,
        provenance="synthetic" if synthetic else "real",
        synthetic_seed=seed if generated else None,
        synthetic_sizes=sizes if generated else None,
    )


def load_train_set(benchmark: Benchmark, size: int) -> ImageSet:
    """The training subset, decoded and resized to ``size`` (labels 0..C-1)."""
    return load_image_set(benchmark.spec.reader(benchmark.root, "train"), size)


def load_ui_set(benchmark: Benchmark, size: int) -> ImageSet:
    """Every image of the UI folder (walked recursively), resized to ``size``."""
    return load_image_set(ImageFolder(benchmark.ui_root), size)


def load_test_sets(benchmark: Benchmark, size: int) -> dict[str, ImageSet]:
    """The test subsets of the benchmark's protocol (``spec.test_subsets``), each resized to ``size``."""
    spec = benchmark.spec
    return {name: load_image_set(spec.reader(benchmark.root, name), size) for name in spec.test_subsets}


def load_verification_pairs(benchmark: Benchmark, size: int) -> VerificationPairs | None:
    """The benchmark's verification pairs (``spec.verification_pairs``) with their distinct images decoded and
    resized to ``size``; None when the protocol has none or the tree holds none."""
    read_pairs = benchmark.spec.verification_pairs
    if read_pairs is None:
        return None
    try:
        pairs = read_pairs(benchmark.root)
    except FileNotFoundError:
        return None
    if not pairs:
        return None
    # The pair images live in one folder; read it once and index the pairs into it.
    folder = Path(os.path.commonpath([str(p) for a, b, _ in pairs for p in (a, b)]))
    if folder.is_file():
        folder = folder.parent
    images = load_image_set(ImageFolder(folder), size)
    position = {Path(path).resolve(): i for i, path in enumerate(images.paths)}
    first = torch.tensor([position[Path(a).resolve()] for a, _, _ in pairs], dtype=torch.int64)
    second = torch.tensor([position[Path(b).resolve()] for _, b, _ in pairs], dtype=torch.int64)
    is_same = torch.tensor([bool(same) for _, _, same in pairs], dtype=torch.bool)
    return VerificationPairs(images, first, second, is_same)


@dataclass(frozen=True)
class RunData:
    """Everything a run reads, decoded at the network input size.

    Attributes:
        benchmark: the resolved roots and provenance.
        train: the training set (labels 0..C-1).
        ui: the UI set (the centre u is its embeddings' normalised mean).
        tests: the protocol's test subsets by reader subset name.
        verification: the verification pairs, or None.
    """

    benchmark: Benchmark
    train: ImageSet
    ui: ImageSet
    tests: dict[str, ImageSet]
    verification: VerificationPairs | None

    def __post_init__(self) -> None:
        for name in ("train", "ui"):
            if len(getattr(self, name)) == 0:
                what = "training set" if name == "train" else "UI set"
                raise ValueError(f"expected a non-empty {what}, got 0 images")
        if self.train.num_classes < 2:
            raise ValueError(
                f"expected at least 2 training identities to train a classifier, got "
                f"{self.train.num_classes} in the training set of {str(self.benchmark.root)!r} (--data-root, "
                f"or --synthetic-size)"
            )

    @property
    def spec(self) -> BenchmarkSpec:
        return self.benchmark.spec

    @property
    def num_classes(self) -> int:
        """C, the number of training identities."""
        return self.train.num_classes

    def summary(self) -> str:
        """One line with the size of every part."""
        parts = [f"train {len(self.train)} images / {self.num_classes} identities", f"UI {len(self.ui)}"]
        parts += [f"{name} {len(images)}" for name, images in self.tests.items()]
        if self.verification is not None:
            parts.append(f"verification pairs {len(self.verification.first)}")
        return "; ".join(parts)


def load_run_data(benchmark: Benchmark, size: int) -> RunData:
    """Decode the training, UI and test images (and verification pairs) of ``benchmark`` at ``size``."""
    return RunData(
        benchmark,
        load_train_set(benchmark, size),
        load_ui_set(benchmark, size),
        load_test_sets(benchmark, size),
        load_verification_pairs(benchmark, size),
    )
