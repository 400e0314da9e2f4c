"""ChunkedArcFace / chunked_arcface: the dense ArcFace head's loss, index parts and gradients without a
``(B, C)`` tensor, checked against the dense head and a slow loop reference."""

from __future__ import annotations

import functools
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from recognizability.functional import (
    cosine_logits,
    recognizability_index,
    recognizability_index_from_parts,
)
from recognizability.functional._heads import adaface_negative_logits, curricularface_negative_logits
from recognizability.functional.chunked import chunked_arcface, chunked_cosine_parts, label_cosine
from recognizability.nn import ArcFace
from recognizability.nn.chunked import ChunkedArcFace


def _dense_reference(
    embeddings: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor, scale: float, margin: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Dense ArcFace loss and the two index parts, the parts by an obvious gather and a masked max."""
    head = ArcFace(embeddings.shape[1], weight.shape[0], scale=scale, margin=margin).to(weight.dtype)
    with torch.no_grad():
        head.weight.copy_(weight)
    head.weight.requires_grad_(weight.requires_grad)
    out = head(embeddings, labels)
    cosine = out.cosine
    assert cosine is not None
    positive = cosine.gather(1, labels.unsqueeze(1)).squeeze(1)
    negatives = cosine.masked_fill(F.one_hot(labels, weight.shape[0]).bool(), -math.inf)
    return out.loss, positive, negatives.max(dim=1).values, head.weight


def _loop_reference(
    embeddings: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor, scale: float, margin: float
) -> float:
    """ArcFace cross-entropy from the equations, one sample and one class at a time, in float64."""
    total = 0.0
    for v, y in zip(embeddings.double().tolist(), labels.tolist(), strict=True):
        norm_v = math.sqrt(sum(a * a for a in v))
        logits = []
        for j, w in enumerate(weight.double().tolist()):
            cos = sum(a * b for a, b in zip(v, w, strict=True)) / (norm_v * math.sqrt(sum(b * b for b in w)))
            if j == y:
                theta = math.acos(max(-1.0, min(1.0, cos)))
                cos = (
                    math.cos(theta + margin) if theta + margin <= math.pi else cos - margin * math.sin(margin)
                )
            logits.append(scale * cos)
        top = max(logits)
        total += top + math.log(sum(math.exp(z - top) for z in logits)) - logits[y]
    return total / len(labels)


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-12), (torch.float32, 1e-5)])
@pytest.mark.parametrize("chunk_size", [1, 3, 7, 23, 100])
def test_chunked_equals_dense_in_value_and_gradient(dtype: torch.dtype, tol: float, chunk_size: int) -> None:
    torch.manual_seed(0)
    batch, classes, dim = 9, 23, 6  # 23 classes: no chunk size above divides it but 1 and 23
    embeddings = torch.randn(batch, dim, dtype=dtype, requires_grad=True)
    weight = torch.randn(classes, dim, dtype=dtype, requires_grad=True)
    labels = torch.randint(0, classes, (batch,))
    coefficients = torch.randn(2, batch, dtype=dtype)

    def objective(loss: torch.Tensor, positive: torch.Tensor, nearest: torch.Tensor) -> torch.Tensor:
        # Every output feeds the objective, so every gradient path is compared.
        return loss + (coefficients[0] * positive.sin()).sum() + (coefficients[1] * nearest.exp()).sum()

    dense = _dense_reference(embeddings, weight, labels, 16.0, 0.5)
    dense_grads = torch.autograd.grad(objective(*dense[:3]), (embeddings, dense[3]))
    chunked = chunked_arcface(embeddings, weight, labels, 16.0, 0.5, chunk_size=chunk_size)
    chunked_grads = torch.autograd.grad(objective(*chunked), (embeddings, weight))
    for got, want in zip(chunked, dense[:3], strict=True):
        assert got.dtype == dtype
        torch.testing.assert_close(got, want, rtol=tol, atol=tol)
    for got, want in zip(chunked_grads, dense_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=tol, atol=tol)


@settings(max_examples=40, deadline=None)
@given(
    batch=st.integers(1, 6),
    classes=st.integers(2, 30),
    chunk_size=st.integers(1, 40),
    margin=st.floats(0.0, 3.0),
    scale=st.floats(0.5, 64.0),
    seed=st.integers(0, 2**16),
)
def test_chunked_equals_dense_for_any_sizes_and_margins(
    batch: int, classes: int, chunk_size: int, margin: float, scale: float, seed: int
) -> None:
    generator = torch.Generator().manual_seed(seed)
    embeddings = torch.randn(batch, 5, generator=generator, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(classes, 5, generator=generator, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(0, classes, (batch,), generator=generator)
    dense = _dense_reference(embeddings, weight, labels, scale, margin)
    chunked = chunked_arcface(embeddings, weight, labels, scale, margin, chunk_size=chunk_size)
    for got, want in zip(chunked, dense[:3], strict=True):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    dense_grads = torch.autograd.grad(dense[0] + dense[2].sum(), (embeddings, dense[3]))
    chunked_grads = torch.autograd.grad(chunked[0] + chunked[2].sum(), (embeddings, weight))
    for got, want in zip(chunked_grads, dense_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


def test_chunked_loss_equals_a_loop_over_the_equations_with_both_margin_branches() -> None:
    torch.manual_seed(1)
    weight = torch.randn(11, 4, dtype=torch.float64)
    labels = torch.tensor([0, 3, 10, 5, 5])
    embeddings = torch.randn(5, 4, dtype=torch.float64)
    embeddings[0] = -weight[0]  # theta_y = pi: the fallback branch of the margin
    embeddings[1] = weight[3] + 0.01  # theta_y near 0
    loss, _, _ = chunked_arcface(embeddings, weight, labels, 8.0, 0.7, chunk_size=4)
    assert abs(float(loss) - _loop_reference(embeddings, weight, labels, 8.0, 0.7)) < 1e-12


def test_gradcheck_on_tiny_sizes() -> None:
    torch.manual_seed(2)
    embeddings = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(7, 3, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([0, 6, 3, 3])
    assert torch.autograd.gradcheck(
        lambda e, w: chunked_arcface(e, w, labels, 8.0, 0.5, chunk_size=3), (embeddings, weight)
    )


@pytest.mark.parametrize("margin", ["curricularface", "adaface"])
def test_gradcheck_with_a_margin_of_its_own_on_the_negatives(margin: str) -> None:
    """The walk differentiates a margin's elementwise non-target logits (a vector-Jacobian product per block):
    CurricularFace's re-weighted hard negatives (with a per-row threshold) and AdaFace's clamp."""
    torch.manual_seed(7)
    embeddings = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(8, 3, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([0, 7, 3, 3, 5])
    if margin == "curricularface":
        threshold = torch.tensor([[0.1], [-0.2], [0.3], [0.0], [-0.5]], dtype=torch.float64)
        negatives = functools.partial(
            curricularface_negative_logits, threshold=threshold, t=torch.tensor([0.4]), scale=3.0
        )
    else:
        negatives = functools.partial(adaface_negative_logits, scale=3.0)

    def parts(e: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return chunked_cosine_parts(e, w, labels, 3.0, 3, negatives)

    assert torch.autograd.gradcheck(parts, (embeddings, weight))
    # and the values: the log-sum-exp of the dense non-target logits
    cosine = cosine_logits(embeddings, weight)
    dense = negatives(cosine).scatter(1, labels[:, None], -math.inf).logsumexp(dim=1)
    torch.testing.assert_close(parts(embeddings, weight)[0], dense, rtol=1e-12, atol=1e-12)


def test_label_cosine_is_the_gathered_cosine_and_zero_for_another_shard() -> None:
    torch.manual_seed(8)
    embeddings, weight = torch.randn(4, 5, dtype=torch.float64) * 9, torch.randn(6, 5, dtype=torch.float64)
    labels = torch.tensor([0, 5, -1, 6])  # -1 and 6: classes of other shards
    got = label_cosine(embeddings, weight, labels)
    cosine = cosine_logits(embeddings, weight)
    torch.testing.assert_close(got[:2], cosine[[0, 1], [0, 5]], rtol=1e-14, atol=1e-14)
    assert got[2:].tolist() == [0.0, 0.0] and not got.requires_grad


def test_module_matches_arcface_and_gives_the_index_parts() -> None:
    torch.manual_seed(3)
    dense = ArcFace(8, 50, scale=32.0, margin=0.3)
    head = ChunkedArcFace(8, 50, scale=32.0, margin=0.3, chunk_size=16)
    head.load_state_dict(dense.state_dict())  # same parameter, same state dict
    assert "chunk_size=16" in repr(head)
    embeddings, labels, ui_cosine = torch.randn(6, 8), torch.randint(0, 50, (6,)), torch.rand(6) * 2 - 1
    out = head(embeddings, labels)
    assert out.logits is None and out.cosine is None
    want = dense(embeddings, labels)
    torch.testing.assert_close(out.loss, want.loss, rtol=1e-5, atol=1e-5)
    xi = recognizability_index_from_parts(out.positive_cosine, out.nearest_negative_cosine, ui_cosine)
    torch.testing.assert_close(
        xi,
        recognizability_index(cosine_logits(embeddings, dense.weight), labels, ui_cosine),
        rtol=1e-5,
        atol=0,
    )


def test_float32_under_bfloat16_autocast_and_half_inputs() -> None:
    torch.manual_seed(4)
    embeddings, weight = torch.randn(5, 8), torch.randn(40, 8)
    labels = torch.randint(0, 40, (5,))
    want = chunked_arcface(embeddings, weight, labels, chunk_size=6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = chunked_arcface(embeddings, weight, labels, chunk_size=6)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == torch.float32
        torch.testing.assert_close(g, w)
    for half in (torch.float16, torch.bfloat16):
        e = embeddings.to(half).requires_grad_()
        w16 = weight.to(half).requires_grad_()
        loss, positive, _ = chunked_arcface(e, w16, labels, chunk_size=6)
        assert loss.dtype == positive.dtype == torch.float32
        loss.backward()
        assert e.grad is not None and e.grad.dtype == half and bool(torch.isfinite(e.grad).all())
        assert w16.grad is not None and w16.grad.dtype == half


def test_no_gradient_when_nothing_requires_it_and_frozen_prototypes() -> None:
    torch.manual_seed(5)
    embeddings = torch.randn(3, 4, requires_grad=True)
    weight = torch.randn(9, 4)
    loss, _, _ = chunked_arcface(embeddings, weight, torch.tensor([1, 2, 8]), chunk_size=4)
    loss.backward()
    assert embeddings.grad is not None and weight.grad is None


def test_bad_arguments() -> None:
    e, w = torch.randn(2, 4), torch.randn(5, 4)
    with pytest.raises(ValueError, match=r"chunk_size to be a positive int, got 0"):
        chunked_arcface(e, w, torch.tensor([0, 1]), chunk_size=0)
    with pytest.raises(ValueError, match=r"at least 2 classes"):
        chunked_arcface(e, w[:1], torch.tensor([0, 0]))
    with pytest.raises(ValueError, match=r"prototypes of shape \(C, 4\)"):
        chunked_arcface(e, torch.randn(5, 3), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"values in \[0, 5\), got values in \[0, 5\]"):
        chunked_arcface(e, w, torch.tensor([0, 5]))
    with pytest.raises(ValueError, match=r"chunk_size to be a positive int, got True"):
        ChunkedArcFace(4, 5, chunk_size=True)  # type: ignore[arg-type]


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_chunked_on_cuda_equals_the_dense_head_under_autocast() -> None:
    torch.manual_seed(6)
    device = torch.device("cuda")
    embeddings = torch.randn(16, 32, device=device, requires_grad=True)
    weight = torch.randn(1000, 32, device=device, requires_grad=True)
    labels = torch.randint(0, 1000, (16,), device=device)
    dense = _dense_reference(embeddings, weight, labels, 64.0, 0.45)
    dense_grads = torch.autograd.grad(dense[0], (embeddings, dense[3]))
    with torch.autocast("cuda", dtype=torch.bfloat16):
        chunked = chunked_arcface(embeddings, weight, labels, chunk_size=300)
    assert chunked[0].dtype == torch.float32
    chunked_grads = torch.autograd.grad(chunked[0], (embeddings, weight))
    for got, want in zip((*chunked, *chunked_grads), (*dense[:3], *dense_grads), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
