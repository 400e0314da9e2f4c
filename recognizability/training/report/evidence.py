"""The five-seed evidence of docs/ablation.md, shipped with the package so that the CPU demo can print it
next to the one-seed comparison it measures.

``ablation_summary.json`` beside this file is written by ``python benchmarks/ablation.py --tables
benchmarks/results/ablation.json --summary recognizability/training/ablation_summary.json`` from the per-seed
records of ``benchmarks/results/ablation.json`` (a test checks that the two agree). The figures are synthetic.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from importlib import resources
from typing import Any

from scipy import stats

__all__ = ["SUMMARY_FILENAME", "ablation_summary", "evidence_lines", "paired_t_interval"]

SUMMARY_FILENAME = "ablation_summary.json"


def paired_t_interval(differences: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean of per-seed paired differences and its two-sided Student-t confidence interval (n - 1 degrees of
    freedom): ``(mean, low, high)``; the interval is NaN with fewer than two differences. The comparison of
    every evidence table (docs/ablation.md, docs/quality.md)."""
    n = len(differences)
    mean = statistics.fmean(differences)
    if n < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * statistics.stdev(differences) / math.sqrt(n)
    return mean, mean - half, mean + half


def ablation_summary() -> dict[str, Any] | None:
    """The shipped summary of the five-seed ablation, or None when this installation has none."""
    resource = resources.files("recognizability.training.report") / SUMMARY_FILENAME
    if not resource.is_file():
        return None
    summary: dict[str, Any] = json.loads(resource.read_text())
    return summary


def evidence_lines(summary: dict[str, Any] | None = None) -> list[str]:
    """Plain-text lines of the summary for the demo's output (empty without a summary)."""
    summary = ablation_summary() if summary is None else summary
    if not summary:
        return []
    lines = [
        f"five seeds, paired, from docs/ablation.md ({summary['data']}; synthetic): mean difference against "
        "the same head alone [95 % confidence interval]; the placebo shows the lab's noise"
    ]
    width = max(len(row["row"]) for row in summary["rows"]) + 2
    for row in summary["rows"]:
        cells = [f"{key} {_interval(row[key])}" for key in ("rank_1", "rank_1_hard") if key in row]
        lines.append(f"  {row['row']:<{width}}" + "; ".join(cells))
    return lines


def _interval(values: list[float]) -> str:
    mean, low, high = values
    return f"{mean:+.3f} [{low:+.3f}, {high:+.3f}]"
