"""Configuration: what a run is, written once.

This sub-package owns the typed, nested :class:`TrainingConfig` (one frozen dataclass per section of the
paper's recipe, validated in its constructor), the one registered :class:`BenchmarkSpec` per dataset
(reader, test subsets, synthetic layout, Table 5 column, protocol evaluator, headline figures) and the two
presets a run starts from: the paper's Table 5 (:func:`paper_config`) and the declared CPU demo
(:func:`demo_config`). It imports nothing else of :mod:`recognizability.training`; every other
sub-package reads it.
"""

from __future__ import annotations

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
from .presets import demo_config, describe, paper_config
from .sections import (
    HEAD_PARALLEL,
    LOSS_TERMS,
    RUN_MODES,
    TERMS,
    ConfigOption,
    DataConfig,
    HeadConfig,
    LearningRates,
    LossConfig,
    LossTerm,
    ModelConfig,
    OptimConfig,
    RunConfig,
    RunMode,
    TrainingConfig,
    UIConfig,
    loss_term,
    model_label,
)

__all__ = [
    "HEAD_PARALLEL",
    "LOSS_TERMS",
    "RUN_MODES",
    "TERMS",
    "BenchmarkSpec",
    "ConfigOption",
    "DataConfig",
    "EmbeddedPairs",
    "EmbeddedSet",
    "HardProbesRank1",
    "HeadConfig",
    "LearningRates",
    "LossConfig",
    "LossTerm",
    "ModelConfig",
    "OptimConfig",
    "ProtocolReport",
    "RunConfig",
    "RunMode",
    "Table5Row",
    "TrainingConfig",
    "UIConfig",
    "available_benchmarks",
    "demo_config",
    "describe",
    "get_benchmark",
    "loss_term",
    "model_label",
    "paper_config",
    "register_benchmark",
]
