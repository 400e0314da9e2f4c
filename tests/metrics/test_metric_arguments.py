"""Metric arguments: rates and fractions checked (range, order, duplicates), shapes never broadcast, NaN
scores and degenerate centres refused with the argument named; renamed private helpers still importable."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from recognizability.metrics import (
    cmc,
    crfiqa_quality,
    error_versus_reject,
    ers_quality,
    pair_quality,
    tar_at_far,
)


def _erc_inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    genuine = torch.arange(40) % 2 == 0
    scores = torch.where(genuine, 0.6, 0.1) + 0.3 * torch.rand(40, generator=g)
    return scores, genuine, torch.rand(40, generator=g)


@pytest.mark.parametrize(
    ("fractions", "message"),
    [
        ([0.2, 0.1], r"reject_fractions in increasing order without duplicates, got \[0.2, 0.1\]"),
        ([0.0, 0.1, 0.1], r"reject_fractions in increasing order without duplicates"),
        ([0.0, 1.0], r"reject_fractions in \[0, 1\), got \[0.0, 1.0\]"),
        ([0.0, math.nan], r"reject_fractions in \[0, 1\), got \[0.0, nan\]"),
        ([], r"at least one reject_fractions value"),
    ],
)
def test_error_versus_reject_refuses_bad_fractions(fractions: list[float], message: str) -> None:
    scores, genuine, quality = _erc_inputs()
    with pytest.raises(ValueError, match=message):
        error_versus_reject(scores, genuine, quality, 0.1, fractions)


def test_unsorted_fractions_were_a_negative_area_and_sorted_ones_are_not() -> None:
    scores, genuine, quality = _erc_inputs()
    result = error_versus_reject(scores, genuine, quality, 0.1, [0.0, 0.1, 0.2])
    assert result.auc >= 0


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"fmr": 0.0}, ValueError, r"fmr to be a float in \(0, 1\), got 0.0"),
        ({"fmr": math.nan}, ValueError, r"fmr to be a float in \(0, 1\), got nan"),
        ({"fmr": "0.1"}, TypeError, r"fmr to be a float in \(0, 1\), got '0.1'"),
        ({"discard_limit": 1.5}, ValueError, r"discard_limit to be a float in \[0, 1\], got 1.5"),
        ({"threshold": "best"}, ValueError, r"threshold to be one of \['fixed', 'recomputed', 'crfiqa'\]"),
    ],
)
def test_error_versus_reject_refuses_bad_scalars(kwargs: dict, error: type[Exception], message: str) -> None:
    scores, genuine, quality = _erc_inputs()
    arguments = {"fmr": 0.1, **kwargs}
    with pytest.raises(error, match=message):
        error_versus_reject(scores, genuine, quality, **arguments)


def test_pair_quality_never_broadcasts_and_refuses_nan() -> None:
    with pytest.raises(ValueError, match=r"quality_b of shape \(3,\) like quality_a, got shape \(1,\)"):
        pair_quality(torch.rand(3), torch.rand(1))
    with pytest.raises(ValueError, match=r"quality_a of shape \(N,\), got shape \(3, 1\)"):
        pair_quality(torch.rand(3, 1), torch.rand(3))
    with pytest.raises(ValueError, match=r"finite quality_b, got 1 NaN/inf value\(s\) out of 3"):
        pair_quality(torch.rand(3), torch.tensor([0.1, math.nan, 0.2]))
    torch.testing.assert_close(
        pair_quality([0.3, 0.9], [0.5, 0.1]), torch.tensor([0.3, 0.1], dtype=torch.float64)
    )


def test_nan_scores_are_an_error_naming_the_argument() -> None:
    with pytest.raises(ValueError, match=r"finite impostor_scores, got 1 NaN/inf"):
        tar_at_far(torch.rand(5), torch.tensor([0.1, math.nan]), 0.1)
    scores, genuine, quality = _erc_inputs()
    quality[3] = math.nan
    with pytest.raises(ValueError, match=r"finite pair_quality, got 1 NaN/inf"):
        error_versus_reject(scores, genuine, quality, 0.1)


@pytest.mark.parametrize(
    ("far", "error", "message"),
    [
        (math.nan, ValueError, r"far in \[0, 1\], got \[nan\]"),
        (True, TypeError, r"far as a number or a sequence of numbers, got True"),
        ("0.1", TypeError, r"far as a number or a sequence of numbers, got '0.1'"),
        ([0.1, 1.5], ValueError, r"far in \[0, 1\], got \[0.1, 1.5\]"),
    ],
)
def test_rates_are_checked(far: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        tar_at_far(torch.rand(5), torch.rand(5), far)  # type: ignore[arg-type]


def test_ranks_are_checked() -> None:
    x, y = torch.randn(4, 3), torch.tensor([0, 1, 2, 3])
    with pytest.raises(ValueError, match=r"ranks without duplicates, got \(1, 5, 1\)"):
        cmc(x, y, x, y, ranks=(1, 5, 1))
    with pytest.raises(TypeError, match=r"ranks as positive integers, got \(1.5,\)"):
        cmc(x, y, x, y, ranks=(1.5,))  # type: ignore[arg-type]


def test_ers_refuses_degenerate_centres_and_is_right_at_every_scale() -> None:
    e = torch.randn(6, 4, dtype=torch.float64)
    u = torch.randn(4, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"non-zero ui_center \(a direction\), got the zero vector"):
        ers_quality(e, torch.zeros(4))
    with pytest.raises(ValueError, match=r"finite ui_center, got 1 NaN/inf value\(s\)"):
        ers_quality(e, torch.tensor([1.0, math.nan, 0.0, 0.0]))
    with pytest.raises(TypeError, match=r"clip_at_one to be a bool, got int"):
        ers_quality(e, u, clip_at_one=1)  # type: ignore[arg-type]
    want = torch.tensor([1 - float(row @ u) / float(row.norm() * u.norm()) for row in e], dtype=torch.float64)
    torch.testing.assert_close(ers_quality(e, u), want)
    torch.testing.assert_close(
        ers_quality((e * 1e25).float(), (u * 1e-30).float()).double(), want, atol=1e-6, rtol=0
    )


@pytest.mark.parametrize("offset", [math.nan, math.inf, 1.0, 0.0, -2.0])
def test_crfiqa_offset_checked(offset: float) -> None:
    """NNCCS reaches -1: an offset <= 1 makes the denominator 0 (inf at offset 1) or flips its sign."""
    with pytest.raises(ValueError, match=r"offset to be a float in \(1, inf\), got"):
        crfiqa_quality(torch.randn(3, 4), torch.tensor([0, 1, 0]), torch.randn(2, 4), offset=offset)


def test_private_helpers_keep_their_old_names_for_one_release() -> None:
    from recognizability.metrics import identification, verification

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = verification.threshold_at_rate
        old_statistics = identification.mate_statistics
    assert old is verification._threshold_at_rate and old_statistics is identification._mate_statistics
    assert [w.category for w in caught] == [DeprecationWarning, DeprecationWarning]
    assert "private now, as _threshold_at_rate" in str(caught[0].message)
    with pytest.raises(AttributeError, match=r"has no attribute 'no_such_name'"):
        _ = verification.no_such_name
