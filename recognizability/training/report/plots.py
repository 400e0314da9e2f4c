"""Figures of a finished run, drawn from its report alone (``report.json`` of :func:`evaluate_run`).

- ``cmc.png``: the CMC of the mated probes at ranks 1..20, with its 95 % Wilson band;
- ``erc.png``: error-versus-reject curves of every quality score, one panel per FMR of the report: the first
  (1e-2) is the one of the printed ``*_erc_auc`` figures (paper Fig. 7);
- ``index_vs_ui_distance.png``: the learned index xi_hat of the probes against their UI-centre distance
  1 - cos(v, u), coloured by the synthetic severity when known (paper Fig. 1/6); only for a run that trained
  the regression module (L_L1): without it its output is no index estimate;
- ``ui_cluster.png``: the paper's Fig. 1 on the training faces: the backbone the run started from, then the
  trained one, on one distance axis;
- ``training_curves.png``: every loss term of the history by name, and the validation figures, per epoch.

:func:`plot_comparison` draws several runs on one set of axes (``OUT/comparison.png`` of the example
scripts), with the range over seeds when a run has several. Every figure follows the package's one style
(:mod:`recognizability._figures`): a fixed colour and marker per method, titles naming the data set, the
model and n. ``vector=("pdf",)`` (or ``"svg"``) writes a vector copy beside each PNG.

matplotlib is optional (``pip install recognizability[plot]``)::

    recognizability-plots runs/tinyface/full/report.json   # redraw from a saved report
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from recognizability._figures import (
    figure_title,
    fmr_text,
    integer_ticks,
    method_style,
    pyplot,
    save_figure,
    wilson_interval,
)

from ..config import TERMS, model_label

__all__ = ["PLOT_NAMES", "plot_comparison", "plot_files", "plot_report"]

#: Files :func:`plot_report` writes (when the report holds the data each needs).
PLOT_NAMES: tuple[str, ...] = (
    "index_vs_ui_distance.png", "erc.png", "cmc.png", "ui_cluster.png", "training_curves.png",
)  # fmt: skip
#: Figures of the history that are not loss terms.
_NOT_TERMS = ("epoch", "images_per_second", "steps")
_WIDTH = 6.4  # inches: one panel


def plot_files(names: Iterable[str] = PLOT_NAMES) -> tuple[str, ...]:
    """The file names a figure may be written under: each PNG and its PDF and SVG copies."""
    return tuple(f"{Path(n).stem}.{suffix}" for n in names for suffix in ("png", "pdf", "svg"))


def _dataset(report: Mapping[str, Any]) -> str:
    provenance = report.get("data", {}).get("provenance", "?")
    return f"{report.get('dataset', '?')} layout, {provenance}"


def _model(settings: Mapping[str, Any]) -> str:
    """:func:`~recognizability.training.config.model_label` of a report's settings."""
    head = settings.get("name", "arcface")
    return model_label(settings.get("backbone", "?"), head, settings.get("losses", []))


def _title(report: Mapping[str, Any], what: str, n: str, width: float = _WIDTH) -> str:
    return figure_title(what, dataset=_dataset(report), model=_model(report.get("settings", {})), n=n,
                        width=width)  # fmt: skip


def _trained_regression(report: Mapping[str, Any]) -> bool:
    """Whether the run trained the regression module to predict the index (L_L1 on)."""
    settings = report.get("settings", {})
    return bool(settings.get("use_regression", "l1" in settings.get("losses", [])))


def _erc_fmrs(entry: Mapping[str, Any]) -> list[str]:
    """The FMRs of a quality entry's curves, in the report's order (``erc_fnmr_fmr_0.01`` -> ``"0.01"``)."""
    return [key.rsplit("_", 1)[1] for key in entry if key.startswith("erc_fnmr_fmr_")]


def _cmc_probes(report: Mapping[str, Any]) -> int:
    cmc = report.get("curves", {}).get("cmc", {})
    probes = cmc.get("probes")
    if probes is None:
        probes = report.get("protocol", {}).get("num_probes", 0)
    return int(probes or 0)


def plot_report(
    report: dict[str, Any], out_dir: str | os.PathLike[str], *, vector: Iterable[str] = ()
) -> list[Path]:
    """Draw the run's figures into ``out_dir`` and return the paths written.

    Args:
        report: the dict of :func:`~recognizability.training.evaluate_run` (or ``json.load`` of report.json);
            must have ``quality`` and ``curves``.
        out_dir: folder to write the files into (created).
        vector: "pdf" and/or "svg": a vector copy beside each PNG.

    Raises:
        ValueError: the report lacks ``quality`` or ``curves``, or a vector format is unknown.
        ImportError: matplotlib is not installed (the message names the extra).
    """
    if not isinstance(report, dict) or "quality" not in report or "curves" not in report:
        got = sorted(report) if isinstance(report, dict) else type(report).__name__
        raise ValueError(f"expected a run report with 'quality' and 'curves', got {got}")
    vector = tuple(vector)
    plt = pyplot()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    curves = report["curves"]

    scatter = curves.get("index_vs_ui_distance")
    if scatter and scatter.get("predicted_index") and _trained_regression(report):
        written += _save(_index_scatter(report, scatter, plt), out / PLOT_NAMES[0], vector)

    entries = {k: v for k, v in report["quality"].items() if isinstance(v, dict) and _erc_fmrs(v)}
    if entries:
        written += _save(_erc(report, entries, plt), out / PLOT_NAMES[1], vector)

    cmc = curves.get("cmc")
    if cmc and cmc.get("ranks"):
        fig, ax = plt.subplots(figsize=(_WIDTH, 4.6), layout="constrained")
        probes = _cmc_probes(report)
        _cmc_curve(ax, cmc["ranks"], [cmc["rates"]], probes, "full" if report["settings"].get("losses")
                   else report["settings"].get("name", "arcface"), label=None)  # fmt: skip
        fig.suptitle(_title(report, "CMC (closed-set identification)", f"n = {probes} mated probes"),
                     fontsize=9)  # fmt: skip
        written += _save(fig, out / PLOT_NAMES[2], vector)

    clusters = report.get("ui_cluster") or {}
    ordered = [(what, clusters[what]) for what in ("pretrained", "trained") if clusters.get(what)]
    if ordered:
        written += _save(_ui_cluster(report, ordered, plt), out / PLOT_NAMES[3], vector)

    history = report.get("training", {}).get("history") or []
    if _logged_names(history):
        written += _save(_training_curves(report, history, plt), out / PLOT_NAMES[4], vector)
    return written


def _save(fig: Any, path: Path, vector: Sequence[str]) -> list[Path]:
    return save_figure(fig, Path(path), vector=vector)


def _index_scatter(report: Mapping[str, Any], scatter: Mapping[str, Any], plt: Any) -> Any:
    fig, ax = plt.subplots(figsize=(_WIDTH, 4.8), layout="constrained")
    colour = scatter.get("severity")
    points = ax.scatter(
        scatter["ui_distance"], scatter["predicted_index"], c=colour, s=7, cmap="viridis", alpha=0.7,
        color=None if colour is not None else method_style("learned_index").color,
    )  # fmt: skip
    if colour is not None:
        fig.colorbar(points, ax=ax, label="synthetic severity (ground truth)")
    ax.set_xlabel("distance to the UI centre, 1 - cos(v, u)")
    ax.set_ylabel("learned recognizability index xi_hat")
    ax.grid(alpha=0.3)
    n = len(scatter["predicted_index"])
    fig.suptitle(_title(report, "learned index against UI distance (paper Fig. 1/6)", f"n = {n} probes"),
                 fontsize=9)  # fmt: skip
    return fig


def _erc(report: Mapping[str, Any], entries: Mapping[str, Mapping[str, Any]], plt: Any) -> Any:
    fmrs = _erc_fmrs(next(iter(entries.values())))
    fig, axes = plt.subplots(
        1, len(fmrs), figsize=(_WIDTH * 0.75 * len(fmrs) + 0.6, 4.8), squeeze=False,
        layout="constrained",
    )  # fmt: skip
    for index, (ax, fmr) in enumerate(zip(axes[0], fmrs, strict=True)):
        for name, entry in entries.items():
            key = f"erc_fnmr_fmr_{fmr}"
            if key not in entry or "reject_fractions" not in entry:
                continue
            style = method_style(name)
            auc = entry.get(f"erc_auc_fmr_{fmr}", math.nan)
            ax.plot(
                entry["reject_fractions"], entry[key], marker=style.marker, markersize=4, color=style.color,
                linestyle=style.linestyle, label=f"{style.label} (area {auc:.4f})",
            )  # fmt: skip
        which = " (the printed *_erc_auc)" if index == 0 else ""
        ax.set_title(f"FMR {fmr_text(float(fmr))}{which}", fontsize=9)
        ax.set_xlabel("fraction of lowest-quality pairs rejected")
        ax.set_ylim(bottom=0.0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        ax.set_ylabel("FNMR at the FMR's threshold")
    pairs = report["quality"].get("pairs", {})
    n = f"n = {pairs.get('genuine', '?')} mated and {pairs.get('impostor', '?')} non-mated pairs"
    width = _WIDTH * 0.75 * len(fmrs)
    fig.suptitle(_title(report, "error versus reject (paper Fig. 7)", n, width), fontsize=9)
    return fig


def _cmc_curve(
    ax: Any,
    ranks: Sequence[float],
    runs: Sequence[Sequence[float]],
    probes: int,
    name: str,
    label: str | None,
) -> None:
    """One run's CMC on ``ax``: the mean over its seeds (one run: its curve) with a band, the range over the
    seeds, or with one seed the 95 % Wilson interval of ``probes`` probes."""
    style = method_style(name)
    mean = [sum(values) / len(values) for values in zip(*runs, strict=True)]
    if len(runs) > 1:
        lower = [min(values) for values in zip(*runs, strict=True)]
        upper = [max(values) for values in zip(*runs, strict=True)]
        band = f"range over {len(runs)} seeds"
    else:
        lower, upper = wilson_interval(mean, probes)
        band = "95 % Wilson interval"
    ax.fill_between(ranks, lower, upper, color=style.color, alpha=0.18, linewidth=0)
    text = label if label is not None else f"rank-1 {mean[0]:.3f}; band: {band}"
    ax.plot(ranks, mean, marker=style.marker, markersize=4, color=style.color, linestyle=style.linestyle,
            label=text)  # fmt: skip
    ax.set_xlabel("rank")
    ax.set_ylabel("identification rate")
    ax.set_ylim(0.0, 1.0)
    ax.set_xlim(min(ranks) - 0.5, max(ranks) + 0.5)
    integer_ticks(ax.xaxis)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")


def _ui_cluster(
    report: Mapping[str, Any], clusters: Sequence[tuple[str, Mapping[str, Any]]], plt: Any
) -> Any:
    """The paper's Fig. 1: histograms of the distance to the UI centre of hard and not-hard training faces,
    one panel per backbone (the one the run started from, then the trained one), on one x range."""
    names = {"pretrained": "start of fine-tuning (the run's initial backbone)", "trained": "after training"}
    fig, axes = plt.subplots(
        1,
        len(clusters),
        figsize=(4.6 * len(clusters), 4.2),
        squeeze=False,
        sharex=True,
        sharey=True,
        layout="constrained",
    )
    low = min(stats["bin_edges"][0] for _, stats in clusters)
    high = max(stats["bin_edges"][-1] for _, stats in clusters)
    for ax, (what, stats) in zip(axes[0], clusters, strict=True):
        edges = stats["bin_edges"]
        widths = [b - a for a, b in itertools.pairwise(edges)]
        for counts, label, colour in (
            (stats["histogram_not_hard"], "not hard", "#56B4E9"),
            (stats["histogram_hard"], "hard (severity >= 0.5)", "#D55E00"),
        ):
            ax.bar(edges[:-1], counts, width=widths, align="edge", alpha=0.6, label=label, color=colour)
        ax.set_xlim(low, high)
        ax.set_xlabel("distance to the UI centre, 1 - cos(v, u)")
        ax.set_ylabel("training faces")
        ax.set_title(
            f"{names.get(what, what)}\nSpearman with severity {stats['spearman_with_severity']:.2f}, "
            f"hard share among the 10 % nearest u {stats['hard_share_nearest']:.2f}",
            fontsize=8,
        )
        ax.legend(fontsize=7)
    count = clusters[0][1].get("count", "?")
    fig.suptitle(_title(report, "distance to the UI centre (paper Fig. 1)", f"n = {count} training faces",
                        4.6 * len(clusters)), fontsize=9)  # fmt: skip
    return fig


def _logged_names(history: Sequence[Mapping[str, float]]) -> list[str]:
    """The figures of a history to draw: the loss terms in the order logged, then the validation figures."""
    names: list[str] = []
    for row in history:
        names += [k for k in row if k not in names and k not in _NOT_TERMS and not k.startswith("lr_")]
    return [n for n in names if not n.startswith("val_")] + [n for n in names if n.startswith("val_")]


def _training_curves(report: Mapping[str, Any], history: Sequence[Mapping[str, float]], plt: Any) -> Any:
    """One panel per logged figure of the history: every loss term by name (a term of a user's own appears
    as it is logged), then the validation figures; per epoch."""
    names = _logged_names(history)
    columns = min(3, len(names))
    rows = math.ceil(len(names) / columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(3.1 * columns + 0.4, 2.4 * rows + 0.9), squeeze=False, sharex=True,
        layout="constrained",
    )  # fmt: skip
    symbols = {"classification": "L_cls", **{t.output: t.symbol for t in TERMS}}
    epochs = [row.get("epoch", i + 1) for i, row in enumerate(history)]
    for ax, name in zip(axes.flat, names, strict=False):
        values = [row.get(name, math.nan) for row in history]
        colour = "#000000" if name.startswith("val_") or name == "total" else "#0072B2"
        ax.plot(epochs, values, marker="o", markersize=3, color=colour)
        label = f"{name} ({symbols[name]})" if name in symbols else name
        ax.set_title(label, fontsize=8)
        ax.grid(alpha=0.3)
        integer_ticks(ax.xaxis)
    for ax in axes.flat[len(names) :]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    images = report.get("data", {}).get("train_size") or "?"
    n = f"n = {images} training images, {len(history)} epochs (each point: the epoch's mean)"
    fig.suptitle(_title(report, "training curves", n, 3.1 * columns), fontsize=9)
    return fig


def plot_comparison(
    runs: Mapping[str, dict[str, Any] | Sequence[dict[str, Any]]],
    path: str | os.PathLike[str],
    *,
    vector: Iterable[str] = (),
) -> list[Path]:
    """The CMC of several runs on one set of axes (the margin head alone against the full method), each in
    its method's style; a run given several reports (seeds) is drawn as their mean with the range over the
    seeds, a run of one report with its 95 % Wilson band.

    Args:
        runs: run name (``"arcface"``, ``"full"``: the folder names of the example scripts) -> its report
            dict, or a list of them (one per seed).
        path: the ``.png`` to write (a vector copy beside it for each format of ``vector``).

    Raises:
        ValueError: no run, or a run without a CMC curve.
    """
    groups = {name: [r] if isinstance(r, Mapping) else list(r) for name, r in runs.items()}
    if not groups or not all(groups.values()):
        raise ValueError(f"expected at least one run with a report, got {sorted(groups)}")
    for name, reports in groups.items():
        if not all(r.get("curves", {}).get("cmc", {}).get("ranks") for r in reports):
            raise ValueError(f"expected a CMC curve in every report of run {name!r}, found none in one")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(_WIDTH, 4.8), layout="constrained")
    first = next(iter(groups.values()))[0]
    probes = _cmc_probes(first)
    for name, reports in groups.items():
        ranks = reports[0]["curves"]["cmc"]["ranks"]
        rates = [r["curves"]["cmc"]["rates"] for r in reports]
        rank_1 = sum(r[0] for r in rates) / len(rates)
        hard = [r.get("protocol_hard") or {} for r in reports]
        hard_rates = [float(h["rank_1"]) for h in hard if h.get("rank_1") is not None]
        hard_text = f", hard {sum(hard_rates) / len(hard_rates):.3f}" if hard_rates else ""
        seeds = f", mean of {len(reports)} seeds" if len(reports) > 1 else ""
        label = f"{method_style(name).label if name in ('arcface', 'full') else name}: rank-1 {rank_1:.3f}" \
                f"{hard_text}{seeds}"  # fmt: skip
        _cmc_curve(ax, ranks, rates, probes, name, label)
    model = first.get("settings", {}).get("backbone", "?")
    band = (
        "bands: range over seeds"
        if any(len(r) > 1 for r in groups.values())
        else ("bands: 95 % Wilson intervals")
    )
    fig.suptitle(
        figure_title(f"{' vs '.join(groups)}: CMC on one set of axes ({band})", dataset=_dataset(first),
                     model=model, n=f"n = {probes} mated probes", width=_WIDTH),
        fontsize=9,
    )  # fmt: skip
    return save_figure(fig, Path(path), vector=vector)
