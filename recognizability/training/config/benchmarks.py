"""One :class:`BenchmarkSpec` per dataset, registered in one place.

A spec says everything the training code needs to know about a benchmark: its reader and the test subsets of
its protocol, the synthetic layout that stands in for it, its column of the paper's Table 5, its protocol
evaluator (on all probes and on the probes the synthetic generator marked hard) and the headline figure of
its report. The examples, the data loading, the evaluation and the command line look the spec up by name;
adding a benchmark is one :func:`register_benchmark` call (and its reader).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from torch import Tensor

from recognizability import metrics as M
from recognizability.data import FaceDataset, SCFace, SurvFace, TinyFace, survface_verification_pairs

from .sections import LearningRates

__all__ = [
    "BenchmarkSpec",
    "EmbeddedPairs",
    "EmbeddedSet",
    "HardProbesRank1",
    "ProtocolReport",
    "Table5Row",
    "available_benchmarks",
    "get_benchmark",
    "register_benchmark",
]


class ProtocolReport(Protocol):
    """A protocol evaluator's typed report (``recognizability.metrics``): a dataclass with ``to_dict``."""

    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Table5Row:
    """One dataset's column of the supplement's Table 5 (ResNet-50)."""

    batch_size: int
    epochs: int
    lr: LearningRates
    lr_decay_epoch: int
    backbone_dropout: float
    weight_decay: float


@dataclass(frozen=True)
class EmbeddedSet:
    """A test subset and what the network made of it.

    Attributes:
        embeddings: v (N, D).
        predicted_index: the learned index xi_hat (N,).
        labels: int64 (N,) identity labels (negative for unknown identities).
        severity, hard: float32 / bool (N,) ground truth of synthetic data, or None.
        distance: int64 (N,) SCface distance index (1 = farthest), or None.
    """

    embeddings: Tensor
    predicted_index: Tensor
    labels: Tensor
    severity: Tensor | None = None
    hard: Tensor | None = None
    distance: Tensor | None = None

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass(frozen=True)
class EmbeddedPairs:
    """Verification pairs as embeddings: rows of ``first[k]`` and ``second[k]`` form pair k."""

    first: Tensor
    second: Tensor
    is_same: Tensor


@dataclass(frozen=True)
class HardProbesRank1:
    """Rank-1 over a subset of probes, as one number (SCface's hard probes need not cover every distance)."""

    rank_1: float
    num_probes: int
    note: str = "rank-1 over all hard probes (not a mean over distances)"

    def to_dict(self) -> dict[str, Any]:
        return {"rank_1": self.rank_1, "num_probes": self.num_probes, "note": self.note}


#: ``evaluate(test sets, probe selection (bool over the probe subset) or None, pairs or None) -> report``.
ProtocolEvaluator = Callable[[Mapping[str, EmbeddedSet], Tensor | None, EmbeddedPairs | None], ProtocolReport]


@dataclass(frozen=True)
class BenchmarkSpec:
    """What one benchmark is.

    Attributes:
        name: the dataset's name ("tinyface"); also the name of its synthetic layout.
        reader: the reader class (``reader(root, subset)``, see :mod:`recognizability.data`).
        test_subsets: the reader subsets the protocol needs (those a tree lacks are skipped).
        probe_subset, gallery_subset: the subsets the quality comparison, the CMC curve and the hard-probe
            evaluation read (probes against gallery).
        distractor_subset: gallery distractors of the CMC curve, or None.
        table5: the dataset's column of Table 5.
        evaluate: the protocol evaluator, on all probes or on a selection of them.
        evaluate_hard: the evaluator of the hard probes when ``evaluate`` cannot take a selection; None:
            ``evaluate`` with the selection.
        headline: ``(figure name, report field)`` of the headline figure ("rank_1", "rank_1").
        headline_hard: the report field of the same figure in the hard-probe report.
        protocol: one line saying how the protocol is computed (written into every report).
        verification_pairs: reads the dataset's verification pairs from its root (None: the protocol has
            none).
    """

    name: str
    reader: Callable[[Path, str], FaceDataset]
    test_subsets: tuple[str, ...]
    probe_subset: str
    gallery_subset: str
    table5: Table5Row
    evaluate: ProtocolEvaluator
    headline: tuple[str, str]
    protocol: str
    distractor_subset: str | None = None
    evaluate_hard: ProtocolEvaluator | None = None
    headline_hard: str | None = None
    verification_pairs: Callable[[Path], list[tuple[Path, Path, bool]]] | None = None

    @property
    def synthetic_layout(self) -> str:
        """The layout of :func:`recognizability.data.synthetic.generate` that stands in for the dataset."""
        return self.name

    def headline_figures(self, protocol: ProtocolReport, hard: ProtocolReport | None) -> dict[str, float]:
        """The headline figure of the protocol and, when there are hard probes, the same on them."""
        name, field = self.headline
        figures = {name: float(getattr(protocol, field))}
        if hard is not None:
            figures[f"{name}_hard"] = float(getattr(hard, self.headline_hard or field))
        return figures


_REGISTRY: dict[str, BenchmarkSpec] = {}


def register_benchmark(spec: BenchmarkSpec) -> BenchmarkSpec:
    """Register ``spec`` under ``spec.name`` (an error if the name is taken)."""
    if spec.name in _REGISTRY:
        raise ValueError(f"expected a new benchmark name, got {spec.name!r} (already registered)")
    _REGISTRY[spec.name] = spec
    return spec


def get_benchmark(name: str) -> BenchmarkSpec:
    """The registered spec called ``name``."""
    if name not in _REGISTRY:
        raise ValueError(f"expected dataset to be one of {available_benchmarks()}, got {name!r}")
    return _REGISTRY[name]


def available_benchmarks() -> tuple[str, ...]:
    """The registered benchmark names, in registration order."""
    return tuple(_REGISTRY)


def _probes(tests: Mapping[str, EmbeddedSet], name: str, select: Tensor | None) -> tuple[Tensor, Tensor]:
    """Embeddings and labels of the probe subset ``name``, restricted to ``select`` when given."""
    probe = tests[name]
    v, labels = probe.embeddings, probe.labels
    return (v, labels) if select is None else (v[select], labels[select])


def _evaluate_tinyface(
    tests: Mapping[str, EmbeddedSet], select: Tensor | None, pairs: EmbeddedPairs | None
) -> ProtocolReport:
    pv, pl = _probes(tests, "probe", select)
    gallery = tests["gallery"]
    distractor = tests["distractor"].embeddings if "distractor" in tests else None
    return M.evaluate_tinyface(pv, pl, gallery.embeddings, gallery.labels, distractor)


def _evaluate_scface(
    tests: Mapping[str, EmbeddedSet], select: Tensor | None, pairs: EmbeddedPairs | None
) -> ProtocolReport:
    probe, gallery = tests["probe"], tests["gallery"]
    distances = probe.distance
    if distances is None:
        raise ValueError("expected SCFace probe records with a distance (1, 2, 3), got none")
    pv, pl = _probes(tests, "probe", select)
    pd = distances if select is None else distances[select]
    return M.evaluate_scface(pv, pl, pd, gallery.embeddings, gallery.labels)


def _scface_hard(
    tests: Mapping[str, EmbeddedSet], select: Tensor | None, pairs: EmbeddedPairs | None
) -> ProtocolReport:
    pv, pl = _probes(tests, "probe", select)
    gallery = tests["gallery"]
    result = M.cmc(pv, pl, gallery.embeddings, gallery.labels, (1,))
    return HardProbesRank1(rank_1=float(result.rates[0]), num_probes=int(pv.shape[0]))


def _evaluate_survface(
    tests: Mapping[str, EmbeddedSet], select: Tensor | None, pairs: EmbeddedPairs | None
) -> ProtocolReport:
    pv, pl = _probes(tests, "mated_probe", select)
    gallery, unmated = tests["gallery"], tests["unmated_probe"]
    positive = negative = None
    if pairs is not None and select is None:  # the official pairs belong to the whole protocol
        same = pairs.is_same
        positive = (pairs.first[same], pairs.second[same])
        negative = (pairs.first[~same], pairs.second[~same])
    return M.evaluate_survface(
        pv, pl, unmated.embeddings, gallery.embeddings, gallery.labels, positive, negative
    )


_TABLE5_LR = LearningRates(backbone=1e-5, recognition=1e-3, attention=1e-3, regression=1e-4)

register_benchmark(
    BenchmarkSpec(
        name="tinyface",
        reader=TinyFace,
        test_subsets=("probe", "gallery", "distractor"),
        probe_subset="probe",
        gallery_subset="gallery",
        distractor_subset="distractor",
        table5=Table5Row(64, 15, _TABLE5_LR, 12, 0.2, 1e-4),
        evaluate=_evaluate_tinyface,
        headline=("rank_1", "rank_1"),
        protocol="TinyFace: image-level ranking, gallery = Gallery_Match + Gallery_Distractor",
    )
)
register_benchmark(
    BenchmarkSpec(
        name="scface",
        reader=SCFace,
        test_subsets=("probe", "gallery"),
        probe_subset="probe",
        gallery_subset="gallery",
        table5=Table5Row(64, 6, _TABLE5_LR, 12, 0.2, 1e-4),
        evaluate=_evaluate_scface,
        evaluate_hard=_scface_hard,
        headline=("rank_1", "rank_1_average"),
        headline_hard="rank_1",
        protocol="SCFace: rank-1 per distance against the mugshot gallery",
    )
)
register_benchmark(
    BenchmarkSpec(
        name="survface",
        reader=SurvFace,
        test_subsets=("gallery", "mated_probe", "unmated_probe"),
        probe_subset="mated_probe",
        gallery_subset="gallery",
        table5=Table5Row(100, 30, LearningRates(1e-5, 5e-4, 1e-3, 1e-4), 6, 0.4, 1e-3),
        evaluate=_evaluate_survface,
        headline=("tpir20_at_fpir_0_3", "tpir20_at_fpir_0_3"),
        protocol="SurvFace open-set identification (mated/unmated probes against the gallery)",
        verification_pairs=survface_verification_pairs,
    )
)
