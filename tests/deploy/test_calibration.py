"""The calibrated quality: isotonic fit, monotone bounded integer scores, threshold guidance from the EDC."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from recognizability import metrics as M
from recognizability.deploy import QualityCalibration, fit_calibration, isotonic_fit
from recognizability.deploy.calibration import mated_comparisons


def _pav_reference(y: list[float], w: list[float]) -> list[float]:
    """Isotonic regression by its definition: the fitted value at i is max over a <= i of min over b >= i of
    the weighted mean of y[a..b] (the min-max formula), float64, O(n^3)."""
    n = len(y)
    out = []
    for i in range(n):
        best = -math.inf
        for a in range(i + 1):
            low = math.inf
            for b in range(i, n):
                mean = sum(y[k] * w[k] for k in range(a, b + 1)) / sum(w[a : b + 1])
                low = min(low, mean)
            best = max(best, low)
        out.append(best)
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(-5, 5, allow_nan=False), st.floats(0.1, 4, allow_nan=False)),
        min_size=1,
        max_size=12,
    )
)
def test_isotonic_fit_equals_the_min_max_formula(points: list[tuple[float, float]]) -> None:
    y = [p[0] for p in points]
    w = [p[1] for p in points]
    fitted = isotonic_fit(y, w)
    np.testing.assert_allclose(fitted, _pav_reference(y, w), rtol=1e-12, atol=1e-12)
    assert np.all(np.diff(fitted) >= 0)
    assert math.isclose(float(np.dot(fitted, w)), float(np.dot(y, w)), rel_tol=1e-9, abs_tol=1e-9)


def test_isotonic_fit_matches_scikit_learn() -> None:
    isotonic = pytest.importorskip("sklearn.isotonic")
    rng = np.random.default_rng(0)
    y = (rng.random(400) < np.linspace(0.05, 0.95, 400)).astype(np.float64)
    w = rng.random(400) + 0.5
    expected = isotonic.IsotonicRegression().fit_transform(np.arange(400), y, sample_weight=w)
    np.testing.assert_allclose(isotonic_fit(y, w), expected, atol=1e-12)


def test_isotonic_fit_refuses_bad_weights() -> None:
    with pytest.raises(ValueError, match="weights of shape"):
        isotonic_fit([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="positive weights"):
        isotonic_fit([1.0, 2.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="finite values"):
        isotonic_fit([1.0, float("nan")])
    assert isotonic_fit([]).shape == (0,)


def test_pool_adjacent_violators_is_a_deprecated_name_of_isotonic_fit() -> None:
    import recognizability.deploy as deploy
    import recognizability.deploy.calibration as calibration

    for module in (deploy, calibration):
        with pytest.warns(DeprecationWarning, match="use isotonic_fit"):
            old = module.pool_adjacent_violators
        assert old is isotonic_fit
    with pytest.warns(DeprecationWarning, match="pool_adjacent_violators is deprecated"):
        from recognizability.deploy import pool_adjacent_violators  # noqa: F401


def _calibration_set(
    seed: int = 0, identities: int = 40, probes: int = 600, dim: int = 16
) -> dict[str, torch.Tensor]:
    """Embeddings whose mated similarity rises with xi: probe = reference direction + noise shrinking as xi
    grows; two gallery images per identity, the better one with the higher xi."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.nn.functional.normalize(
        torch.randn(identities, dim, generator=g, dtype=torch.float64), dim=1
    )
    gallery_labels = torch.arange(identities).repeat(2)
    gallery_xi = torch.cat([torch.full((identities,), 2.0), torch.full((identities,), 0.5)]).double()
    gallery = torch.cat(
        [centres, centres + 0.8 * torch.randn(identities, dim, generator=g, dtype=torch.float64)]
    )
    probe_labels = torch.randint(0, identities, (probes,), generator=g)
    probe_xi = torch.rand(probes, generator=g, dtype=torch.float64) * 2
    noise = torch.randn(probes, dim, generator=g, dtype=torch.float64) * (1.6 - 0.75 * probe_xi)[:, None]
    probe = centres[probe_labels] + noise
    return {
        "probe_embeddings": probe, "probe_labels": probe_labels, "probe_xi": probe_xi,
        "gallery_embeddings": gallery, "gallery_labels": gallery_labels, "gallery_xi": gallery_xi,
    }  # fmt: skip


def test_mated_comparisons_use_the_best_reference_of_each_identity() -> None:
    data = _calibration_set(identities=5, probes=20)
    mated, probes, references, non_mated = mated_comparisons(**data)
    assert probes.tolist() == list(range(20)) and mated.shape == (20,) and non_mated.shape == (20 * 4,)
    for m, p, r in zip(mated.tolist(), probes.tolist(), references.tolist(), strict=True):
        label = int(data["probe_labels"][p])
        assert r == label  # the first copy of each identity carries xi 2.0 > 0.5
        expected = torch.nn.functional.cosine_similarity(
            data["probe_embeddings"][p], data["gallery_embeddings"][r], dim=0
        )
        assert math.isclose(m, float(expected), rel_tol=1e-12)


def test_fitted_probability_is_the_isotonic_fit_of_the_successes() -> None:
    data = _calibration_set()
    calibration = fit_calibration(**data, fmr=0.01, source="test", synthetic=True)
    mated, probes, _, non_mated = mated_comparisons(**data)
    threshold = M.tar_at_far(mated, non_mated, 0.01).threshold
    assert calibration.comparison_threshold == pytest.approx(float(threshold))
    xi = data["probe_xi"][probes].numpy()
    success = (mated >= threshold).double().numpy()
    order = np.argsort(xi, kind="stable")
    expected = isotonic_fit(success[order])  # xi values are distinct here
    np.testing.assert_allclose(calibration.probability(xi[order]), expected, atol=1e-12)
    # the synthetic set is built so that success becomes more likely as xi rises
    assert calibration.probability([0.0])[0] < 0.5 < calibration.probability([2.0])[0]
    assert calibration.mated == 600 and calibration.non_mated == 600 * 39


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=50))
def test_quality_is_a_monotone_bounded_integer(values: list[float]) -> None:
    calibration = fit_calibration(**_calibration_set(probes=200), fmr=0.01, source="test", synthetic=True)
    xi = np.sort(np.asarray(values))
    quality = calibration.quality(xi)
    assert quality.dtype == np.int64
    assert np.all((quality >= 0) & (quality <= 100))
    assert np.all(np.diff(quality) >= 0)


def test_quality_accepts_tensors_of_any_float_dtype() -> None:
    calibration = fit_calibration(**_calibration_set(probes=200), fmr=0.01, source="test", synthetic=True)
    xi = torch.linspace(-1, 3, 9)
    expected = calibration.quality(xi.double())
    for dtype in (torch.float16, torch.bfloat16, torch.float32):
        rounded = xi.to(dtype)
        assert np.array_equal(calibration.quality(rounded), calibration.quality(rounded.double()))
    assert np.array_equal(calibration.quality(xi.numpy()), expected)
    with pytest.raises(ValueError, match="finite xi_hat"):
        calibration.quality([0.0, math.nan])


def test_threshold_guidance_is_read_from_the_calibration_sets_edc() -> None:
    data = _calibration_set()
    calibration = fit_calibration(**data, fmr=0.01, source="test", synthetic=True)
    mated, probes, references, _ = mated_comparisons(**data)
    pair_quality = np.minimum(
        calibration.quality(data["probe_xi"][probes]), calibration.quality(data["gallery_xi"][references])
    )
    failed = (mated < calibration.comparison_threshold).numpy()
    baseline = failed.mean()
    assert calibration.edc_quality[0] == 0 and calibration.edc_fnmr[0] == pytest.approx(baseline)
    target = baseline / 2
    guidance = calibration.threshold_for(target)
    # independently: keep pairs of quality >= threshold, FNMR of the rest
    kept = pair_quality >= guidance.quality_threshold
    assert guidance.fnmr == pytest.approx(failed[kept].mean())
    assert guidance.discarded_share == pytest.approx(1 - kept.mean())
    assert guidance.fnmr <= target
    # the threshold just below does not reach the target
    lower = pair_quality >= guidance.quality_threshold - 1
    assert failed[lower].mean() > target
    with pytest.raises(ValueError, match="fnmr to be a number in"):
        calibration.threshold_for(1.5)


def test_threshold_guidance_says_when_a_target_is_out_of_reach() -> None:
    calibration = QualityCalibration(
        (0.0, 1.0), (0.2, 0.9), 0.01, 0.3, (0, 40, 80), (0.0, 0.3, 0.7), (0.3, 0.2, 0.25), 10, 100, "x", True
    )
    assert calibration.threshold_for(0.2).quality_threshold == 40
    with pytest.raises(ValueError, match=r"lowest FNMR on it is 0\.2000"):
        calibration.threshold_for(0.1)


def test_calibration_round_trips_through_json() -> None:
    calibration = fit_calibration(
        **_calibration_set(probes=200), fmr=0.01, source="folder x", synthetic=False
    )
    text = calibration.to_json()
    again = QualityCalibration.from_json(text)
    assert again == calibration
    data = json.loads(text)
    assert data["format"] == 1 and data["synthetic"] is False
    del data["xi_knots"]
    with pytest.raises(ValueError, match="missing \\['xi_knots'\\]"):
        QualityCalibration.from_dict(data)
    with pytest.raises(ValueError, match="calibration format"):
        QualityCalibration.from_dict({"format": 99})


def test_fit_refuses_too_few_comparisons_for_the_fmr() -> None:
    data = _calibration_set(identities=5, probes=20)  # 80 non-mated comparisons
    with pytest.raises(ValueError, match="at least 1/fmr = 1000 non-mated comparisons"):
        fit_calibration(**data, fmr=1e-3, source="test", synthetic=True)
    with pytest.raises(ValueError, match="fmr to be a number in \\(0, 1\\)"):
        fit_calibration(**data, fmr=0.0, source="test", synthetic=True)


def test_knots_must_be_monotone() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        QualityCalibration((1.0, 0.0), (0.1, 0.2), 0.01, 0.3, (), (), (), 1, 1, "x", True)
    with pytest.raises(ValueError, match="non-decreasing in \\[0, 1\\]"):
        QualityCalibration((0.0, 1.0), (0.5, 0.2), 0.01, 0.3, (), (), (), 1, 1, "x", True)
