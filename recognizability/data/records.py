"""Typed sample records and the read summary every dataset reader exposes.

A reader lists its images once, at construction, into a list of :class:`FaceRecord` (``dataset.samples``) and
a :class:`ReadReport` (``dataset.report``) that says how many files it read and how many it left out, and why.
Images are decoded lazily, one per ``__getitem__``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

__all__ = ["UNLABELLED", "FaceRecord", "ReadReport"]

#: Label of an image whose identity is unknown (distractors, unmated probes, UI images).
UNLABELLED = -1


@dataclass(frozen=True)
class FaceRecord:
    """One image of a dataset.

    Attributes:
        path: absolute path of the image file.
        label: identity label (int). Non-negative labels index identities of the dataset; a negative label
            (:data:`UNLABELLED`) means the identity is unknown: TinyFace distractors, SurvFace unmated probes,
            UI images.
        subset: the subset the record belongs to (``"train"``, ``"probe"``, ``"gallery"``, ...).
        identity: the dataset's own identity name (TinyFace/SurvFace PersonID, SCface subject ``"001"``...),
            or ``None``.
        protocol_id: the id the protocol's .mat file gives this image (TinyFace and SurvFace test sets), or
            ``None``.
        distance: SCface distance index (1 = farthest, 4.20 m; 2 = 2.60 m; 3 = 1.00 m), or ``None``.
        camera: camera index (SCface 1-7, SurvFace ``cam<c>`` when the file name carries it), or ``None``.
        severity: ground-truth degradation severity in [0, 1] from ``synthetic_metadata.csv`` (synthetic
            trees only).
        hard: whether the synthetic generator marked the image hard (synthetic trees only).
    """

    path: Path
    label: int
    subset: str = ""
    identity: str | None = None
    protocol_id: int | None = None
    distance: int | None = None
    camera: int | None = None
    severity: float | None = None
    hard: bool | None = None

    def with_metadata(self, severity: float, hard: bool) -> FaceRecord:
        """Return a copy carrying the synthetic metadata ``severity`` and ``hard``."""
        return replace(self, severity=severity, hard=hard)


@dataclass
class ReadReport:
    """What a reader read and what it left out.

    Attributes:
        dataset: reader name, e.g. ``"TinyFace"``.
        subset: the subset read.
        root: the dataset root.
        read: number of images listed in ``samples``.
        identities: number of distinct non-negative labels among them.
        unlabelled: number of samples with a negative label.
        excluded: reason -> number of files left out for that reason (never silently: every exclusion is
            counted here).
        excluded_examples: reason -> up to five example paths.
        notes: free-text remarks (which .mat file was used, consistency checks performed, synthetic tree,
            ...).
    """

    dataset: str
    subset: str
    root: Path
    read: int = 0
    identities: int = 0
    unlabelled: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    excluded_examples: dict[str, list[Path]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def exclude(self, reason: str, path: Path) -> None:
        """Count ``path`` as left out for ``reason``."""
        self.excluded[reason] = self.excluded.get(reason, 0) + 1
        examples = self.excluded_examples.setdefault(reason, [])
        if len(examples) < 5:
            examples.append(path)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dictionary of the report."""
        return {
            "dataset": self.dataset,
            "subset": self.subset,
            "root": str(self.root),
            "read": self.read,
            "identities": self.identities,
            "unlabelled": self.unlabelled,
            "excluded": dict(self.excluded),
            "excluded_examples": {k: [str(p) for p in v] for k, v in self.excluded_examples.items()},
            "notes": list(self.notes),
        }

    def __str__(self) -> str:
        lines = [
            f"{self.dataset}[{self.subset}] at {self.root}: read {self.read} images "
            f"({self.identities} identities, {self.unlabelled} unlabelled)"
        ]
        for reason, count in sorted(self.excluded.items()):
            example = self.excluded_examples.get(reason, [])
            shown = f", e.g. {example[0]}" if example else ""
            lines.append(f"  excluded {count}: {reason}{shown}")
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)
