"""Synthetic-tree metadata: the ``SYNTHETIC.txt`` marker and the optional ``synthetic_metadata.csv``.

Trees written by :mod:`recognizability.data.synthetic` carry, at their root, a provenance marker
``SYNTHETIC.txt`` and a table ``synthetic_metadata.csv`` with at least the columns ``path`` (relative to the
root, POSIX separators), ``identity``, ``severity`` (ground-truth degradation severity in [0, 1]) and ``hard``
(0/1). The readers attach ``severity`` and ``hard`` to each record by its relative path, so the real readers
serve the synthetic benchmark unchanged. Real dataset trees have neither file, and nothing is attached.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .records import FaceRecord, ReadReport

__all__ = [
    "METADATA_FILENAME",
    "SYNTHETIC_MARKER",
    "SampleMetadata",
    "attach_metadata",
    "is_synthetic_tree",
    "read_metadata",
]

METADATA_FILENAME = "synthetic_metadata.csv"
SYNTHETIC_MARKER = "SYNTHETIC.txt"
_REQUIRED_COLUMNS = ("path", "severity", "hard")


@dataclass(frozen=True)
class SampleMetadata:
    """The per-image ground truth of a synthetic tree."""

    severity: float
    hard: bool


def is_synthetic_tree(root: Path) -> bool:
    """Whether ``root`` holds the synthetic provenance marker ``SYNTHETIC.txt``."""
    return (root / SYNTHETIC_MARKER).is_file()


def read_metadata(csv_path: Path) -> dict[str, SampleMetadata]:
    """Read ``synthetic_metadata.csv`` into relative posix path -> :class:`SampleMetadata`.

    Raises:
        ValueError: the file is not UTF-8 CSV text, a required column is missing, a row is short, or a row
            holds a severity outside [0, 1] or a hard flag not 0/1; the message names the file, the line and
            the value.
    """
    try:
        text = csv_path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{csv_path}: expected a UTF-8 CSV table, got bytes that are not UTF-8 text ({error})"
        ) from error
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        columns = reader.fieldnames or []
        missing = [column for column in _REQUIRED_COLUMNS if column not in columns]
        if missing:
            raise ValueError(
                f"{csv_path}: expected columns {list(_REQUIRED_COLUMNS)} (plus any others), "
                f"missing {missing}; found {list(columns)}"
            )
        table: dict[str, SampleMetadata] = {}
        for line, row in enumerate(reader, start=2):
            if any(row.get(column) is None for column in _REQUIRED_COLUMNS):
                raise ValueError(
                    f"{csv_path} line {line}: expected a value in each of the columns {list(columns)}, "
                    f"got a short row {row!r}"
                )
            try:
                severity = float(row["severity"])
            except ValueError as error:
                raise ValueError(
                    f"{csv_path} line {line}: severity should be a number, got {row['severity']!r}"
                ) from error
            if not (math.isfinite(severity) and 0.0 <= severity <= 1.0):
                raise ValueError(f"{csv_path} line {line}: severity should lie in [0, 1], got {severity}")
            hard_text = row["hard"].strip().lower()
            if hard_text not in ("0", "1", "true", "false"):
                raise ValueError(f"{csv_path} line {line}: hard should be 0 or 1, got {row['hard']!r}")
            table[row["path"].strip()] = SampleMetadata(severity=severity, hard=hard_text in ("1", "true"))
    except csv.Error as error:
        raise ValueError(f"{csv_path} line {reader.line_num}: expected a CSV table, got {error}") from error
    return table


def attach_metadata(records: Sequence[FaceRecord], root: Path, report: ReadReport) -> list[FaceRecord]:
    """Attach ``severity``/``hard`` from ``root / synthetic_metadata.csv`` to ``records`` if it exists.

    Records without a row keep ``None`` and are counted in ``report.notes``; nothing is dropped.
    """
    csv_path = root / METADATA_FILENAME
    if not csv_path.is_file():
        return list(records)
    table = read_metadata(csv_path)
    attached: list[FaceRecord] = []
    without_row = 0
    for record in records:
        key = record.path.relative_to(root).as_posix()
        entry = table.get(key)
        if entry is None:
            without_row += 1
            attached.append(record)
        else:
            attached.append(record.with_metadata(entry.severity, entry.hard))
    report.notes.append(
        f"severity/hard attached from {csv_path.name} to {len(attached) - without_row} "
        f"of {len(attached)} images"
        + (f"; {without_row} have no row in it (severity/hard left None)" if without_row else "")
    )
    return attached
