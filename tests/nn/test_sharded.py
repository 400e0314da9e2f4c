"""Every margin head sharded on 2 and 3 gloo processes (17 classes: uneven shards) equals it dense on one
process on the same data: loss, index parts, the index, gradients of the embeddings and of every prototype,
and the running statistics after a step; class sampling and shard checkpoints of ShardedArcFace."""

from __future__ import annotations

import datetime
import itertools
import json
import math
import os
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from recognizability.functional import recognizability_index, recognizability_index_from_parts
from recognizability.nn import ShardedMarginHead
from recognizability.nn.sharded import ShardedArcFace, class_shard

from .margin_cases import CASES, HEAD_NAMES, build, statistics

BATCH, CLASSES, DIM = 4, 17, 6  # 17 classes: uneven shards for 2 and 3 processes
SCALE, MARGIN = CASES["arcface"]["scale"], CASES["arcface"]["margin"]


def _dense(
    embeddings: torch.Tensor,
    weight: torch.Tensor,
    labels: torch.Tensor,
    ui_cosine: torch.Tensor,
    name: str = "arcface",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.nn.Module]:
    """Single-process dense head ``name`` on the whole batch (one training step): loss, the two parts (gather
    and masked max), the index from the whole cosine matrix, and the head (its weight's gradient, its
    statistics)."""
    head = build(name, weight)  # arcface: SCALE and MARGIN
    out = head(embeddings, labels)
    cosine = out.cosine
    assert cosine is not None
    positive = cosine.gather(1, labels.unsqueeze(1)).squeeze(1)
    nearest = cosine.masked_fill(F.one_hot(labels, weight.shape[0]).bool(), -math.inf).max(dim=1).values
    index = recognizability_index(cosine.detach(), labels, ui_cosine)
    return out.loss, positive, nearest, index, head


def _data(world: int, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(7)
    total = world * BATCH
    return {
        "x": torch.randn(total, 5, generator=generator, dtype=dtype),
        "weight": torch.randn(CLASSES, DIM, generator=generator, dtype=dtype),
        "labels": torch.randint(0, CLASSES, (total,), generator=generator),
        "ui": torch.rand(total, generator=generator, dtype=dtype) * 2 - 1,
        "a": torch.randn(total, generator=generator, dtype=dtype),
        "b": torch.randn(total, generator=generator, dtype=dtype),
        "backbone": torch.randn(DIM, 5, generator=generator, dtype=dtype),
    }


def _max_difference(got: torch.Tensor, want: torch.Tensor) -> float:
    """Largest absolute difference relative to ``max(1, |want|)`` (relative for large values)."""
    got, want = got.detach(), want.detach()
    return float(((got - want).abs() / want.abs().clamp(min=1.0)).max())


def _compare(group: dist.ProcessGroup, dtype: torch.dtype, name: str) -> dict[str, float]:
    """Dense single process vs sharded head ``name``, both driven through a linear backbone wrapped in DDP.

    Per process the objective is ``L_cls + sum_own (a sin(cos_y) + b exp(cos_nn))``; DDP averages it over
    the processes, so the single-process objective is ``L_cls + (1/W) sum_all (...)``.
    """
    rank, world = dist.get_rank(group), dist.get_world_size(group)
    data = _data(world, dtype)
    rows = slice(rank * BATCH, (rank + 1) * BATCH)
    labels = data["labels"]

    backbone = torch.nn.Linear(5, DIM, bias=False).to(dtype)
    with torch.no_grad():
        backbone.weight.copy_(data["backbone"])
    embeddings = backbone(data["x"])
    loss, positive, nearest, index, dense = _dense(embeddings, data["weight"], labels, data["ui"], name)
    dense_weight = dense.weight
    extra = (data["a"] * positive.sin() + data["b"] * nearest.exp()).sum() / world
    (loss + extra).backward()

    ddp_backbone = torch.nn.parallel.DistributedDataParallel(
        torch.nn.Linear(5, DIM, bias=False).to(dtype), process_group=group
    )
    with torch.no_grad():
        ddp_backbone.module.weight.copy_(data["backbone"])
    head = build(name, data["weight"], parallel="sharded", process_group=group, chunk_size=3)
    assert isinstance(head, ShardedMarginHead) and head.world_size == world
    own_embeddings = ddp_backbone(data["x"][rows])
    own_embeddings.retain_grad()
    out = head(own_embeddings, labels[rows])
    assert out.logits is None and out.cosine is None
    own_extra = (
        data["a"][rows] * out.positive_cosine.sin() + data["b"][rows] * out.nearest_negative_cosine.exp()
    ).sum()
    (out.loss + own_extra).backward()
    xi = recognizability_index_from_parts(out.positive_cosine, out.nearest_negative_cosine, data["ui"][rows])
    assert head.weight.grad is not None and own_embeddings.grad is not None
    start, end = head.class_start, head.class_end
    # the embeddings' gradient for one process's rows: recompute the dense one for them
    dense_embeddings = backbone(data["x"]).detach().requires_grad_()
    d_loss, d_pos, d_near, _, _ = _dense(dense_embeddings, data["weight"], labels, data["ui"], name)
    (d_loss + (data["a"] * d_pos.sin() + data["b"] * d_near.exp()).sum() / world).backward()
    assert dense_embeddings.grad is not None and dense_weight.grad is not None
    return {
        "loss": _max_difference(out.loss.detach(), loss.detach()),
        "positive_cosine": _max_difference(out.positive_cosine.detach(), positive[rows].detach()),
        "nearest_negative_cosine": _max_difference(
            out.nearest_negative_cosine.detach(), nearest[rows].detach()
        ),
        "index": _max_difference(xi.detach(), index[rows]),
        "prototype_gradient": _max_difference(head.weight.grad, dense_weight.grad[start:end]),
        # W times the single-process gradient reaches each process's embeddings (see the class docstring)
        "embedding_gradient": _max_difference(own_embeddings.grad / world, dense_embeddings.grad[rows]),
        "backbone_gradient_after_ddp": _max_difference(ddp_backbone.module.weight.grad, backbone.weight.grad),
        **{
            f"statistic {key}": _max_difference(value, statistics(dense)[key])
            for key, value in statistics(head).items()
        },
    }


def _sampling_and_checkpoints(group: dist.ProcessGroup) -> dict[str, float]:
    """Class sampling: positives kept, softmax and nearest negative over the sampled classes. Checkpoints:
    full matrix gathered, shards re-split for another number of processes, mismatched shards refused."""
    rank, world = dist.get_rank(group), dist.get_world_size(group)
    data = _data(world, torch.float64)
    rows = slice(rank * BATCH, (rank + 1) * BATCH)
    labels = data["labels"]
    # 90 classes: each process keeps B_total + 1 < C / W of its classes (10 % of them is fewer)
    weight = torch.randn(90, DIM, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    head = ShardedArcFace(DIM, 90, SCALE, MARGIN, process_group=group, sample_rate=0.1).to(torch.float64)
    head.load_full_weight(weight)
    torch.manual_seed(100 + rank)
    out = head(data["x"][rows] @ data["backbone"].T, labels[rows])
    assert head.sampled_classes is not None
    assert head.sampled_classes.shape == (world * BATCH + 1,)
    sampled_parts: list[torch.Tensor | None] = [None] * world
    dist.all_gather_object(sampled_parts, head.sampled_classes, group=group)
    sampled = torch.cat([part for part in sampled_parts if part is not None])
    assert bool(torch.isin(labels, sampled).all())  # every positive of the gathered batch is kept
    # dense ArcFace over the sampled classes only, labels renumbered into them
    renumbered = torch.searchsorted(sampled, labels)
    loss, positive, nearest, _, _ = _dense(
        data["x"] @ data["backbone"].T, weight[sampled], renumbered, data["ui"]
    )
    full_nearest = _dense(data["x"] @ data["backbone"].T, weight, labels, data["ui"])[2]
    assert bool((out.nearest_negative_cosine <= full_nearest[rows] + 1e-12).all())  # a lower bound
    head.eval()
    assert head(data["x"][rows] @ data["backbone"].T, labels[rows]).loss > out.loss - 1e-12
    assert head.sampled_classes is None

    full = head.full_weight()
    full_difference = _max_difference(full, weight)
    head = ShardedArcFace(DIM, CLASSES, process_group=group).to(torch.float64)
    head.load_full_weight(data["weight"])
    full = head.full_weight()
    # shards written by another number of processes, in shuffled order
    other = world + 1
    shards = []
    for r in reversed(range(other)):
        s, e = class_shard(CLASSES, r, other)
        shards.append(
            {
                "weight": data["weight"][s:e] * 2,
                "_extra_state": {"num_classes": CLASSES, "class_start": s, "class_end": e},
            }
        )
    resharded = ShardedArcFace(DIM, CLASSES, process_group=group).to(torch.float64)
    resharded.load_shards(shards)
    before = resharded.weight.detach().clone()
    first = resharded.class_start
    with pytest.raises(ValueError, match=r"got [0-9]+ of them missing"):
        resharded.load_shards(  # without the old shard that holds this process's first class
            [
                sh
                for sh in shards
                if not sh["_extra_state"]["class_start"] <= first < sh["_extra_state"]["class_end"]
            ]
        )
    torch.testing.assert_close(resharded.weight, before)  # unchanged by the failed call
    state = resharded.state_dict()
    foreign = dict(state, _extra_state={"num_classes": CLASSES, "class_start": 0, "class_end": 99})
    with pytest.raises(ValueError, match=r"load_shards\(\) or load_full_weight\(\)"):
        head.load_state_dict(foreign)
    torch.testing.assert_close(head.full_weight(), full)  # unchanged by the failed call
    head.load_state_dict(resharded.state_dict())
    # gather_rows: every shard onto one process's CPU (the group's last rank too: ranks are the group's)
    gathered = {dst: head.gather_rows(head.weight * 3, dst=dst) for dst in (0, world - 1)}
    for dst, whole in gathered.items():
        assert (whole is None) == (head.rank != dst)
    whole = head.full_weight()  # a collective: every process calls it
    mine = gathered.get(head.rank)
    gather_difference = 0.0 if mine is None else _max_difference(mine, whole * 3)
    torch.testing.assert_close(head.local_rows(whole), head.weight.detach())
    with pytest.raises(ValueError, match=r"expected rows of shape"):
        head.gather_rows(head.weight[:-1])  # raises before any message is sent
    return {
        "gather_rows": gather_difference,
        "sampled_loss": _max_difference(out.loss.detach(), loss),
        "sampled_positive_cosine": _max_difference(out.positive_cosine, positive[rows]),
        "sampled_nearest_negative_cosine": _max_difference(out.nearest_negative_cosine, nearest[rows]),
        "full_weight": max(full_difference, _max_difference(full, data["weight"])),
        "load_shards": _max_difference(
            resharded.weight.detach(), data["weight"][head.class_start : head.class_end] * 2
        ),
    }


def _worker(rank: int, store: str, out_dir: str) -> None:
    """Three processes: the checks run on all three, then on a group of the first two."""
    torch.set_num_threads(1)
    # a bounded timeout: a rank that fails must not leave the others waiting in a collective for 30 minutes
    timeout = datetime.timedelta(seconds=120)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=3, timeout=timeout)
    try:
        pair = dist.new_group([0, 1])  # every process takes part in creating it
        figures = {}
        for name, group in (("3 processes", dist.group.WORLD), ("2 processes", pair)):
            if rank in dist.get_process_group_ranks(group):
                figures[name] = {
                    **{
                        f"{head} {dtype}": _compare(group, getattr(torch, dtype), head)
                        for head in HEAD_NAMES
                        for dtype in ("float64", "float32")
                    },
                    "sampling_and_checkpoints": _sampling_and_checkpoints(group),
                }
        with pytest.raises(ValueError, match=r"same batch size on every process"):
            ShardedArcFace(DIM, CLASSES)(torch.randn(1 + rank, DIM), torch.zeros(1 + rank, dtype=torch.long))
        Path(out_dir, f"rank{rank}.json").write_text(json.dumps(figures))
        # Rank 2 is not in the pair: without this it could tear the process group down while ranks 0 and 1
        # still talk in the pair, and gloo then aborts the process ("terminate called without an active
        # exception", seen once in a CI run).
        dist.barrier()
    finally:
        dist.destroy_process_group()


def test_sharded_equals_single_process_dense_on_2_and_3_processes(tmp_path: Path) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    mp.spawn(_worker, args=(str(tmp_path / "store"), str(tmp_path)), nprocs=3, join=True)
    bounds = {"float64": 1e-12, "float32": 1e-5, "sampling_and_checkpoints": 1e-12}
    for rank in range(3):
        figures = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert sorted(figures) == (["2 processes", "3 processes"] if rank < 2 else ["3 processes"])
        for world, checks in figures.items():
            assert len(checks) == 2 * len(HEAD_NAMES) + 1
            for check, differences in checks.items():
                assert len(differences) >= 6, check
                for name, difference in differences.items():
                    assert difference < bounds[check.split()[-1]], (world, rank, check, name, difference)


def test_single_process_without_a_group_is_the_whole_head() -> None:
    torch.manual_seed(0)
    head = ShardedArcFace(DIM, CLASSES, scale=SCALE, margin=MARGIN)
    assert (head.world_size, head.class_start, head.class_end) == (1, 0, CLASSES)
    embeddings, labels = torch.randn(5, DIM, requires_grad=True), torch.randint(0, CLASSES, (5,))
    out = head(embeddings, labels)
    loss, positive, nearest, _, _ = _dense(embeddings, head.weight.detach(), labels, torch.zeros(5))
    torch.testing.assert_close(out.loss, loss)
    torch.testing.assert_close(out.positive_cosine, positive)
    torch.testing.assert_close(out.nearest_negative_cosine, nearest)
    torch.testing.assert_close(head.full_weight(), head.weight.detach())
    assert "classes=[0, 17)" in repr(head)


def test_class_shards_cover_the_classes_once() -> None:
    for classes, world in ((17, 2), (17, 3), (5, 5), (1_000_000, 7)):
        shards = [class_shard(classes, r, world) for r in range(world)]
        assert shards[0][0] == 0 and shards[-1][1] == classes
        assert all(a[1] == b[0] for a, b in itertools.pairwise(shards))
        assert max(e - s for s, e in shards) - min(e - s for s, e in shards) <= 1


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"sample_rate to be a float in \(0, 1\], got 1.5"):
        ShardedArcFace(4, 10, sample_rate=1.5)
    with pytest.raises(ValueError, match=r"sample_rate to be a float in \(0, 1\], got 0"):
        ShardedArcFace(4, 10, sample_rate=0)
    with pytest.raises(ValueError, match=r"num_classes to be an int >= 2, got 1"):
        ShardedArcFace(4, 1)
    with pytest.raises(ValueError, match=r"margin to be a float in \[0, pi\), got 4.0"):
        ShardedArcFace(4, 10, margin=4.0)
    with pytest.raises(TypeError, match=r"embedding_dim to be a positive int, got 4.0"):
        ShardedArcFace(4.0, 10)  # type: ignore[arg-type]
    head = ShardedArcFace(4, 10)
    with pytest.raises(ValueError, match=r"embeddings of shape \(B, 4\)"):
        head(torch.randn(2, 3), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"weight of shape \(10, 4\)"):
        head.load_full_weight(torch.randn(9, 4))
    with pytest.raises(ValueError, match=r"shards\[0\] to hold the keys 'weight' and '_extra_state'"):
        head.load_shards([{"weight": torch.randn(10, 4)}])
