"""Fig. 1 statistics: Sarle's bimodality coefficient against scipy; the UI-cluster figures on crafted data."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from recognizability.metrics.ui_cluster import (
    BIMODALITY_THRESHOLD,
    bimodality_coefficient,
    ui_cluster_statistics,
)


def _sarle_from_scipy(x: np.ndarray) -> float:
    n = len(x)
    g = stats.skew(x, bias=False)
    k = stats.kurtosis(x, bias=False)
    return float((g**2 + 1) / (k + 3 * (n - 1) ** 2 / ((n - 2) * (n - 3))))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=4, max_size=60))
def test_bimodality_equals_scipy_moments(values: list[float]) -> None:
    x = np.asarray(values, dtype=np.float64)
    if np.ptp(x) < 1e-6 * max(1.0, float(np.abs(x).max())):
        return  # (near-)constant: both are undefined / ill-conditioned
    assert bimodality_coefficient(torch.from_numpy(x)) == pytest.approx(
        _sarle_from_scipy(x), rel=1e-9, abs=1e-12
    )


def test_bimodality_separates_one_mode_from_two() -> None:
    generator = torch.Generator().manual_seed(0)
    one = torch.randn(4000, generator=generator, dtype=torch.float64)
    two = torch.cat([one[:2000] * 0.2 - 2.0, one[2000:] * 0.2 + 2.0])
    assert bimodality_coefficient(one) < BIMODALITY_THRESHOLD < bimodality_coefficient(two)
    uniform = torch.linspace(0, 1, 100001, dtype=torch.float64)
    assert bimodality_coefficient(uniform) == pytest.approx(5 / 9, abs=1e-3)


def test_ui_cluster_statistics_on_a_crafted_set() -> None:
    # 10 faces; the 3 hard ones (severity high) are the 3 nearest the UI centre.
    distance = torch.tensor([0.1, 0.2, 0.3, 0.9, 0.8, 0.85, 0.95, 0.7, 0.75, 0.65])
    severity = torch.tensor([0.9, 0.8, 0.7, 0.1, 0.2, 0.15, 0.05, 0.3, 0.25, 0.35])
    hard = severity >= 0.5
    result = ui_cluster_statistics(distance, severity, hard, nearest_fraction=0.3, bins=4)
    assert result.count == 10 and result.hard_count == 3
    assert result.spearman_with_severity == pytest.approx(-1.0)
    assert result.hard_share_nearest == 1.0
    assert result.hard_share_overall == pytest.approx(0.3)
    assert result.mean_distance_hard == pytest.approx(0.2)
    assert result.mean_distance_not_hard == pytest.approx(sum([0.9, 0.8, 0.85, 0.95, 0.7, 0.75, 0.65]) / 7)
    assert sum(result.histogram_hard) == 3 and sum(result.histogram_not_hard) == 7
    assert len(result.bin_edges) == 5 and math.isclose(result.bin_edges[0], 0.1, rel_tol=1e-6)
    assert result.histogram_hard == (3, 0, 0, 0)  # 0.1, 0.2 and 0.3 fall in [0.1, 0.3125)
    assert set(result.to_dict()) >= {"bimodality", "spearman_with_severity", "hard_share_nearest"}


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"hard": torch.zeros(4, dtype=torch.bool)}, ValueError, "some but not all"),
        ({"severity": torch.zeros(3)}, ValueError, r"severity of shape \(N,\) = \(4,\)"),
        ({"distance_to_ui": torch.tensor([0.1, float("nan"), 0.2, 0.3])}, ValueError, "distance_to_ui"),
        ({"bins": 0}, ValueError, "bins"),
    ],
)
def test_ui_cluster_statistics_refuses_bad_input(kwargs: dict[str, object], error: type, words: str) -> None:
    args: dict[str, object] = {
        "distance_to_ui": torch.tensor([0.1, 0.5, 0.6, 0.9]),
        "severity": torch.tensor([0.9, 0.3, 0.2, 0.1]),
        "hard": torch.tensor([True, False, False, False]),
    }
    args.update(kwargs)
    with pytest.raises(error, match=words):
        ui_cluster_statistics(**args)  # type: ignore[arg-type]
