"""Every margin head chunked (and sharded on one process) equals it dense: loss, both index parts, the index,
the gradients of the embeddings and of every prototype, and the running statistics after a step; against
the slow references too. The multi-process sharded heads: test_sharded.py."""

from __future__ import annotations

import pytest
import torch

from recognizability.functional import recognizability_index, recognizability_index_from_parts
from recognizability.nn import (
    AdaFace,
    ArcFace,
    ChunkedArcFace,
    ChunkedMarginHead,
    CosFaceMargin,
    MagFace,
    MarginHead,
    ShardedArcFace,
    ShardedMarginHead,
)
from tests.helpers.margin_references import (
    cos_rows,
    norms_of,
    reference_adaface,
    reference_adaface_statistics,
    reference_arcface,
    reference_cosface,
    reference_cross_entropy,
    reference_curricularface,
    reference_magface,
    reference_magface_g,
)

from .margin_cases import (
    CASES,
    HEAD_NAMES,
    START,
    brute_force_parts,
    build,
    near_prototypes,
    objective,
    statistics,
)

BATCH, CLASSES, DIM = 9, 23, 6  # 23 classes: no chunk size below divides it but 1


def _data(dtype: torch.dtype, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    # norms from about 2 to 7: both ends of AdaFace's clip and of MagFace's bounds
    embeddings = torch.randn(BATCH, DIM, generator=g, dtype=dtype) * torch.linspace(0.8, 3.2, BATCH)[:, None]
    weight = torch.randn(CLASSES, DIM, generator=g, dtype=dtype)
    labels = torch.randint(0, CLASSES, (BATCH,), generator=g)
    if dtype == torch.float64:  # float32 rounding of cos_y near 1 is amplified by the index's 1 / d_P
        embeddings = near_prototypes(embeddings, weight, labels)
    return {
        "embeddings": embeddings,
        "weight": weight,
        "labels": labels,
        "ui": torch.rand(BATCH, generator=g, dtype=dtype) * 2 - 1,
        "a": torch.randn(BATCH, generator=g, dtype=dtype),
        "b": torch.randn(BATCH, generator=g, dtype=dtype),
    }


def _run(head: torch.nn.Module, data: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """One training step's outputs and gradients."""
    embeddings = data["embeddings"].clone().requires_grad_()
    out = head(embeddings, data["labels"])
    positive, nearest = out.positive_cosine, out.nearest_negative_cosine
    objective(out.loss, positive, nearest, data["a"], data["b"]).backward()
    assert embeddings.grad is not None and head.weight.grad is not None
    if out.cosine is not None:  # dense: the index from the whole cosine, the parts by brute force
        index = recognizability_index(out.cosine.detach(), data["labels"], data["ui"])
        positive, nearest = brute_force_parts(out.cosine.detach(), data["labels"])
    else:
        index = recognizability_index_from_parts(positive.detach(), nearest.detach(), data["ui"])
    return {
        "loss": out.loss.detach(),
        "positive_cosine": positive.detach(),
        "nearest_negative_cosine": nearest.detach(),
        "index": index,
        "embedding_gradient": embeddings.grad,
        "prototype_gradient": head.weight.grad,
        **{f"statistic {k}": v for k, v in statistics(head).items()},
    }


def _max_differences(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> dict[str, float]:
    """Largest absolute difference, relative to ``max(1, |want|)`` (the index of a sample on its own prototype
    is about 1e7)."""
    assert got.keys() == want.keys()
    return {key: float(((got[key] - want[key]).abs() / want[key].abs().clamp(min=1.0)).max()) for key in want}


@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float64, 1e-12), (torch.float32, 1e-5)])
@pytest.mark.parametrize("name", HEAD_NAMES)
def test_chunked_and_one_process_sharded_equal_dense(name: str, dtype: torch.dtype, tolerance: float) -> None:
    data = _data(dtype)
    dense = build(name, data["weight"])
    assert isinstance(dense, MarginHead)
    want = _run(dense, data)
    for holder in ("chunked", "sharded"):
        for chunk_size in (1, 4, CLASSES):
            head = build(name, data["weight"], parallel=holder, chunk_size=chunk_size)
            assert isinstance(head, ChunkedMarginHead if holder == "chunked" else ShardedMarginHead)
            assert head.state_dict().keys() - {"_extra_state"} == dense.state_dict().keys()
            differences = _max_differences(_run(head, data), want)
            for key, difference in differences.items():
                assert difference < tolerance, (holder, chunk_size, key, difference)


def test_the_margins_act_on_the_test_data() -> None:
    """Each part of each margin is exercised: CurricularFace has hard and easy negatives, AdaFace's
    normalised norm reaches both clips and its cosine clamp acts on a target and a non-target, MagFace's norms
    lie on both sides of its bounds, the statistics move."""
    data = _data(torch.float64)
    norms = data["embeddings"].norm(dim=1)
    mean, std = reference_adaface_statistics(norms.tolist(), 4.0, 1.0, CASES["adaface"]["t_alpha"])
    norm_hat = CASES["adaface"]["h"] * (norms - mean) / (std + 1e-3)
    assert float(norm_hat.min()) < -1.0 and float(norm_hat.max()) > 1.0
    magface = CASES["magface"]
    assert float(norms.min()) < magface["lower_norm"] and float(norms.max()) > magface["upper_norm"]
    cos = torch.tensor(cos_rows(data["embeddings"], data["weight"]), dtype=torch.float64)
    labels = data["labels"][:, None]
    assert 1 - 1e-3 < float(cos[0].max()) < 1 - 1e-5 and 1 - 1e-3 < float(cos.gather(1, labels)[1]) < 1 - 1e-5
    theta_y = torch.acos(cos.gather(1, labels).clamp(-1, 1))
    hard = cos > torch.cos(theta_y + CASES["curricularface"]["margin"])
    hard.scatter_(1, labels, False)
    assert 0 < int(hard.sum()) < hard.numel() - BATCH
    for name, buffers in START.items():
        head = build(name, data["weight"], parallel="chunked", chunk_size=5)
        head(data["embeddings"], data["labels"])
        assert all(float(getattr(head, key)) != value for key, value in buffers.items())


def _reference_loss(name: str, data: dict[str, torch.Tensor]) -> tuple[float, dict[str, float]]:
    """The loss of one training step and the statistics after it, from the loop references."""
    cos = cos_rows(data["embeddings"], data["weight"])
    labels = data["labels"].tolist()
    norms = norms_of(data["embeddings"])
    options = CASES[name]
    s = options["scale"]
    if name == "arcface":
        return reference_cross_entropy(reference_arcface(cos, labels, s, options["margin"]), labels), {}
    if name == "cosface":
        return reference_cross_entropy(reference_cosface(cos, labels, s, options["margin"]), labels), {}
    if name == "adaface":
        mean, std = reference_adaface_statistics(norms, 4.0, 1.0, options["t_alpha"])
        logits = reference_adaface(cos, norms, labels, mean, std, s, options["margin"], options["h"])
        return reference_cross_entropy(logits, labels), {"batch_mean": mean, "batch_std": std}
    if name == "curricularface":
        mean_cos = sum(row[y] for row, y in zip(cos, labels, strict=True)) / len(labels)
        t = options["t_momentum"] * mean_cos + (1 - options["t_momentum"]) * 0.3
        logits = reference_curricularface(cos, labels, t, s, options["margin"])
        return reference_cross_entropy(logits, labels), {"t": t}
    bounds = (options["lower_norm"], options["upper_norm"])
    logits = reference_magface(cos, norms, labels, s, *bounds, 0.45, 0.8)  # the default margins
    regulariser = options["lambda_g"] * reference_magface_g(norms, *bounds)
    return reference_cross_entropy(logits, labels) + regulariser, {}


@pytest.mark.parametrize("name", HEAD_NAMES)
def test_chunked_heads_equal_the_references_written_from_the_equations(name: str) -> None:
    data = _data(torch.float64, seed=1)
    head = build(name, data["weight"], parallel="chunked", chunk_size=4)
    loss = head(data["embeddings"], data["labels"]).loss.detach()
    want, want_statistics = _reference_loss(name, data)
    assert abs(float(loss) - want) < 1e-10, (float(loss), want)
    for buffer, value in want_statistics.items():
        assert abs(float(getattr(head, buffer)) - value) < 1e-10, buffer


@pytest.mark.parametrize("name", HEAD_NAMES)
def test_eval_mode_reads_the_statistics_and_a_dense_checkpoint_loads_chunked(name: str) -> None:
    data = _data(torch.float64, seed=2)
    dense = build(name, data["weight"])
    dense(data["embeddings"], data["labels"])  # a training step moves the statistics
    chunked = build(name, torch.zeros_like(data["weight"]), parallel="chunked", chunk_size=5)
    chunked.load_state_dict(dense.state_dict())
    dense.eval()
    chunked.eval()
    before = statistics(chunked)
    want, got = dense(data["embeddings"], data["labels"]), chunked(data["embeddings"], data["labels"])
    torch.testing.assert_close(got.loss, want.loss, rtol=1e-12, atol=1e-12)
    assert all(torch.equal(before[k], v) for k, v in statistics(chunked).items())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", HEAD_NAMES)
def test_half_precision_and_autocast_give_float32(name: str, dtype: torch.dtype) -> None:
    data = _data(torch.float32, seed=3)
    dense = build(name, data["weight"]).eval()
    chunked = build(name, data["weight"], parallel="chunked", chunk_size=5).eval()
    half = data["embeddings"].to(dtype).requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = chunked(half, data["labels"])
    assert out.loss.dtype == out.positive_cosine.dtype == out.nearest_negative_cosine.dtype == torch.float32
    want = dense(half.detach().float(), data["labels"])
    torch.testing.assert_close(out.loss, want.loss, rtol=1e-5, atol=1e-5)
    out.loss.backward()
    assert half.grad is not None and half.grad.dtype == dtype and bool(torch.isfinite(half.grad).all())


def test_holders_show_their_margin_and_refuse_a_bare_number() -> None:
    head = ChunkedMarginHead(8, 10, CosFaceMargin(margin=0.4), chunk_size=4)
    assert repr(head.margin_component) == "CosFaceMargin(scale=64.0, margin=0.4)"
    assert "margin=CosFaceMargin(scale=64.0, margin=0.4), chunk_size=4" in repr(head)
    assert "margin=CosFaceMargin" in repr(ShardedMarginHead(8, 10, CosFaceMargin()))
    with pytest.raises(TypeError, match=r"margin to be a Margin \(e.g. ArcFaceMargin"):
        MarginHead(8, 10, 0.35)  # type: ignore[arg-type]


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", HEAD_NAMES)
def test_chunked_on_cuda_equals_dense_under_autocast_without_a_sync(name: str) -> None:
    from recognizability._validation import value_checks

    data = {key: value.cuda() for key, value in _data(torch.float32, seed=4).items()}
    dense = build(name, data["weight"]).cuda()
    chunked = build(name, data["weight"], parallel="chunked", chunk_size=5).cuda()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        want, got = _run(dense, data), _run(chunked, data)
    for key, difference in _max_differences(got, want).items():
        assert difference < 1e-4, (key, difference)
    chunked(data["embeddings"], data["labels"]).loss.backward()  # warm-up of the kernels
    torch.cuda.synchronize()
    with value_checks(False):
        torch.cuda.set_sync_debug_mode("error")
        try:
            chunked(data["embeddings"], data["labels"]).loss.backward()
        finally:
            torch.cuda.set_sync_debug_mode("default")


@pytest.mark.parametrize("holder", [ArcFace, ChunkedArcFace, ShardedArcFace, AdaFace, MagFace])
def test_a_schedule_setting_the_heads_options_changes_what_every_holder_computes(holder: type) -> None:
    # head.scale and head.margin are the margin component's, not copies: setting them between steps (a margin
    # schedule) changes the target and the non-target logits alike, as building the head with them does
    torch.manual_seed(0)
    head, built = holder(DIM, CLASSES), holder(DIM, CLASSES, scale=16.0)
    built.load_state_dict(head.state_dict())
    head.scale = 16.0
    if holder is not MagFace:
        built = holder(DIM, CLASSES, scale=16.0, margin=0.2)
        built.load_state_dict(head.state_dict())
        head.margin = 0.2
        assert head.margin_component.margin == 0.2
    data = _data(torch.float64)
    got, want = head(data["embeddings"], data["labels"]), built(data["embeddings"], data["labels"])
    assert torch.equal(got.loss, want.loss)
    assert head.extra_repr() == built.extra_repr()
