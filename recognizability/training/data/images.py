"""Images held in memory, the batches of an epoch, and the network input they become.

VLR images are tiny, so a run decodes each subset once (:func:`load_image_set`, bicubic to the network input
size, uint8) and keeps it in memory as an :class:`ImageSet`. A batch goes to the device as uint8 and becomes
the network input there (:func:`prepare_batch`): the paper's augmentation, a resize to the input size and the
backbone's normalisation (:func:`~recognizability.backbones.normalize_for`, the one normalisation of the
package).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor, nn

from recognizability._validation import check_positive_int
from recognizability.backbones import normalize_for
from recognizability.data import FaceDataset
from recognizability.data import transforms as T

from ..config import DataConfig

__all__ = [
    "EpochBatches",
    "ImageSet",
    "ProcessShare",
    "VerificationPairs",
    "build_augmentation",
    "load_image_set",
    "prepare_batch",
    "validation_subset",
]


@dataclass
class ImageSet:
    """Decoded images of one subset, resized to one size and held in memory.

    Attributes:
        images: uint8 (N, 3, S, S).
        labels: int64 (N,); negative for unknown identities.
        severity: float32 (N,) ground-truth severity of synthetic data, or None (real data).
        hard: bool (N,) hard flags of synthetic data, or None.
        paths: the N source paths (for reports and prediction CSVs).
        distance: int64 (N,) SCface distance index (1 = farthest), or None.
    """

    images: Tensor
    labels: Tensor
    severity: Tensor | None
    hard: Tensor | None
    paths: list[str]
    distance: Tensor | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.images, Tensor):
            raise TypeError(f"expected images to be a torch.Tensor, got {type(self.images).__name__}")
        if self.images.dtype != torch.uint8 or self.images.dim() != 4 or self.images.shape[1] != 3:
            raise TypeError(
                f"expected images to be uint8 (N, 3, S, S) in 0..255 (load_image_set decodes them so), got "
                f"dtype {self.images.dtype} and shape {tuple(self.images.shape)}"
            )
        n = int(self.images.shape[0])
        if not isinstance(self.labels, Tensor) or self.labels.dtype != torch.int64 or self.labels.dim() != 1:
            got = (
                f"dtype {self.labels.dtype} and shape {tuple(self.labels.shape)}"
                if isinstance(self.labels, Tensor)
                else type(self.labels).__name__
            )
            raise TypeError(f"expected labels to be an int64 (N,) tensor, got {got}")
        if not isinstance(self.paths, list):
            raise TypeError(f"expected paths to be a list of str, got {type(self.paths).__name__}")
        lengths = {"labels": len(self.labels), "paths": len(self.paths)}
        for name in ("severity", "hard", "distance"):
            value = getattr(self, name)
            if value is not None:
                if not isinstance(value, Tensor) or value.dim() != 1:
                    raise TypeError(f"expected {name} to be a 1-D tensor or None, got {value!r:.80}")
                lengths[name] = len(value)
        wrong = {name: length for name, length in lengths.items() if length != n}
        if wrong:
            raise ValueError(f"expected one entry per image (N = {n}) in every field, got lengths {wrong}")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def num_classes(self) -> int:
        """1 + the largest label (the number of training identities for labels 0..C-1)."""
        return int(self.labels.max()) + 1 if len(self) else 0

    def subset(self, index: Tensor) -> ImageSet:
        """The rows ``index`` (1-D int64 or bool mask) of every field."""
        if index.dtype == torch.bool:
            index = index.nonzero().squeeze(1)
        return ImageSet(
            images=self.images[index],
            labels=self.labels[index],
            severity=None if self.severity is None else self.severity[index],
            hard=None if self.hard is None else self.hard[index],
            paths=[self.paths[i] for i in index.tolist()],
            distance=None if self.distance is None else self.distance[index],
        )

    @staticmethod
    def concatenate(parts: Sequence[ImageSet]) -> ImageSet:
        """The parts one after another (an optional field is kept only when every part has it)."""

        def joined(fields: list[Tensor | None]) -> Tensor | None:
            present = [f for f in fields if f is not None]
            return torch.cat(present) if len(present) == len(fields) else None

        return ImageSet(
            images=torch.cat([p.images for p in parts]),
            labels=torch.cat([p.labels for p in parts]),
            severity=joined([p.severity for p in parts]),
            hard=joined([p.hard for p in parts]),
            paths=[path for p in parts for path in p.paths],
            distance=joined([p.distance for p in parts]),
        )


@dataclass(frozen=True)
class VerificationPairs:
    """Verification pairs over one image set: pair k compares ``images[first[k]]`` with ``images[second[k]]``.

    Attributes:
        images: the distinct images of every pair.
        first, second: int64 (N,) indices into ``images``.
        is_same: bool (N,), True for a positive (mated) pair.
    """

    images: ImageSet
    first: Tensor
    second: Tensor
    is_same: Tensor


def load_image_set(dataset: FaceDataset, size: int, chunk: int = 512) -> ImageSet:
    """Decode every image of a library reader and resize it to ``size`` x ``size`` (bicubic, on the CPU).

    Args:
        dataset: a reader from ``recognizability.data`` (``dataset[i] -> (uint8 (3,H,W), label)``,
            ``.samples`` with ``.path`` and, on synthetic trees, ``.severity`` / ``.hard``).
        size: side of the stored square images.
        chunk: images decoded per resize call.
    """
    check_positive_int(size, "size")
    n = len(dataset)
    images = torch.empty((n, 3, size, size), dtype=torch.uint8)
    labels = torch.empty((n,), dtype=torch.int64)
    for start in range(0, n, chunk):
        batch = [dataset[i] for i in range(start, min(n, start + chunk))]
        resized, batch_labels = T.collate_variable_size(batch, size=(size, size))
        images[start : start + len(batch)] = resized
        labels[start : start + len(batch)] = batch_labels
    samples = dataset.samples
    severity = hard = distance = None
    if n and all(s.severity is not None for s in samples):
        severity = torch.tensor([float(s.severity or 0.0) for s in samples], dtype=torch.float32)
        hard = torch.tensor([bool(s.hard) for s in samples], dtype=torch.bool)
    if n and all(s.distance is not None for s in samples):
        distance = torch.tensor([int(s.distance or 0) for s in samples], dtype=torch.int64)
    return ImageSet(images, labels, severity, hard, [str(s.path) for s in samples], distance)


def build_augmentation(
    input_size: int, data: DataConfig, generator: torch.Generator | None = None
) -> nn.Module | None:
    """The paper's training augmentation (flip, rotation within +-10 degrees, random rescale to 64/112 or
    100/112 of the side and back), or None when ``data.augment`` is off.

    ``generator``: the stream its random draws come from (None: torch's global one). The examples give it a
    CPU generator of its own, reseeded every epoch, so the draws do not depend on what else consumed random
    numbers (dropout of modules that run in some configurations only): runs that differ only in their loss
    terms see the same augmented images."""
    if not data.augment:
        return None
    sizes = tuple(max(4, round(f * input_size)) for f in data.rescale_fractions)
    return T.TrainAugmentation(
        input_size, max_degrees=10.0, rescale_sizes=sizes, normalize_output=False, generator=generator
    )


def prepare_batch(
    images_uint8: Tensor,
    input_size: int,
    backbone: nn.Module,
    augmentation: nn.Module | None = None,
    degrade_to: int | None = None,
    flip: bool = False,
) -> Tensor:
    """uint8 (B, 3, S, S) on any device -> normalised float (B, 3, input_size, input_size) on that device.

    Raises TypeError for images that are not uint8: float images in [0, 1] would be read as 0..255 values,
    that is as near-black images.

    Args:
        backbone: decides the colour order and normalisation
            (:func:`~recognizability.backbones.normalize_for`).
        augmentation: the training augmentation (:func:`build_augmentation`) or None.
        degrade_to: degrade to this side and back (validation: 16 x 16, supplement Sec. B).
        flip: mirror horizontally (validation).
    """
    if not isinstance(images_uint8, Tensor) or images_uint8.dtype != torch.uint8:
        got = images_uint8.dtype if isinstance(images_uint8, Tensor) else type(images_uint8).__name__
        raise TypeError(f"expected images to be uint8 in 0..255 (B, 3, S, S), got {got}")
    check_positive_int(input_size, "input_size")
    x = images_uint8.float()
    if flip:
        x = x.flip(-1)
    if degrade_to is not None:
        x = T.degrade(x, size=degrade_to, value_range=(0.0, 255.0))
    if augmentation is not None:
        x = augmentation(x)
    if tuple(x.shape[-2:]) != (input_size, input_size):
        x = T.resize_batch(x, (input_size, input_size), value_range=(0.0, 255.0))
    x = normalize_for(backbone, x)
    if x.is_cuda:  # the modules are channels_last on CUDA (Session.place); feed them the same layout
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def validation_subset(train: ImageSet, data: DataConfig, seed: int) -> ImageSet:
    """A fixed random subset of the training set (``validation_fraction``, at most ``validation_max``),
    chosen from ``seed`` only."""
    count = min(data.validation_max, max(1, round(data.validation_fraction * len(train))))
    generator = torch.Generator().manual_seed(seed)
    index = torch.randperm(len(train), generator=generator)[:count]
    return train.subset(index.sort().values)


class ProcessShare(Protocol):
    """Which share of an epoch this process takes: process ``rank`` of ``world_size``, batches on ``device``
    (:class:`~recognizability.training.run.DistributedContext` is one)."""

    @property
    def rank(self) -> int: ...

    @property
    def world_size(self) -> int: ...

    @property
    def device(self) -> torch.device: ...


class EpochBatches:
    """The mini-batches of one epoch for this process: ``(uint8 images, labels)`` on ``context.device``.

    The order is a function of ``(seed, epoch)`` only: a permutation drawn from a generator seeded with
    ``seed + epoch``, cut to a multiple of the number of processes, and process ``r`` of ``W`` takes every
    ``W``-th index from ``r`` (the order of ``torch.utils.data.DistributedSampler(shuffle=True,
    drop_last=True)``). Incomplete batches are dropped; ``max_steps`` caps the number of batches.
    """

    def __init__(
        self,
        train: ImageSet,
        batch_size: int,
        context: ProcessShare,
        seed: int,
        epoch: int,
        max_steps: int | None = None,
    ) -> None:
        generator = torch.Generator().manual_seed(seed + epoch)
        order = torch.randperm(len(train), generator=generator)
        per_process = len(train) // context.world_size
        order = order[: per_process * context.world_size][context.rank :: context.world_size]
        steps = len(order) // batch_size
        if max_steps is not None:
            steps = min(steps, max_steps)
        if steps == 0:
            raise ValueError(
                f"expected at least one full batch per process, got {len(order)} images for batch_size "
                f"{batch_size}"
            )
        self.train, self.order, self.batch_size, self.steps = train, order, batch_size, steps
        self.device = context.device

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        for step in range(self.steps):
            index = self.order[step * self.batch_size : (step + 1) * self.batch_size]
            images = self.train.images[index].to(self.device, non_blocking=True)
            yield images, self.train.labels[index].to(self.device, non_blocking=True)
