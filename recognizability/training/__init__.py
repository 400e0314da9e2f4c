"""Training recipes shared by the examples: Table 5 settings, the model of Fig. 2, the epoch loop with the
UI-centre refresh, checkpoint/resume, DDP, protocol evaluation, reports, plots and quality prediction."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .checkpoint import epoch_seed, load_checkpoint, save_checkpoint, seed_everything
from .data import (
    Benchmark,
    load_test_sets,
    load_train_set,
    load_ui_set,
    load_verification_pairs,
    resolve_benchmark,
)
from .distributed import DistributedContext, init_distributed
from .evaluation import REPORT_FIELDS, evaluate_run, write_report
from .loop import ImageSet, VerificationPairs, load_image_set, refresh_ui_center, train_one_epoch, validate
from .model import RecognizabilityModel, build_model
from .recipe import TrainingResult, fit
from .settings import LOSS_TERMS, LearningRates, TrainingSettings, cpu_demo_settings, paper_settings

if TYPE_CHECKING:
    from .plots import plot_report
    from .predict import QualityPrediction, load_trained_model, predict_quality, write_quality_csv

# plots and predict are also command-line modules (python -m recognizability.training.predict); imported here
# eagerly, runpy would warn that they were already in sys.modules, so their names load on first use.
_LAZY = {
    "plot_report": "plots",
    "QualityPrediction": "predict",
    "load_trained_model": "predict",
    "predict_quality": "predict",
    "write_quality_csv": "predict",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "LOSS_TERMS",
    "REPORT_FIELDS",
    "Benchmark",
    "DistributedContext",
    "ImageSet",
    "LearningRates",
    "QualityPrediction",
    "RecognizabilityModel",
    "TrainingResult",
    "TrainingSettings",
    "VerificationPairs",
    "build_model",
    "cpu_demo_settings",
    "epoch_seed",
    "evaluate_run",
    "fit",
    "init_distributed",
    "load_checkpoint",
    "load_image_set",
    "load_test_sets",
    "load_train_set",
    "load_trained_model",
    "load_ui_set",
    "load_verification_pairs",
    "paper_settings",
    "plot_report",
    "predict_quality",
    "refresh_ui_center",
    "resolve_benchmark",
    "save_checkpoint",
    "seed_everything",
    "train_one_epoch",
    "validate",
    "write_quality_csv",
    "write_report",
]
