"""The torchrun path of the example's loop on CPU: one process joins a gloo process group (as ``torchrun
--nproc_per_node=1`` would set it up), gradients are averaged over the group, and training reaches the same
weights as the plain single-process run.

Multi-process and NCCL runs need several processes or GPUs and are not exercised here."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from tests.helpers.tiny import free_port, load_example, tiny_config, tiny_data, tiny_session

train = load_example("train_tinyface").train


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="gloo backend missing")
def test_one_process_gloo_group_trains_like_plain_python(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data = tiny_data(tmp_path)
    config = tiny_config(epochs=1, max_steps_per_epoch=2)
    plain = train("run", config, data, tiny_session())

    for name, value in (("RANK", "0"), ("LOCAL_RANK", "0"), ("WORLD_SIZE", "1"), ("MASTER_ADDR", "127.0.0.1"),
                        ("MASTER_PORT", str(free_port()))):  # fmt: skip
        monkeypatch.setenv(name, value)
    session = tiny_session()
    try:
        assert dist.is_initialized() and session.context.is_distributed and session.context.is_main
        grouped = train("run", config, data, session)
    finally:
        dist.destroy_process_group()
    a, b = plain.model.state_dict(), grouped.model.state_dict()
    assert a.keys() == b.keys()
    # one process: the all-reduced mean divides a sum of one gradient by 1, so the updates are the plain run's
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    assert grouped.history[0]["total"] == pytest.approx(plain.history[0]["total"], rel=0, abs=0)
