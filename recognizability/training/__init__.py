"""What the reference training scripts (``examples/train_*.py``) call: the typed configuration and its presets
(Table 5, the CPU demo), one spec per benchmark, the data of a run, builders of the modules of Fig. 2, the
per-module Adam groups, the batches of an epoch, and plumbing (device and torchrun, checkpoints and resume,
progress, evaluation by the benchmark's protocol, typed reports, plots). The training loop itself is written
out in the scripts.

Commands: ``recognizability-predict`` (``python -m recognizability.training.predict``) scores a folder of
images with a run's checkpoint; ``recognizability-plots`` (``python -m recognizability.training.plots``)
redraws a report's figures.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

from .benchmarks import (
    BenchmarkSpec,
    EmbeddedPairs,
    EmbeddedSet,
    HardProbesRank1,
    ProtocolReport,
    Table5Row,
    available_benchmarks,
    get_benchmark,
    register_benchmark,
)
from .checkpoint import epoch_seed, load_checkpoint, save_checkpoint, seed_everything
from .cli import ExampleArguments, build_parser, parse_args, planned_runs
from .config import (
    HEAD_NAMES,
    HEAD_PARALLEL,
    LOSS_TERMS,
    RUN_MODES,
    ConfigOption,
    DataConfig,
    HeadConfig,
    LearningRates,
    LossConfig,
    ModelConfig,
    OptimConfig,
    RunConfig,
    RunMode,
    TrainingConfig,
    UIConfig,
)
from .data import (
    Benchmark,
    RunData,
    cache_dir,
    load_run_data,
    load_test_sets,
    load_train_set,
    load_ui_set,
    load_verification_pairs,
    resolve_benchmark,
)
from .distributed import DistributedContext, init_distributed
from .evaluation import evaluate_run
from .images import (
    EpochBatches,
    ImageSet,
    VerificationPairs,
    build_augmentation,
    load_image_set,
    prepare_batch,
    validation_subset,
)
from .model import RecognizabilityModel, build_model
from .modules import (
    MethodModules,
    available_heads,
    build_backbone,
    build_criterion,
    build_head,
    build_modules,
    parameter_groups,
    register_head,
    replicated_modules,
    set_train_mode,
)
from .presets import demo_config, paper_config
from .reports import (
    QUALITY_METHODS,
    REPORT_FIELDS,
    CMCCurve,
    DataSummary,
    IndexScatter,
    PairCounts,
    QualityFigures,
    RunReport,
    TrainingSummary,
    comparison_table,
    write_report,
)
from .session import TERM_NAMES, EpochMeter, RunOptions, Session, TrainingResult, TrainingRun
from .sharded_heads import checkpoint_states, shard_checkpoint
from .steps import autocast, embed_images, validate

__all__ = [
    "HEAD_NAMES",
    "HEAD_PARALLEL",
    "LOSS_TERMS",
    "QUALITY_METHODS",
    "REPORT_FIELDS",
    "RUN_MODES",
    "TERM_NAMES",
    "Benchmark",
    "BenchmarkSpec",
    "CMCCurve",
    "ConfigOption",
    "DataConfig",
    "DataSummary",
    "DistributedContext",
    "EmbeddedPairs",
    "EmbeddedSet",
    "EpochBatches",
    "EpochMeter",
    "ExampleArguments",
    "HardProbesRank1",
    "HeadConfig",
    "ImageSet",
    "IndexScatter",
    "LearningRates",
    "LossConfig",
    "MethodModules",
    "ModelConfig",
    "OptimConfig",
    "PairCounts",
    "ProtocolReport",
    "QualityFigures",
    "RecognizabilityModel",
    "RunConfig",
    "RunData",
    "RunMode",
    "RunOptions",
    "RunReport",
    "Session",
    "Table5Row",
    "TrainingConfig",
    "TrainingResult",
    "TrainingRun",
    "TrainingSummary",
    "UIConfig",
    "VerificationPairs",
    "autocast",
    "available_benchmarks",
    "available_heads",
    "build_augmentation",
    "build_backbone",
    "build_criterion",
    "build_head",
    "build_model",
    "build_modules",
    "build_parser",
    "cache_dir",
    "checkpoint_states",
    "comparison_table",
    "demo_config",
    "embed_images",
    "epoch_seed",
    "evaluate_run",
    "get_benchmark",
    "init_distributed",
    "load_checkpoint",
    "load_image_set",
    "load_run_data",
    "load_test_sets",
    "load_train_set",
    "load_ui_set",
    "load_verification_pairs",
    "paper_config",
    "parameter_groups",
    "parse_args",
    "planned_runs",
    "prepare_batch",
    "register_benchmark",
    "register_head",
    "replicated_modules",
    "resolve_benchmark",
    "save_checkpoint",
    "seed_everything",
    "set_train_mode",
    "shard_checkpoint",
    "validate",
    "validation_subset",
    "write_report",
]

#: Names of release 0.1.0 kept for one release: old name -> (module, new name). Each use warns.
_DEPRECATED: dict[str, tuple[str, str]] = {
    "TrainingSettings": ("config", "TrainingConfig"),
    "paper_settings": ("presets", "paper_config"),
    "cpu_demo_settings": ("presets", "demo_config"),
    "QualityPrediction": ("predict", "QualityPrediction"),
    "load_trained_model": ("predict", "load_trained_model"),
    "predict_quality": ("predict", "predict_quality"),
    "write_quality_csv": ("predict", "write_quality_csv"),
    "plot_report": ("plots", "plot_report"),
}
#: Names of release 0.1.0 that are gone, with what replaces them.
_REMOVED: dict[str, str] = {
    "fit": "the training loop is written out in examples/train_*.py (their train function)",
    "train_one_epoch": "the training loop is written out in examples/train_*.py (their train function)",
    "refresh_ui_center": "ui_center.fit(embed_images(model, ui, input_size, device)[0])",
}


def __getattr__(name: str) -> Any:
    if name in _DEPRECATED:
        module, new = _DEPRECATED[name]
        warnings.warn(
            f"recognizability.training.{name} is deprecated and will be removed in the next release; use "
            f"recognizability.training.{module}.{new}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(f".{module}", __name__), new)
    if name in _REMOVED:
        raise AttributeError(f"recognizability.training.{name} was removed in release 0.2: {_REMOVED[name]}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
