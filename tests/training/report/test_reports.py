"""The typed report of a run: its headline figures named by the benchmark's spec, its JSON layout, the
comparison table, and the figures drawn from the JSON alone."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch

from recognizability.metrics.ui_cluster import ui_cluster_statistics
from recognizability.training import demo_config
from recognizability.training.config import get_benchmark
from recognizability.training.config.benchmarks import HardProbesRank1
from recognizability.training.data import Benchmark
from recognizability.training.report.plots import PLOT_NAMES, plot_report
from recognizability.training.report.reports import (
    CMCCurve,
    DataSummary,
    IndexScatter,
    PairCounts,
    QualityFigures,
    RunReport,
    TrainingSummary,
    comparison_table,
    ui_cluster_table,
)


def _report() -> RunReport:
    fractions = [0.0, 0.05, 0.1]
    figures = QualityFigures(
        spearman_with_severity=-0.3,
        erc_auc={0.01: 0.04, 0.001: 0.06},
        erc_fnmr={0.01: [0.5, 0.4, 0.3], 0.001: [0.7, 0.6, 0.5]},
        reject_fractions=fractions,
    )
    protocol = HardProbesRank1(rank_1=0.5, num_probes=4)
    return RunReport(
        dataset="tinyface",
        protocol=protocol,
        protocol_hard=HardProbesRank1(rank_1=0.25, num_probes=2),
        hard_probes=2,
        quality={"learned_index": figures, "ers": figures},
        pairs=PairCounts(3, 30),
        cmc=CMCCurve([1.0, 2.0, 3.0], [0.2, 0.3, 0.5]),
        index_vs_ui_distance=IndexScatter([0.1, 0.5, 0.9], [0.2, 0.6, 1.1], severity=[0.9, 0.5, 0.1]),
        conventions={"protocol": get_benchmark("tinyface").protocol},
        config=demo_config("tinyface").with_losses(["id"]),
        data=DataSummary(Benchmark("tinyface", Path("r"), Path("u"), "synthetic"), {"probe": 4}, 3),
        training=TrainingSummary(
            [
                {"epoch": 1.0, "total": 3.0, "classification": 2.0, "images_per_second": 10.0},
                {"epoch": 2.0, "total": 2.0, "classification": 1.5, "images_per_second": 30.0},
            ],
            1.0,
            0,
            "cpu",
            1,
            1,
        ),
        ui_cluster=_cluster(0.0),
        ui_cluster_pretrained=_cluster(0.3),
    )


def _cluster(shift: float):  # type: ignore[no-untyped-def]
    severity = torch.linspace(0, 1, 20)
    return ui_cluster_statistics(1.0 - severity + shift * torch.rand(20), severity, severity >= 0.5, bins=4)


def test_report_headline_figures_and_json_layout() -> None:
    report = _report()
    figures = report.headline_figures()  # tinyface's headline: rank_1 of the protocol report
    assert figures == {
        "rank_1": 0.5, "rank_1_hard": 0.25, "learned_index_spearman": -0.3, "learned_index_erc_auc": 0.04,
        "ers_spearman": -0.3, "ers_erc_auc": 0.04, "fig1_spearman": -1.0, "fig1_hard_share_nearest": 1.0,
    }  # fmt: skip
    data = report.to_dict()
    assert data["protocol_hard"]["probes"] == 2 and data["quality"]["pairs"] == {"genuine": 3, "impostor": 30}
    assert data["quality"]["ers"]["erc_auc_fmr_0.001"] == 0.06 and data["settings"]["losses"] == ["id"]
    assert report.training.images_per_second() == 20.0
    assert data["ui_cluster"]["trained"]["spearman_with_severity"] == -1.0
    assert data["ui_cluster"]["pretrained"]["count"] == 20
    rows = ui_cluster_table({"a": report}).splitlines()  # type: ignore[union-attr]
    assert [r.split()[0] for r in rows[1:]] == ["start", "a"] and rows[2].split()[1] == "-1.000"
    assert (
        ui_cluster_table({"a": dataclasses.replace(report, ui_cluster=None, ui_cluster_pretrained=None)})
        is None
    )
    table = comparison_table({"a": report, "b": report}).splitlines()
    assert table[0].split() == ["a", "b"] and table[1].split()[0] == "rank_1"
    assert math.isnan(TrainingSummary([], 0.0, 0, "cpu", 1, 1).images_per_second())


def test_plots_are_written_from_the_report_alone(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    report = _report()
    trained = dataclasses.replace(report, config=report.config.with_losses(["l1"]))
    written = plot_report(trained.to_dict(), tmp_path / "plots")
    assert [p.name for p in written] == list(PLOT_NAMES)
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="'quality' and 'curves'"):
        plot_report({"quality": {}}, tmp_path)
