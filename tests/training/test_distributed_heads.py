"""The example's training loop in two gloo processes (as ``torchrun --nproc_per_node=2`` runs it, on CPU):
the replicated modules end with the same weights on both processes, and with ``--head-parallel sharded`` each
process trains its own shard of the prototypes, never averaged with the other's."""

from __future__ import annotations

import math
import os
import socket
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from recognizability.nn import ArcFace, ShardedArcFace
from recognizability.training.steps import nearest_class

from ._examples import load_example, tiny_config, tiny_data, tiny_session

WORLD_SIZE = 2


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(rank: int, port: int, folder: str) -> None:
    """One torchrun-like process: both head modes trained in turn; its weights and history saved."""
    os.environ.update(
        RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(WORLD_SIZE), MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )  # fmt: skip
    torch.set_num_threads(1)
    train = load_example("train_tinyface").train
    data = tiny_data(Path(folder), n=128)
    session = tiny_session()  # joins the gloo group
    try:
        assert session.context.world_size == WORLD_SIZE and session.context.rank == rank
        results: dict[str, Any] = {}
        for parallel in ("none", "sharded"):
            config = tiny_config(
                epochs=1, max_steps_per_epoch=2, batch_size=16, parallel=parallel
            )  # fmt: skip
            result = train(parallel, config, data, session)
            head = result.model.head
            results[parallel] = {
                "state": {
                    k: v.detach().clone()
                    for k, v in result.model.state_dict().items()
                    if k != "head._extra_state"
                },
                "history": result.history,
                "head": type(head).__name__,
                "classes": (getattr(head, "class_start", 0), getattr(head, "class_end", data.num_classes)),
                "full_weight": head.full_weight() if isinstance(head, ShardedArcFace) else None,
                # the validation's nearest prototype over both shards (a collective), on the same embeddings
                "nearest": nearest_class(
                    torch.randn(50, 32, generator=torch.Generator().manual_seed(3)), head
                ),
            }
        torch.save(results, Path(folder) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("gloo backend missing")
    folder = tmp_path_factory.mktemp("ddp")
    mp.spawn(_worker, args=(_free_port(), str(folder)), nprocs=WORLD_SIZE, join=True)
    return [torch.load(folder / f"rank{r}.pt", weights_only=True) for r in range(WORLD_SIZE)]


#: Buffers that the loop does not synchronise: each process updates them from its own images.
_BATCHNORM_STATISTICS = (".running_mean", ".running_var", ".num_batches_tracked")


def _not_head(key: str) -> bool:
    return not key.startswith("head.")


@pytest.mark.slow
@pytest.mark.parametrize("parallel", ["none", "sharded"])
def test_replicated_modules_end_equal_on_both_processes(
    two_processes: list[dict[str, Any]], parallel: str
) -> None:
    first, second = (r[parallel] for r in two_processes)
    assert first["state"].keys() == second["state"].keys()
    for key in filter(_not_head, first["state"]):  # backbone, criterion, UI centre
        if key.endswith(_BATCHNORM_STATISTICS):
            continue  # each process's own running statistics (the embedding's BatchNorm1d is not frozen)
        torch.testing.assert_close(first["state"][key], second["state"][key], rtol=0, atol=0, msg=key)
    for a, b in zip(first["history"], second["history"], strict=True):
        for name in ("total", "classification", "regression", "diversion", "attention"):
            assert math.isfinite(a[name]) and a[name] == b[name], name  # means over both processes
        # validation runs in eval mode on each process's own BatchNorm statistics
        assert 0.0 <= a["val_accuracy"] <= 1.0 and 0.0 <= b["val_accuracy"] <= 1.0


@pytest.mark.slow
def test_a_dense_head_is_replicated(two_processes: list[dict[str, Any]]) -> None:
    first, second = (r["none"] for r in two_processes)
    assert first["head"] == second["head"] == ArcFace.__name__
    torch.testing.assert_close(first["state"]["head.weight"], second["state"]["head.weight"], rtol=0, atol=0)


@pytest.mark.slow
def test_a_sharded_head_keeps_disjoint_shards_covering_every_class(
    two_processes: list[dict[str, Any]],
) -> None:
    runs = [r["sharded"] for r in two_processes]
    assert all(run["head"] == ShardedArcFace.__name__ for run in runs)
    classes = 8  # tiny_data
    assert [run["classes"] for run in runs] == [(0, classes // 2), (classes // 2, classes)]
    shards = [run["state"]["head.weight"] for run in runs]
    assert sum(shard.shape[0] for shard in shards) == classes
    full = runs[0]["full_weight"]
    assert full.shape == (classes, 32)
    torch.testing.assert_close(full, torch.cat(shards), rtol=0, atol=0)  # the union is the (C, D) matrix
    torch.testing.assert_close(runs[1]["full_weight"], full, rtol=0, atol=0)
    assert all(math.isfinite(run["history"][0]["classification"]) for run in runs)


@pytest.mark.slow
def test_validation_finds_the_nearest_prototype_over_all_shards(two_processes: list[dict[str, Any]]) -> None:
    runs = [r["sharded"] for r in two_processes]
    embeddings = torch.randn(50, 32, generator=torch.Generator().manual_seed(3))
    normalize = torch.nn.functional.normalize
    dense = (normalize(embeddings, dim=1) @ normalize(runs[0]["full_weight"], dim=1).T).argmax(dim=1)
    assert bool((dense >= 4).any()) and bool((dense < 4).any())  # both shards hold winners
    for run in runs:
        assert torch.equal(run["nearest"], dense)
