"""Severity: in [0, 1], monotone in every parameter, equal to its formula; the degradation pipeline."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recognizability.data.synthetic import DegradationParameters, degrade_images, sample_degradation, severity
from recognizability.data.synthetic.identities import identity_rng

PARAMS = {
    "height": st.integers(1, 120),
    "width": st.integers(1, 120),
    "gaussian_sigma": st.floats(0.0, 5.0),
    "motion_length": st.floats(0.0, 8.0),
    "noise_sigma": st.floats(0.0, 0.5),
    "quantisation_levels": st.integers(2, 256),
    "occlusion": st.floats(0.0, 1.0),
    "jpeg_quality": st.integers(1, 100),
    "upsample": st.floats(1.0, 4.0),
}
# +1: a larger value of the parameter can only make the image worse; -1: only better.
DIRECTION = {
    "height": -1,
    "width": -1,
    "gaussian_sigma": 1,
    "motion_length": 1,
    "noise_sigma": 1,
    "quantisation_levels": -1,
    "occlusion": 1,
    "jpeg_quality": -1,
    "upsample": 1,
}


def reference_severity(p: dict[str, float]) -> float:
    """The documented formula, written out with math for one image."""
    side = (
        math.sqrt(p["height"] * p["width"])
        / p["upsample"]
        / math.sqrt(1 + p["gaussian_sigma"] ** 2 + (p["motion_length"] / 2) ** 2)
    )
    r = min(max((math.log2(28) - math.log2(side)) / (math.log2(28) - math.log2(5)), 0.0), 1.0)
    n = min(p["noise_sigma"] / 0.06, 1.0)
    q = min(max((8 - math.log2(p["quantisation_levels"])) / 5, 0.0), 1.0)
    j = min(max((95 - p["jpeg_quality"]) / 70, 0.0), 1.0)
    o = min(p["occlusion"] / 0.5, 1.0)
    return min(0.60 * r + 0.12 * n + 0.03 * q + 0.10 * j + 0.15 * o, 1.0)


@settings(max_examples=200, deadline=None)
@given(st.fixed_dictionaries(PARAMS), st.sampled_from(sorted(PARAMS)), st.floats(0.0, 1.0))
def test_severity_in_unit_interval_and_monotone(params: dict[str, float], name: str, fraction: float) -> None:
    base = float(severity(**params))
    assert 0.0 <= base <= 1.0
    assert base == pytest.approx(reference_severity(params), abs=1e-12)
    worse = dict(params)
    strategy_bounds = {"height": 120, "width": 120, "quantisation_levels": 256, "jpeg_quality": 100}
    if DIRECTION[name] > 0:
        worse[name] = params[name] + fraction * 2.0
    else:  # decrease towards the smallest legal value
        low = 2 if name == "quantisation_levels" else 1
        worse[name] = max(low, round(params[name] - fraction * (params[name] - low)))
        assert worse[name] <= strategy_bounds[name]
    assert float(severity(**worse)) >= base - 1e-12


def test_severity_extremes_and_broadcasting() -> None:
    assert float(severity(112, 112)) == 0.0
    assert float(severity(2, 2, 3.0, 6.0, 0.3, 4, 1.0, 5, 2.0)) == 1.0
    qualities = severity(20, 16, jpeg_quality=np.array([100, 90, 60, 30, 10]))
    assert np.all(np.diff(qualities) > 0)
    enlarged = severity(24, 20, upsample=np.array([1.0, 1.5, 2.0, 3.0]))
    assert np.all(np.diff(enlarged) > 0)
    values = severity(np.array([32, 16, 8, 4]), np.array([26, 13, 6, 3]))
    assert values.shape == (4,) and np.all(np.diff(values) > 0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"height": 0, "width": 5}, "height and width >= 1"),
        ({"height": 5, "width": 5, "noise_sigma": -0.1}, "noise_sigma finite and >= 0"),
        ({"height": 5, "width": 5, "quantisation_levels": 1}, "quantisation_levels >= 2"),
        ({"height": 5, "width": 5, "occlusion": float("nan")}, "occlusion finite"),
        ({"height": 5, "width": 5, "jpeg_quality": 0}, r"jpeg_quality in \[1, 100\]"),
        ({"height": 5, "width": 5, "upsample": 0.5}, "upsample finite and >= 1"),
    ],
)
def test_severity_bad_input(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        severity(**kwargs)


def test_sampled_degradation_grows_with_level() -> None:
    def mean_severity(level: float) -> float:
        values = []
        for k in range(200):
            d = sample_degradation(identity_rng(0, 7, k), level)
            values.append(
                float(
                    severity(
                        d.height,
                        d.width,
                        d.gaussian_sigma,
                        d.motion_length,
                        d.noise_sigma,
                        d.quantisation_levels,
                        0.0,
                        d.jpeg_quality,
                        d.upsample,
                    )
                )
            )
            assert 8 <= d.height <= 32 and 6 <= d.width <= 32
        return float(np.mean(values))

    means = [mean_severity(level) for level in (0.0, 0.5, 1.0)]
    assert means[0] < means[1] < means[2]


def test_degrade_images_shapes_dtype_and_noise_free_identity() -> None:
    rng = np.random.default_rng(0)
    renders = rng.uniform(0, 1, (3, 64, 64, 3)).astype(np.float32)
    params = [
        DegradationParameters(20, 16, 0.5, 1.5, 0.3, 0.05, 16),
        DegradationParameters(8, 6, 0.0, 0.0, 0.0, 0.0, 256),
        DegradationParameters.none(64, 64),
    ]
    out = degrade_images(renders, params, [identity_rng(0, 1, i) for i in range(3)])
    assert [o.shape for o in out] == [(20, 16, 3), (8, 6, 3), (64, 64, 3)]
    assert all(o.dtype == np.uint8 for o in out)
    # 16 quantisation levels: at most 16 distinct values per channel.
    assert len(np.unique(out[0][..., 0])) <= 16
    # No degradation: the render rounded to 8 bits.
    np.testing.assert_array_equal(
        out[2], np.floor(renders[2].astype(np.float64) * 255 + 0.5).astype(np.uint8)
    )
    # Downsampling a constant image keeps the constant (resampling rows sum to 1).
    flat = np.full((1, 64, 64, 3), 0.4, dtype=np.float32)
    small = degrade_images(flat, [DegradationParameters(9, 7, 1.0, 0.0, 0.0, 0.0, 256)], [identity_rng(0, 2)])
    assert np.all(small[0] == round(0.4 * 255))


def test_degrade_images_bad_input() -> None:
    with pytest.raises(ValueError, match=r"shape \(B, H, W, 3\)"):
        degrade_images(np.zeros((2, 8, 8), np.float32), [], [])
    with pytest.raises(ValueError, match="expected 2 parameter sets"):
        degrade_images(
            np.zeros((2, 8, 8, 3), np.float32), [DegradationParameters.none(8, 8)], [identity_rng(0)]
        )
