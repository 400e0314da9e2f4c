"""Process context: plain python is one process without a group; gradients are averaged over a gloo group
(one process here: the average is the gradient itself)."""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist

from recognizability.training.run.distributed import init_distributed
from tests.helpers.tiny import free_port


def test_plain_python_is_a_single_process_without_a_group(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    context = init_distributed("cpu")
    assert not context.is_distributed and context.is_main and context.world_size == 1
    model = torch.nn.Linear(2, 2)
    model(torch.ones(1, 2)).sum().backward()
    before = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    context.average_gradients(model)  # nothing to do
    assert all(torch.equal(a, p.grad) for a, p in zip(before, model.parameters(), strict=True))


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="gloo backend missing")
def test_gradients_are_averaged_in_a_group(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (("RANK", "0"), ("LOCAL_RANK", "0"), ("WORLD_SIZE", "1"), ("MASTER_ADDR", "127.0.0.1"),
                        ("MASTER_PORT", str(free_port()))):  # fmt: skip
        monkeypatch.setenv(name, value)
    context = init_distributed("cpu")
    try:
        assert dist.is_initialized() and dist.get_backend() == "gloo" and context.is_distributed
        model, unused = torch.nn.Linear(3, 2), torch.nn.Linear(2, 2)
        model(torch.arange(3.0).view(1, 3)).sum().backward()
        expected = [p.grad.clone() for p in model.parameters() if p.grad is not None]
        context.average_gradients(model, unused, model)  # shared and gradient-less parameters are skipped
        got = [p.grad for p in model.parameters()]
        assert all(g is not None and torch.equal(a, g) for a, g in zip(expected, got, strict=True))
        assert all(p.grad is None for p in unused.parameters())
    finally:
        dist.destroy_process_group()
