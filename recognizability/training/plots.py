"""The ``recognizability-plots`` command: redraw runs' figures from their ``report.json``.

    recognizability-plots runs/tinyface/full/report.json [--out DIR] [--vector pdf]
    recognizability-plots runs/tinyface/*/report.json --comparison cmp.png
    recognizability-plots seed*/arcface/report.json seed*/full/report.json --comparison cmp.png --runs-only
    python -m recognizability.training.plots runs/tinyface/full/report.json

Each report's figures go beside it (or into ``--out``; with several reports, ``--out DIR/<run>``).
``--comparison FILE`` draws every report's CMC on one set of axes; reports in folders of the same name (the
run: ``arcface``, ``full``) are one run measured with several seeds, drawn as their mean with the range over
the seeds. The figures beside a report are the run's own and are redrawn in place; in ``--out`` and at
``--comparison`` no file is replaced unless ``--overwrite``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from recognizability._figures import add_vector_option, check_vector_formats, figure_files
from recognizability._files import check_new_output

from .report.plots import PLOT_NAMES, plot_comparison, plot_report

__all__ = ["main"]


def _read(parser: argparse.ArgumentParser, path: Path) -> dict[str, Any]:
    if not path.is_file():
        parser.error(f"expected REPORT to be a report.json file, got {str(path)!r}")
    try:
        report = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        parser.error(
            f"expected REPORT to be a report.json file, got {str(path)!r}, which is not JSON: {error}"
        )
    if not isinstance(report, dict):
        parser.error(f"expected REPORT to hold a run report (a JSON object), got {str(path)!r}")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Redraw saved reports' figures; returns the exit status (2: a usage error)."""
    parser = argparse.ArgumentParser(
        prog="recognizability-plots", description="Draw the figures of runs from their report.json files."
    )
    parser.add_argument("reports", nargs="+", metavar="REPORT", help="report.json files written by runs")
    parser.add_argument(
        "--out", help="folder for the figures (default: beside each report; several reports: OUT/<run>)"
    )
    parser.add_argument(
        "--comparison", metavar="FILE.png",
        help="also draw every report's CMC on one set of axes (reports of one run folder name: seeds)",
    )  # fmt: skip
    parser.add_argument(
        "--runs-only", action="store_true", help="with --comparison: draw only the comparison figure"
    )
    add_vector_option(parser)
    parser.add_argument(
        "--overwrite", action="store_true", help="replace figures that exist in --out or at --comparison"
    )
    args = parser.parse_args(argv)
    if args.runs_only and args.comparison is None:
        parser.error("argument --runs-only: expected --comparison FILE.png with it, got none")
    paths = [Path(p) for p in args.reports]
    reports = [_read(parser, path) for path in paths]
    vector = check_vector_formats(args.vector)
    targets = []
    for path in paths:
        if args.out is None:
            targets.append(path.parent)
        else:
            targets.append(Path(args.out) if len(paths) == 1 else Path(args.out) / path.parent.name)
    try:
        # the figures beside a report are the run's own, redrawn in place; elsewhere none is replaced unasked
        elsewhere = args.out is not None and not args.runs_only
        if elsewhere:
            for output in (p for t in targets for p in figure_files(t, PLOT_NAMES, vector)):
                check_new_output(output, overwrite=args.overwrite, flag="--out", inputs=paths)
        if args.comparison is not None:
            comparison = Path(args.comparison)
            if comparison.suffix != ".png":
                raise ValueError(f"expected --comparison to name a .png file, got {args.comparison!r}")
            for output in figure_files(comparison.parent, [comparison.name], vector):
                check_new_output(output, overwrite=args.overwrite, flag="--comparison", inputs=paths)
    except (OSError, ValueError) as error:
        parser.error(str(error))
    if not args.runs_only:
        for report, target in zip(reports, targets, strict=True):
            try:
                written = plot_report(report, target, vector=vector)
            except ValueError as error:
                parser.error(str(error))
            for path in written:
                print(path)
    if args.comparison is not None:
        runs: dict[str, list[dict[str, Any]]] = {}
        for path, report in zip(paths, reports, strict=True):
            runs.setdefault(path.parent.name, []).append(report)
        try:
            written = plot_comparison(runs, args.comparison, vector=vector)
        except ValueError as error:
            parser.error(str(error))
        for path in written:
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
