"""cosine_logits and arcface_logits against slow float64 references written from the definitions."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from recognizability.functional import arcface_logits, cosine_logits


def reference_cosine_logits(embeddings: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
    out = torch.empty(embeddings.shape[0], prototypes.shape[0], dtype=torch.float64)
    for i in range(embeddings.shape[0]):
        v = [float(x) for x in embeddings[i]]
        norm_v = math.sqrt(sum(x * x for x in v))
        for j in range(prototypes.shape[0]):
            w = [float(x) for x in prototypes[j]]
            norm_w = math.sqrt(sum(x * x for x in w))
            out[i, j] = sum(a * b for a, b in zip(v, w, strict=True)) / (norm_v * norm_w)
    return out


def reference_arcface_logits(
    cosine: torch.Tensor, labels: torch.Tensor, scale: float, margin: float
) -> torch.Tensor:
    """Target: s*cos(theta_y + m) if theta_y + m <= pi, else s*(cos theta_y - m sin m); others s*cos."""
    out = torch.empty(cosine.shape, dtype=torch.float64)
    for i in range(cosine.shape[0]):
        for j in range(cosine.shape[1]):
            c = float(cosine[i, j])
            if j == int(labels[i]):
                theta = math.acos(max(-1.0, min(1.0, c)))
                c = math.cos(theta + margin) if theta + margin <= math.pi else c - margin * math.sin(margin)
            out[i, j] = scale * c
    return out


def test_cosine_logits_matches_reference() -> None:
    g = torch.Generator().manual_seed(0)
    e, w = torch.randn(5, 7, generator=g) * 3, torch.randn(4, 7, generator=g) * 0.01
    got = cosine_logits(e, w)
    assert got.dtype == torch.float32 and got.shape == (5, 4)
    torch.testing.assert_close(got.double(), reference_cosine_logits(e, w), atol=1e-6, rtol=0)


@pytest.mark.parametrize("margin", [0.45, 0.2, 1.0])
def test_arcface_logits_both_branches_match_reference(margin: float) -> None:
    # Angles over [0, pi]: some targets have theta + m <= pi (margin branch), some not (fallback).
    theta = torch.linspace(0.0, math.pi, 41, dtype=torch.float64)
    cosine = torch.cos(theta).unsqueeze(1).repeat(1, 3)
    labels = torch.arange(41) % 3
    got = arcface_logits(cosine, labels, scale=64.0, margin=margin)
    want = reference_arcface_logits(cosine, labels, 64.0, margin)
    n_fallback = int((theta + margin > math.pi).sum())
    assert 0 < n_fallback < 41, "both branches must be exercised"
    torch.testing.assert_close(got.double(), want, atol=1e-4, rtol=1e-6)  # float32 output


def test_fallback_keeps_target_logit_decreasing_in_theta() -> None:
    theta = torch.linspace(0.0, math.pi, 2001, dtype=torch.float64)
    cosine = torch.stack([torch.cos(theta), torch.zeros_like(theta)], dim=1)
    target = arcface_logits(cosine, torch.zeros(2001, dtype=torch.long), scale=1.0, margin=0.45)[:, 0]
    assert bool((target[1:] <= target[:-1] + 1e-6).all())


def test_margin_zero_equals_normalised_softmax_cross_entropy() -> None:
    g = torch.Generator().manual_seed(1)
    e, w = torch.randn(6, 8, generator=g), torch.randn(10, 8, generator=g)
    labels = torch.randint(0, 10, (6,), generator=g)
    cosine = cosine_logits(e, w)
    got = F.cross_entropy(arcface_logits(cosine, labels, scale=30.0, margin=0.0), labels)
    want = F.cross_entropy(30.0 * F.normalize(e, dim=1) @ F.normalize(w, dim=1).T, labels)
    torch.testing.assert_close(got, want)


def test_input_not_modified_and_only_target_column_changes() -> None:
    cosine = torch.rand(4, 6) * 2 - 1
    before = cosine.clone()
    labels = torch.tensor([0, 5, 2, 2])
    logits = arcface_logits(cosine, labels, scale=2.0, margin=0.3)
    torch.testing.assert_close(cosine, before, rtol=0, atol=0)
    mask = F.one_hot(labels, 6).bool()
    torch.testing.assert_close(logits[~mask], 2.0 * cosine[~mask])
    assert bool((logits[mask] < 2.0 * cosine[mask]).all())


def test_gradcheck_float64_both_branches() -> None:
    g = torch.Generator().manual_seed(2)
    cosine = (torch.rand(6, 4, generator=g, dtype=torch.float64) * 1.8 - 0.9).requires_grad_()
    with torch.no_grad():
        cosine[0, 1] = -0.99  # theta + m > pi: fallback branch
    labels = torch.tensor([1, 0, 3, 2, 1, 0])

    def fn(c: torch.Tensor) -> torch.Tensor:
        return arcface_logits(c, labels, scale=3.0, margin=0.5)

    assert torch.autograd.gradcheck(fn, (cosine,))
    e = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(cosine_logits, (e, w))


def test_gradient_is_the_exact_margin_derivative_and_finite_at_cos_one() -> None:
    c = torch.tensor([[0.3, 0.1], [1.0, 0.0], [-1.0, 0.2]], dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([0, 0, 0])
    m = 0.45
    (grad,) = torch.autograd.grad(arcface_logits(c, labels, scale=1.0, margin=m)[:, 0].sum(), c)
    # d/dc cos(acos(c) + m) = cos m + c sin m / sqrt(1 - c^2)
    assert abs(float(grad[0, 0]) - (math.cos(m) + 0.3 * math.sin(m) / math.sqrt(1 - 0.09))) < 1e-6
    assert bool(torch.isfinite(grad).all())


def test_bf16_autocast_gives_float32_finite() -> None:
    e, w = torch.randn(4, 8), torch.randn(5, 8)
    labels = torch.tensor([0, 1, 2, 3])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        cos = cosine_logits(e, w)
        logits = arcface_logits(cos, labels)
    assert cos.dtype == torch.float32 and logits.dtype == torch.float32
    assert bool(torch.isfinite(logits).all())
    torch.testing.assert_close(cos, cosine_logits(e, w))


@pytest.mark.parametrize(
    ("cosine", "labels", "kwargs", "error", "match"),
    [
        (
            torch.rand(4),
            torch.zeros(4, dtype=torch.long),
            {},
            ValueError,
            r"cosine of shape \(B, C\), got shape \(4,\)",
        ),
        (
            torch.rand(4, 3),
            torch.zeros(4, 1, dtype=torch.long),
            {},
            ValueError,
            r"labels of shape \(B,\) = \(4,\)",
        ),
        (torch.rand(4, 3), torch.zeros(4), {}, TypeError, r"labels with an integer dtype.*got torch.float32"),
        (
            torch.rand(4, 3),
            torch.tensor([0, 1, 3, 0]),
            {},
            ValueError,
            r"values in \[0, 3\), got values in \[0, 3\]",
        ),
        (
            torch.rand(4, 3),
            torch.tensor([0, -1, 2, 0]),
            {},
            ValueError,
            r"values in \[0, 3\), got values in \[-1, 2\]",
        ),
        (torch.rand(0, 3), torch.zeros(0, dtype=torch.long), {}, ValueError, r"non-empty cosine"),
        (
            torch.rand(4, 3),
            torch.zeros(4, dtype=torch.long),
            {"margin": 4.0},
            ValueError,
            r"margin.*\[0, pi\)",
        ),
        (
            torch.rand(4, 3),
            torch.zeros(4, dtype=torch.long),
            {"scale": -1.0},
            ValueError,
            r"scale.*> 0, got -1.0",
        ),
        (
            torch.arange(12).view(4, 3),
            torch.zeros(4, dtype=torch.long),
            {},
            TypeError,
            r"cosine with a floating",
        ),
        ([[0.1]], torch.zeros(1, dtype=torch.long), {}, TypeError, r"cosine to be a torch.Tensor, got list"),
    ],
)
def test_arcface_logits_bad_input(
    cosine: torch.Tensor, labels: torch.Tensor, kwargs: dict[str, float], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        arcface_logits(cosine, labels, **kwargs)


def test_cosine_logits_bad_input() -> None:
    with pytest.raises(ValueError, match=r"expected prototypes of shape \(C, 8\), got shape \(3, 7\)"):
        cosine_logits(torch.randn(2, 8), torch.randn(3, 7))
    with pytest.raises(ValueError, match=r"embeddings of shape \(B, D\), got shape \(2, 8, 1\)"):
        cosine_logits(torch.randn(2, 8, 1), torch.randn(3, 8))
    with pytest.raises(ValueError, match=r"non-empty embeddings"):
        cosine_logits(torch.randn(0, 8), torch.randn(3, 8))


def test_device_mismatch_is_reported() -> None:
    meta = torch.empty(4, 3, device="meta")
    with pytest.raises(ValueError, match=r"labels on the device of cosine \(meta\), got cpu"):
        arcface_logits(meta, torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"prototypes on the device of embeddings \(cpu\), got meta"):
        cosine_logits(torch.randn(2, 3), torch.empty(4, 3, device="meta"))
