"""The typed report of a run (:class:`RunReport`) and the comparison table of several runs.

``RunReport.to_dict()`` is what ``report.json`` holds (its top-level fields are :data:`REPORT_FIELDS`), and
:func:`~recognizability.training.report.plots.plot_report` draws the figures from that JSON alone.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recognizability._files import write_json
from recognizability.metrics.ui_cluster import UIClusterStatistics

from ..config import ProtocolReport, TrainingConfig, get_benchmark
from ..data import Benchmark

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
    "comparison_table",
    "ui_cluster_table",
    "write_report",
]

#: Top-level fields of every ``report.json``.
REPORT_FIELDS: tuple[str, ...] = (
    "dataset", "protocol", "protocol_hard", "quality", "ui_cluster", "curves", "conventions", "settings",
    "data", "training",
)  # fmt: skip

#: The quality scores a report compares: the learned index xi_hat, ERS, the MagFace norm, CR-FIQA's trained
#: quality branch (no test labels) and CR-FIQA's ratio against gallery templates (an oracle: test labels).
QUALITY_METHODS: tuple[str, ...] = ("learned_index", "ers", "magface_norm", "crfiqa_trained", "crfiqa")


@dataclass(frozen=True)
class QualityFigures:
    """How well one quality score predicts recognition.

    Attributes:
        spearman_with_severity: Spearman rho with the synthetic severity (None on real data; negative =
            quality falls as severity rises).
        erc_auc: FMR -> area under the error-versus-reject curve (lower = better).
        erc_fnmr: FMR -> FNMR at each rejected fraction.
        reject_fractions: the rejected fractions of the curves.
        edc_pauc: FMR -> partial area under the EDC up to 20 % discarded (lower = better), as
            :func:`~recognizability.metrics.error_versus_reject` computes it.
    """

    spearman_with_severity: float | None
    erc_auc: dict[float, float]
    erc_fnmr: dict[float, list[float]]
    reject_fractions: list[float]
    edc_pauc: dict[float, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.spearman_with_severity is not None:
            out["spearman_with_severity"] = self.spearman_with_severity
        for fmr, auc in self.erc_auc.items():
            out[f"erc_auc_fmr_{fmr:g}"] = auc
            out[f"erc_fnmr_fmr_{fmr:g}"] = self.erc_fnmr[fmr]
        for fmr, pauc in self.edc_pauc.items():
            out[f"edc_pauc_fmr_{fmr:g}"] = pauc
        out["reject_fractions"] = self.reject_fractions
        return out


@dataclass(frozen=True)
class PairCounts:
    """Genuine and impostor probe-gallery pairs of the error-versus-reject curves."""

    genuine: int
    impostor: int


@dataclass(frozen=True)
class CMCCurve:
    """Closed-set CMC of the mated probes at ranks 1..20, measured on ``probes`` probes (0: not recorded)."""

    ranks: list[float]
    rates: list[float]
    probes: int = 0


@dataclass(frozen=True)
class IndexScatter:
    """Learned index xi_hat against the UI-centre distance 1 - cos(v, u) of (a sample of) the probes (paper
    Fig. 1/6), with their synthetic severity and hard flags when known."""

    predicted_index: list[float]
    ui_distance: list[float]
    severity: list[float] | None = None
    hard: list[float] | None = None

    def to_dict(self) -> dict[str, list[float]]:
        out = {"predicted_index": self.predicted_index, "ui_distance": self.ui_distance}
        if self.severity is not None:
            out["severity"] = self.severity
        if self.hard is not None:
            out["hard"] = self.hard
        return out


@dataclass(frozen=True)
class TrainingSummary:
    """How the run trained: one row of figures per epoch (loss terms, images/s, validation, learning rates),
    the wall time of the epochs run in this process, the epochs loaded from a checkpoint, where it ran."""

    history: list[dict[str, float]]
    seconds: float
    resumed_from: int
    device: str
    world_size: int
    threads: int

    def images_per_second(self) -> float:
        """Mean training throughput over the epochs (nan without epochs)."""
        rates = [row["images_per_second"] for row in self.history if "images_per_second" in row]
        return sum(rates) / len(rates) if rates else math.nan


@dataclass(frozen=True)
class DataSummary:
    """Where the data came from and how much of it there was (``train_size``: training images, None when not
    recorded)."""

    benchmark: Benchmark
    test_sizes: dict[str, int]
    ui_size: int
    train_size: int | None = None

    @property
    def note(self) -> str:
        if self.benchmark.provenance == "synthetic":
            return "synthetic stand-in: not comparable with the paper's tables"
        return "real dataset"


@dataclass(frozen=True)
class RunReport:
    """Everything measured at the end of a run.

    Attributes:
        dataset: the benchmark's name.
        protocol: the typed report of the dataset's protocol evaluator (``recognizability.metrics``).
        protocol_hard: the same on the probes the synthetic generator marked hard (None without them).
        hard_probes: how many probes are hard.
        quality: quality score -> :class:`QualityFigures` (the learned index only when L_L1 trained it).
        pairs: the probe-gallery pairs of the error-versus-reject curves.
        cmc, index_vs_ui_distance: the curves the plots draw.
        conventions: how each number was computed.
        config: the run's configuration.
        data: provenance and sizes of the data.
        training: history and timing.
        ui_cluster: Fig. 1 figures of the VLR training faces under the trained backbone (synthetic data only).
        ui_cluster_pretrained: the same under the backbone the run started from (before fine-tuning).
    """

    dataset: str
    protocol: ProtocolReport
    protocol_hard: ProtocolReport | None
    hard_probes: int
    quality: dict[str, QualityFigures]
    pairs: PairCounts
    cmc: CMCCurve
    index_vs_ui_distance: IndexScatter
    conventions: dict[str, str]
    config: TrainingConfig
    data: DataSummary
    training: TrainingSummary
    ui_cluster: UIClusterStatistics | None = None
    ui_cluster_pretrained: UIClusterStatistics | None = None

    def headline_figures(self) -> dict[str, float]:
        """The figures a comparison prints: the benchmark's headline figure (all and hard probes) and, per
        quality score, the Spearman correlation with severity and the ERC area at the first FMR."""
        out = get_benchmark(self.dataset).headline_figures(self.protocol, self.protocol_hard)
        for name, figures in self.quality.items():
            spearman = figures.spearman_with_severity
            out[f"{name}_spearman"] = math.nan if spearman is None else spearman
            out[f"{name}_erc_auc"] = next(iter(figures.erc_auc.values()), math.nan)
        if self.ui_cluster is not None:
            out["fig1_spearman"] = self.ui_cluster.spearman_with_severity
            out["fig1_hard_share_nearest"] = self.ui_cluster.hard_share_nearest
        return out

    def to_dict(self) -> dict[str, Any]:
        """The JSON layout of ``report.json`` (fields :data:`REPORT_FIELDS`)."""
        hard = None
        if self.protocol_hard is not None:
            hard = {**self.protocol_hard.to_dict(), "probes": self.hard_probes}
        quality: dict[str, Any] = {name: figures.to_dict() for name, figures in self.quality.items()}
        quality["pairs"] = {"genuine": self.pairs.genuine, "impostor": self.pairs.impostor}
        return {
            "dataset": self.dataset,
            "protocol": self.protocol.to_dict(),
            "protocol_hard": hard,
            "quality": quality,
            "ui_cluster": {
                "trained": None if self.ui_cluster is None else self.ui_cluster.to_dict(),
                "pretrained": None
                if self.ui_cluster_pretrained is None
                else self.ui_cluster_pretrained.to_dict(),
            },
            "curves": {
                "cmc": {"ranks": self.cmc.ranks, "rates": self.cmc.rates, "probes": self.cmc.probes},
                "index_vs_ui_distance": self.index_vs_ui_distance.to_dict(),
            },
            "conventions": self.conventions,
            "settings": self.config.to_dict(),
            "data": {
                **self.data.benchmark.to_dict(),
                "test_sizes": self.data.test_sizes,
                "ui_size": self.data.ui_size,
                "train_size": self.data.train_size,
                "note": self.data.note,
            },
            "training": {
                "history": self.training.history,
                "seconds": self.training.seconds,
                "resumed_from": self.training.resumed_from,
                "device": self.training.device,
                "world_size": self.training.world_size,
                "threads": self.training.threads,
            },
        }


def _or_none(statistics: UIClusterStatistics | None) -> dict[str, Any] | None:
    return None if statistics is None else statistics.to_dict()


def write_report(report: RunReport, path: str | os.PathLike[str]) -> Path:
    """Write ``report.to_dict()`` as indented JSON, atomically (:func:`recognizability._files.write_json`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_json(path, report.to_dict())


def comparison_table(reports: dict[str, RunReport]) -> str:
    """Plain-text table of the runs' headline figures (one column per run; the run with the most figures
    sets the order of the rows)."""
    summaries = {name: r.headline_figures() for name, r in reports.items()}
    keys: list[str] = []
    for s in sorted(summaries.values(), key=len, reverse=True):
        keys += [k for k in s if k not in keys]
    width = max([len(k) for k in keys] + [10])
    lines = [" " * width + "".join(f"{n:>16}" for n in summaries)]
    for k in keys:
        cells = "".join(f"{summaries[n].get(k, math.nan):>16.4f}" for n in summaries)
        lines.append(f"{k:<{width}}{cells}")
    return "\n".join(lines)


def ui_cluster_table(reports: dict[str, RunReport]) -> str | None:
    """Plain-text table of the Fig. 1 figures: the backbone the runs started from, then each run's trained
    backbone (None when no report has them: real data)."""
    rows: list[tuple[str, UIClusterStatistics]] = []
    start = next((r.ui_cluster_pretrained for r in reports.values() if r.ui_cluster_pretrained), None)
    if start is not None:
        rows.append(("start of fine-tuning", start))
    rows += [(name, r.ui_cluster) for name, r in reports.items() if r.ui_cluster is not None]
    if not rows:
        return None
    width = max(len(name) for name, _ in rows) + 2
    lines = [
        f"{'backbone':<{width}}{'Spearman(d_UI, severity)':>26}{'hard share, 10% nearest u':>28}"
        f"{'bimodality':>12}"
    ]
    for name, stats in rows:
        share = f"{stats.hard_share_nearest:.3f} (all {stats.hard_share_overall:.3f})"
        lines.append(
            f"{name:<{width}}{stats.spearman_with_severity:>26.3f}{share:>28}{stats.bimodality:>12.3f}"
        )
    return "\n".join(lines)
