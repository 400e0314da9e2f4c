"""The example's training loop in two gloo processes (as ``torchrun --nproc_per_node=2`` runs it, on CPU):
the replicated modules end with the same weights and batch-norm statistics on both processes, with
``--head-parallel sharded`` each process trains its own shard of the prototypes, never averaged with the
other's, and a sharded run's checkpoint holds the whole head: ``--resume`` continues it exactly and prediction
reads it in one process."""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from recognizability.deploy import load_trained_model
from recognizability.nn import ArcFace, ShardedMarginHead
from recognizability.training.method.steps import nearest_class
from recognizability.training.run.checkpoint import read_training_checkpoint
from tests.helpers.tiny import free_port, load_example, tiny_config, tiny_data, tiny_session
from tests.helpers.usage import UsageError, run_command

WORLD_SIZE = 2


def _torchrun_environment(rank: int, world_size: int, port: int) -> dict[str, str]:
    """The variables ``torchrun`` sets for process ``rank`` of ``world_size`` on one machine."""
    return {
        "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world_size), "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
    }  # fmt: skip


def _worker(rank: int, port: int, folder: str) -> None:
    """One torchrun-like process: both head modes trained in turn; its weights and history saved."""
    os.environ.update(_torchrun_environment(rank, WORLD_SIZE, port))
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
                "full_weight": head.full_weight() if isinstance(head, ShardedMarginHead) else None,
                # the validation's nearest prototype over both shards (a collective), on the same embeddings
                "nearest": nearest_class(
                    torch.randn(50, 32, generator=torch.Generator().manual_seed(3)), head
                ),
            }
        # A sharded run stopped after one epoch and resumed for a second equals a run of two epochs.
        runs = Path(folder) / "runs"
        two_epochs = tiny_config(epochs=2, max_steps_per_epoch=2, batch_size=16, parallel="sharded")
        train("stopped", two_epochs.replace(epochs=1), data, tiny_session(runs))
        resumed = train("stopped", two_epochs, data, tiny_session(runs, resume=True))
        straight = train("straight", two_epochs, data, session)
        for name, result in (("resumed", resumed), ("straight", straight)):
            results[name] = {
                "state": {k: v for k, v in result.model.state_dict().items() if k != "head._extra_state"},
                "history": result.history,
                "resumed_from": result.resumed_from,
                "full_weight": result.model.head.full_weight(),
            }
        torch.save(results, Path(folder) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("gloo backend missing")
    folder = tmp_path_factory.mktemp("ddp")
    mp.spawn(_worker, args=(free_port(), str(folder)), nprocs=WORLD_SIZE, join=True)
    return folder


@pytest.fixture(scope="module")
def two_processes(run_folder: Path) -> list[dict[str, Any]]:
    return [torch.load(run_folder / f"rank{r}.pt", weights_only=True) for r in range(WORLD_SIZE)]


def _not_head(key: str) -> bool:
    return not key.startswith("head.")


@pytest.mark.slow
@pytest.mark.parametrize("parallel", ["none", "sharded"])
def test_replicated_modules_end_equal_on_both_processes(
    two_processes: list[dict[str, Any]], parallel: str
) -> None:
    first, second = (r[parallel] for r in two_processes)
    assert first["state"].keys() == second["state"].keys()
    trained_statistics = [k for k in first["state"] if k.endswith(".running_mean") and _not_head(k)]
    assert trained_statistics, "the tiny configuration trains batch norm: its statistics must be compared"
    for key in filter(
        _not_head, first["state"]
    ):  # backbone (batch-norm statistics too), criterion, UI centre
        torch.testing.assert_close(first["state"][key], second["state"][key], rtol=0, atol=0, msg=key)
    for a, b in zip(first["history"], second["history"], strict=True):
        for name in ("total", "classification", "regression", "diversion", "attention"):
            assert math.isfinite(a[name]) and a[name] == b[name], name  # means over both processes
        assert 0.0 <= a["val_accuracy"] <= 1.0 and a["val_accuracy"] == b["val_accuracy"]


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
    assert all(run["head"] == ShardedMarginHead.__name__ for run in runs)
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


@pytest.mark.slow
def test_a_resumed_sharded_run_equals_an_uninterrupted_one(two_processes: list[dict[str, Any]]) -> None:
    for rank, results in enumerate(two_processes):
        resumed, straight = results["resumed"], results["straight"]
        assert resumed["resumed_from"] == 1 and straight["resumed_from"] == 0
        assert resumed["state"].keys() == straight["state"].keys()
        for key in resumed["state"]:  # this process's shard and moments were restored from the whole head
            torch.testing.assert_close(resumed["state"][key], straight["state"][key], rtol=0, atol=0,
                                       msg=f"rank {rank}: {key}")  # fmt: skip
        for a, b in zip(resumed["history"], straight["history"], strict=True):
            assert {k: v for k, v in a.items() if k != "images_per_second"} == {
                k: v for k, v in b.items() if k != "images_per_second"
            }
        torch.testing.assert_close(resumed["full_weight"], straight["full_weight"], rtol=0, atol=0)


@pytest.mark.slow
def test_a_sharded_runs_checkpoint_holds_the_whole_head_and_predicts(
    two_processes: list[dict[str, Any]], run_folder: Path
) -> None:
    checkpoint = run_folder / "runs" / "stopped" / "last.pt"
    stored = read_training_checkpoint(checkpoint)
    classes = 8  # tiny_data
    assert stored.num_classes == classes and stored.epoch == 2
    assert stored.payload["model"]["head._extra_state"] == {
        "num_classes": 8,
        "class_start": 0,
        "class_end": 8,
    }
    whole = two_processes[0]["resumed"]["full_weight"]
    torch.testing.assert_close(stored.payload["model"]["head.weight"], whole, rtol=0, atol=0)
    model, settings = load_trained_model(checkpoint)  # one process: a head over every class
    assert settings.head.parallel == "sharded" and isinstance(model.head, ShardedMarginHead)
    assert (model.head.class_start, model.head.class_end) == (0, classes)
    torch.testing.assert_close(model.head.weight.detach(), whole, rtol=0, atol=0)
    for key, value in two_processes[0]["resumed"]["state"].items():
        if _not_head(key):
            torch.testing.assert_close(model.state_dict()[key], value, rtol=0, atol=0, msg=key)


def _resume_worker(rank: int, port: int, world_size: int, folder: str) -> None:
    """One of ``world_size`` torchrun-like processes resuming the two-process run in ``folder/runs``."""
    os.environ.update(_torchrun_environment(rank, world_size, port))
    torch.set_num_threads(1)
    train = load_example("train_tinyface").train
    config = tiny_config(epochs=3, max_steps_per_epoch=2, batch_size=16, parallel="sharded")
    session = tiny_session(Path(folder) / "runs", resume=True)
    try:
        result = train("stopped", config, tiny_data(Path(folder), n=128), session)
        head = result.model.head
        summary = {
            "resumed_from": result.resumed_from,
            "history": result.history,
            "classes": (head.class_start, head.class_end),
            "state": {k: v for k, v in result.model.state_dict().items() if _not_head(k)},
        }
        torch.save(summary, Path(folder) / f"resumed{rank}.pt")
        dist.barrier()
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_a_sharded_run_of_two_processes_resumes_in_three(run_folder: Path, tmp_path: Path) -> None:
    shutil.copytree(run_folder / "runs" / "stopped", tmp_path / "runs" / "stopped")
    stored = read_training_checkpoint(tmp_path / "runs" / "stopped" / "last.pt")
    mp.spawn(_resume_worker, args=(free_port(), 3, str(tmp_path)), nprocs=3, join=True)
    runs = [torch.load(tmp_path / f"resumed{r}.pt", weights_only=True) for r in range(3)]
    assert [run["classes"] for run in runs] == [(0, 2), (2, 5), (5, 8)]  # class_shard(8, r, 3)
    for run in runs:
        assert run["resumed_from"] == 2 and len(run["history"]) == 3
        assert run["history"][:2] == [dict(row) for row in stored.payload["extra"]["history"]]
        assert math.isfinite(run["history"][2]["classification"])
        for key, value in run["state"].items():  # replicated modules stay equal on the three processes
            torch.testing.assert_close(value, runs[0]["state"][key], rtol=0, atol=0, msg=key)
    again = read_training_checkpoint(tmp_path / "runs" / "stopped" / "last.pt")
    assert again.epoch == 3 and again.num_classes == 8  # written whole again by three processes
    assert again.payload["model"]["head._extra_state"] == stored.payload["model"]["head._extra_state"]


@pytest.mark.slow
def test_a_sharded_run_of_two_processes_resumes_in_one(
    run_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = tmp_path / "runs"
    shutil.copytree(run_folder / "runs" / "stopped", runs / "stopped")
    stored = read_training_checkpoint(runs / "stopped" / "last.pt")
    for name, value in _torchrun_environment(0, 1, free_port()).items():  # torchrun --nproc_per_node=1
        monkeypatch.setenv(name, value)
    train = load_example("train_tinyface").train
    config = tiny_config(epochs=3, max_steps_per_epoch=2, batch_size=16, parallel="sharded")
    session = tiny_session(runs, resume=True)
    try:
        result = train("stopped", config, tiny_data(tmp_path, n=128), session)
    finally:
        dist.destroy_process_group()
    assert result.resumed_from == 2 and len(result.history) == 3
    assert result.history[:2] == [dict(row) for row in stored.payload["extra"]["history"]]
    assert math.isfinite(result.history[2]["classification"])
    head = result.model.head
    assert isinstance(head, ShardedMarginHead)
    assert (head.world_size, head.class_start, head.class_end) == (1, 0, 8)  # every class: the whole head
    again = read_training_checkpoint(runs / "stopped" / "last.pt")
    assert again.epoch == 3 and again.num_classes == 8
    assert not torch.equal(again.payload["model"]["head.weight"], stored.payload["model"]["head.weight"])


def test_sharded_heads_need_torchrun(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a usage error (exit status 2) naming the option, before any data is loaded or anything written
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    example = load_example("train_tinyface")
    argv = ["--head-parallel", "sharded", "--out", str(tmp_path / "runs"), "--no-progress"]
    with pytest.raises(
        UsageError, match=r"argument --head-parallel: expected 'sharded' under torchrun.*chunked"
    ):
        run_command(example.main, argv)
    assert not any(tmp_path.iterdir())  # nothing was created
