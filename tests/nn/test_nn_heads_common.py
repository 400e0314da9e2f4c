"""What every margin head shares: one output type, the index parts, properties (hypothesis), float32 under
autocast, untouched inputs and argument checks (the registry that builds them: test_head_registry.py)."""

from __future__ import annotations

import dataclasses
import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from recognizability.functional import cosine_logits
from recognizability.nn import (
    PARALLEL_MODES,
    AdaFace,
    ArcFace,
    CosFace,
    CurricularFace,
    MagFace,
    MarginHeadOutput,
    available_heads,
    build_head,
)

HEAD_NAMES = available_heads()


def _head(name: str, d: int, c: int, parallel: str = "none", **options: float) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_head(name, d, c, parallel=parallel, **options)


@pytest.mark.parametrize("name", HEAD_NAMES)
def test_output_type_parts_and_untouched_inputs(name: str) -> None:
    head = _head(name, 6, 7)
    g = torch.Generator().manual_seed(1)
    e = torch.randn(5, 6, generator=g) * 30
    y = torch.tensor([0, 6, 3, 3, 1])
    before = e.clone()
    out = head(e, y)
    assert isinstance(out, MarginHeadOutput)
    torch.testing.assert_close(e, before, rtol=0, atol=0)
    assert out.logits is not None and out.cosine is not None
    assert out.logits.shape == out.cosine.shape == (5, 7) and out.loss.shape == ()
    torch.testing.assert_close(out.cosine, cosine_logits(e, head.weight))
    torch.testing.assert_close(
        out.positive_cosine, out.cosine.gather(1, y[:, None]).squeeze(1), rtol=0, atol=0
    )
    rows = zip(out.cosine.tolist(), y.tolist(), strict=True)
    brute = torch.tensor([max(v for j, v in enumerate(row) if j != t) for row, t in rows])
    torch.testing.assert_close(out.nearest_negative_cosine, brute, rtol=0, atol=0)
    assert [f.name for f in dataclasses.fields(out)][:3] == ["logits", "cosine", "loss"]
    out.loss.backward()
    assert head.weight.grad is not None and bool(torch.isfinite(head.weight.grad).all())


@pytest.mark.parametrize("name", HEAD_NAMES)
def test_float32_under_bf16_autocast(name: str) -> None:
    head = _head(name, 8, 9).eval()  # eval: buffers fixed so the two runs see the same statistics
    g = torch.Generator().manual_seed(2)
    e = (torch.randn(6, 8, generator=g) * 25).requires_grad_()
    y = torch.arange(6) % 9
    plain = head(e, y)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        auto = head(e.bfloat16(), y)
    for field in dataclasses.fields(auto):
        value = getattr(auto, field.name)
        assert value.dtype == torch.float32, field.name
        assert bool(torch.isfinite(value).all()), field.name
    # bf16 rounding of the embeddings (8 bits of mantissa) is the only difference
    torch.testing.assert_close(auto.cosine, plain.cosine, rtol=0, atol=2e-2)
    auto.loss.backward()
    assert e.grad is not None and bool(torch.isfinite(e.grad).all())


@pytest.mark.parametrize("parallel", PARALLEL_MODES)
@pytest.mark.parametrize("name", HEAD_NAMES)
def test_bad_arguments(name: str, parallel: str) -> None:
    """Dense, chunked and sharded (one process) alike; a wrong width is the embeddings' (issue 19), and a
    call that raises leaves every buffer as it was."""
    head = _head(name, 8, 4, parallel=parallel)
    with pytest.raises(ValueError, match=r"num_classes to be an int >= 2, got 1"):
        build_head(name, 8, 1, parallel=parallel)
    with pytest.raises(TypeError, match=r"embedding_dim to be a positive int, got .8."):
        build_head(name, "8", 4, parallel=parallel)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"scale to be a finite float > 0, got -1.0"):
        build_head(name, 8, 4, parallel=parallel, scale=-1.0)
    before = {key: value.clone() for key, value in head.state_dict().items() if key != "_extra_state"}
    with pytest.raises(ValueError, match=r"expected embeddings of shape \(B, 8\), got shape \(3,\)"):
        head(torch.randn(3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"expected embeddings of shape \(B, 8\), got shape \(4, 9\)"):
        head(torch.randn(4, 9), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"values in \[0, 4\), got values in \[0, 4\]"):
        head(torch.randn(3, 8), torch.tensor([0, 4, 1]))
    with pytest.raises(TypeError, match=r"labels with an integer dtype"):
        head(torch.randn(3, 8), torch.zeros(3))
    with pytest.raises(ValueError, match=r"labels of shape \(B,\) = \(3,\)"):
        head(torch.randn(3, 8), torch.zeros(2, dtype=torch.long))
    bad = torch.randn(3, 8)
    bad[0, 1] = torch.nan
    with pytest.raises(ValueError, match=r"embeddings with finite values, got 1 non-finite"):
        head(bad, torch.zeros(3, dtype=torch.long))
    after = {key: value for key, value in head.state_dict().items() if key != "_extra_state"}
    assert all(torch.equal(before[key], after[key]) for key in before)


def test_head_specific_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"t_alpha to be a float in \(0, 1\], got 2.0"):
        AdaFace(8, 4, t_alpha=2.0)
    with pytest.raises(ValueError, match=r"B >= 2 \(a batch standard deviation is needed\)"):
        AdaFace(8, 4)(torch.randn(1, 8), torch.zeros(1, dtype=torch.long))
    with pytest.raises(ValueError, match=r"margin to be a float in \[0, pi\), got 4.0"):
        CurricularFace(8, 4, margin=4.0)
    with pytest.raises(ValueError, match=r"lower_norm < upper_norm, got 50.0 and 20.0"):
        MagFace(8, 4, lower_norm=50.0, upper_norm=20.0)
    with pytest.raises(ValueError, match=r"lower_margin <= upper_margin, got 0.8 and 0.45"):
        MagFace(8, 4, lower_margin=0.8, upper_margin=0.45)
    with pytest.raises(ValueError, match=r"lambda_g to be a finite float >= 0, got -1.0"):
        MagFace(8, 4, lambda_g=-1.0)


# ----------------------------------------------------------------------------------------------------------
# Properties
# ----------------------------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    name=st.sampled_from(HEAD_NAMES),
    seed=st.integers(0, 2**31 - 1),
    batch=st.integers(2, 6),
    classes=st.integers(2, 7),
    dim=st.integers(2, 6),
    magnitude=st.floats(1e-2, 1e3),
)
def test_margin_lowers_only_the_target_and_loss_is_finite(
    name: str, seed: int, batch: int, classes: int, dim: int, magnitude: float
) -> None:
    """For every head: the target logit is at most ``s * cos(theta_y)`` (the margin penalises the target), the
    non-target logits are ``s * cos(theta_j)`` (CurricularFace: unless hard, then ``s cos (t + cos)``), the
    loss is finite and at least the cross-entropy of the plain scaled cosines' softmax bound."""
    g = torch.Generator().manual_seed(seed)
    head = build_head(name, dim, classes).double()
    with torch.no_grad():
        head.weight.copy_(torch.randn(classes, dim, generator=g, dtype=torch.float64))
    e = torch.randn(batch, dim, generator=g, dtype=torch.float64) * magnitude
    y = torch.randint(0, classes, (batch,), generator=g)
    out = head(e, y)
    assert out.logits is not None and out.cosine is not None
    s, cos = head.scale, out.cosine
    if isinstance(head, AdaFace):
        cos = cos.clamp(-1 + 1e-3, 1 - 1e-3)  # AdaFace's code clamps every cosine first
    target = out.logits.gather(1, y[:, None]).squeeze(1)
    assert bool((target <= s * cos.gather(1, y[:, None]).squeeze(1) + 1e-9).all())
    others = torch.ones_like(cos, dtype=torch.bool).scatter_(1, y[:, None], False)
    if isinstance(head, CurricularFace):
        t = float(head.t)
        either = torch.isclose(out.logits, s * cos * (t + cos)) | torch.isclose(out.logits, s * cos)
        assert bool(either[others].all())
    else:
        torch.testing.assert_close(out.logits[others], s * cos[others])
    assert bool(torch.isfinite(out.loss)) and out.loss.item() >= 0
    assert bool(
        ((out.positive_cosine.abs() <= 1 + 1e-12) & (out.nearest_negative_cosine.abs() <= 1 + 1e-12)).all()
    )


@settings(max_examples=20, deadline=None)
@given(
    name=st.sampled_from(("arcface", "cosface", "curricularface")),
    seed=st.integers(0, 2**31 - 1),
    factor=st.floats(1e-3, 1e3),
)
def test_norm_free_heads_are_invariant_to_embedding_and_prototype_scale(
    name: str, seed: int, factor: float
) -> None:
    """ArcFace, CosFace and CurricularFace (eval) see only directions; AdaFace and MagFace read the norm."""
    g = torch.Generator().manual_seed(seed)
    head = build_head(name, 5, 4).double().eval()
    e = torch.randn(3, 5, generator=g, dtype=torch.float64)
    y = torch.randint(0, 4, (3,), generator=g)
    out = head(e, y)
    with torch.no_grad():
        head.weight.mul_(factor)
    scaled = head(e * factor, y)
    torch.testing.assert_close(scaled.loss, out.loss, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(scaled.logits, out.logits, rtol=1e-9, atol=1e-9)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), magnitude=st.floats(1.0, 200.0))
def test_zero_margins_reduce_to_normalised_softmax(seed: int, magnitude: float) -> None:
    """With its margins at zero every head is the normalised softmax ``CE(s cos)`` (MagFace plus its g)."""
    g = torch.Generator().manual_seed(seed)
    e = torch.randn(4, 6, generator=g, dtype=torch.float64) * magnitude
    y = torch.randint(0, 5, (4,), generator=g)
    heads = [
        ArcFace(6, 5, scale=16.0, margin=0.0),
        CosFace(6, 5, scale=16.0, margin=0.0),
        MagFace(6, 5, scale=16.0, lower_margin=0.0, upper_margin=0.0, lambda_g=0.0),
        AdaFace(6, 5, scale=16.0, margin=0.0).eval(),
    ]
    for head in heads:
        head.double()
        with torch.no_grad():
            head.weight.copy_(torch.randn(5, 6, generator=g, dtype=torch.float64))
        cos = cosine_logits(e, head.weight)
        if isinstance(head, AdaFace):
            cos = cos.clamp(-1 + 1e-3, 1 - 1e-3)
        want = torch.nn.functional.cross_entropy(16.0 * cos, y)
        torch.testing.assert_close(head(e, y).loss, want, rtol=1e-10, atol=1e-10)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_magface_margin_grows_with_the_norm(seed: int) -> None:
    """MagFace: a larger norm (same direction) gives a larger margin, a lower target logit."""
    g = torch.Generator().manual_seed(seed)
    head = MagFace(4, 3).double()
    direction = torch.nn.functional.normalize(torch.randn(1, 4, generator=g, dtype=torch.float64), dim=1)
    y = torch.zeros(1, dtype=torch.long)
    with torch.no_grad():  # a prototype near the direction: cos_y > 0, where the (easy) margin applies
        head.weight[0] = direction[0] + 0.1 * torch.randn(4, generator=g, dtype=torch.float64)
    targets = []
    for norm in (10.0, 40.0, 80.0, 110.0):
        logits = head(direction * norm, y).logits
        assert logits is not None
        targets.append(logits[0, 0].item())
    assert all(later < earlier for earlier, later in itertools.pairwise(targets))
    assert math.isfinite(targets[-1])


@pytest.mark.parametrize("name", HEAD_NAMES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_embeddings_give_float32_outputs(name: str, dtype: torch.dtype) -> None:
    head = _head(name, 8, 9).eval()
    g = torch.Generator().manual_seed(3)
    e = torch.randn(6, 8, generator=g) * 25
    y = torch.arange(6) % 9
    half = head(e.to(dtype), y)
    full = head(e.to(dtype).float(), y)  # the same (rounded) embeddings in float32
    for field in dataclasses.fields(half):
        value = getattr(half, field.name)
        assert value.dtype == torch.float32, field.name
        torch.testing.assert_close(value, getattr(full, field.name), msg=field.name)
