"""Putting the quality estimator to work: a deployable model, ONNX export, a calibrated 0-100 score, and the
``recognizability`` command (export, quality, calibrate, evaluate). See ``docs/deployment.md``.

- :class:`QualityModel` / :func:`load_quality_model`: backbone + perceptibility regression module of a
  training checkpoint, images -> (embedding v, xi_hat), preprocessing recorded (:class:`Preprocessing`);
- :func:`export_onnx` / :class:`OnnxQualityModel` (``onnx`` extra): the same model under ONNX Runtime;
- :class:`QualityCalibration` / :func:`fit_calibration`: ``quality = round(100 * P(mated comparison with a
  good reference succeeds at the FMR | xi_hat))``, isotonic in ``xi_hat``, with threshold guidance from the
  calibration set's EDC;
- :func:`embed_images`, :func:`collect_images`, :func:`evaluate_folders`: folders of images, unreadable files
  listed and skipped;
- :func:`fit_quality` / :class:`QualityFitSettings` (:mod:`~recognizability.deploy.quality_fit`): a quality
  score fitted to a frozen recognizer you already run, written as a ``--checkpoint`` of the commands
  (docs/quality.md); :func:`serfiq_quality_of_backbone`: SER-FIQ on the same recognizer, batched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from recognizability._deprecation import deprecated_aliases

from .calibration import QualityCalibration, ThresholdGuidance, fit_calibration, isotonic_fit
from .evaluate import LabelledImages, calibrate, evaluate_folders, labelled_folder, synthetic_calibration_set
from .images import UnreadableImage, collect_images
from .model import Preprocessing, QualityModel, build_quality_model, load_quality_model, load_trained_model
from .quality_fit import QualityFitResult, QualityFitSettings, fit_quality
from .scoring import EmbeddedImages, embed_images, write_scores_csv
from .stochastic import serfiq_quality_of_backbone, stochastic_embeddings

if TYPE_CHECKING:
    from .onnx import OnnxQualityModel, export_onnx

# the ONNX module imports nothing optional at import time, but keep ``import recognizability.deploy`` light
_LAZY = {"OnnxQualityModel": "onnx", "export_onnx": "onnx"}


_deprecated = deprecated_aliases(
    __name__,
    {"pool_adjacent_violators": "isotonic_fit"},
    {"isotonic_fit": isotonic_fit},
    advice={"pool_adjacent_violators": "use isotonic_fit (scipy.optimize.isotonic_regression underneath)"},
    stacklevel=3,
)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    return _deprecated(name)


__all__ = [
    "EmbeddedImages",
    "LabelledImages",
    "OnnxQualityModel",
    "Preprocessing",
    "QualityCalibration",
    "QualityFitResult",
    "QualityFitSettings",
    "QualityModel",
    "ThresholdGuidance",
    "UnreadableImage",
    "build_quality_model",
    "calibrate",
    "collect_images",
    "embed_images",
    "evaluate_folders",
    "export_onnx",
    "fit_calibration",
    "fit_quality",
    "isotonic_fit",
    "labelled_folder",
    "load_quality_model",
    "load_trained_model",
    "serfiq_quality_of_backbone",
    "stochastic_embeddings",
    "synthetic_calibration_set",
    "write_scores_csv",
]
