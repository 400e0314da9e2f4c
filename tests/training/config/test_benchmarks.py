"""One spec per benchmark, registered in one place; headline figures named by the spec."""

from __future__ import annotations

import pytest
import torch

from recognizability.data import SCFace, SurvFace, TinyFace
from recognizability.training import BenchmarkSpec, available_benchmarks
from recognizability.training.config import get_benchmark
from recognizability.training.config.benchmarks import EmbeddedSet, HardProbesRank1, register_benchmark


def test_the_three_benchmarks_are_registered() -> None:
    assert available_benchmarks() == ("tinyface", "scface", "survface")
    readers = {name: get_benchmark(name).reader for name in available_benchmarks()}
    assert readers == {"tinyface": TinyFace, "scface": SCFace, "survface": SurvFace}
    for name in available_benchmarks():
        spec = get_benchmark(name)
        subsets = getattr(spec.reader, "SUBSETS")  # noqa: B009 - the reader's class attribute
        assert set(spec.test_subsets) <= set(subsets) and spec.synthetic_layout == name
        assert {spec.probe_subset, spec.gallery_subset} <= set(spec.test_subsets)
    assert get_benchmark("survface").verification_pairs is not None
    with pytest.raises(ValueError, match="expected dataset to be one of"):
        get_benchmark("lfw")
    with pytest.raises(ValueError, match="already registered"):
        register_benchmark(get_benchmark("tinyface"))


def _embedded(labels: list[int], distance: list[int] | None = None) -> EmbeddedSet:
    n = len(labels)
    v = torch.nn.functional.one_hot(torch.tensor(labels), 4).float() + 0.01 * torch.randn(n, 4)
    return EmbeddedSet(
        v, torch.zeros(n), torch.tensor(labels), distance=None if distance is None else torch.tensor(distance)
    )


def test_scface_spec_evaluates_all_probes_per_distance_and_hard_ones_as_one_rank1() -> None:
    torch.manual_seed(0)
    spec: BenchmarkSpec = get_benchmark("scface")
    tests = {"probe": _embedded([0, 1, 2, 3, 0, 1], [1, 2, 3, 1, 2, 3]), "gallery": _embedded([0, 1, 2, 3])}
    protocol = spec.evaluate(tests, None, None)
    assert protocol.to_dict()["rank_1_average"] == 1.0
    hard = torch.tensor([True, False, False, True, False, False])  # distance 1 only
    assert spec.evaluate_hard is not None
    report = spec.evaluate_hard(tests, hard, None)
    assert isinstance(report, HardProbesRank1) and (report.rank_1, report.num_probes) == (1.0, 2)
    assert spec.headline_figures(protocol, report) == {"rank_1": 1.0, "rank_1_hard": 1.0}
    assert spec.headline_figures(protocol, None) == {"rank_1": 1.0}
