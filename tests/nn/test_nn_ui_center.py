"""UICenter: fit and streaming updates against references, state_dict round trip, errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from recognizability._validation import value_checks
from recognizability.functional import project_away
from recognizability.nn import UICenter


def reference_center(embeddings: torch.Tensor) -> torch.Tensor:
    """L2-normalised mean of the L2-normalised embeddings, with loops."""
    dim = embeddings.shape[1]
    total = [0.0] * dim
    for row in embeddings.tolist():
        norm = sum(x * x for x in row) ** 0.5
        total = [t + x / norm for t, x in zip(total, row, strict=True)]
    mean = [t / embeddings.shape[0] for t in total]
    norm = sum(x * x for x in mean) ** 0.5
    return torch.tensor([x / norm for x in mean])


def test_fit_matches_reference_and_methods_match_functions() -> None:
    torch.manual_seed(0)
    ui = torch.randn(40, 6) * 3 + 1
    center = UICenter(6)
    assert not center.is_initialized
    center.fit(ui)
    assert center.is_initialized
    torch.testing.assert_close(center.center, reference_center(ui))
    torch.testing.assert_close(float(center.center.norm()), 1.0)
    e = torch.randn(5, 6)
    torch.testing.assert_close(center.cosine(e), F.normalize(e, dim=1) @ reference_center(ui))
    torch.testing.assert_close(center(e), center.cosine(e))
    torch.testing.assert_close(center.project_away(e), project_away(e, center.center))


def test_streaming_running_mean_equals_fit_on_concatenation() -> None:
    torch.manual_seed(1)
    chunks = [torch.randn(n, 4) + 0.5 for n in (3, 7, 1, 5)]
    streamed = UICenter(4)
    for chunk in chunks:
        streamed.update(chunk)
    fitted = UICenter(4)
    fitted.fit(torch.cat(chunks))
    torch.testing.assert_close(streamed.center, fitted.center)
    assert int(streamed.count) == 16


def test_ema_update_matches_reference() -> None:
    torch.manual_seed(2)
    chunks = [torch.randn(4, 3) + 1 for _ in range(3)]
    center = UICenter(3, momentum=0.25)
    mean = F.normalize(chunks[0], dim=1).mean(0)
    for i, chunk in enumerate(chunks):
        center.update(chunk)
        if i > 0:
            mean = 0.75 * mean + 0.25 * F.normalize(chunk, dim=1).mean(0)
    torch.testing.assert_close(center.center, F.normalize(mean, dim=0))


def test_state_dict_round_trip_and_reset() -> None:
    center = UICenter(5, momentum=0.1)
    center.update(torch.randn(6, 5) + 2)
    keys = set(center.state_dict())
    assert keys == {"center", "running_mean", "count", "initialized"}
    restored = UICenter(5, momentum=0.1)
    restored.load_state_dict(center.state_dict())
    assert restored.is_initialized
    e = torch.randn(3, 5)
    torch.testing.assert_close(restored.cosine(e), center.cosine(e))
    restored.reset()
    assert not restored.is_initialized
    with pytest.raises(RuntimeError, match=r"holds no centre yet"):
        restored.cosine(e)


def test_never_receives_gradients() -> None:
    center = UICenter(4)
    e = torch.randn(5, 4, requires_grad=True)
    center.fit(e)
    center.update(e)
    assert not center.center.requires_grad and list(center.parameters()) == []
    center.cosine(e).sum().backward()
    assert e.grad is not None


def test_errors_and_state_unchanged_on_error() -> None:
    center = UICenter(3)
    with pytest.raises(RuntimeError, match=r"holds no centre yet: call fit"):
        center.project_away(torch.randn(2, 3))
    center.fit(torch.randn(4, 3) + 1)
    before = {k: v.clone() for k, v in center.state_dict().items()}
    with pytest.raises(ValueError, match=r"embeddings with finite values, got 1 non-finite"):
        center.update(torch.tensor([[1.0, float("nan"), 0.0]]))
    with pytest.raises(ValueError, match=r"embeddings of shape \(B, 3\), got shape \(2, 4\)"):
        center.fit(torch.randn(2, 4))
    with pytest.raises(ValueError, match=r"non-empty embeddings"):
        center.update(torch.randn(0, 3))
    with pytest.raises(ValueError, match=r"normalised mean has a direction .* cancel out"):
        center.fit(torch.tensor([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]]))
    with pytest.raises(ValueError, match=r"embeddings on the device of the UI centre \(cpu\), got meta"):
        center.cosine(torch.empty(2, 3, device="meta"))
    for key, value in center.state_dict().items():
        torch.testing.assert_close(value, before[key])
    corrupted = center.state_dict()
    corrupted["center"] = torch.tensor([float("inf"), 0.0, 0.0])
    center.load_state_dict(corrupted)
    with pytest.raises(ValueError, match=r"UICenter.center with finite values"):
        center.cosine(torch.randn(2, 3))
    with pytest.raises(ValueError, match=r"momentum to be a float in \(0, 1\], got 0.0"):
        UICenter(3, momentum=0.0)


def test_update_with_checks_off_gives_same_result() -> None:
    data = torch.randn(8, 4)
    checked, unchecked = UICenter(4), UICenter(4)
    checked.update(data)
    with value_checks(False):
        unchecked.update(data)
    torch.testing.assert_close(checked.center, unchecked.center)


@pytest.mark.parametrize("magnitude", [1e-30, 1.0, 1e20])
def test_fit_refuses_embeddings_that_cancel_out_and_keeps_the_old_centre(magnitude: float) -> None:
    g = torch.Generator().manual_seed(4)
    x = torch.randn(500, 16, generator=g) * magnitude
    cancelling = torch.cat([x, -x])[torch.randperm(1000, generator=g)]  # mean = rounding noise
    center = UICenter(16)
    center.fit(torch.randn(10, 16, generator=g) + 1)
    before = {k: v.clone() for k, v in center.state_dict().items()}
    with pytest.raises(ValueError, match=r"got a mean of norm .*: the embeddings are zero or cancel out"):
        center.fit(cancelling)
    with pytest.raises(ValueError, match=r"zero or cancel out"):
        UICenter(16).update(cancelling)
    for key, value in center.state_dict().items():
        assert torch.equal(value, before[key]), key


@pytest.mark.parametrize("magnitude", [1e-30, 1e-3, 1e20, 3e38])
def test_centre_and_cosine_right_at_every_scale(magnitude: float) -> None:
    g = torch.Generator().manual_seed(5)
    ui = torch.randn(30, 6, generator=g, dtype=torch.float64) + 1
    center = UICenter(6)
    center.fit((ui / ui.abs().max() * magnitude).float())
    reference = reference_center(ui).double()
    torch.testing.assert_close(center.center.double(), reference, atol=1e-6, rtol=0)
    e = torch.randn(4, 6, generator=g, dtype=torch.float64)
    want = torch.stack([torch.dot(row / row.norm(), reference) for row in e])
    got = center.cosine((e / e.abs().max() * magnitude).float())
    torch.testing.assert_close(got.double(), want, atol=1e-6, rtol=0)
