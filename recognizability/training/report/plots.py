"""Figures of a finished run, drawn from its report alone (``report.json`` of :func:`evaluate_run`).

- ``index_vs_ui_distance.png``: the learned index xi_hat of the probes against their UI-centre distance
  1 - cos(v, u), coloured by the synthetic severity when known (paper Fig. 1/6);
- ``erc.png``: error-versus-reject curves (FNMR at the report's smallest ERC FMR against the rejected
  fraction) of the learned index, ERS, MagFace norm and CR-FIQA (paper Fig. 7);
- ``cmc.png``: the CMC curve of the mated probes, ranks 1..20.

matplotlib is optional (``pip install recognizability[plot]``); it is imported only here, with the
non-interactive Agg backend, so plotting works on a headless machine.

    recognizability-plots runs/tinyface/full/report.json   # redraw from a saved report
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

from recognizability._figures import pyplot

__all__ = ["PLOT_NAMES", "plot_report"]

#: Files :func:`plot_report` writes (when the report holds the data each needs).
PLOT_NAMES: tuple[str, ...] = ("index_vs_ui_distance.png", "erc.png", "cmc.png", "ui_cluster.png")

_LABELS = {
    "learned_index": "learned index (xi_hat)",
    "ers": "ERS (1 - cos to UI centre)",
    "magface_norm": "MagFace norm",
    "crfiqa_trained": "CR-FIQA (trained branch)",
    "crfiqa": "CR-FIQA (oracle)",
}


def _title(report: dict[str, Any], what: str) -> str:
    losses = report.get("settings", {}).get("losses", [])
    run = "+".join(["ArcFace", *losses]) if losses else "ArcFace"
    provenance = report.get("data", {}).get("provenance", "?")
    return f"{what} - {report.get('dataset', '?')} ({provenance}), {run}"


def _erc_key(entry: dict[str, Any]) -> str | None:
    """The FNMR curve key of the smallest FMR in a quality entry (e.g. ``erc_fnmr_fmr_0.001``)."""
    keys = [k for k in entry if k.startswith("erc_fnmr_fmr_")]
    return min(keys, key=lambda k: float(k.rsplit("_", 1)[1])) if keys else None


def plot_report(report: dict[str, Any], out_dir: str | os.PathLike[str]) -> list[Path]:
    """Draw the run's figures into ``out_dir`` and return the paths written.

    Args:
        report: the dict of :func:`~recognizability.training.evaluate_run` (or ``json.load`` of report.json);
            must have ``quality`` and ``curves``.
        out_dir: folder to write the PNG files into (created).

    Raises:
        ValueError: the report lacks ``quality`` or ``curves``.
        ImportError: matplotlib is not installed (the message names the extra).
    """
    if not isinstance(report, dict) or "quality" not in report or "curves" not in report:
        got = sorted(report) if isinstance(report, dict) else type(report).__name__
        raise ValueError(f"expected a run report with 'quality' and 'curves', got {got}")
    plt = pyplot()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    curves = report["curves"]

    scatter = curves.get("index_vs_ui_distance")
    if scatter and scatter.get("predicted_index"):
        fig, ax = plt.subplots(figsize=(5.5, 4.2))
        colour = scatter.get("severity")
        points = ax.scatter(
            scatter["ui_distance"], scatter["predicted_index"], c=colour, s=6, cmap="viridis", alpha=0.7
        )
        if colour is not None:
            fig.colorbar(points, ax=ax, label="synthetic severity")
        ax.set_xlabel("distance to the UI centre, 1 - cos(v, u)")
        ax.set_ylabel("learned recognizability index xi_hat")
        ax.set_title(_title(report, "index vs UI distance"), fontsize=9)
        written.append(_save(fig, out / PLOT_NAMES[0], plt))

    entries = {k: v for k, v in report["quality"].items() if k in _LABELS and isinstance(v, dict)}
    if entries:
        fig, ax = plt.subplots(figsize=(5.5, 4.2))
        fmr_label = ""
        for name, entry in entries.items():
            key = _erc_key(entry)
            if key is None or "reject_fractions" not in entry:
                continue
            fmr_label = key.rsplit("_", 1)[1]
            auc = entry.get(f"erc_auc_fmr_{fmr_label}", float("nan"))
            ax.plot(
                entry["reject_fractions"], entry[key], marker=".", label=f"{_LABELS[name]} (area {auc:.4f})"
            )
        ax.set_xlabel("fraction of lowest-quality pairs rejected")
        ax.set_ylabel(f"FNMR at FMR {fmr_label}")
        ax.legend(fontsize=7)
        ax.set_title(_title(report, "error versus reject"), fontsize=9)
        written.append(_save(fig, out / PLOT_NAMES[1], plt))

    cmc = curves.get("cmc")
    if cmc and cmc.get("ranks"):
        fig, ax = plt.subplots(figsize=(5.5, 4.2))
        ax.plot(cmc["ranks"], cmc["rates"], marker="o")
        ax.set_xlabel("rank")
        ax.set_ylabel("identification rate")
        ax.set_ylim(0.0, 1.0)
        ax.grid(alpha=0.3)
        ax.set_title(_title(report, "CMC"), fontsize=9)
        written.append(_save(fig, out / PLOT_NAMES[2], plt))

    clusters = [(what, c) for what, c in (report.get("ui_cluster") or {}).items() if c]
    if clusters:
        written.append(_plot_ui_cluster(clusters, out / PLOT_NAMES[3], _title(report, "Fig. 1"), plt))
    return written


def _plot_ui_cluster(clusters: list[tuple[str, dict[str, Any]]], path: Path, title: str, plt: Any) -> Path:
    """The paper's Fig. 1: histograms of the distance to the UI centre of hard and not-hard training faces,
    one panel per backbone (the one the run started from, the trained one)."""
    names = {"pretrained": "start of fine-tuning", "trained": "after training"}
    fig, axes = plt.subplots(1, len(clusters), figsize=(5.0 * len(clusters), 3.8), squeeze=False)
    for ax, (what, stats) in zip(axes[0], clusters, strict=True):
        edges = stats["bin_edges"]
        widths = [b - a for a, b in itertools.pairwise(edges)]
        for counts, label, colour in (
            (stats["histogram_not_hard"], "not hard", "tab:blue"),
            (stats["histogram_hard"], "hard", "tab:red"),
        ):
            ax.bar(edges[:-1], counts, width=widths, align="edge", alpha=0.55, label=label, color=colour)
        ax.set_xlabel("distance to the UI centre, 1 - cos(v, u)")
        ax.set_ylabel("training faces")
        ax.set_title(
            f"{names.get(what, what)}: Spearman {stats['spearman_with_severity']:.2f}, "
            f"hard share near u {stats['hard_share_nearest']:.2f}",
            fontsize=8,
        )
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    return _save(fig, path, plt)


def _save(fig: Any, path: Path, plt: Any) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
