"""recognizability_index (Eq. 1-3) and ui_index_statistics (Eq. 6) against float64 loop references."""

from __future__ import annotations

import math
import statistics

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from recognizability.functional import (
    cosine_logits,
    recognizability_index,
    recognizability_index_from_parts,
    ui_index_statistics,
)


def reference_index(
    cosine: torch.Tensor, labels: torch.Tensor, ui_cosine: torch.Tensor, eps: float
) -> list[float]:
    out = []
    for i in range(cosine.shape[0]):
        y = int(labels[i])
        row = [float(c) for c in cosine[i]]
        d_p = 1.0 - row[y]  # Eq. 1
        d_n = 1.0 - max(c for j, c in enumerate(row) if j != y)  # Eq. 1
        d_ui = 1.0 - float(ui_cosine[i])  # Eq. 2
        out.append(d_ui * d_n / (d_p + eps))  # Eq. 3
    return out


def test_matches_reference_float64() -> None:
    g = torch.Generator().manual_seed(0)
    cosine = torch.rand(16, 9, generator=g, dtype=torch.float64) * 2 - 1
    labels = torch.randint(0, 9, (16,), generator=g)
    # Make some labels the row maximum so the top-2 pick must skip the label.
    labels[:5] = cosine[:5].argmax(dim=1)
    ui_cosine = torch.rand(16, generator=g, dtype=torch.float64) * 2 - 1
    got = recognizability_index(cosine, labels, ui_cosine, eps=1e-7)
    assert got.dtype == torch.float64
    torch.testing.assert_close(
        got, torch.tensor(reference_index(cosine, labels, ui_cosine, 1e-7), dtype=torch.float64)
    )


def test_ties_and_two_classes() -> None:
    cosine = torch.tensor([[0.5, 0.5, 0.1], [0.2, 0.9, 0.9]])
    labels = torch.tensor([0, 2])
    ui = torch.tensor([0.0, 0.5])
    want = reference_index(cosine, labels, ui, 1e-7)
    torch.testing.assert_close(recognizability_index(cosine, labels, ui), torch.tensor(want))
    cosine2 = torch.tensor([[0.3, -0.2]])
    torch.testing.assert_close(
        recognizability_index(cosine2, torch.tensor([1]), torch.tensor([0.1])),
        torch.tensor(reference_index(cosine2, torch.tensor([1]), torch.tensor([0.1]), 1e-7)),
    )


def test_finite_when_target_cosine_is_one() -> None:
    cosine = torch.tensor([[1.0, 0.2, -0.1], [1.0000001, 0.0, 0.0]])
    got = recognizability_index(cosine, torch.tensor([0, 0]), torch.tensor([0.3, 0.3]))
    assert bool(torch.isfinite(got).all())
    torch.testing.assert_close(got[0], torch.tensor(0.7 * 0.8 / 1e-7), rtol=1e-5, atol=0)


def test_float32_under_bf16_autocast() -> None:
    cosine = torch.rand(8, 5) * 2 - 1
    labels = torch.arange(8) % 5
    ui = torch.rand(8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = recognizability_index(cosine.bfloat16(), labels, ui.bfloat16())
    assert got.dtype == torch.float32 and bool(torch.isfinite(got).all())


def test_gradcheck_float64() -> None:
    g = torch.Generator().manual_seed(3)
    cosine = (torch.rand(5, 4, generator=g, dtype=torch.float64) * 1.6 - 0.8).requires_grad_()
    ui = (torch.rand(5, generator=g, dtype=torch.float64) * 1.6 - 0.8).requires_grad_()
    labels = torch.tensor([0, 1, 2, 3, 0])
    assert torch.autograd.gradcheck(lambda c, u: recognizability_index(c, labels, u), (cosine, ui))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    batch=st.integers(1, 6),
    classes=st.integers(2, 7),
    dim=st.integers(2, 6),
    factor=st.floats(1e-3, 1e3),
)
def test_index_nonnegative_and_invariant_to_embedding_scale(
    seed: int, batch: int, classes: int, dim: int, factor: float
) -> None:
    g = torch.Generator().manual_seed(seed)
    e = torch.randn(batch, dim, generator=g, dtype=torch.float64)
    w = torch.randn(classes, dim, generator=g, dtype=torch.float64)
    u = F.normalize(torch.randn(dim, generator=g, dtype=torch.float64), dim=0)
    labels = torch.randint(0, classes, (batch,), generator=g)

    def index_of(embeddings: torch.Tensor) -> torch.Tensor:
        ui_cos = F.normalize(embeddings, dim=1) @ u
        return recognizability_index(cosine_logits(embeddings, w), labels, ui_cos)

    xi = index_of(e)
    assert bool((xi >= 0).all()) and bool(torch.isfinite(xi).all())
    torch.testing.assert_close(index_of(e * factor), xi, rtol=1e-6, atol=1e-9)


def test_bad_input() -> None:
    c, y, u = torch.rand(4, 3), torch.tensor([0, 1, 2, 0]), torch.rand(4)
    with pytest.raises(ValueError, match=r"ui_cosine of shape \(4,\), got shape \(3,\)"):
        recognizability_index(c, y, torch.rand(3))
    with pytest.raises(ValueError, match=r"C >= 2 classes.*got shape \(4, 1\)"):
        recognizability_index(torch.rand(4, 1), torch.zeros(4, dtype=torch.long), u)
    with pytest.raises(ValueError, match=r"values in \[0, 3\), got values in \[0, 7\]"):
        recognizability_index(c, torch.tensor([0, 7, 1, 1]), u)
    with pytest.raises(TypeError, match=r"labels with an integer dtype"):
        recognizability_index(c, y.float(), u)
    with pytest.raises(ValueError, match=r"eps to be a finite float > 0, got 0.0"):
        recognizability_index(c, y, u, eps=0.0)
    with pytest.raises(ValueError, match=r"non-empty cosine"):
        recognizability_index(torch.rand(0, 3), torch.zeros(0, dtype=torch.long), torch.rand(0))
    with pytest.raises(ValueError, match=r"ui_cosine on the device of cosine \(cpu\), got meta"):
        recognizability_index(c, y, torch.empty(4, device="meta"))


def reference_index_from_parts(
    positive: torch.Tensor, negative: torch.Tensor, ui_cosine: torch.Tensor, eps: float
) -> list[float]:
    out = []
    for p, n, u in zip(positive.tolist(), negative.tolist(), ui_cosine.tolist(), strict=True):
        d_p = max(1.0 - p, 0.0)  # Eq. 1, clamped at 0 like the library
        d_n = max(1.0 - n, 0.0)  # Eq. 1
        d_ui = max(1.0 - u, 0.0)  # Eq. 2
        out.append(d_ui * d_n / (d_p + eps))  # Eq. 3
    return out


def test_from_parts_matches_loop_reference_and_full_index() -> None:
    g = torch.Generator().manual_seed(11)
    cosine = torch.rand(20, 6, generator=g, dtype=torch.float64) * 2 - 1
    labels = torch.randint(0, 6, (20,), generator=g)
    labels[:6] = cosine[:6].argmax(dim=1)
    ui = torch.rand(20, generator=g, dtype=torch.float64) * 2 - 1
    positive = cosine.gather(1, labels[:, None]).squeeze(1)
    others = cosine.scatter(1, labels[:, None], -math.inf)
    negative = others.max(dim=1).values
    got = recognizability_index_from_parts(positive, negative, ui, eps=1e-6)
    assert got.dtype == torch.float64
    want = torch.tensor(reference_index_from_parts(positive, negative, ui, 1e-6), dtype=torch.float64)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=0)
    torch.testing.assert_close(got, recognizability_index(cosine, labels, ui, eps=1e-6), rtol=0, atol=0)
    # float32 inputs agree with the (B, C) path exactly too.
    c32, u32 = cosine.float(), ui.float()
    torch.testing.assert_close(
        recognizability_index_from_parts(positive.float(), negative.float(), u32),
        recognizability_index(c32, labels, u32),
        rtol=0,
        atol=0,
    )


def test_from_parts_clamps_and_is_float32_under_autocast() -> None:
    positive = torch.tensor([1.0000001, 0.5, -1.0])
    negative = torch.tensor([0.2, 1.0000002, -1.0])
    ui = torch.tensor([0.3, 0.1, 1.0000001])
    got = recognizability_index_from_parts(positive, negative, ui)
    assert bool((got >= 0).all()) and bool(torch.isfinite(got).all())
    torch.testing.assert_close(got[0], torch.tensor(0.7 * 0.8 / 1e-7), rtol=1e-5, atol=0)
    assert float(got[1]) == 0.0 and float(got[2]) == 0.0
    with torch.autocast("cpu", dtype=torch.bfloat16):
        half = recognizability_index_from_parts(positive.bfloat16(), negative.bfloat16(), ui.half())
    assert half.dtype == torch.float32


def test_from_parts_gradcheck_float64() -> None:
    g = torch.Generator().manual_seed(5)
    parts = [(torch.rand(6, generator=g, dtype=torch.float64) * 1.6 - 0.8).requires_grad_() for _ in range(3)]
    assert torch.autograd.gradcheck(
        lambda p, n, u: recognizability_index_from_parts(p, n, u, eps=1e-3), tuple(parts)
    )


def test_from_parts_bad_input() -> None:
    p, n, u = torch.rand(4), torch.rand(4), torch.rand(4)
    with pytest.raises(ValueError, match=r"nearest_negative_cosine of shape \(4,\), got shape \(3,\)"):
        recognizability_index_from_parts(p, torch.rand(3), u)
    with pytest.raises(ValueError, match=r"positive_cosine of shape \(B,\), got shape \(4, 1\)"):
        recognizability_index_from_parts(p[:, None], n, u)
    with pytest.raises(TypeError, match=r"ui_cosine with a floating-point dtype"):
        recognizability_index_from_parts(p, n, torch.ones(4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"eps to be a finite float > 0, got -1.0"):
        recognizability_index_from_parts(p, n, u, eps=-1.0)


def test_ui_index_statistics_matches_statistics_module() -> None:
    scores = torch.randn(37, dtype=torch.float64) * 2 + 1
    mu, sigma = ui_index_statistics(scores)
    values = [float(s) for s in scores]
    assert math.isclose(float(mu), statistics.fmean(values), rel_tol=1e-12)
    assert math.isclose(float(sigma), statistics.stdev(values), rel_tol=1e-12)  # unbiased (K - 1)
    assert not mu.requires_grad and not sigma.requires_grad


def test_ui_index_statistics_bad_input() -> None:
    with pytest.raises(ValueError, match=r"K >= 2"):
        ui_index_statistics(torch.tensor([1.0]))
    with pytest.raises(ValueError, match=r"of shape \(K,\), got shape \(2, 2\)"):
        ui_index_statistics(torch.ones(2, 2))
    with pytest.raises(ValueError, match=r"finite values, got 1 non-finite"):
        ui_index_statistics(torch.tensor([1.0, float("nan"), 2.0]))
