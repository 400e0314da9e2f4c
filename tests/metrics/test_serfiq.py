"""SER-FIQ's score equals a plain loop written from its equation; its properties and its refusals."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from recognizability.metrics import serfiq_score


def _serfiq_loop(embeddings: torch.Tensor) -> list[float]:
    """SER-FIQ (Terhörst et al. 2020) image by image: normalise the m stochastic embeddings, average the
    Euclidean distance over the m (m - 1) / 2 pairs i < j, q = 2 / (1 + exp(mean)); float64, O(B m^2 D)."""
    scores = []
    for runs in embeddings.double().tolist():
        unit = [[x / math.sqrt(sum(y * y for y in run)) for x in run] for run in runs]
        m = len(unit)
        pairs = [
            math.sqrt(sum((a - b) ** 2 for a, b in zip(unit[i], unit[j], strict=True)))
            for i in range(m)
            for j in range(i + 1, m)
        ]
        mean = sum(pairs) / len(pairs)
        scores.append(2.0 * (1.0 / (1.0 + math.exp(mean))))
    return scores


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(1, 2, 3), (5, 7, 4), (3, 30, 16)])
def test_serfiq_score_equals_the_loop_of_its_equation(
    shape: tuple[int, int, int], dtype: torch.dtype
) -> None:
    x = torch.randn(shape, generator=torch.Generator().manual_seed(sum(shape)), dtype=dtype)
    got = serfiq_score(x)
    assert got.dtype == dtype and got.shape == (shape[0],)
    tolerance = 1e-12 if dtype == torch.float64 else 1e-6
    torch.testing.assert_close(got.double(), torch.tensor(_serfiq_loop(x), dtype=torch.float64),
                               rtol=tolerance, atol=tolerance)  # fmt: skip


def test_serfiq_score_in_groups_equals_all_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import recognizability.metrics.quality as quality

    x = torch.randn(11, 6, 5, generator=torch.Generator().manual_seed(3))
    whole = serfiq_score(x)
    monkeypatch.setattr(quality, "_SERFIQ_IMAGES_PER_CHUNK", 4)
    torch.testing.assert_close(serfiq_score(x), whole, rtol=0, atol=0)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 8), st.integers(1, 6), st.floats(1e-3, 1e3), st.integers(0, 2**31 - 1))
def test_serfiq_score_reads_directions_only(m: int, d: int, scale: float, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(4, m, d, generator=g, dtype=torch.float64) + 0.1
    scales = torch.rand(4, m, 1, generator=g, dtype=torch.float64) * scale + 1e-3
    q = serfiq_score(x)
    torch.testing.assert_close(serfiq_score(x * scales), q, rtol=1e-10, atol=1e-12)
    assert bool(((q > 0) & (q <= 1)).all())


def test_serfiq_score_is_one_for_identical_passes_and_falls_with_spread() -> None:
    direction = torch.randn(1, 1, 8).expand(2, 10, 8).clone()
    assert torch.equal(serfiq_score(direction), torch.ones(2))
    noise = torch.randn(1, 10, 8, generator=torch.Generator().manual_seed(0))
    spread = serfiq_score(torch.cat([direction[:1] + 0.1 * noise, direction[:1] + 1.0 * noise]))
    assert float(spread[0]) > float(spread[1])


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (torch.zeros(3, 1, 4), ValueError, r"shape \(B, m, D\) with m >= 2"),
        (torch.zeros(3, 4), ValueError, r"shape \(B, m, D\)"),
        (torch.zeros(3, 2, 4, dtype=torch.int64), TypeError, "floating-point stochastic_embeddings"),
        (torch.full((3, 2, 4), float("nan")), ValueError, "finite stochastic_embeddings"),
    ],
)
def test_serfiq_score_refuses_bad_input(value: torch.Tensor, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        serfiq_score(value)
