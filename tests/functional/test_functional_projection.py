"""project_away (Eq. 8) against a float64 loop reference, and its orthogonality property."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from recognizability.functional import project_away


def reference_project_away(v: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    norm = sum(x * x for x in u.tolist()) ** 0.5
    unit = [x / norm for x in u.tolist()]
    rows = []
    for row in v.tolist():
        dot = sum(a * b for a, b in zip(row, unit, strict=True))
        rows.append([a - dot * b for a, b in zip(row, unit, strict=True)])  # Eq. 8
    return torch.tensor(rows, dtype=torch.float64)


def test_matches_reference() -> None:
    g = torch.Generator().manual_seed(0)
    v = torch.randn(5, 7, generator=g, dtype=torch.float64) * 4
    u = F.normalize(torch.randn(7, generator=g, dtype=torch.float64), dim=0)
    torch.testing.assert_close(project_away(v, u), reference_project_away(v, u))


def test_gradcheck_float64() -> None:
    v = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    u = torch.randn(4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(project_away, (v, u))


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1), batch=st.integers(1, 5), dim=st.integers(2, 9), scale=st.floats(1e-3, 1e3)
)
def test_projection_orthogonal_to_centre_and_idempotent(
    seed: int, batch: int, dim: int, scale: float
) -> None:
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(batch, dim, generator=g, dtype=torch.float64) * scale
    u = torch.randn(dim, generator=g, dtype=torch.float64)
    projected = project_away(v, u)
    unit = F.normalize(u, dim=0)
    torch.testing.assert_close(
        projected @ unit, torch.zeros(batch, dtype=torch.float64), atol=1e-9 * scale, rtol=0
    )
    torch.testing.assert_close(project_away(projected, u), projected)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match=r"ui_center with finite values, got 1 non-finite"):
        project_away(torch.randn(2, 3), torch.tensor([0.0, float("inf"), 1.0]))
    with pytest.raises(ValueError, match=r"non-zero ui_center"):
        project_away(torch.randn(2, 3), torch.zeros(3))
    with pytest.raises(ValueError, match=r"ui_center of shape \(3,\), got shape \(4,\)"):
        project_away(torch.randn(2, 3), torch.ones(4))
    with pytest.raises(ValueError, match=r"non-empty embeddings"):
        project_away(torch.randn(0, 3), torch.ones(3))
    with pytest.raises(TypeError, match=r"ui_center with a floating-point dtype, got torch.int64"):
        project_away(torch.randn(2, 3), torch.ones(3, dtype=torch.long))
