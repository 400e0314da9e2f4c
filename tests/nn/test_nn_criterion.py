"""RecognizabilityLoss (Eq. 10): total = weighted functional terms; switches, gradient paths, outputs."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from recognizability._validation import value_checks
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
    available_heads,
    build_head,
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
    for name in ("regression", "attention", "diversion"):
        getattr(crit, name).register_forward_hook(lambda *_, n=name: calls.append(n))
    arc = head(e, y)
    out = crit(fm, e, y, arc, ui)
    assert ("regression" in calls) == (use_regression or use_diversion)  # L_ID acts on xi_hat
    assert bool((out.index != 0).any()) == use_regression  # the index is only computed as L_L1's target
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


# ----------------------------------------------------------------------------------------------------------
# Any head's output, and plain tensors for heads outside the library
# ----------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CosineOnly:
    """A head output from outside the library: the whole pre-margin cosine and a loss, no index parts."""

    cosine: torch.Tensor
    loss: torch.Tensor


@pytest.mark.parametrize("name", available_heads())
def test_every_head_output_gives_the_index_of_its_cosine(name: str) -> None:
    fm, e, y, _, ui = make_step(5)
    head = build_head(name, D, C)
    crit = RecognizabilityLoss(CH, (H, W), D, use_attention=False).eval()
    out = head(e, y)
    got = crit(fm, e, y, out, ui)
    assert out.cosine is not None
    torch.testing.assert_close(got.index, recognizability_index(out.cosine, y, ui.cosine(e)).detach())
    torch.testing.assert_close(got.classification, out.loss)
    got.total.backward()
    assert head.weight.grad is not None


def test_parts_cosine_and_plain_tensors_agree() -> None:
    fm, e, y, head, ui = make_step(6)
    crit = RecognizabilityLoss(CH, (H, W), D).eval()
    out = head(e, y)
    assert out.cosine is not None
    from_output = crit(fm, e, y, out, ui)
    calls = [
        crit(fm, e, y, CosineOnly(cosine=out.cosine, loss=out.loss), ui),
        crit(fm, e, y, ui_center=ui, cosine=out.cosine, classification_loss=out.loss),
        crit(
            fm,
            e,
            y,
            ui_center=ui,
            positive_cosine=out.positive_cosine,
            nearest_negative_cosine=out.nearest_negative_cosine,
            classification_loss=out.loss,
        ),
    ]
    for other in calls:
        for field in dataclasses.fields(from_output):
            torch.testing.assert_close(getattr(other, field.name), getattr(from_output, field.name))


def test_index_gradient_reaches_the_prototypes_through_the_parts() -> None:
    fm, e, y, head, ui = make_step(7)
    crit = RecognizabilityLoss(CH, (H, W), D, use_diversion=False, use_attention=False, index_gradient=True)
    out = crit(fm, e, y, head(e, y), ui)
    (grad_w,) = torch.autograd.grad(out.regression, head.weight)
    assert float(grad_w.abs().sum()) > 0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({}, TypeError, r"expected the margin head's output: head_output, or classification_loss"),
        ({"cosine": torch.rand(B, C)}, TypeError, r"expected the margin head's output"),
        (
            {"classification_loss": torch.tensor(1.0)},
            TypeError,
            r"expected cosine, or positive_cosine and nearest_negative_cosine, with classification_loss",
        ),
        (
            {"classification_loss": torch.tensor(1.0), "positive_cosine": torch.rand(B)},
            TypeError,
            r"positive_cosine and nearest_negative_cosine together, got only one",
        ),
        (
            {"classification_loss": torch.ones(2), "cosine": torch.rand(B, C)},
            ValueError,
            r"classification_loss of shape \(\), got shape \(2,\)",
        ),
        (
            {"classification_loss": torch.tensor(1.0), "cosine": torch.rand(B + 1, C)},
            ValueError,
            r"cosine of shape \(6, C\), got shape \(7, 11\)",
        ),
        (
            {"classification_loss": torch.tensor(1.0), "cosine": torch.rand(B, 1)},
            ValueError,
            r"C >= 2 classes",
        ),
        (
            {
                "classification_loss": torch.tensor(1.0),
                "positive_cosine": torch.rand(B),
                "nearest_negative_cosine": torch.rand(B, 1),
            },
            ValueError,
            r"nearest_negative_cosine of shape \(6,\), got shape \(6, 1\)",
        ),
        (
            {"classification_loss": torch.tensor(1), "cosine": torch.rand(B, C)},
            TypeError,
            r"classification_loss with a floating-point dtype",
        ),
    ],
)
def test_plain_tensor_arguments_are_checked(
    kwargs: dict[str, torch.Tensor], error: type[Exception], match: str
) -> None:
    fm, e, y, _, ui = make_step(8)
    crit = RecognizabilityLoss(CH, (H, W), D)
    with pytest.raises(error, match=match):
        crit(fm, e, y, ui_center=ui, **kwargs)


def test_head_output_and_ui_center_are_checked() -> None:
    fm, e, y, head, ui = make_step(9)
    crit = RecognizabilityLoss(CH, (H, W), D)
    out = head(e, y)
    with pytest.raises(TypeError, match=r"either head_output or plain tensors, got head_output and cosine"):
        crit(fm, e, y, out, ui, cosine=torch.rand(B, C))
    with pytest.raises(TypeError, match=r"head_output with a loss attribute.*got Tensor"):
        crit(fm, e, y, torch.rand(B, C), ui)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"ui_center to be a UICenter, got NoneType"):
        crit(fm, e, y, out)
    with pytest.raises(
        ValueError, match=r"labels of shape \(B,\) = \(6,\) to match head_output.cosine, got shape \(5,\)"
    ):
        crit(fm, e, y[:5], out, ui)
    with pytest.raises(ValueError, match=r"head_output.positive_cosine of shape \(5,\), got shape \(6,\)"):
        crit(fm[:5], e[:5], y[:5], out, ui)


def test_a_failing_call_runs_no_module_and_draws_nothing() -> None:
    fm, e, y, head, ui = make_step(10)
    crit = RecognizabilityLoss(CH, (H, W), D)  # training mode: the regression module would draw dropout
    calls: list[str] = []
    for name in ("regression", "attention", "diversion"):
        getattr(crit, name).register_forward_hook(lambda *_, n=name: calls.append(n))
    out = head(e, y)
    state = torch.get_rng_state()
    with pytest.raises(RuntimeError, match=r"holds no centre yet"):
        crit(fm, e, y, out, UICenter(D))
    with pytest.raises(ValueError, match=r"values in \[0, 11\)"):
        crit(fm, e, torch.full((B,), 11), ui_center=ui, cosine=out.cosine, classification_loss=out.loss)
    assert calls == []
    assert torch.equal(torch.get_rng_state(), state)
    crit(fm, e, y, out, ui)  # the probe works: a good call runs the modules and draws dropout
    assert calls == ["regression", "diversion", "attention"]
    assert not torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"classification_loss": torch.tensor(1.0), "cosine": torch.rand(B, C) * 3 + 1.5},
            r"cosine to hold cosines in \[-1, 1\] \(pre-margin, unscaled\), got a value of magnitude",
        ),
        (
            {"classification_loss": torch.tensor(1.0), "cosine": torch.full((B, C), torch.nan)},
            r"expected cosine with finite values, got 66 non-finite value",
        ),
        (
            {"classification_loss": torch.tensor(torch.nan), "cosine": torch.rand(B, C)},
            r"expected classification_loss with finite values, got 1 non-finite value",
        ),
        (
            {
                "classification_loss": torch.tensor(1.0),
                "positive_cosine": torch.full((B,), 1.5),
                "nearest_negative_cosine": torch.rand(B),
            },
            r"positive_cosine to hold cosines in \[-1, 1\].*magnitude 1.5",
        ),
        (
            {
                "classification_loss": torch.tensor(1.0),
                "positive_cosine": torch.rand(B),
                "nearest_negative_cosine": torch.full((B,), -torch.inf),
            },
            r"nearest_negative_cosine with finite values, got 6 non-finite",
        ),
        (
            {
                "classification_loss": torch.tensor(1.0),
                "cosine": torch.rand(B, C),
                "embeddings": torch.tensor(torch.nan),
            },
            r"expected embeddings with finite values, got 48 non-finite",
        ),
        (
            {
                "classification_loss": torch.tensor(1.0),
                "cosine": torch.rand(B, C),
                "feature_map": torch.tensor(torch.inf),
            },
            r"expected feature_map with finite values, got 864 non-finite",
        ),
    ],
)
def test_non_finite_or_out_of_range_head_values_are_refused_before_any_module_runs(
    kwargs: dict[str, torch.Tensor], match: str
) -> None:
    """Before: out-of-range cosines silently gave index 0, NaN inputs a NaN total."""
    fm, e, y, _, ui = make_step(13)
    kwargs = dict(kwargs)
    if "embeddings" in kwargs:  # one NaN/inf value filled into the whole tensor
        e = torch.full_like(e, kwargs.pop("embeddings").item())
    if "feature_map" in kwargs:
        fm = torch.full_like(fm, kwargs.pop("feature_map").item())
    crit = RecognizabilityLoss(CH, (H, W), D)
    calls: list[str] = []
    for name in ("regression", "attention", "diversion"):
        getattr(crit, name).register_forward_hook(lambda *_, n=name: calls.append(n))
    state = torch.get_rng_state()
    with pytest.raises(ValueError, match=match):
        crit(fm, e, y, ui_center=ui, **kwargs)
    assert calls == [] and torch.equal(torch.get_rng_state(), state)
    with value_checks(False):  # the checks are value checks: off, nothing is read on the host
        out = crit(fm, e, y, ui_center=ui, **kwargs)
    assert calls == ["regression", "diversion", "attention"] and out.total.shape == ()
    cosine_slightly_above_one = torch.rand(B, C).clamp(max=0.5)
    cosine_slightly_above_one[:, 0] = 1.0 + 1e-6  # rounding: accepted
    good_fm, good_e, *_ = make_step(13)
    crit(
        good_fm,
        good_e,
        y,
        ui_center=ui,
        classification_loss=torch.tensor(1.0),
        cosine=cosine_slightly_above_one,
    )


def test_feature_map_on_another_device_is_reported() -> None:
    _, e, y, head, ui = make_step(11)
    crit = RecognizabilityLoss(CH, (H, W), D)
    with pytest.raises(ValueError, match=r"feature_map on the device of embeddings \(cpu\), got meta"):
        crit(torch.empty(B, CH, H, W, device="meta"), e, y, head(e, y), ui)


def test_a_head_without_the_whole_cosine_gives_the_same_terms() -> None:
    """ChunkedArcFace never builds (B, C): its two index parts give the dense ArcFace's index and terms."""
    from recognizability.nn import ChunkedArcFace

    fm, e, y, head, ui = make_step(12)
    chunked = ChunkedArcFace(D, C, chunk_size=4)
    with torch.no_grad():
        chunked.weight.copy_(head.weight)
    crit = RecognizabilityLoss(CH, (H, W), D).eval()
    out = chunked(e, y)
    assert out.cosine is None and out.logits is None
    got, want = crit(fm, e, y, out, ui), crit(fm, e, y, head(e, y), ui)
    for field in dataclasses.fields(want):
        torch.testing.assert_close(getattr(got, field.name), getattr(want, field.name))
