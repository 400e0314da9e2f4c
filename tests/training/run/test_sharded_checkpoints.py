"""A class-sharded head's checkpoint across numbers of processes, and the running statistics averaged over
processes (``training.sharded_heads``, ``DistributedContext.average_replicas``).

Two gloo processes train a ``ShardedArcFace`` one Adam step and write a checkpoint; it must hold the whole
head and Adam's whole moments, equal to those of one process training a dense ``ArcFace`` on the gathered
batch. Three processes then read it: each must get exactly its rows. The same two processes average batch-norm
statistics: the running mean must be that of the whole batch."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from recognizability.nn import ArcFace, ShardedArcFace, ShardedMarginHead, UICenter
from recognizability.nn.sharded import class_shard
from recognizability.training.run.checkpoint import load_checkpoint, read_training_checkpoint, save_checkpoint
from recognizability.training.run.distributed import DistributedContext, running_statistics
from recognizability.training.run.sharded_heads import checkpoint_states, shard_checkpoint, sharded_heads

BATCH, CLASSES, DIM, SCALE, MARGIN, LR = 3, 11, 4, 16.0, 0.5, 0.1  # 11 classes: uneven shards for 2 and 3


class _Settings:
    def to_dict(self) -> dict[str, Any]:
        return {"what": "test"}


def _data() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(5)
    return {
        "weight": torch.randn(CLASSES, DIM, generator=g, dtype=torch.float64),
        "embeddings": torch.randn(2 * BATCH, DIM, generator=g, dtype=torch.float64),
        "labels": torch.randint(0, CLASSES, (2 * BATCH,), generator=g),
        "features": torch.randn(2 * BATCH, 5, generator=g),
    }


def _model(group: dist.ProcessGroup | None) -> tuple[nn.ModuleDict, torch.optim.Adam]:
    """A layer in the first parameter group (no gradient: no Adam state) and the head in the second, so the
    head's parameter is not the optimiser's first."""
    model = nn.ModuleDict(
        {
            "layer": nn.Linear(2, 2).double(),
            "head": ShardedArcFace(DIM, CLASSES, SCALE, MARGIN, group).double(),
        }
    )
    groups = [{"params": model["layer"].parameters()}, {"params": model["head"].parameters()}]
    return model, torch.optim.Adam(groups, lr=LR)


def _init(rank: int, world: int, store: str) -> None:
    torch.set_num_threads(1)
    timeout = datetime.timedelta(seconds=120)  # a failing rank must not leave the others waiting for long
    dist.init_process_group(
        "gloo", init_method=f"file://{store}", rank=rank, world_size=world, timeout=timeout
    )


def _write(rank: int, store: str, folder: str) -> None:
    """Two processes: one Adam step of the sharded head on the gathered batch, then the checkpoint; and the
    batch-norm statistics of each process's half of the batch averaged."""
    _init(rank, 2, store)
    try:
        data = _data()
        model, optimizer = _model(None)
        head = model["head"]
        assert isinstance(head, ShardedMarginHead) and head.world_size == 2
        head.load_full_weight(data["weight"])
        rows = slice(rank * BATCH, (rank + 1) * BATCH)
        head(data["embeddings"][rows], data["labels"][rows]).loss.backward()
        optimizer.step()
        model_state, optimizer_state = checkpoint_states(model, optimizer)
        if rank == 0:
            save_checkpoint(
                Path(folder, "last.pt"), model=model, optimizer=optimizer, scheduler=None, epoch=1,
                settings=_Settings(), model_state=model_state, optimizer_state=optimizer_state,
            )  # fmt: skip
        else:  # the other process's own states are left as they were
            assert model_state["head.weight"].shape == head.weight.shape
            assert optimizer_state["state"][2]["exp_avg"].shape == head.weight.shape
        # running statistics: each process normalises its half of the batch in training mode
        norms = nn.ModuleDict({"trained": nn.BatchNorm1d(5), "frozen": nn.BatchNorm1d(5).eval()})
        centre = UICenter(5)
        centre.fit(data["features"][:2] + rank)  # differs between processes, but is no running statistic
        norms["trained"](data["features"][rows])
        norms["frozen"](data["features"][rows])
        DistributedContext(rank, 2, 0, torch.device("cpu"), launched=True).average_replicas(norms, centre)
        torch.save(
            {"bn": norms.state_dict(), "centre": centre.center.clone()}, Path(folder, f"statistics{rank}.pt")
        )
        dist.barrier()
    finally:
        dist.destroy_process_group()


def _read(rank: int, store: str, folder: str) -> None:
    """Three processes read the two-process checkpoint: each loads its rows of the head and of Adam."""
    _init(rank, 3, store)
    try:
        model, optimizer = _model(None)
        head = model["head"]
        assert isinstance(head, ShardedMarginHead)
        stored = read_training_checkpoint(Path(folder, "last.pt"))
        local = shard_checkpoint(stored, model, optimizer)
        assert stored.payload["model"]["head.weight"].shape == (CLASSES, DIM)  # the original is not changed
        load_checkpoint(local, model=model, optimizer=optimizer, restore_rng=False)
        state = optimizer.state[head.weight]
        torch.save(
            {
                "classes": [head.class_start, head.class_end],
                "weight": head.weight.detach().clone(),
                "exp_avg": state["exp_avg"].clone(),
                "exp_avg_sq": state["exp_avg_sq"].clone(),
                "step": state["step"].clone(),
            },
            Path(folder, f"read{rank}.pt"),
        )
        dist.barrier()
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("gloo backend missing")
    folder = tmp_path_factory.mktemp("sharded_checkpoints")
    mp.spawn(_write, args=(str(folder / "store2"), str(folder)), nprocs=2, join=True)
    mp.spawn(_read, args=(str(folder / "store3"), str(folder)), nprocs=3, join=True)
    return folder


def _dense_step() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One process, a dense ArcFace with the same prototypes, the whole batch, one Adam step."""
    data = _data()
    head = ArcFace(DIM, CLASSES, SCALE, MARGIN).double()
    with torch.no_grad():
        head.weight.copy_(data["weight"])
    optimizer = torch.optim.Adam(head.parameters(), lr=LR)
    head(data["embeddings"], data["labels"]).loss.backward()
    optimizer.step()
    return head.weight.detach(), optimizer.state[head.weight]


def test_the_checkpoint_of_two_processes_holds_the_whole_head_of_one(folder: Path) -> None:
    stored = read_training_checkpoint(folder / "last.pt")
    weight, state = _dense_step()
    assert stored.num_classes == CLASSES
    assert stored.payload["model"]["head._extra_state"] == {
        "num_classes": CLASSES, "class_start": 0, "class_end": CLASSES,
    }  # fmt: skip
    torch.testing.assert_close(stored.payload["model"]["head.weight"], weight, rtol=0, atol=1e-12)
    moments = stored.payload["optimizer"]["state"][2]  # the layer's two parameters come first
    assert sorted(stored.payload["optimizer"]["state"]) == [2]
    for key in ("exp_avg", "exp_avg_sq"):
        assert moments[key].shape == (CLASSES, DIM)
        # gradients differ from the dense head's by rounding (tests/nn/test_sharded.py: < 1e-12); Adam's
        # first step divides them by their own magnitude, so compare relative to it
        torch.testing.assert_close(moments[key], state[key], rtol=1e-9, atol=1e-15)
    assert float(moments["step"]) == float(state["step"]) == 1.0
    # one process (prediction) loads the whole head as it is
    model, optimizer = _model(None)
    load_checkpoint(stored, model=model, optimizer=optimizer, restore_rng=False)
    torch.testing.assert_close(model["head"].weight.detach(), stored.payload["model"]["head.weight"])


def test_three_processes_each_read_their_rows(folder: Path) -> None:
    stored = read_training_checkpoint(folder / "last.pt")
    whole = stored.payload["model"]["head.weight"]
    moments = stored.payload["optimizer"]["state"][2]
    for rank in range(3):
        read = torch.load(folder / f"read{rank}.pt", weights_only=True)
        start, end = class_shard(CLASSES, rank, 3)
        assert read["classes"] == [start, end]
        torch.testing.assert_close(read["weight"], whole[start:end], rtol=0, atol=0)
        for key in ("exp_avg", "exp_avg_sq"):
            torch.testing.assert_close(read[key], moments[key][start:end], rtol=0, atol=0)
        assert float(read["step"]) == 1.0


def test_running_statistics_are_averaged_to_those_of_the_whole_batch(folder: Path) -> None:
    data = _data()
    whole = nn.BatchNorm1d(5)
    whole(data["features"])  # one process, the whole batch
    first, second = (torch.load(folder / f"statistics{r}.pt", weights_only=True) for r in range(2))
    for key in first["bn"]:
        torch.testing.assert_close(first["bn"][key], second["bn"][key], rtol=0, atol=0, msg=key)
    # a running mean is an average of batch means: the mean over processes is the whole batch's, exactly
    torch.testing.assert_close(first["bn"]["trained.running_mean"], whole.running_mean, rtol=1e-6, atol=1e-7)
    assert not torch.equal(first["bn"]["trained.running_var"], torch.ones(5))  # it trained
    # frozen batch norm and the fitted UI centre are not running statistics: left as each process has them
    torch.testing.assert_close(first["bn"]["frozen.running_mean"], torch.zeros(5), rtol=0, atol=0)
    assert not torch.equal(first["centre"], second["centre"])


def test_running_statistics_are_the_buffers_training_batches_update() -> None:
    from recognizability.nn import AdaFace, CurricularFace

    model = nn.ModuleDict(
        {
            "bn": nn.BatchNorm2d(3),
            "frozen": nn.BatchNorm1d(3),
            "untracked": nn.BatchNorm1d(3, track_running_stats=False),
            "adaface": AdaFace(4, 5),
            "curricular": CurricularFace(4, 5),
            "centre": UICenter(4),
        }
    )
    model["frozen"].eval()
    found = {id(t) for t in running_statistics(model, model["bn"])}  # each buffer once
    expected = [
        model["bn"].running_mean, model["bn"].running_var, model["adaface"].batch_mean,
        model["adaface"].batch_std, model["curricular"].t,
    ]  # fmt: skip
    assert found == {id(t) for t in expected} and len(running_statistics(model, model["bn"])) == 5
    model.eval()
    assert running_statistics(model) == []


def test_without_a_sharded_head_the_states_are_the_modules_own() -> None:
    model = nn.ModuleDict({"head": ArcFace(DIM, CLASSES), "layer": nn.Linear(2, 2)})
    optimizer = torch.optim.Adam(model.parameters())
    assert sharded_heads(model) == []
    model_state, optimizer_state = checkpoint_states(model, optimizer)
    assert model_state.keys() == model.state_dict().keys()
    assert optimizer_state == optimizer.state_dict()
    one = nn.ModuleDict({"head": ShardedArcFace(DIM, CLASSES)})  # one process: the whole head already
    assert [prefix for prefix, _ in sharded_heads(one)] == ["head."]
    state, _ = checkpoint_states(one, torch.optim.Adam(one.parameters()))
    assert state["head._extra_state"] == {"num_classes": CLASSES, "class_start": 0, "class_end": CLASSES}


def test_a_checkpoint_reader_accepts_plain_extra_states_only(tmp_path: Path) -> None:
    model = nn.ModuleDict({"head": ShardedArcFace(DIM, CLASSES)})
    optimizer = torch.optim.Adam(model.parameters())
    path = save_checkpoint(
        tmp_path / "last.pt", model=model, optimizer=optimizer, scheduler=None, epoch=0, settings=_Settings()
    )
    assert read_training_checkpoint(path).num_classes == CLASSES
    payload = torch.load(path, weights_only=True)
    payload["model"]["head.extra"] = {"not": "a tensor"}  # plain, but not a module's extra state
    torch.save(payload, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match=r"'model' entry is not a state dict"):
        read_training_checkpoint(tmp_path / "bad.pt")
    assert json.dumps(read_training_checkpoint(path).payload["model"]["head._extra_state"])
