"""What the reference training scripts (``examples/train_*.py``) call. The training loop itself is written out
in the scripts; everything here is either a piece of the paper's Fig. 2 or plumbing the loop calls.

Sub-packages, stacked so that each reads only those above it in this list:

- :mod:`~recognizability.training.config`: the typed :class:`TrainingConfig`, one spec per benchmark (Table 5
  once), the paper's and the CPU demo's presets;
- :mod:`~recognizability.training.data`: the benchmark's trees (real, or synthetic and cached), the decoded
  images, the batches of an epoch and the network input they become;
- :mod:`~recognizability.training.method`: the modules of Fig. 2 built from the configuration, Table 5's
  per-module Adam groups, the checks before a step, embedding and validation;
- :mod:`~recognizability.training.report`: the end-of-run evaluation, the paper's Fig. 1 statistics, the typed
  report and its figures;
- :mod:`~recognizability.training.run`: the session, checkpoints and exact resume, run folders, seeding,
  torchrun.

Command modules: :mod:`~recognizability.training.cli` (the examples' command line) and
:mod:`~recognizability.training.pretrain` (stage 1, ``python -m recognizability.training.pretrain``).
"""

from __future__ import annotations

from recognizability._deprecation import deprecations

from .cli import parse_args, planned_runs
from .config import (
    BenchmarkSpec,
    LossConfig,
    TrainingConfig,
    available_benchmarks,
    demo_config,
    paper_config,
    register_benchmark,
)
from .data import EpochBatches, ImageSet, RunData, build_augmentation, prepare_batch, validation_subset
from .method import (
    MethodModules,
    autocast,
    build_backbone,
    build_criterion,
    build_head,
    build_modules,
    check_training_batch,
    embed_images,
    parameter_groups,
    replicated_modules,
    set_train_mode,
    validate,
)
from .report import RunReport
from .run import RunOptions, Session, TrainingResult, epoch_seed, seed_everything

__all__ = [
    "BenchmarkSpec",
    "EpochBatches",
    "ImageSet",
    "LossConfig",
    "MethodModules",
    "RunData",
    "RunOptions",
    "RunReport",
    "Session",
    "TrainingConfig",
    "TrainingResult",
    "autocast",
    "available_benchmarks",
    "build_augmentation",
    "build_backbone",
    "build_criterion",
    "build_head",
    "build_modules",
    "check_training_batch",
    "demo_config",
    "embed_images",
    "epoch_seed",
    "paper_config",
    "parameter_groups",
    "parse_args",
    "planned_runs",
    "prepare_batch",
    "register_benchmark",
    "replicated_modules",
    "seed_everything",
    "set_train_mode",
    "validate",
    "validation_subset",
]

_CONFIG = "recognizability.training.config"
_DATA = "recognizability.training.data"
_METHOD = "recognizability.training.method"
_REPORT = "recognizability.training.report"
_RUN = "recognizability.training.run"
_RETIRED_PREDICT = (
    "score folders with the recognizability command: recognizability quality DIR --checkpoint last.pt "
    "--out scores.csv (Python: recognizability.deploy.load_quality_model and "
    "recognizability.deploy.embed_images)"
)
_LOOP = "the training loop is written out in examples/train_*.py (their train function)"

__getattr__ = deprecations(
    __name__,
    moved={
        # names of release 0.1.0
        "TrainingSettings": f"{_CONFIG}:TrainingConfig",
        "paper_settings": f"{_CONFIG}:paper_config",
        "cpu_demo_settings": f"{_CONFIG}:demo_config",
        "plot_report": f"{_REPORT}.plots:plot_report",
        # names this package exported before its sub-packages; each lives in one of them now
        "ConfigOption": f"{_CONFIG}:ConfigOption",
        "DataConfig": f"{_CONFIG}:DataConfig",
        "EmbeddedPairs": f"{_CONFIG}:EmbeddedPairs",
        "EmbeddedSet": f"{_CONFIG}:EmbeddedSet",
        "HEAD_PARALLEL": f"{_CONFIG}:HEAD_PARALLEL",
        "LOSS_TERMS": f"{_CONFIG}:LOSS_TERMS",
        "available_heads": "recognizability.nn:available_heads",
        "register_head": "recognizability.nn:register_head",
        "HardProbesRank1": f"{_CONFIG}:HardProbesRank1",
        "HeadConfig": f"{_CONFIG}:HeadConfig",
        "LearningRates": f"{_CONFIG}:LearningRates",
        "ModelConfig": f"{_CONFIG}:ModelConfig",
        "OptimConfig": f"{_CONFIG}:OptimConfig",
        "ProtocolReport": f"{_CONFIG}:ProtocolReport",
        "RUN_MODES": f"{_CONFIG}:RUN_MODES",
        "RunConfig": f"{_CONFIG}:RunConfig",
        "RunMode": f"{_CONFIG}:RunMode",
        "Table5Row": f"{_CONFIG}:Table5Row",
        "UIConfig": f"{_CONFIG}:UIConfig",
        "get_benchmark": f"{_CONFIG}:get_benchmark",
        "Benchmark": f"{_DATA}:Benchmark",
        "VerificationPairs": f"{_DATA}:VerificationPairs",
        "load_image_set": f"{_DATA}:load_image_set",
        "load_run_data": f"{_DATA}:load_run_data",
        "load_test_sets": f"{_DATA}:load_test_sets",
        "load_train_set": f"{_DATA}:load_train_set",
        "load_ui_set": f"{_DATA}:load_ui_set",
        "load_verification_pairs": f"{_DATA}:load_verification_pairs",
        "resolve_benchmark": f"{_DATA}:resolve_benchmark",
        "QUALITY_METHODS": f"{_REPORT}:QUALITY_METHODS",
        "REPORT_FIELDS": f"{_REPORT}:REPORT_FIELDS",
        "CMCCurve": f"{_REPORT}:CMCCurve",
        "DataSummary": f"{_REPORT}:DataSummary",
        "IndexScatter": f"{_REPORT}:IndexScatter",
        "PairCounts": f"{_REPORT}:PairCounts",
        "QualityFigures": f"{_REPORT}:QualityFigures",
        "TrainingSummary": f"{_REPORT}:TrainingSummary",
        "comparison_table": f"{_REPORT}:comparison_table",
        "evaluate_run": f"{_REPORT}:evaluate_run",
        "write_report": f"{_REPORT}:write_report",
        "DistributedContext": f"{_RUN}:DistributedContext",
        "EpochMeter": f"{_RUN}:EpochMeter",
        "TrainingRun": f"{_RUN}:TrainingRun",
        "checkpoint_states": f"{_RUN}:checkpoint_states",
        "init_distributed": f"{_RUN}:init_distributed",
        "load_checkpoint": f"{_RUN}:load_checkpoint",
        "save_checkpoint": f"{_RUN}:save_checkpoint",
        "shard_checkpoint": f"{_RUN}:shard_checkpoint",
        "ExampleArguments": "recognizability.training.cli:ExampleArguments",
        "build_parser": "recognizability.training.cli:build_parser",
    },
    removed={
        "fit": _LOOP,
        "train_one_epoch": _LOOP,
        "refresh_ui_center": "ui_center.fit(embed_images(model, ui, input_size, device)[0])",
        "QualityPrediction": _RETIRED_PREDICT,
        "predict_quality": _RETIRED_PREDICT,
        "write_quality_csv": _RETIRED_PREDICT,
        "load_trained_model": "recognizability.deploy.load_trained_model (the one model loader)",
        "RecognizabilityModel": "MethodModules, built with build_modules(config, num_classes)",
        "build_model": "build_modules(config, num_classes)",
        "HEAD_NAMES": "recognizability.nn.available_heads() (the one head registry, with registered heads)",
        "TERM_NAMES": (
            "every scalar field of the loss output, and any term passed to EpochMeter.update by name, is "
            "logged; recognizability.training.config.TERMS names the terms a run can switch off"
        ),
    },
)
