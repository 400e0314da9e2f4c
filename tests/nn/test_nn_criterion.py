"""RecognizabilityLoss (Eq. 10): total = weighted functional terms; switches, gradient paths, outputs."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from recognizability.functional import (
    attention_mse_loss,
    index_diversion_loss,
    perceptibility_regression_loss,
    recognizability_index,
)
from recognizability.nn import (
    ArcFace,
    PerceptibilityAttention,
    PerceptibilityRegression,
    RecognizabilityLoss,
    RecognizabilityLossOutput,
    UICenter,
)

B, C, D, CH, H, W = 6, 11, 8, 16, 3, 3


def make_step(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, ArcFace, UICenter]:
    torch.manual_seed(seed)
    fm = torch.randn(B, CH, H, W, requires_grad=True)
    e = torch.randn(B, D, requires_grad=True)
    y = torch.randint(0, C, (B,))
    ui = UICenter(D)
    ui.fit(torch.randn(30, D))
    return fm, e, y, ArcFace(D, C), ui


def test_total_is_eq10_of_functional_terms() -> None:
    fm, e, y, head, ui = make_step()
    crit = RecognizabilityLoss(CH, (H, W), D, tau=1.3).eval()  # eval: dropout off, outputs deterministic
    assert isinstance(crit.regression, PerceptibilityRegression)
    assert isinstance(crit.attention, PerceptibilityAttention)
    arc = head(e, y)
    out = crit(fm, e, y, arc, ui)
    assert isinstance(out, RecognizabilityLossOutput)
    assert [f.name for f in dataclasses.fields(out)] == [
        "total", "classification", "regression", "diversion", "attention", "index", "predicted_index"
    ]  # fmt: skip
    xi = recognizability_index(arc.cosine, y, ui.cosine(e))
    pred = crit.regression(fm)
    reg = perceptibility_regression_loss(pred, xi, beta=0.75)
    div = index_diversion_loss(pred, 1.3)
    att = attention_mse_loss(crit.attention(fm), ui.project_away(e))
    torch.testing.assert_close(out.index, xi.detach())
    torch.testing.assert_close(out.predicted_index, pred)
    torch.testing.assert_close(out.classification, arc.loss)
    torch.testing.assert_close(out.regression, reg)
    torch.testing.assert_close(out.diversion, div)
    torch.testing.assert_close(out.attention, att)
    torch.testing.assert_close(out.total, arc.loss + 5.0 * reg + 2.0 * div + 1.0 * att)
    assert not out.index.requires_grad
    assert list(out) == [getattr(out, f.name) for f in dataclasses.fields(out)]


def test_weights_are_named_apart_from_smooth_l1_threshold() -> None:
    crit = RecognizabilityLoss(CH, (H, W), D)
    assert (crit.regression_weight, crit.diversion_weight, crit.attention_weight) == (5.0, 2.0, 1.0)
    assert crit.smooth_l1_beta == 0.75


@pytest.mark.parametrize(
    ("use_regression", "use_diversion", "use_attention"),
    [
        (False, False, False),
        (False, True, False),
        (True, False, False),
        (False, False, True),
        (True, True, True),
    ],
)
def test_switched_off_terms_are_zero_and_their_modules_do_not_run(
    use_regression: bool, use_diversion: bool, use_attention: bool
) -> None:
    fm, e, y, head, ui = make_step(1)
    crit = RecognizabilityLoss(
        CH, (H, W), D, use_regression=use_regression, use_diversion=use_diversion, use_attention=use_attention
    )
    calls: list[str] = []
    for name in ("regression", "attention", "index", "diversion"):
        getattr(crit, name).register_forward_hook(lambda *_, n=name: calls.append(n))
    arc = head(e, y)
    out = crit(fm, e, y, arc, ui)
    assert ("regression" in calls) == (use_regression or use_diversion)  # L_ID acts on xi_hat
    assert ("index" in calls) == use_regression
    assert ("diversion" in calls) == use_diversion
    assert ("attention" in calls) == use_attention
    for flag, term in (
        (use_regression, out.regression),
        (use_diversion, out.diversion),
        (use_attention, out.attention),
    ):
        if not flag:
            assert term.shape == () and float(term) == 0.0
    assert out.index.shape == (B,) and out.predicted_index.shape == (B,)
    out.total.backward()


def test_targets_detached_by_default_and_gradient_options() -> None:
    fm, e, y, head, ui = make_step(2)
    # Only the regression term: with the detached index the embeddings get no gradient from it.
    crit = RecognizabilityLoss(CH, (H, W), D, use_diversion=False, use_attention=False)
    arc = head(e, y)
    out = crit(fm, e, y, arc, ui)
    assert out.regression.grad_fn is not None
    (grad_e,) = torch.autograd.grad(out.regression, e, allow_unused=True)
    assert grad_e is None
    crit_grad = RecognizabilityLoss(
        CH, (H, W), D, use_diversion=False, use_attention=False, index_gradient=True
    )
    out = crit_grad(fm, e, y, head(e, y), ui)
    (grad_e,) = torch.autograd.grad(out.regression, e)
    assert grad_e is not None and float(grad_e.abs().sum()) > 0
    # Attention target v'.
    crit_att = RecognizabilityLoss(CH, (H, W), D, use_regression=False, use_diversion=False)
    (grad_e,) = torch.autograd.grad(crit_att(fm, e, y, head(e, y), ui).attention, e, allow_unused=True)
    assert grad_e is None
    crit_att = RecognizabilityLoss(
        CH, (H, W), D, use_regression=False, use_diversion=False, attention_target_gradient=True
    )
    (grad_e,) = torch.autograd.grad(crit_att(fm, e, y, head(e, y), ui).attention, e)
    assert float(grad_e.abs().sum()) > 0


def test_bf16_autocast_gives_finite_float32_terms() -> None:
    fm, e, y, head, ui = make_step(3)
    crit = RecognizabilityLoss(CH, (H, W), D)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = crit(fm, e, y, head(e, y), ui)
    for field in dataclasses.fields(out):
        value = getattr(out, field.name)
        assert value.dtype == torch.float32, field.name
        assert bool(torch.isfinite(value).all()), field.name
    out.total.backward()


def test_bad_input() -> None:
    fm, e, y, head, ui = make_step(4)
    crit = RecognizabilityLoss(CH, (H, W), D)
    arc = head(e, y)
    with pytest.raises(ValueError, match=r"feature_map of shape \(6, 16, 3, 3\), got shape \(5, 16, 3, 3\)"):
        crit(fm[:5], e, y, arc, ui)
    with pytest.raises(ValueError, match=r"feature_map of shape \(6, 16, 3, 3\), got shape \(6, 8, 3, 3\)"):
        crit(fm[:, :8], e, y, arc, ui)
    with pytest.raises(ValueError, match=r"values in \[0, 11\), got values in \[11, 11\]"):
        crit(fm, e, torch.full((B,), 11), arc, ui)
    with pytest.raises(RuntimeError, match=r"holds no centre yet"):
        crit(fm, e, y, arc, UICenter(D))
    with pytest.raises(ValueError, match=r"mse_reduction to be one of"):
        RecognizabilityLoss(CH, (H, W), D, mse_reduction="none")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"use_attention to be a bool, got int"):
        RecognizabilityLoss(CH, (H, W), D, use_attention=1)  # type: ignore[arg-type]
