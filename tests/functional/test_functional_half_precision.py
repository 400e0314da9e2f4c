"""Property tests: the method's functions give finite values and finite gradients for finite inputs in
float16, bfloat16 and float32, including zero-norm rows, ``cos_y = +-1`` and huge and tiny norms.

Embeddings, prototypes, UI centre, predicted index and attention output are leaves in the tested dtype; the
whole pipeline (cosines, ArcFace logits and cross-entropy, the index, the regression, diversion and
attention losses, the projection of Eq. 8) runs forward and backward, and every gradient must be finite.

Each function casts its gradient back to the input's dtype once, saturated at half the dtype's largest
finite value where the true gradient is larger (near-zero norms, the index near ``cos_y = 1``). Autograd adds
the gradients of one half-precision tensor's uses in that half precision: two saturated contributions still
sum to a finite value, more may not. The functional tests give each function its own leaf; the criterion
test feeds one embeddings tensor to a margin head and to the criterion with both target gradients on (each
module upcasts it once, so it gets two contributions).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from recognizability.functional import (
    arcface_logits,
    attention_mse_loss,
    cosine_logits,
    index_diversion_loss,
    perceptibility_regression_loss,
    project_away,
    recognizability_index,
    recognizability_index_from_parts,
    ui_cosine,
)
from recognizability.nn import RecognizabilityLoss, UICenter, available_heads, build_head

DTYPES = [torch.float16, torch.bfloat16, torch.float32]
ROW_KINDS = ["random", "zero", "prototype", "minus_prototype", "huge", "tiny"]


def _exponent_range(dtype: torch.dtype) -> tuple[int, int]:
    """Powers of two from the smallest subnormal to half the largest finite value of ``dtype``."""
    info = torch.finfo(dtype)
    smallest = int(math.log2(info.smallest_normal * info.eps))
    return smallest, int(math.log2(info.max)) - 1


@st.composite
def pipeline_inputs(
    draw: st.DrawFn,
    dtypes: list[torch.dtype],
    max_exponent: int | None = None,
    classes: int | None = None,
    dim: int | None = None,
) -> dict:
    """Prototypes, embeddings (one row kind each), UI centre, predicted index and attention output, with
    magnitudes ``2**e`` for exponents ``e`` over the dtype's range; few draws, so generation stays cheap.
    ``classes`` and ``dim`` fix ``C`` and ``D`` (drawn otherwise)."""
    dtype = draw(st.sampled_from(dtypes))
    low, high = _exponent_range(dtype)
    if max_exponent is not None:
        high = min(high, max_exponent)
    batch = draw(st.integers(1, 5))
    classes = draw(st.integers(2, 5)) if classes is None else classes
    dim = draw(st.integers(2, 8)) if dim is None else dim
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    kinds = draw(st.lists(st.sampled_from(ROW_KINDS), min_size=batch, max_size=batch))
    count = classes + 2 * batch + 1  # prototypes, embeddings, attention outputs, centre
    exponents = draw(st.lists(st.integers(low, high), min_size=count, max_size=count))
    for i, kind in enumerate(kinds):
        if kind in ("huge", "tiny"):
            exponents[classes + i] = high if kind == "huge" else low
    direction = torch.randn(count, dim, generator=g, dtype=torch.float64)
    direction = direction / direction.abs().amax(dim=1, keepdim=True)  # largest entry +-1
    values = (direction * torch.tensor(exponents, dtype=torch.float64).exp2().unsqueeze(1)).to(dtype)
    prototypes, embeddings = values[:classes], values[classes : classes + batch].clone()
    attended, center = values[classes + batch : -1], values[-1]
    labels = torch.randint(0, classes, (batch,), generator=g)
    for i, kind in enumerate(kinds):
        if kind == "zero":
            embeddings[i] = 0
        elif kind in ("prototype", "minus_prototype"):
            embeddings[i] = prototypes[labels[i]] * (1.0 if kind == "prototype" else -1.0)  # cos_y = +-1
    scale = 2.0 ** draw(st.integers(-4, min(high, 20)))
    predicted = (torch.randn(batch, generator=g, dtype=torch.float64) * scale).to(dtype)
    return {
        "embeddings": embeddings,
        "prototypes": prototypes,
        "labels": labels,
        "center": center,
        "predicted_index": predicted,
        "attended": attended,
    }


def _leaves(inputs: dict, *names: str) -> dict:
    """Leaves for ``names``; ``"embeddings_<use>"`` is a separate leaf of the embeddings for each use."""
    return {name: inputs[name.split("_for_")[0]].clone().requires_grad_() for name in names}


def _assert_finite_gradients(leaves: dict, loss: torch.Tensor) -> None:
    assert bool(torch.isfinite(loss).all()), loss
    loss.backward()
    for name, leaf in leaves.items():
        assert leaf.grad is not None, name
        assert leaf.grad.dtype == leaf.dtype, name
        assert bool(torch.isfinite(leaf.grad).all()), (name, leaf.grad)


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_cosines_arcface_and_index_have_finite_gradients_at_every_scale(
    dtype: torch.dtype, data: st.DataObject
) -> None:
    """Scale-invariant part of the pipeline over the whole finite range of every dtype."""
    inputs = data.draw(pipeline_inputs([dtype]))
    x = _leaves(inputs, "embeddings", "embeddings_for_ui", "prototypes", "center")
    labels = inputs["labels"]
    cosine = cosine_logits(x["embeddings"], x["prototypes"])
    classification = F.cross_entropy(arcface_logits(cosine, labels), labels)
    ui = ui_cosine(x["embeddings_for_ui"], x["center"])
    index = recognizability_index(cosine, labels, ui)  # not detached: its gradient is checked too
    positive = cosine.gather(1, labels[:, None]).squeeze(1)
    negative = cosine.scatter(1, labels[:, None], -2.0).amax(dim=1)
    parts = recognizability_index_from_parts(positive, negative, ui)
    assert bool(torch.isfinite(index).all()) and bool((index >= 0).all())
    torch.testing.assert_close(parts, index)
    # The index reaches d_UI * d_N / eps ~ 4e7 at cos_y = 1: scale it so the sum stays readable.
    _assert_finite_gradients(x, classification + 1e-8 * index.sum() + 1e-8 * parts.sum())


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=250, deadline=None)
@given(data=st.data())
def test_full_pipeline_losses_have_finite_gradients(dtype: torch.dtype, data: st.DataObject) -> None:
    """Every loss term of Eq. 10 on top of the cosines: the whole float16 range; bfloat16 and float32 up to
    magnitudes 2**48, beyond which the squared error of Eq. 9 itself exceeds the float32 range."""
    inputs = data.draw(pipeline_inputs([dtype], max_exponent=None if dtype == torch.float16 else 48))
    names = ("embeddings", "embeddings_for_ui", "embeddings_for_projection", "prototypes")
    x = _leaves(inputs, *names, "center", "center_for_projection", "predicted_index", "attended")
    labels = inputs["labels"]
    cosine = cosine_logits(x["embeddings"], x["prototypes"])
    classification = F.cross_entropy(arcface_logits(cosine, labels), labels)
    index = recognizability_index(cosine, labels, ui_cosine(x["embeddings_for_ui"], x["center"]))
    regression = perceptibility_regression_loss(x["predicted_index"], index)  # index not detached
    diversion = index_diversion_loss(x["predicted_index"], tau=1.0)
    target = project_away(x["embeddings_for_projection"], x["center_for_projection"])
    attention = attention_mse_loss(x["attended"], target)  # target not detached: its gradient is checked
    for term in (classification, regression, diversion, attention):
        assert term.dtype == torch.float32
    _assert_finite_gradients(x, classification + 5 * regression + 2 * diversion + attention)


@settings(max_examples=100, deadline=None)
@given(inputs=pipeline_inputs([torch.float32], max_exponent=20))
def test_pipeline_under_bfloat16_autocast_is_finite_and_float32(inputs: dict) -> None:
    names = ("embeddings", "embeddings_for_ui", "embeddings_for_projection", "prototypes")
    x = _leaves(inputs, *names, "center", "center_for_projection", "attended")
    labels = inputs["labels"]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        cosine = cosine_logits(x["embeddings"], x["prototypes"])
        classification = F.cross_entropy(arcface_logits(cosine, labels), labels)
        index = recognizability_index(cosine, labels, ui_cosine(x["embeddings_for_ui"], x["center"]))
        target = project_away(x["embeddings_for_projection"], x["center_for_projection"])
        attention = attention_mse_loss(x["attended"], target)
    assert cosine.dtype == torch.float32 and index.dtype == torch.float32
    _assert_finite_gradients(x, classification + 1e-8 * index.sum() + attention)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_index_of_half_precision_cosines_has_finite_gradients(
    dtype: torch.dtype, data: st.DataObject
) -> None:
    """Cosines given in half precision, ``cos_y`` anywhere up to exactly 1: the index's gradient (up to
    ``4 / eps**2`` near ``cos_y = 1``) reaches the half-precision cosines saturated, never ``inf``."""
    batch, classes = data.draw(st.integers(1, 5)), data.draw(st.integers(2, 5))
    near_one = st.sampled_from([1.0, 0.9999, 0.999, 0.997, 0.99, -1.0, 0.0])
    g = torch.Generator().manual_seed(data.draw(st.integers(0, 2**31 - 1)))
    cosine = torch.rand(batch, classes, generator=g) * 2 - 1
    labels = torch.randint(0, classes, (batch,), generator=g)
    positive = torch.tensor(data.draw(st.lists(near_one, min_size=batch, max_size=batch)))
    cosine[torch.arange(batch), labels] = positive
    ui = torch.tensor(data.draw(st.lists(near_one, min_size=batch, max_size=batch)))
    leaves = {"cosine": cosine.to(dtype).requires_grad_(), "ui": ui.to(dtype).requires_grad_()}
    index = recognizability_index(leaves["cosine"], labels, leaves["ui"])
    assert bool(torch.isfinite(index).all())
    _assert_finite_gradients(leaves, index.sum())
    parts = {"p": positive.to(dtype).requires_grad_(), "n": cosine[:, 0].to(dtype).requires_grad_()}
    from_parts = recognizability_index_from_parts(parts["p"], parts["n"], ui.to(dtype))
    _assert_finite_gradients(parts, from_parts.sum())


_CLASSES, _DIM, _CHANNELS = 5, 8, 4


@pytest.mark.parametrize("head_name", available_heads())
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_criterion_with_target_gradients_gives_one_half_precision_leaf_finite_gradients(
    head_name: str, data: st.DataObject
) -> None:
    """One float16 (or bfloat16) embeddings tensor feeds the margin head and the criterion with both target
    gradients on (the index and v' not detached): its gradient, the sum of the head's and the criterion's,
    stays finite for zero rows, ``cos_y = +-1`` and the whole float16 range (each of the two is saturated at
    half the largest float16)."""
    inputs = data.draw(
        pipeline_inputs([torch.float16, torch.bfloat16], max_exponent=15, classes=_CLASSES, dim=_DIM)
    )
    dtype = inputs["embeddings"].dtype
    torch.manual_seed(0)
    head = build_head(head_name, _DIM, _CLASSES).eval()  # eval: AdaFace takes one-row batches
    with torch.no_grad():
        head.weight.copy_(inputs["prototypes"].float())
    criterion = RecognizabilityLoss(
        _CHANNELS, (1, 1), _DIM, index_gradient=True, attention_target_gradient=True
    ).eval()
    ui_center = UICenter(_DIM)
    ui_center.fit(inputs["center"].float()[None] + (inputs["center"].float() == 0).all().float())
    embeddings = inputs["embeddings"].clone().requires_grad_()
    feature_map = torch.randn(embeddings.shape[0], _CHANNELS, 1, 1).to(dtype).requires_grad_()
    labels = inputs["labels"]
    out = criterion(feature_map, embeddings, labels, head(embeddings, labels), ui_center)
    _assert_finite_gradients({"embeddings": embeddings, "feature_map": feature_map}, out.total)
    for name, parameter in [*head.named_parameters(), *criterion.named_parameters()]:
        assert parameter.grad is None or bool(torch.isfinite(parameter.grad).all()), name


def test_float16_cases_of_the_report() -> None:
    """Zero-norm rows and cos_y = 1 in float16 (inf/NaN gradients before) against the float32 gradient."""
    w = torch.randn(4, 8, generator=torch.Generator().manual_seed(0))
    rows = torch.stack([torch.zeros(8), w[1], -w[2], w[3] * 2.0**-10])  # cos_y = 0, 1, -1, 1
    labels = torch.tensor([0, 1, 2, 3])
    grads = {}
    for dtype in (torch.float16, torch.float32):
        e = rows.to(dtype).requires_grad_()
        cosine = cosine_logits(e, w.to(dtype))
        F.cross_entropy(arcface_logits(cosine, labels), labels).backward()
        assert e.grad is not None and bool(torch.isfinite(e.grad).all())
        grads[dtype] = e.grad.float()
    assert torch.equal(grads[torch.float16][0], torch.zeros(8))  # no direction: zero gradient
    torch.testing.assert_close(grads[torch.float16], grads[torch.float32], atol=2e-2, rtol=2e-2)


def test_float16_index_cases_of_the_audit() -> None:
    """``cos_y = 0.999`` in float16 gave an ``inf`` gradient (``d_P + eps`` in the denominator); the
    criterion with ``index_gradient=True`` gave non-finite embedding gradients near ``cos_y = 1``."""
    cosine = (torch.eye(4, 5) * 0.999).half().requires_grad_()
    recognizability_index(cosine, torch.arange(4), torch.zeros(4).half()).sum().backward()
    assert cosine.grad is not None and bool(torch.isfinite(cosine.grad).all())
    assert float(cosine.grad[0, 0]) == torch.finfo(torch.float16).max / 2  # saturated: true value ~1e7
    torch.manual_seed(0)
    head, ui_center = build_head("arcface", 8, 5), UICenter(8)
    ui_center.fit(torch.randn(6, 8) + 2)
    criterion = RecognizabilityLoss(16, (7, 7), 8, index_gradient=True)
    unit = head.weight.detach()[:4] / head.weight.detach()[:4].norm(dim=1, keepdim=True)
    embeddings = (unit * 10 + 0.01 * torch.randn(4, 8)).half().requires_grad_()
    labels = torch.arange(4)
    feature_map = torch.randn(4, 16, 7, 7).half()
    out = criterion(feature_map, embeddings, labels, head(embeddings, labels), ui_center)
    _assert_finite_gradients({"embeddings": embeddings}, out.total)
