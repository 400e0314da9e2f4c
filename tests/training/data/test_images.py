"""Images in memory and the batches of an epoch."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DistributedSampler

from recognizability.training import EpochBatches, ImageSet
from recognizability.training.run.distributed import DistributedContext


def _set(n: int, with_severity: bool = True) -> ImageSet:
    severity = torch.rand(n) if with_severity else None
    hard = torch.rand(n) > 0.5 if with_severity else None
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 3, 2, 2).clone()
    return ImageSet(
        images, torch.arange(n), severity, hard, [f"p{i}" for i in range(n)], torch.ones(n, dtype=torch.int64)
    )


@pytest.mark.parametrize(("n", "world"), [(192, 1), (193, 2), (100, 3)])
def test_epoch_order_is_the_distributed_sampler_order(n: int, world: int) -> None:
    # release 0.1.0 drew the order with DistributedSampler(shuffle=True, drop_last=True, seed) + set_epoch(e)
    data = _set(n)
    for rank in range(world):
        context = DistributedContext(rank, world, rank, torch.device("cpu"))
        sampler = DistributedSampler(range(n), num_replicas=world, rank=rank, seed=7, drop_last=True)
        sampler.set_epoch(2)
        batches = EpochBatches(data, 8, context, seed=7, epoch=2)
        got = torch.cat([labels for _, labels in batches])
        expected = list(iter(sampler))
        assert got.tolist() == expected[: len(batches) * 8]
        assert len(batches) == len(expected) // 8
    capped = EpochBatches(data, 8, DistributedContext(0, 1, 0, torch.device("cpu")), 7, 2, max_steps=2)
    assert len(capped) == 2 == len(list(capped))
    with pytest.raises(ValueError, match="at least one full batch"):
        EpochBatches(_set(4), 8, DistributedContext(0, 1, 0, torch.device("cpu")), 0, 0)


def test_subset_and_concatenate_keep_every_field() -> None:
    a, b = _set(5), _set(3)
    joined = ImageSet.concatenate([a, b])
    assert len(joined) == 8 and joined.severity is not None and joined.distance is not None
    assert torch.equal(joined.labels, torch.cat([a.labels, b.labels]))
    assert ImageSet.concatenate([a, _set(2, with_severity=False)]).severity is None
    mask = torch.tensor([True, False, True, False, True])
    picked = a.subset(mask)
    assert picked.paths == ["p0", "p2", "p4"] and torch.equal(picked.labels, torch.tensor([0, 2, 4]))
