"""Data sources: where a run's images come from, and the images themselves.

This sub-package owns the resolution of a benchmark's roots (a real tree, or the synthetic stand-in generated
once into the cache), the decoded images a run holds in memory (:class:`ImageSet`, :class:`VerificationPairs`,
:class:`RunData`), the batches of an epoch (:class:`EpochBatches`) and the network input they become
(:func:`prepare_batch`, the paper's augmentation). It reads :mod:`recognizability.training.config` only.
"""

from __future__ import annotations

from .images import (
    EpochBatches,
    ImageSet,
    ProcessShare,
    VerificationPairs,
    build_augmentation,
    load_image_set,
    prepare_batch,
    validation_subset,
)
from .sources import (
    Benchmark,
    RunData,
    load_run_data,
    load_test_sets,
    load_train_set,
    load_ui_set,
    load_verification_pairs,
    resolve_benchmark,
)

__all__ = [
    "Benchmark",
    "EpochBatches",
    "ImageSet",
    "ProcessShare",
    "RunData",
    "VerificationPairs",
    "build_augmentation",
    "load_image_set",
    "load_run_data",
    "load_test_sets",
    "load_train_set",
    "load_ui_set",
    "load_verification_pairs",
    "prepare_batch",
    "resolve_benchmark",
    "validation_subset",
]
