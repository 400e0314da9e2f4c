"""The torchrun/DDP path on CPU: one process joins a gloo process group (as ``torchrun --nproc_per_node=1``
would set it up), the model is DDP-wrapped, and training reaches the same weights as the plain single-process
run.

Multi-process and NCCL runs need GPUs and are not exercised here."""

from __future__ import annotations

import socket

import pytest
import torch
import torch.distributed as dist

from recognizability.training.distributed import init_distributed, wrap_ddp
from recognizability.training.recipe import fit

from .test_recipe import _data, _settings


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_plain_python_is_a_single_process_without_a_group(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    context = init_distributed("cpu")
    assert not context.is_distributed and context.is_main and context.world_size == 1
    model = torch.nn.Linear(2, 2)
    assert wrap_ddp(model, context) is model


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="gloo backend missing")
def test_one_process_gloo_group_trains_like_plain_python(monkeypatch: pytest.MonkeyPatch) -> None:
    train, ui = _data()
    settings = _settings(epochs=1, max_steps_per_epoch=2)
    plain = fit(settings, train, ui, progress=False, log=None)

    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(_free_port()))
    context = init_distributed("cpu")
    try:
        assert dist.is_initialized() and dist.get_backend() == "gloo"
        assert context.is_distributed and context.is_main
        assert isinstance(wrap_ddp(torch.nn.Linear(2, 2), context), torch.nn.parallel.DistributedDataParallel)
        ddp = fit(settings, train, ui, context=context, progress=False, log=None)
    finally:
        dist.destroy_process_group()
    a, b = plain.model.state_dict(), ddp.model.state_dict()
    assert a.keys() == b.keys()
    # one process: DDP's gradient all-reduce divides by 1, so the updates are the plain run's (bucketing
    # only copies gradients, it does not reorder any sum)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    assert ddp.history[0]["total"] == pytest.approx(plain.history[0]["total"], rel=0, abs=0)
