"""The ``recognizability-plots`` command: redraw a run's figures from its ``report.json``.

recognizability-plots runs/tinyface/full/report.json [--out DIR]
python -m recognizability.training.plots runs/tinyface/full/report.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .report.plots import plot_report

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Redraw a saved report's figures; returns the exit status (2: a usage error)."""
    parser = argparse.ArgumentParser(description="Draw the figures of a run from its report.json.")
    parser.add_argument("report", help="path of a report.json written by a training run")
    parser.add_argument("--out", help="folder for the PNG files (default: the report's folder)")
    args = parser.parse_args(argv)
    path = Path(args.report)
    if not path.is_file():
        parser.error(f"expected REPORT to be a report.json file, got {str(path)!r}")
    try:
        report = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        parser.error(
            f"expected REPORT to be a report.json file, got {str(path)!r}, which is not JSON: {error}"
        )
    for written in plot_report(report, args.out or path.parent):
        print(written)
    return 0


if __name__ == "__main__":
    sys.exit(main())
