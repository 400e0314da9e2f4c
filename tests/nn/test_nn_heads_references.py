"""CosFace, AdaFace, CurricularFace and MagFace against slow float64 loop references written from each paper's
equations (with the details of the authors' released code where it is more specific), float64 gradcheck, and
module equals function."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from recognizability.functional import cosine_logits
from recognizability.functional.margin_heads import (
    adaface_logits,
    adaface_norm_statistics,
    cosface_logits,
    curricularface_logits,
    curricularface_t_update,
    magface_logits,
    magface_margin,
    magface_regularizer,
    positive_and_nearest_negative_cosine,
)
from recognizability.nn import AdaFace, CosFace, CurricularFace, MagFace
from tests.helpers.margin_references import (
    Rows,
    cos_rows,
    norms_of,
    reference_adaface,
    reference_adaface_statistics,
    reference_cosface,
    reference_cross_entropy,
    reference_curricularface,
    reference_magface,
    reference_magface_g,
)


def _rows(t: torch.Tensor) -> Rows:
    return [[float(v) for v in row] for row in t]


def _batch(seed: int, b: int = 7, c: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    cosine = torch.rand(b, c, generator=g, dtype=torch.float64) * 1.9 - 0.95
    labels = torch.randint(0, c, (b,), generator=g)
    return cosine, labels


# ----------------------------------------------------------------------------------------------------------
# References
# ----------------------------------------------------------------------------------------------------------


def test_cosface_matches_reference() -> None:
    cosine, labels = _batch(0)
    got = cosface_logits(cosine, labels, scale=30.0, margin=0.35)
    want = reference_cosface(_rows(cosine), labels.tolist(), 30.0, 0.35)
    torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float64), rtol=1e-12, atol=1e-12)
    assert cosface_logits(cosine.float(), labels).dtype == torch.float32


@pytest.mark.parametrize(("mean", "std"), [(20.0, 100.0), (12.0, 3.0), (40.0, 2.0)])
def test_adaface_matches_reference_on_every_branch(mean: float, std: float) -> None:
    cosine, labels = _batch(1, b=9)
    cosine[0, labels[0]] = 0.99999  # above the 1 - eps clamp
    cosine[1, labels[1]] = -0.99995  # below -1 + eps
    cosine[2, (labels[2] + 1) % 5] = 0.9999  # a non-target above the clamp
    norms = torch.tensor([0.0001, 5.0, 12.0, 20.0, 30.0, 150.0, 41.0, 9.0, 15.0], dtype=torch.float64)
    got = adaface_logits(
        cosine, norms, labels, torch.tensor([mean]), torch.tensor([std]), scale=64.0, margin=0.4, h=0.333
    )
    want = reference_adaface(_rows(cosine), norms.tolist(), labels.tolist(), mean, std, 64.0, 0.4, 0.333)
    torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float64), rtol=1e-10, atol=1e-10)


def test_adaface_statistics_match_reference() -> None:
    norms = torch.tensor([0.0, 3.0, 17.5, 250.0, 22.0], dtype=torch.float64)
    mean, std = adaface_norm_statistics(norms, torch.tensor([20.0]), torch.tensor([100.0]), momentum=0.01)
    want = reference_adaface_statistics(norms.tolist(), 20.0, 100.0, 0.01)
    assert mean.shape == (1,) and std.shape == (1,) and not mean.requires_grad
    assert math.isclose(float(mean), want[0], rel_tol=1e-6) and math.isclose(
        float(std), want[1], rel_tol=1e-6
    )


@pytest.mark.parametrize("margin", [0.5, 1.2])
def test_curricularface_matches_reference_on_every_branch(margin: float) -> None:
    cosine, labels = _batch(2, b=12, c=6)
    cosine[0, labels[0]] = -0.9  # theta_y + m > pi: fallback
    cosine[1, labels[1]] = 0.95  # hard negatives unlikely; easy row
    t = torch.tensor([0.3], dtype=torch.float64)
    got = curricularface_logits(cosine, labels, t, scale=64.0, margin=margin)
    want = reference_curricularface(_rows(cosine), labels.tolist(), 0.3, 64.0, margin)
    torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float64), rtol=1e-10, atol=1e-10)
    # both kinds of negatives and both target branches are exercised
    theta_y = torch.acos(cosine.gather(1, labels[:, None]))
    hard = cosine > torch.cos(theta_y + margin)
    hard.scatter_(1, labels[:, None], False)
    assert 0 < int(hard.sum()) < hard.numel() - 12
    assert bool((theta_y + margin > math.pi).any()) and bool((theta_y + margin < math.pi).any())


def test_curricularface_t_update_matches_reference() -> None:
    positive = torch.tensor([0.2, 0.5, -0.1, 0.9], dtype=torch.float64)
    t = curricularface_t_update(positive, torch.tensor([0.25], dtype=torch.float64), momentum=0.01)
    assert t.shape == (1,) and math.isclose(float(t), 0.01 * 0.375 + 0.99 * 0.25, rel_tol=1e-12)


def test_magface_matches_reference_on_every_branch() -> None:
    cosine, labels = _batch(3, b=8)
    cosine[0, labels[0]] = -0.3  # easy margin: cos <= 0 keeps the plain cosine
    cosine[1, labels[1]] = 0.4
    norms = torch.tensor([5.0, 10.0, 33.3, 60.0, 110.0, 140.0, 80.0, 11.0], dtype=torch.float64)
    got = magface_logits(cosine, norms, labels)
    want = reference_magface(_rows(cosine), norms.tolist(), labels.tolist(), 64.0, 10.0, 110.0, 0.45, 0.8)
    torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float64), rtol=1e-10, atol=1e-10)
    g = magface_regularizer(norms)
    assert math.isclose(float(g), reference_magface_g(norms.tolist(), 10.0, 110.0), rel_tol=1e-12)
    margins = magface_margin(norms)
    assert math.isclose(float(margins[0]), 0.45) and math.isclose(float(margins[4]), 0.8)
    assert math.isclose(float(margins[5]), 0.8) and math.isclose(float(margins[3]), 0.45 + 0.35 * 0.5)


def test_positive_and_nearest_negative_match_brute_force() -> None:
    cosine, labels = _batch(4, b=10, c=4)
    cosine[0] = torch.tensor([0.5, 0.5, 0.1, 0.5], dtype=torch.float64)  # ties with the target
    positive, negative = positive_and_nearest_negative_cosine(cosine, labels)
    for i, y in enumerate(labels.tolist()):
        row = cosine[i].tolist()
        assert float(positive[i]) == row[y]
        assert float(negative[i]) == max(c for j, c in enumerate(row) if j != y)


# ----------------------------------------------------------------------------------------------------------
# Modules equal their functions and the references end to end
# ----------------------------------------------------------------------------------------------------------


def _embeddings(seed: int, b: int = 6, d: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    e = (
        torch.randn(b, d, generator=g, dtype=torch.float64)
        * torch.linspace(3.0, 60.0, b, dtype=torch.float64)[:, None]
    )
    return e, torch.randint(0, 4, (b,), generator=g)


def test_cosface_module_equals_function_and_reference() -> None:
    e, y = _embeddings(5)
    head = CosFace(5, 4, scale=16.0, margin=0.2).double()
    out = head(e, y)
    torch.testing.assert_close(out.logits, cosface_logits(cosine_logits(e, head.weight), y, 16.0, 0.2))
    want = reference_cross_entropy(
        reference_cosface(cos_rows(e, head.weight.detach()), y.tolist(), 16.0, 0.2), y.tolist()
    )
    assert math.isclose(out.loss.item(), want, rel_tol=1e-10)


def test_adaface_module_equals_function_and_reference() -> None:
    e, y = _embeddings(6)
    head = AdaFace(5, 4, scale=32.0).double()
    norms = norms_of(e)
    mean, std = reference_adaface_statistics(norms, 20.0, 100.0, 0.01)
    out = head(e, y)  # training mode: statistics folded in first, then used
    assert math.isclose(float(head.batch_mean), mean, rel_tol=1e-10)
    assert math.isclose(float(head.batch_std), std, rel_tol=1e-10)
    cosine = cosine_logits(e, head.weight)
    want_logits = adaface_logits(cosine, e.norm(dim=1), y, head.batch_mean, head.batch_std, scale=32.0)
    torch.testing.assert_close(out.logits, want_logits)
    ref = reference_adaface(cos_rows(e, head.weight.detach()), norms, y.tolist(), mean, std, 32.0, 0.4, 0.333)
    assert math.isclose(out.loss.item(), reference_cross_entropy(ref, y.tolist()), rel_tol=1e-10)


def test_curricularface_module_equals_function_and_reference() -> None:
    e, y = _embeddings(7)
    head = CurricularFace(5, 4, scale=16.0).double()
    with torch.no_grad():
        head.t.fill_(0.4)
    cos = cos_rows(e, head.weight.detach())
    t = 0.01 * sum(row[label] for row, label in zip(cos, y.tolist(), strict=True)) / len(cos) + 0.99 * 0.4
    out = head(e, y)
    assert math.isclose(float(head.t), t, rel_tol=1e-10)
    torch.testing.assert_close(
        out.logits, curricularface_logits(cosine_logits(e, head.weight), y, head.t, 16.0)
    )
    want = reference_cross_entropy(reference_curricularface(cos, y.tolist(), t, 16.0, 0.5), y.tolist())
    assert math.isclose(out.loss.item(), want, rel_tol=1e-10)


def test_magface_module_equals_function_and_reference() -> None:
    e, y = _embeddings(8)
    head = MagFace(5, 4, lambda_g=20.0).double()
    out = head(e, y)
    norms = e.norm(dim=1)
    cosine = cosine_logits(e, head.weight)
    torch.testing.assert_close(out.logits, magface_logits(cosine, norms, y))
    torch.testing.assert_close(out.loss, F.cross_entropy(out.logits, y) + 20.0 * magface_regularizer(norms))
    ref = reference_magface(
        cos_rows(e, head.weight.detach()), norms_of(e), y.tolist(), 64.0, 10.0, 110.0, 0.45, 0.8
    )
    want = reference_cross_entropy(ref, y.tolist()) + 20.0 * reference_magface_g(norms_of(e), 10.0, 110.0)
    assert math.isclose(out.loss.item(), want, rel_tol=1e-10)


# ----------------------------------------------------------------------------------------------------------
# Gradients
# ----------------------------------------------------------------------------------------------------------


def _away_from_kinks(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    cosine = (torch.rand(5, 4, generator=g, dtype=torch.float64) * 1.2 - 0.6).requires_grad_()
    return cosine, torch.tensor([0, 3, 1, 2, 1])


def test_gradcheck_functions_float64() -> None:
    cosine, labels = _away_from_kinks(9)
    assert torch.autograd.gradcheck(lambda c: cosface_logits(c, labels, 3.0, 0.35), (cosine,))
    norms = torch.tensor([18.0, 21.0, 25.0, 15.0, 19.5], dtype=torch.float64)
    stats = torch.tensor([20.0]), torch.tensor([4.0])
    assert torch.autograd.gradcheck(lambda c: adaface_logits(c, norms, labels, *stats, scale=3.0), (cosine,))
    t = torch.tensor([0.2], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda c: curricularface_logits(c, labels, t, 3.0, 0.5), (cosine,))
    with torch.no_grad():
        cosine[:, :] = cosine.abs() + 0.05  # positive target cosines: away from the easy-margin switch
    mag_norms = torch.tensor([15.0, 40.0, 70.0, 100.0, 55.0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda c, n: magface_logits(c, n, labels, 3.0), (cosine, mag_norms))
    assert torch.autograd.gradcheck(magface_regularizer, (mag_norms,))


def test_curricularface_gradient_treats_t_as_constant() -> None:
    cos = torch.tensor([[0.2, 0.6, -0.3]], dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.3], dtype=torch.float64, requires_grad=True)
    logits = curricularface_logits(cos, torch.tensor([0]), t, scale=1.0, margin=0.5)
    (grad_cos,) = torch.autograd.grad(logits[0, 1], cos)
    assert math.isclose(float(grad_cos[0, 1]), 0.3 + 2 * 0.6)  # d/dc c (t + c), hard negative
    assert torch.autograd.grad(logits.sum(), t, allow_unused=True)[0] is None


@pytest.mark.parametrize("head_class", [CosFace, AdaFace, CurricularFace, MagFace])
def test_gradcheck_modules_float64(head_class: type[torch.nn.Module]) -> None:
    g = torch.Generator().manual_seed(10)
    e = (torch.randn(4, 3, generator=g, dtype=torch.float64) * 20).requires_grad_()
    y = torch.tensor([0, 2, 1, 2])
    head = head_class(3, 3, scale=2.0).double().eval()  # eval: running statistics stay fixed between calls
    if isinstance(head, AdaFace):
        # AdaFace stops the gradient through the norm (paper and code): its gradient is that of the loss with
        # the norms held constant, which gradcheck can verify.
        norms = e.detach().norm(dim=1)

        def loss(embeddings: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
            cosine = cosine_logits(embeddings, weight)
            logits = adaface_logits(cosine, norms, y, head.batch_mean, head.batch_std, scale=2.0)
            return F.cross_entropy(logits, y)

        assert torch.autograd.gradcheck(loss, (e, head.weight))
        got = torch.autograd.grad(head(e, y).loss, (e, head.weight))
        want = torch.autograd.grad(loss(e, head.weight), (e, head.weight))
        for a, b in zip(got, want, strict=True):
            torch.testing.assert_close(a, b)
        return
    assert torch.autograd.gradcheck(
        lambda emb, w: torch.func.functional_call(head, {"weight": w}, (emb, y)).loss, (e, head.weight)
    )


_Y3 = torch.zeros(3, dtype=torch.long)
_ONE = torch.ones(1)
_BAD_CALLS = [
    (lambda: cosface_logits(torch.rand(3, 1), _Y3), ValueError, r"C >= 2"),
    (lambda: cosface_logits(torch.rand(3, 4), torch.zeros(3), 1.0), TypeError, r"labels with an integer"),
    (
        lambda: cosface_logits(torch.rand(3, 4), _Y3, margin=-0.1),
        ValueError,
        r"margin to be a finite float >= 0",
    ),
    (
        lambda: adaface_logits(torch.rand(3, 4), torch.rand(2), _Y3, _ONE, _ONE),
        ValueError,
        r"norms of shape \(3,\)",
    ),
    (
        lambda: adaface_logits(torch.rand(3, 4), torch.rand(3), _Y3, torch.ones(2), _ONE),
        ValueError,
        r"one element",
    ),
    (
        lambda: adaface_logits(torch.rand(3, 4), torch.rand(3), _Y3, 20.0, _ONE),
        TypeError,
        r"batch_mean to be a torch",
    ),
    (
        lambda: adaface_norm_statistics(torch.rand(3), _ONE, _ONE, momentum=1.5),
        ValueError,
        r"momentum to be a float in \(0, 1\]",
    ),
    (
        lambda: curricularface_logits(torch.rand(3, 4), _Y3, 0.3),
        TypeError,
        r"t to be a torch.Tensor, got float",
    ),
    (
        lambda: curricularface_t_update(torch.rand(0), torch.zeros(1)),
        ValueError,
        r"non-empty positive_cosine",
    ),
    (lambda: magface_logits(torch.rand(3, 4), torch.rand(3, 1), _Y3), ValueError, r"got shape \(3, 1\)"),
    (
        lambda: magface_regularizer(torch.rand(3), lower_norm=0.0),
        ValueError,
        r"lower_norm to be a finite float > 0",
    ),
    (
        lambda: positive_and_nearest_negative_cosine(torch.rand(3, 4), torch.tensor([0, 4, 1])),
        ValueError,
        r"values in \[0, 4\), got values in \[0, 4\]",
    ),
]


@pytest.mark.parametrize(("call", "error", "match"), _BAD_CALLS)
def test_functions_reject_bad_arguments(call: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call()  # type: ignore[operator]
