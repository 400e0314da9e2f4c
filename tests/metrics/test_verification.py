import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from recognizability.metrics import (
    VerificationAccumulator,
    area_under_roc,
    equal_error_rate,
    roc_curve,
    survface_grid_verification,
    tar_at_far,
)
from tests.helpers import metric_references as ref

# scores on a coarse grid so that ties between and within classes are frequent
tied = st.lists(st.integers(0, 8).map(lambda k: k / 8), min_size=1, max_size=30)


@given(tied, tied, st.floats(0, 1))
@settings(max_examples=80, deadline=None)
def test_tar_at_far_matches_loop_reference(genuine, impostor, far):
    result = tar_at_far(genuine, impostor, far)
    tar, t, realised = ref.tar_at_far(genuine, impostor, far)
    assert float(result.tar) == pytest.approx(tar)
    assert float(result.threshold) == t
    assert float(result.realised_far) == pytest.approx(realised)
    assert float(result.realised_far) <= far


@given(tied, tied, st.lists(st.floats(0, 1), min_size=2, max_size=6, unique=True))
@settings(max_examples=50, deadline=None)
def test_tar_monotone_in_far(genuine, impostor, fars):
    fars = sorted(fars)
    result = tar_at_far(genuine, impostor, fars)
    assert result.tar.shape == (len(fars),)
    assert bool((result.tar[1:] >= result.tar[:-1]).all())
    assert bool((result.realised_far <= torch.tensor(fars, dtype=torch.float64)).all())


@given(tied, tied)
@settings(max_examples=60, deadline=None)
def test_roc_equals_sklearn_without_dropping(genuine, impostor):
    roc = roc_curve(genuine, impostor)
    y = np.r_[np.ones(len(genuine)), np.zeros(len(impostor))]
    fpr, tpr, thresholds = sk_roc_curve(y, np.r_[genuine, impostor], drop_intermediate=False)
    np.testing.assert_allclose(roc.far.numpy(), fpr)
    np.testing.assert_allclose(roc.tar.numpy(), tpr)
    np.testing.assert_array_equal(roc.thresholds.numpy()[1:], thresholds[1:])
    if 0 < len(set(y)) and len(genuine) and len(impostor):
        assert area_under_roc(genuine, impostor) == pytest.approx(roc_auc_score(y, np.r_[genuine, impostor]))


def test_tar_at_far_coincides_with_sklearn_at_impostor_thresholds():
    rng = np.random.default_rng(0)
    genuine, impostor = rng.normal(1, 1, 200), rng.normal(0, 1, 500)
    y = np.r_[np.ones(200), np.zeros(500)]
    fpr, tpr, thresholds = sk_roc_curve(y, np.r_[genuine, impostor], drop_intermediate=False)
    for far in (0.002, 0.01, 0.1, 0.3):  # >= 1/500 so the threshold is an impostor score
        result = tar_at_far(torch.from_numpy(genuine), torch.from_numpy(impostor), far)
        k = int(np.nonzero(thresholds == float(result.threshold))[0][0])  # our threshold is an impostor score
        assert float(result.tar) == pytest.approx(tpr[k])
        assert float(result.realised_far) == pytest.approx(fpr[k])


def test_documented_difference_from_sklearn_largest_tpr_rule():
    # impostors 0.1, 0.5, 0.9; a genuine 0.7 lies between two impostors.
    genuine, impostor = [0.95, 0.7, 0.3], [0.1, 0.5, 0.9]
    ours = tar_at_far(genuine, impostor, 1 / 3)
    assert float(ours.threshold) == 0.9 and float(ours.tar) == pytest.approx(1 / 3)
    fpr, tpr, thr = sk_roc_curve([1, 1, 1, 0, 0, 0], genuine + impostor, drop_intermediate=False)
    k = max(np.nonzero(fpr <= 1 / 3)[0], key=lambda i: tpr[i])  # "largest TPR whose FPR <= x"
    assert thr[k] == 0.7 and tpr[k] == pytest.approx(2 / 3)  # threshold on a genuine score: higher TAR
    assert fpr[k] == pytest.approx(float(ours.realised_far))


def test_far_below_one_over_n_puts_threshold_above_top_impostor():
    result = tar_at_far([0.9, 0.95], [0.1, 0.9], 0.1)
    assert float(result.threshold) > 0.9 and float(result.realised_far) == 0.0
    assert float(result.tar) == pytest.approx(0.5)


@given(tied, tied)
@settings(max_examples=60, deadline=None)
def test_eer_matches_loop(genuine, impostor):
    result = equal_error_rate(genuine, impostor)
    candidates = [math.inf, *sorted(set(genuine + impostor), reverse=True)]
    best = min(
        candidates,
        key=lambda t: abs(ref.far_tar(genuine, impostor, t)[0] - 1 + ref.far_tar(genuine, impostor, t)[1]),
    )
    far, tar = ref.far_tar(genuine, impostor, best)
    gap = abs(far - (1 - tar))
    assert abs(result.far - result.frr) == pytest.approx(gap)
    assert result.eer == pytest.approx((result.far + result.frr) / 2)


def test_float32_agrees_with_float64():
    g = torch.Generator().manual_seed(1)
    genuine, impostor = torch.randn(500, generator=g) + 1.5, torch.randn(3000, generator=g)
    a = tar_at_far(genuine, impostor, [1e-3, 1e-2, 0.1])
    b = tar_at_far(genuine.double(), impostor.double(), [1e-3, 1e-2, 0.1])
    torch.testing.assert_close(a.tar, b.tar)
    assert equal_error_rate(genuine, impostor).eer == pytest.approx(
        equal_error_rate(genuine.double(), impostor.double()).eer
    )


def test_accumulator_equals_function():
    g = torch.Generator().manual_seed(2)
    scores, labels = torch.randn(300, generator=g), torch.rand(300, generator=g) < 0.3
    acc = VerificationAccumulator()
    for i in range(0, 300, 70):
        acc.update(scores[i : i + 70], labels[i : i + 70])
    direct = tar_at_far(scores[labels], scores[~labels], [0.01, 0.1])
    torch.testing.assert_close(acc.tar_at_far([0.01, 0.1]).tar, direct.tar)
    assert acc.equal_error_rate() == equal_error_rate(scores[labels], scores[~labels])


def test_survface_grid_loop_reference():
    rng = np.random.default_rng(3)
    pos, neg = rng.uniform(0.2, 1.4, 60), rng.uniform(0.8, 2.0, 60)
    result = survface_grid_verification(pos, neg, (0.3, 0.1))
    grid = [0.2 + k * 0.001 for k in range(1801)]
    fars = [sum(x < t for x in neg) / 60 for t in grid]
    tars = [sum(x < t for x in pos) / 60 for t in grid]
    for target, tar in zip((0.3, 0.1), result.tar.tolist(), strict=True):
        k = min(range(len(grid)), key=lambda i: abs(fars[i] - target))  # first minimum
        assert tar == pytest.approx(tars[k])
    assert result.auc == pytest.approx(np.trapezoid(tars, fars))
    assert 0.5 <= result.accuracy_10fold <= 1.0


@pytest.mark.parametrize(
    ("genuine", "impostor", "message"),
    [
        ([0.1, float("nan")], [0.2], "finite genuine_scores"),
        ([0.1], [float("inf")], "finite impostor_scores"),
        ([], [0.2], "at least one score"),
        ([[0.1]], [0.2], r"shape \(N,\)"),
    ],
)
def test_bad_scores_raise(genuine, impostor, message):
    with pytest.raises(ValueError, match=message):
        tar_at_far(genuine, impostor, 0.1)


def test_bad_far_raises():
    with pytest.raises(ValueError, match=r"far in \[0, 1\]"):
        tar_at_far([0.5], [0.1], 1.5)


def test_report_serialises():
    text = roc_curve([0.2, 0.9], [0.1]).to_json()
    assert '"inf"' in text and "convention" in text
