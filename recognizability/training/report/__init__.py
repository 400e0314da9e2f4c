"""Reporting: what a finished run measured, and how it is shown.

This sub-package owns the end-of-run evaluation by the benchmark's protocol and the quality comparison
(:func:`evaluate_run`), the paper's Fig. 1 statistics of a backbone (:func:`backbone_ui_cluster`), the typed
report written as ``report.json`` (:class:`RunReport`), the printed tables, the five-seed evidence shipped for
the demo, and the figures (:mod:`~recognizability.training.report.plots`, matplotlib imported only there).
Reads :mod:`~recognizability.training.config`, :mod:`~recognizability.training.data` and
:mod:`~recognizability.training.method`.
"""

from __future__ import annotations

from .evaluation import evaluate_run
from .evidence import ablation_summary, evidence_lines
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
    ui_cluster_table,
    write_report,
)
from .ui_cluster import backbone_ui_cluster

__all__ = [
    "QUALITY_METHODS",
    "REPORT_FIELDS",
    "CMCCurve",
    "DataSummary",
    "IndexScatter",
    "PairCounts",
    "QualityFigures",
    "RunReport",
    "TrainingSummary",
    "ablation_summary",
    "backbone_ui_cluster",
    "comparison_table",
    "evaluate_run",
    "evidence_lines",
    "ui_cluster_table",
    "write_report",
]
