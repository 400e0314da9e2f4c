"""Loss terms (Eq. 4, 5-7, 9) against float64 loop references written from the equations."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from recognizability.functional import (
    DEFAULT_TAU,
    attention_mse_loss,
    index_diversion_loss,
    perceptibility_regression_loss,
)


def reference_smooth_l1(pred: torch.Tensor, target: torch.Tensor, beta: float) -> float:
    terms = []
    for p, t in zip(pred.tolist(), target.tolist(), strict=True):
        e = abs(t - p)
        terms.append(0.5 * e * e / beta if e < beta else e - 0.5 * beta)  # Eq. 4
    return sum(terms) / len(terms)


def reference_diversion(pred: torch.Tensor, tau: float, mu: float, sigma: float) -> float:
    terms = [max(0.0, tau - (p - mu) / sigma) for p in pred.tolist()]  # Eq. 5, 7
    return sum(terms) / len(terms)


def reference_mse(a: torch.Tensor, t: torch.Tensor) -> tuple[float, float]:
    rows = [
        sum((x - y) ** 2 for x, y in zip(ra, rt, strict=True))
        for ra, rt in zip(a.tolist(), t.tolist(), strict=True)
    ]
    per_sample = sum(rows) / len(rows)  # literal Eq. 9: squared norm per sample, mean over the batch
    return per_sample / a.shape[1], per_sample


def test_regression_loss_matches_reference() -> None:
    pred = torch.tensor([0.0, 0.5, 3.0, -2.0, 0.74], dtype=torch.float64)
    target = torch.tensor([0.2, 0.5, 1.0, 1.0, 0.0], dtype=torch.float64)
    got = perceptibility_regression_loss(pred, target)
    assert abs(float(got) - reference_smooth_l1(pred, target, 0.75)) < 1e-12
    got_none = perceptibility_regression_loss(pred, target, beta=0.3, reduction="none")
    assert got_none.shape == (5,)
    assert abs(float(got_none.mean()) - reference_smooth_l1(pred, target, 0.3)) < 1e-12


def test_diversion_loss_matches_reference() -> None:
    pred = torch.tensor([-1.0, 0.0, 0.9, 1.0, 2.5], dtype=torch.float64)
    for tau, mu, sigma in [(1.0, 0.0, 1.0), (1.96, 0.3, 0.5), (0.5, -1.0, 2.0)]:
        got = index_diversion_loss(pred, tau, mu, sigma)
        assert abs(float(got) - reference_diversion(pred, tau, mu, sigma)) < 1e-12
        as_tensors = index_diversion_loss(pred, tau, torch.tensor(mu), torch.tensor(sigma))
        assert abs(float(as_tensors) - float(got)) < 1e-6
    assert index_diversion_loss(pred, 1.0, reduction="none").shape == (5,)
    assert (
        abs(
            float(index_diversion_loss(pred, 1.0, reduction="sum")) - 5 * reference_diversion(pred, 1.0, 0, 1)
        )
        < 1e-12
    )
    assert DEFAULT_TAU == 1.0


def test_attention_mse_matches_reference_both_reductions() -> None:
    g = torch.Generator().manual_seed(0)
    a, t = (
        torch.randn(4, 6, generator=g, dtype=torch.float64),
        torch.randn(4, 6, generator=g, dtype=torch.float64),
    )
    mean_ref, per_sample_ref = reference_mse(a, t)
    assert abs(float(attention_mse_loss(a, t)) - mean_ref) < 1e-12
    assert (
        abs(float(attention_mse_loss(a, t, reduction="sum_over_dim_mean_over_batch")) - per_sample_ref)
        < 1e-12
    )
    torch.testing.assert_close(attention_mse_loss(a, t, reduction="none"), (a - t) ** 2)
    torch.testing.assert_close(attention_mse_loss(a, t), torch.nn.functional.mse_loss(a, t))


def test_gradcheck_float64() -> None:
    g = torch.Generator().manual_seed(1)
    p = torch.randn(6, generator=g, dtype=torch.float64, requires_grad=True)
    # Keep |e| away from beta and the hinge away from 0: the losses are not differentiable exactly there.
    t = (p.detach() + torch.tensor([0.1, -0.3, 1.5, -2.0, 0.4, 3.0], dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(lambda x, y: perceptibility_regression_loss(x, y), (p, t))
    q = torch.tensor([-1.3, 0.2, 0.7, 2.2], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: index_diversion_loss(x, 1.0, 0.1, 0.8), (q,))
    a = torch.randn(3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    for reduction in ("mean", "sum_over_dim_mean_over_batch"):
        assert torch.autograd.gradcheck(
            lambda x, y, r=reduction: attention_mse_loss(x, y, reduction=r), (a, b)
        )


@settings(max_examples=50, deadline=None)
@given(
    values=st.lists(st.floats(-50, 50), min_size=1, max_size=8),
    tau=st.floats(0.0, 3.0),
    mu=st.floats(-2, 2),
    sigma=st.floats(0.1, 5),
)
def test_diversion_loss_zero_exactly_above_tau(
    values: list[float], tau: float, mu: float, sigma: float
) -> None:
    pred = torch.tensor(values, dtype=torch.float64)
    loss = index_diversion_loss(pred, tau, mu, sigma, reduction="none")
    above = (pred - mu) / sigma >= tau
    assert bool((loss[above] == 0).all())
    assert bool((loss[~above] > 0).all())
    assert bool((loss >= 0).all())


def test_bf16_autocast_float32() -> None:
    p, t = torch.randn(4).bfloat16(), torch.randn(4).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        for value in (
            perceptibility_regression_loss(p, t),
            index_diversion_loss(p, 1.0),
            attention_mse_loss(torch.randn(2, 3).bfloat16(), torch.randn(2, 3)),
        ):
            assert value.dtype == torch.float32 and bool(torch.isfinite(value))


def test_bad_input() -> None:
    with pytest.raises(ValueError, match=r"index of shape \(3,\), got shape \(4,\)"):
        perceptibility_regression_loss(torch.rand(3), torch.rand(4))
    with pytest.raises(ValueError, match=r"reduction to be one of \['mean', 'sum', 'none'\], got 'avg'"):
        perceptibility_regression_loss(torch.rand(3), torch.rand(3), reduction="avg")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"beta to be a finite float > 0, got 0"):
        perceptibility_regression_loss(torch.rand(3), torch.rand(3), beta=0)
    with pytest.raises(ValueError, match=r"sigma to be a finite float > 0, got -1.0"):
        index_diversion_loss(torch.rand(3), 1.0, sigma=-1.0)
    with pytest.raises(ValueError, match=r"sigma > 0, got 0.0"):
        index_diversion_loss(torch.rand(3), 1.0, sigma=torch.tensor(0.0))
    with pytest.raises(ValueError, match=r"mu with finite values"):
        index_diversion_loss(torch.rand(3), 1.0, mu=torch.tensor(float("nan")))
    with pytest.raises(ValueError, match=r"tau to be a finite float, got inf"):
        index_diversion_loss(torch.rand(3), float("inf"))
    with pytest.raises(ValueError, match=r"predicted_index of shape \(B,\), got shape \(3, 1\)"):
        index_diversion_loss(torch.rand(3, 1), 1.0)
    with pytest.raises(ValueError, match=r"non-empty predicted_index"):
        index_diversion_loss(torch.rand(0), 1.0)
    with pytest.raises(ValueError, match=r"target of shape \(2, 3\), got shape \(2, 4\)"):
        attention_mse_loss(torch.rand(2, 3), torch.rand(2, 4))
    with pytest.raises(ValueError, match=r"target on the device of attended \(cpu\), got meta"):
        attention_mse_loss(torch.rand(2, 3), torch.empty(2, 3, device="meta"))
