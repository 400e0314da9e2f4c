"""ArcFace, RecognizabilityIndex, IndexDiversionLoss, PerceptibilityRegression, PerceptibilityAttention:
each module equals its function (or a hand-written reference for the network layers)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from recognizability.functional import (
    DEFAULT_TAU,
    arcface_logits,
    cosine_logits,
    index_diversion_loss,
    recognizability_index,
)
from recognizability.nn import (
    ArcFace,
    IndexDiversionLoss,
    MarginHeadOutput,
    PerceptibilityAttention,
    PerceptibilityRegression,
    RecognizabilityIndex,
)


def test_arcface_module_equals_functions() -> None:
    torch.manual_seed(0)
    head = ArcFace(8, 20, scale=32.0, margin=0.3)
    assert head.weight.shape == (20, 8) and isinstance(head.weight, torch.nn.Parameter)
    e, y = torch.randn(5, 8), torch.randint(0, 20, (5,))
    out = head(e, y)
    assert isinstance(out, MarginHeadOutput)
    assert [f.name for f in dataclasses.fields(out)] == [
        "logits", "cosine", "loss", "positive_cosine", "nearest_negative_cosine"
    ]  # fmt: skip
    cosine = cosine_logits(e, head.weight)
    torch.testing.assert_close(out.cosine, cosine)
    torch.testing.assert_close(out.logits, arcface_logits(cosine, y, 32.0, 0.3))
    torch.testing.assert_close(out.loss, F.cross_entropy(out.logits, y))
    # The index parts are the pre-margin cosines: the gather at the label and the best other class.
    torch.testing.assert_close(out.positive_cosine, cosine.gather(1, y[:, None]).squeeze(1), rtol=0, atol=0)
    others = cosine.scatter(1, y[:, None], -2.0).max(dim=1).values
    torch.testing.assert_close(out.nearest_negative_cosine, others, rtol=0, atol=0)
    logits, cos, loss = out
    assert logits is out.logits and cos is out.cosine and loss is out.loss
    out.loss.backward()
    assert head.weight.grad is not None and bool(torch.isfinite(head.weight.grad).all())


def test_arcface_output_alias_is_deprecated() -> None:
    import recognizability
    import recognizability.nn
    import recognizability.nn.arcface

    for module in (recognizability, recognizability.nn, recognizability.nn.arcface):
        with pytest.warns(
            DeprecationWarning,
            match=r"ArcFaceOutput is deprecated and will be removed in the next release; use "
            r"MarginHeadOutput",
        ):
            alias = module.ArcFaceOutput
        assert alias is MarginHeadOutput
    with pytest.raises(AttributeError, match=r"has no attribute 'ArcFaceOutputs'"):
        _ = recognizability.nn.ArcFaceOutputs
    assert (
        "ArcFaceOutput" not in recognizability.__all__ and "ArcFaceOutput" not in recognizability.nn.__all__
    )


def test_arcface_init_and_bad_arguments() -> None:
    torch.manual_seed(0)
    head = ArcFace(64, 1000)
    assert (
        abs(float(head.weight.detach().std()) - 0.01) < 1e-3
        and abs(float(head.weight.detach().mean())) < 1e-3
    )
    with pytest.raises(ValueError, match=r"num_classes to be an int >= 2, got 1"):
        ArcFace(8, 1)
    with pytest.raises(TypeError, match=r"embedding_dim to be a positive int, got 8.0"):
        ArcFace(8.0, 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"scale to be a finite float > 0, got 0.0"):
        ArcFace(8, 3, scale=0.0)
    with pytest.raises(ValueError, match=r"margin to be a float in \[0, pi\), got 3.5"):
        ArcFace(8, 3, margin=3.5)
    with pytest.raises(ValueError, match=r"expected embeddings of shape \(B, 64\), got shape \(2, 7\)"):
        head(torch.randn(2, 7), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"values in \[0, 1000\), got values in \[0, 1000\]"):
        head(torch.randn(2, 64), torch.tensor([0, 1000]))


def test_index_module_equals_function() -> None:
    c, y, u = torch.rand(6, 5) * 2 - 1, torch.arange(6) % 5, torch.rand(6)
    torch.testing.assert_close(
        RecognizabilityIndex(eps=1e-3)(c, y, u), recognizability_index(c, y, u, eps=1e-3)
    )


def test_diversion_module_equals_function_and_ui_statistics() -> None:
    pred = torch.randn(10)
    module = IndexDiversionLoss()
    assert module.tau == DEFAULT_TAU
    torch.testing.assert_close(module(pred), index_diversion_loss(pred, DEFAULT_TAU))
    ui_scores = torch.randn(50) * 0.5 - 2.0
    module = IndexDiversionLoss(tau=1.5)
    module.set_ui_statistics(ui_scores)
    torch.testing.assert_close(module.mu, ui_scores.mean())
    torch.testing.assert_close(module.sigma, ui_scores.std(correction=1))
    torch.testing.assert_close(
        module(pred), index_diversion_loss(pred, 1.5, ui_scores.mean(), ui_scores.std())
    )
    restored = IndexDiversionLoss(tau=1.5)
    restored.load_state_dict(module.state_dict())
    torch.testing.assert_close(restored(pred), module(pred))
    with pytest.raises(ValueError, match=r"positive standard deviation"):
        module.set_ui_statistics(torch.ones(5))
    torch.testing.assert_close(module.sigma, ui_scores.std())  # unchanged by the failed call


def test_regression_module_is_flatten_dropout_linear() -> None:
    torch.manual_seed(0)
    module = PerceptibilityRegression(4 * 3 * 3, dropout=0.9).eval()
    fm = torch.randn(5, 4, 3, 3)
    want = fm.flatten(1) @ module.fc.weight.T.squeeze(1) + module.fc.bias
    torch.testing.assert_close(module(fm), want)
    torch.testing.assert_close(module(fm.flatten(1)), want)
    assert module(fm).shape == (5,)
    module.train()
    torch.manual_seed(1)
    dropped = module(fm)
    assert not torch.allclose(dropped, want)  # dropout 0.9 is active in training


def test_kept_positions_form_a_bernoulli_process() -> None:
    from recognizability.nn.regression import _kept_input_positions as kept_input_positions

    torch.manual_seed(0)
    rows, features, keep = 4000, 1001, 0.1
    positions = kept_input_positions(rows, features, keep, torch.device("cpu"))
    used = positions < features
    # strictly increasing along each row, starting at >= 0, so no input is kept twice
    assert bool((positions[:, 0] >= 0).all()) and bool((positions.diff(dim=1) > 0).all())
    mask = torch.zeros(rows, features + 1)
    mask.scatter_(1, positions.clamp(max=features), 1.0)
    mask = mask[:, :features]
    # 4,004,000 Bernoulli(0.1) draws: standard error of the kept share 1.5e-4; allow 5 of them.
    assert abs(float(mask.mean()) - keep) < 5 * 1.5e-4
    # every position is kept with probability 0.1 (first, middle, last: 4,000 draws each, sd 4.7e-3)
    for column in (0, features // 2, features - 1):
        assert abs(float(mask[:, column].mean()) - keep) < 5 * 4.7e-3
    # neighbouring positions are independent: P(both kept) = 0.01 (sd of the estimate about 5e-5)
    assert abs(float((mask[:, :-1] * mask[:, 1:]).mean()) - keep**2) < 5 * 5e-5
    # the per-row count has the Binomial variance F q (1 - q) = 90.1 (within 10 %)
    assert abs(float(used.sum(1).double().var()) / (features * keep * (1 - keep)) - 1) < 0.1
    # when as many draws as inputs are taken (few inputs) no row can run out of draws
    assert kept_input_positions(3, 5, 0.5, torch.device("cpu")).shape == (3, 5)


def _dropout_linear_by_mask(x: torch.Tensor, w: torch.Tensor, dropout: float, seed: int) -> torch.Tensor:
    """Plain inverted dropout with the keep-mask of the same draws, then the projection."""
    from recognizability.nn.regression import _kept_input_positions as kept_input_positions

    torch.manual_seed(seed)
    positions = kept_input_positions(x.shape[0], x.shape[1], 1 - dropout, x.device)
    mask = torch.zeros(x.shape[0], x.shape[1] + 1, dtype=x.dtype)
    mask.scatter_(1, positions.clamp(max=x.shape[1]), 1.0)
    return (x * mask[:, : x.shape[1]] / (1 - dropout)) @ w


@pytest.mark.parametrize("dropout", [0.9, 0.5, 0.1])
def test_dropout_linear_equals_masked_formulation_and_gradchecks(dropout: float) -> None:
    from recognizability.nn.regression import _dropout_linear as dropout_linear

    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 40, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(40, generator=g, dtype=torch.float64, requires_grad=True)

    def seeded(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        torch.manual_seed(7)
        return dropout_linear(a, b, dropout)

    got, want = seeded(x, w), _dropout_linear_by_mask(x, w, dropout, seed=7)
    torch.testing.assert_close(got, want)
    upstream = torch.randn(6, generator=g, dtype=torch.float64)
    torch.testing.assert_close(
        torch.autograd.grad(got, (x, w), upstream), torch.autograd.grad(want, (x, w), upstream)
    )
    assert torch.autograd.gradcheck(seeded, (x, w))


def test_regression_dropout_is_unbiased() -> None:
    torch.manual_seed(0)
    module = PerceptibilityRegression(6, dropout=0.9)
    x = torch.randn(1, 6).expand(20000, 6)
    with torch.no_grad():
        train_mean = module(x).mean()
        eval_value = module.eval()(x[:1])[0]
    # E[output] equals the eval output; the sample mean of 20,000 draws is within a few standard errors.
    spread = float((module.fc.weight.detach() * x[0]).norm()) * (0.9 / 0.1 / 20000) ** 0.5
    assert abs(float(train_mean - eval_value)) < 5 * spread
    x_grad = torch.randn(3, 6, requires_grad=True)
    module.train()(x_grad).sum().backward()
    assert x_grad.grad is not None and bool(torch.isfinite(x_grad.grad).all())


def test_regression_bad_input() -> None:
    module = PerceptibilityRegression(4 * 3 * 3)
    with pytest.raises(ValueError, match=r"C\*H\*W = F = 36, got shape \(5, 4, 3, 2\)"):
        module(torch.randn(5, 4, 3, 2))
    with pytest.raises(ValueError, match=r"dropout to be a float in \[0, 1\), got 1.0"):
        PerceptibilityRegression(4, dropout=1.0)


def reference_cbam_attention(module: PerceptibilityAttention, fm: torch.Tensor) -> torch.Tensor:
    """CBAM written out per sample from the paper's description: channel then spatial attention."""
    mlp1, mlp2 = module.channel_mlp[0], module.channel_mlp[2]
    outputs = []
    for x in fm:  # (C, H, W)
        avg, mx = x.mean(dim=(1, 2)), x.amax(dim=(1, 2))
        channel = torch.sigmoid(mlp2(torch.relu(mlp1(avg))) + mlp2(torch.relu(mlp1(mx))))
        x = x * channel[:, None, None]
        maps = torch.stack([x.mean(dim=0), x.amax(dim=0)])[None]
        spatial = torch.sigmoid(
            F.conv2d(maps, module.spatial_conv.weight, padding=module.spatial_conv.padding)
        )
        x = x * spatial[0]
        outputs.append(module.fc(x.reshape(-1)))
    return torch.stack(outputs)


def test_attention_matches_cbam_reference() -> None:
    torch.manual_seed(0)
    module = PerceptibilityAttention(32, 10, spatial_size=(5, 4), reduction=16, kernel_size=3)
    assert module.channel_mlp[0].out_features == 2 and module.spatial_conv.kernel_size == (3, 3)
    fm = torch.randn(3, 32, 5, 4)
    torch.testing.assert_close(module(fm), reference_cbam_attention(module, fm))
    with pytest.raises(ValueError, match=r"feature_map of shape \(B, 32, 5, 4\), got shape \(3, 32, 7, 7\)"):
        module(torch.randn(3, 32, 7, 7))
    with pytest.raises(ValueError, match=r"odd kernel_size, got 4"):
        PerceptibilityAttention(32, 10, kernel_size=4)


def test_modules_float32_under_bf16_autocast() -> None:
    fm = torch.randn(2, 16, 3, 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        a = PerceptibilityAttention(16, 8, spatial_size=(3, 3))(fm)
        r = PerceptibilityRegression(16 * 9)(fm)
    assert a.dtype == torch.float32 and r.dtype == torch.float32
    assert bool(torch.isfinite(a).all()) and bool(torch.isfinite(r).all())
    # A bfloat16 feature map (a backbone run under autocast) through the training-mode dropout kernel.
    fm_bf16 = torch.randn(2, 16, 3, 3).bfloat16().requires_grad_()
    regression = PerceptibilityRegression(16 * 9)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        predicted = regression(fm_bf16)
    predicted.sum().backward()
    assert predicted.dtype == torch.float32 and fm_bf16.grad is not None
    assert fm_bf16.grad.dtype == torch.bfloat16 and regression.fc.weight.grad is not None
