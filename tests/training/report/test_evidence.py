"""The paired interval of every evidence table, against scipy's one-sample t test (an independent route)."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from recognizability.training.report.evidence import paired_t_interval


@pytest.mark.parametrize(
    "differences", [[1.0, 2.0, 3.0, 4.0, 5.0], [-0.02, -0.019, -0.027, -0.021, -0.025], [0.5, -0.5]]
)
@pytest.mark.parametrize("confidence", [0.95, 0.9])
def test_equals_the_one_sample_t_interval(differences: list[float], confidence: float) -> None:
    mean, low, high = paired_t_interval(differences, confidence)
    reference = stats.ttest_1samp(differences, 0.0).confidence_interval(confidence)
    assert mean == pytest.approx(sum(differences) / len(differences), abs=1e-15)
    assert (low, high) == pytest.approx((reference.low, reference.high), rel=1e-12, abs=1e-15)


def test_one_difference_has_no_interval() -> None:
    mean, low, high = paired_t_interval([0.3])
    assert mean == 0.3 and math.isnan(low) and math.isnan(high)
