"""The perceptibility heads accept every feature-map dtype autocast can produce, in train and eval mode."""

from __future__ import annotations

import pytest
import torch

from recognizability.nn import PerceptibilityAttention, PerceptibilityRegression

DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("training", [True, False])
def test_regression_accepts_every_floating_dtype(dtype: torch.dtype, training: bool) -> None:
    torch.manual_seed(0)
    head = PerceptibilityRegression(16 * 3 * 3, dropout=0.5).train(training)
    feature_map = torch.randn(4, 16, 3, 3).to(dtype).requires_grad_()
    predicted = head(feature_map)
    assert predicted.dtype == torch.float32 and predicted.shape == (4,)
    predicted.sum().backward()
    assert feature_map.grad is not None and feature_map.grad.dtype == dtype
    assert bool(torch.isfinite(feature_map.grad).all())
    if not training:  # deterministic: the same as the float32 map rounded to the dtype
        want = head(feature_map.detach().double().float())
        tolerance = {torch.float16: 1e-2, torch.bfloat16: 1e-6}.get(dtype, 1e-5)
        torch.testing.assert_close(predicted, want, atol=tolerance, rtol=tolerance)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("training", [True, False])
def test_attention_accepts_every_floating_dtype(dtype: torch.dtype, training: bool) -> None:
    torch.manual_seed(1)
    head = PerceptibilityAttention(16, 8, (3, 3)).train(training)
    feature_map = torch.randn(4, 16, 3, 3).to(dtype).requires_grad_()
    attended = head(feature_map)
    assert attended.dtype == torch.float32 and attended.shape == (4, 8)
    attended.sum().backward()
    assert feature_map.grad is not None and feature_map.grad.dtype == dtype
    want = head(feature_map.detach().float())
    torch.testing.assert_close(attended, want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_heads_under_autocast_in_both_modes(dtype: torch.dtype) -> None:
    regression = PerceptibilityRegression(16 * 3 * 3, dropout=0.5)
    attention = PerceptibilityAttention(16, 8, (3, 3))
    for training in (True, False):
        regression.train(training)
        attention.train(training)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            feature_map = torch.randn(4, 16, 3, 3).to(dtype)
            assert regression(feature_map).dtype == torch.float32
            assert attention(feature_map).dtype == torch.float32


def test_float64_modules_compute_in_float64() -> None:
    regression = PerceptibilityRegression(16 * 3 * 3).double().eval()
    feature_map = torch.randn(2, 16, 3, 3, dtype=torch.float64)
    want = (feature_map.flatten(1) @ regression.fc.weight.T + regression.fc.bias).squeeze(1)
    torch.testing.assert_close(regression(feature_map), want.float())
    attention = PerceptibilityAttention(16, 8, (3, 3)).double()
    assert attention(feature_map.float()).dtype == torch.float32
