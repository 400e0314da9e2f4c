"""Catching the figures a plotting function draws, before they are written and closed, so that tests read the
matplotlib objects (colours, ticks, titles, limits), never pixels; and a run report to draw from."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import torch

from recognizability import _figures
from recognizability.metrics.ui_cluster import ui_cluster_statistics
from recognizability.training import demo_config
from recognizability.training.config import get_benchmark
from recognizability.training.config.benchmarks import HardProbesRank1
from recognizability.training.data import Benchmark
from recognizability.training.report.reports import (
    CMCCurve,
    DataSummary,
    IndexScatter,
    PairCounts,
    QualityFigures,
    RunReport,
    TrainingSummary,
)


@contextmanager
def caught_figures(monkeypatch: pytest.MonkeyPatch, *modules: Any) -> Iterator[dict[str, Any]]:
    """While active, every ``save_figure`` of ``modules`` first records the figure under its file name, with
    ``fig.title_boxes``: (text, its extent, the figure's extent) of every title once drawn; the files are
    still written."""
    caught: dict[str, Any] = {}
    original = _figures.save_figure

    def recording(fig: Any, path: str | Path, *, vector: Sequence[str] = ()) -> list[Path]:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        artists = [fig._suptitle, *(ax.title for ax in fig.axes)]
        fig.title_boxes = [
            (a.get_text(), a.get_window_extent(renderer), fig.bbox) for a in artists if a and a.get_text()
        ]
        caught[Path(path).name] = fig
        return original(fig, path, vector=vector)

    for module in modules:
        monkeypatch.setattr(module, "save_figure", recording)
    yield caught


def titles(fig: Any) -> list[str]:
    """The figure's title and every axes title, in order (no-break spaces read as spaces)."""
    out = [fig._suptitle.get_text()] if fig._suptitle is not None else []
    return [t.replace("\xa0", " ") for t in out + [ax.get_title() for ax in fig.axes if ax.get_title()]]


def line_of(fig: Any, label: str) -> Any:
    """The one line of ``fig`` (first axes holding one) whose legend label starts with ``label``."""
    for ax in fig.axes:
        found = [line for line in ax.get_lines() if str(line.get_label()).startswith(label)]
        if found:
            assert len(found) == 1, [line.get_label() for line in found]
            return found[0]
    raise AssertionError(f"no line labelled {label!r}")


def run_report(
    *,
    losses: Sequence[str] = ("id", "mse", "l1"),
    quality: Sequence[str] = ("learned_index", "ers", "magface_norm"),
    history: Sequence[dict[str, float]] | None = None,
    backbone: str = "small_vlr_net",
) -> dict[str, Any]:
    """The JSON of a small run report (``RunReport.to_dict()``) with the given terms and quality scores."""
    fractions = [0.0, 0.05, 0.1]
    figures = QualityFigures(
        spearman_with_severity=-0.3,
        erc_auc={0.01: 0.04, 0.001: 0.06},
        erc_fnmr={0.01: [0.5, 0.4, 0.3], 0.001: [0.7, 0.6, 0.5]},
        reject_fractions=fractions,
    )
    severity = torch.linspace(0, 1, 20)

    def cluster(shift: float) -> Any:
        distance = 1.0 - severity + shift
        return ui_cluster_statistics(distance, severity, severity >= 0.5, bins=4)

    rows = history if history is not None else [
        {"epoch": 1.0, "total": 3.0, "classification": 2.0, "images_per_second": 10.0, "val_accuracy": 0.5},
        {"epoch": 2.0, "total": 2.0, "classification": 1.5, "images_per_second": 30.0, "val_accuracy": 0.6},
    ]  # fmt: skip
    report = RunReport(
        dataset="tinyface",
        protocol=HardProbesRank1(rank_1=0.5, num_probes=40),
        protocol_hard=HardProbesRank1(rank_1=0.25, num_probes=8),
        hard_probes=8,
        quality={name: figures for name in quality},
        pairs=PairCounts(30, 300),
        cmc=CMCCurve([float(r) for r in range(1, 11)], [min(1.0, 0.3 + 0.05 * r) for r in range(10)], 40),
        index_vs_ui_distance=IndexScatter([0.1, 0.5, 0.9], [0.2, 0.6, 1.1], severity=[0.9, 0.5, 0.1]),
        conventions={"protocol": get_benchmark("tinyface").protocol},
        config=demo_config("tinyface").replace(backbone=backbone, pretrained=None).with_losses(losses),
        data=DataSummary(Benchmark("tinyface", Path("r"), Path("u"), "synthetic"), {"probe": 40}, 3, 400),
        training=TrainingSummary([dict(r) for r in rows], 1.0, 0, "cpu", 1, 1),
        ui_cluster=cluster(0.4),
        ui_cluster_pretrained=cluster(0.0),
    )
    return report.to_dict()
