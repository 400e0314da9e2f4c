"""The running statistics of AdaFace (feature-norm mean and std) and CurricularFace (``t``): buffers saved in
the state dict, updated only in training mode, never by a failing call, without host syncs; and every head
captured whole by ``torch.compile``."""

from __future__ import annotations

import pytest
import torch

from recognizability._validation import value_checks
from recognizability.functional import adaface_norm_statistics, curricularface_t_update
from recognizability.nn import AdaFace, CurricularFace, MarginHead, available_heads, build_head
from tests.helpers.host_reads import HostRead

HEAD_NAMES = available_heads()
STATEFUL = {"adaface": ("batch_mean", "batch_std"), "curricularface": ("t",)}


def _batch(seed: int, b: int = 6, d: int = 8, c: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, d, generator=g) * (5 + 40 * torch.rand(b, 1, generator=g)), torch.randint(
        0, c, (b,), generator=g
    )


def _buffers(head: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.clone() for name, value in head.named_buffers()}


def test_buffers_are_in_the_state_dict_with_their_initial_values() -> None:
    ada, curricular = AdaFace(8, 10), CurricularFace(8, 10)
    assert list(ada.state_dict()) == ["weight", "batch_mean", "batch_std"]
    assert list(curricular.state_dict()) == ["weight", "t"]
    assert ada.batch_mean.tolist() == [20.0] and ada.batch_std.tolist() == [100.0]
    assert curricular.t.tolist() == [0.0]


def test_adaface_statistics_follow_the_moving_average_in_training_only() -> None:
    head = AdaFace(8, 10, t_alpha=0.5)
    mean, std = head.batch_mean.clone(), head.batch_std.clone()
    for seed in range(3):
        e, y = _batch(seed)
        mean, std = adaface_norm_statistics(e.norm(dim=1), mean, std, momentum=0.5)
        head(e, y)
        torch.testing.assert_close(head.batch_mean, mean)
        torch.testing.assert_close(head.batch_std, std)
    frozen = _buffers(head)
    head.eval()
    head(*_batch(7))
    single_e, single_y = _batch(8)
    head(single_e[:1], single_y[:1])  # eval mode only reads the statistics: one sample is fine
    assert all(torch.equal(frozen[k], v) for k, v in head.named_buffers())


def test_curricularface_t_follows_the_moving_average_in_training_only() -> None:
    head = CurricularFace(8, 10, t_momentum=0.2)
    t = head.t.clone()
    for seed in range(3):
        e, y = _batch(seed)
        out = head(e, y)
        t = curricularface_t_update(out.positive_cosine, t, momentum=0.2)
        torch.testing.assert_close(head.t, t)
    frozen = head.t.clone()
    head.eval()
    head(*_batch(9))
    assert torch.equal(head.t, frozen)


@pytest.mark.parametrize("name", sorted(STATEFUL))
def test_state_dict_round_trip_restores_the_statistics(name: str) -> None:
    torch.manual_seed(0)
    trained = build_head(name, 8, 10)
    for seed in range(4):
        trained(*_batch(seed))
    restored = build_head(name, 8, 10)
    restored.load_state_dict(trained.state_dict())
    for buffer in STATEFUL[name]:
        assert torch.equal(getattr(restored, buffer), getattr(trained, buffer))
    trained.eval()
    restored.eval()
    e, y = _batch(11)
    torch.testing.assert_close(restored(e, y).loss, trained(e, y).loss, rtol=0, atol=0)
    fresh = build_head(name, 8, 10)
    fresh.load_state_dict({k: v for k, v in trained.state_dict().items() if k == "weight"}, strict=False)
    assert not torch.equal(fresh.eval()(e, y).loss, trained(e, y).loss)  # the statistics matter


@pytest.mark.parametrize("name", sorted(STATEFUL))
def test_a_failing_call_leaves_the_statistics_unchanged(name: str) -> None:
    head = build_head(name, 8, 10)
    head(*_batch(0))
    before = _buffers(head)
    e, y = _batch(1)
    with pytest.raises(ValueError, match=r"values in \[0, 10\)"):
        head(e, torch.full_like(y, 10))
    with pytest.raises(ValueError, match=r"labels of shape \(B,\) = \(6,\)"):
        head(e, y[:3])
    if name == "adaface":
        with pytest.raises(ValueError, match=r"B >= 2"):
            head(e[:1], y[:1])
    assert all(torch.equal(before[k], v) for k, v in head.named_buffers())


def _training_step(head: MarginHead, e: torch.Tensor, y: torch.Tensor) -> None:
    head(e, y).loss.backward()


@pytest.mark.parametrize("parallel", ["none", "chunked", "sharded"])
@pytest.mark.parametrize("name", HEAD_NAMES)
def test_training_step_without_value_checks_reads_no_tensor_value(
    name: str, parallel: str, forbid_host_reads: None
) -> None:
    head = build_head(name, 8, 10, parallel=parallel, **({} if parallel == "none" else {"chunk_size": 3}))
    e, y = _batch(3)
    e.requires_grad_()
    with value_checks(False):
        _training_step(head, e, y)
    with pytest.raises(HostRead):
        _training_step(head, e, y)  # value checks on: the label check reads values, so the probe works


@pytest.mark.skipif(
    not (hasattr(torch, "compile") and torch._dynamo.is_dynamo_supported()),
    reason="torch.compile is not supported on this platform",
)
@pytest.mark.filterwarnings("ignore:.*torch.jit.script_method.*:DeprecationWarning")
@pytest.mark.parametrize("name", HEAD_NAMES)
def test_compiled_training_step_equals_eager(name: str) -> None:
    """Graph capture with no break (``fullgraph``), buffer updates included; the ``eager`` backend keeps it
    fast on a small CPU."""
    torch._dynamo.reset()
    torch.manual_seed(0)
    eager, compiled_head = build_head(name, 8, 10), build_head(name, 8, 10)
    compiled_head.load_state_dict(eager.state_dict())
    compiled = torch.compile(compiled_head, fullgraph=True, backend="eager")
    for seed in range(2):
        e, y = _batch(seed)
        want, got = eager(e, y), compiled(e, y)
        torch.testing.assert_close(got.loss, want.loss)
        torch.testing.assert_close(got.positive_cosine, want.positive_cosine)
        torch.testing.assert_close(got.nearest_negative_cosine, want.nearest_negative_cosine)
    for (key, a), b in zip(eager.state_dict().items(), compiled_head.state_dict().values(), strict=True):
        torch.testing.assert_close(b, a, msg=key)


def _non_finite_batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    e, y = _batch(5)
    one_inf_row = e.clone()
    one_inf_row[0] = torch.inf  # e.g. a float16 overflow in the backbone
    return [(torch.full_like(e, torch.nan), y), (one_inf_row, y)]


@pytest.mark.parametrize("name", sorted(STATEFUL))
def test_non_finite_embeddings_are_refused_before_the_statistics_change(name: str) -> None:
    head = build_head(name, 8, 10)
    head(*_batch(0))
    before = _buffers(head)
    for e, y in _non_finite_batches():
        with pytest.raises(ValueError, match=r"expected embeddings with finite values, got \d+ non-finite"):
            head(e, y)
    assert all(torch.equal(before[k], v) for k, v in head.named_buffers())


@pytest.mark.parametrize("name", sorted(STATEFUL))
def test_without_value_checks_a_non_finite_batch_never_reaches_the_statistics(name: str) -> None:
    """The checks off (no host sync): the update keeps the old value of a statistic that came out non-finite,
    so later calls are as good as before."""
    head = build_head(name, 8, 10)
    head(*_batch(0))
    with value_checks(False):
        for e, y in _non_finite_batches():
            head(e, y)
    assert all(bool(torch.isfinite(v).all()) for v in head.buffers())
    out = head(*_batch(6))
    assert bool(torch.isfinite(out.loss)) and bool(torch.isfinite(out.logits).all())


def test_statistics_helpers_keep_the_old_value_of_a_non_finite_statistic() -> None:
    mean, std = torch.tensor([20.0]), torch.tensor([100.0])
    new_mean, new_std = adaface_norm_statistics(torch.tensor([torch.nan, 1.0]), mean, std)
    assert torch.equal(new_mean, mean) and torch.equal(new_std, std)
    t = torch.tensor([0.25])
    assert torch.equal(curricularface_t_update(torch.tensor([0.5, torch.nan]), t), t)
    finite = curricularface_t_update(torch.tensor([0.5, 0.7]), t, momentum=0.5)
    torch.testing.assert_close(finite, torch.tensor([0.425]))


@pytest.mark.parametrize(
    ("name", "buffer", "bad", "words"),
    [
        ("adaface", "batch_mean", torch.nan, r"batch_mean to be finite, got \[nan\]"),
        ("adaface", "batch_std", -1.0, r"batch_std to be finite and >= 0, got \[-1.0\]"),
        ("adaface", "batch_std", torch.inf, r"batch_std to be finite and >= 0, got \[inf\]"),
        ("curricularface", "t", torch.inf, r"t to be finite, got \[inf\]"),
    ],
)
def test_load_state_dict_refuses_bad_statistics(name: str, buffer: str, bad: float, words: str) -> None:
    head = build_head(name, 8, 10)
    trained = build_head(name, 8, 10)
    state = trained.state_dict()
    state[buffer] = torch.tensor([bad])
    before = {k: v.clone() for k, v in head.state_dict().items()}
    with pytest.raises(RuntimeError, match=words):
        head.load_state_dict(state)
    assert all(torch.equal(before[k], v) for k, v in head.state_dict().items())  # the weight too
