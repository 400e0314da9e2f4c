"""l2_normalize and ui_cosine: right at every finite scale, zero rows give zero, finite gradients."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from recognizability.functional import cosine_logits, l2_normalize, project_away, ui_cosine


def reference_unit(row: list[float]) -> list[float]:
    """x / |x| in Python floats (float64), with the norm taken on the row divided by its largest entry."""
    largest = max(abs(x) for x in row)
    if largest == 0:
        return [0.0] * len(row)
    scaled = [x / largest for x in row]
    norm = math.sqrt(sum(x * x for x in scaled))
    return [x / norm for x in scaled]


MAGNITUDES = [1e-45, 1e-30, 1e-3, 1.0, 1e20, 3e38]


@pytest.mark.parametrize("magnitude", MAGNITUDES)
def test_unit_vectors_and_cosines_at_every_float32_scale(magnitude: float) -> None:
    g = torch.Generator().manual_seed(0)
    base = torch.randn(6, 9, generator=g, dtype=torch.float64)
    x = (base / base.abs().amax(dim=1, keepdim=True) * magnitude).float()
    got = l2_normalize(x, dim=1)
    assert got.dtype == torch.float32
    want = torch.tensor([reference_unit(row) for row in x.double().tolist()], dtype=torch.float64)
    torch.testing.assert_close(got.double(), want, atol=2e-7, rtol=0)
    w = torch.randn(4, 9, generator=g, dtype=torch.float64)
    w = (w / w.abs().amax(dim=1, keepdim=True) * magnitude).float()
    cos = cosine_logits(x, w)
    unit_w = torch.tensor([reference_unit(r) for r in w.double().tolist()], dtype=torch.float64)
    torch.testing.assert_close(cos.double(), want @ unit_w.T, atol=1e-6, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_extremes_give_float32_unit_vectors(dtype: torch.dtype) -> None:
    info = torch.finfo(dtype)
    x = torch.tensor([[info.max, info.max, -info.max], [info.tiny, 0.0, info.tiny]], dtype=dtype)
    got = l2_normalize(x, dim=1)
    assert got.dtype == torch.float32
    want = torch.tensor([reference_unit(row) for row in x.double().tolist()], dtype=torch.float64)
    torch.testing.assert_close(got.double(), want, atol=2e-7, rtol=0)


def test_zero_rows_give_zero_and_zero_gradient() -> None:
    x = torch.tensor([[0.0, 0.0, 0.0], [3.0, 0.0, 4.0]], requires_grad=True)
    out = l2_normalize(x, dim=1)
    torch.testing.assert_close(out, torch.tensor([[0.0, 0.0, 0.0], [0.6, 0.0, 0.8]]))
    out.sum().backward()
    assert x.grad is not None
    assert torch.equal(x.grad[0], torch.zeros(3))
    # d(x/|x|)/dx = (I - u u^T) / |x| applied to ones: (1 - u * sum(u)) / 5
    u = torch.tensor([0.6, 0.0, 0.8])
    torch.testing.assert_close(x.grad[1], (torch.ones(3) - u * u.sum()) / 5)


def test_gradcheck_float64() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 5, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: l2_normalize(t, dim=1), (x,))
    assert torch.autograd.gradcheck(lambda t: l2_normalize(t * 1e-30, dim=0), (x,))
    c = torch.randn(5, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(ui_cosine, (x, c))


def test_gradient_saturates_instead_of_overflowing() -> None:
    # The true gradient at |x| = 6e-8 is ~1e7: beyond float16's range, so it saturates at half the largest
    # float16 (two saturated uses of one tensor still add up to a finite value).
    x = torch.tensor([[6e-8, 0.0]], dtype=torch.float16, requires_grad=True)
    l2_normalize(x, dim=1)[:, 1].sum().backward()
    assert x.grad is not None and x.grad.dtype == torch.float16
    assert float(x.grad[0, 1]) == torch.finfo(torch.float16).max / 2
    # Where the true gradient is representable it is the exact one.
    y = torch.tensor([[3.0, 4.0]], dtype=torch.float16, requires_grad=True)
    l2_normalize(y, dim=1)[:, 0].sum().backward()
    assert y.grad is not None
    torch.testing.assert_close(y.grad.float(), torch.tensor([[16 / 125, -12 / 125]]), atol=1e-3, rtol=0)


def test_ui_cosine_matches_reference_and_scale() -> None:
    g = torch.Generator().manual_seed(2)
    e = torch.randn(5, 7, generator=g, dtype=torch.float64)
    c = torch.randn(7, generator=g, dtype=torch.float64)
    want = [
        sum(a * b for a, b in zip(reference_unit(row), reference_unit(c.tolist()), strict=True))
        for row in e.tolist()
    ]
    torch.testing.assert_close(ui_cosine(e, c), torch.tensor(want, dtype=torch.float64))
    got = ui_cosine((e * 1e25).float(), (c * 1e-30).float())
    torch.testing.assert_close(got.double(), torch.tensor(want, dtype=torch.float64), atol=1e-6, rtol=0)
    assert float(ui_cosine(torch.zeros(1, 7), c.float())[0]) == 0.0


def test_ui_cosine_bad_input() -> None:
    with pytest.raises(ValueError, match=r"center of shape \(4,\), got shape \(3,\)"):
        ui_cosine(torch.randn(2, 4), torch.randn(3))
    with pytest.raises(TypeError, match=r"embeddings with a floating-point dtype"):
        ui_cosine(torch.ones(2, 4, dtype=torch.long), torch.randn(4))


@settings(max_examples=300, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    v_exponent=st.integers(-40, 38),
    u_exponent=st.integers(-40, 38),
    dim=st.integers(2, 12),
)
def test_projection_orthogonal_for_any_finite_magnitudes(
    seed: int, v_exponent: int, u_exponent: int, dim: int
) -> None:
    g = torch.Generator().manual_seed(seed)
    v = (torch.rand(3, dim, generator=g, dtype=torch.float64) * 2 - 1) * 10.0**v_exponent
    u = (torch.rand(dim, generator=g, dtype=torch.float64) * 2 - 1) * 10.0**u_exponent
    v32, u32 = v.float(), u.float()
    if not bool((u32 != 0).any()):
        return
    projected = project_away(v32, u32)
    assert bool(torch.isfinite(projected).all())
    unit = torch.tensor(reference_unit(u32.double().tolist()), dtype=torch.float64)
    inner = projected.double() @ unit
    size = torch.tensor([max(abs(x) for x in row) for row in v32.double().tolist()], dtype=torch.float64)
    # Relative to the largest entry of v, plus the absolute resolution of float32 subnormals.
    resolution = 8 * dim * torch.finfo(torch.float32).smallest_normal * torch.finfo(torch.float32).eps
    assert bool((inner.abs() <= 1e-5 * size * dim + resolution).all()), (inner, size)
