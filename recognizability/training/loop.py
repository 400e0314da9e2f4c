"""The epoch loop shared by the three examples.

One epoch (``train_one_epoch``), as in the paper's Sec. 3 and supplement Sec. B:

1. every generator is reseeded from ``(seed, epoch)`` (so a resumed run repeats the same epoch exactly);
2. the UI centre u is recomputed from the UI set with the current backbone (:func:`refresh_ui_center`), and,
   when enabled, the UI statistics (mu_UI, sigma_UI) of Eq. 6;
3. each mini-batch: images (uint8, held in memory at ``load_size``) -> device -> the paper's augmentation on
   the device (flip, rotation within +-10 degrees, random rescale) -> bicubic resize to ``input_size`` ->
   normalisation -> ``model(images, labels)`` under bf16 autocast on CUDA -> Eq. 10 total -> Adam step;
4. batch-norm layers of the backbone stay frozen when ``settings.freeze_batchnorm``;
5. validation (:func:`validate`): a fixed subset of the training set, horizontally flipped and degraded to
   16 x 16 then resized back; reports classification accuracy and the loss terms.

Loss terms are summed on the device and read back once per ``log_every`` steps (for the progress bar) and
once per epoch, so the hot loop has no per-step host sync beyond what the optimiser needs.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from recognizability.backbones import freeze_batchnorm, normalize_for
from recognizability.data import transforms as T

from .checkpoint import epoch_seed, seed_everything
from .distributed import DistributedContext, epoch_sampler
from .settings import TrainingSettings

__all__ = [
    "TERM_NAMES",
    "ImageSet",
    "VerificationPairs",
    "load_image_set",
    "prepare_batch",
    "refresh_ui_center",
    "train_one_epoch",
    "validate",
    "validation_subset",
]

#: Names of the loss terms logged each step (fields of RecognizabilityLossOutput).
TERM_NAMES: tuple[str, ...] = ("total", "classification", "regression", "diversion", "attention")


@dataclass
class ImageSet:
    """Decoded images of one subset, resized to one size and held in memory (VLR images are tiny).

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

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def subset(self, index: Tensor) -> ImageSet:
        """The rows ``index`` (1-D int64) of every field."""
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
        """The parts one after another (severity/hard kept only when every part has them)."""
        severity = [p.severity for p in parts]
        hard = [p.hard for p in parts]
        return ImageSet(
            images=torch.cat([p.images for p in parts]),
            labels=torch.cat([p.labels for p in parts]),
            severity=None if any(s is None for s in severity) else torch.cat(severity),  # type: ignore[arg-type]
            hard=None if any(h is None for h in hard) else torch.cat(hard),  # type: ignore[arg-type]
            paths=[path for p in parts for path in p.paths],
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


def load_image_set(dataset: Any, size: int, chunk: int = 512) -> ImageSet:
    """Decode every image of a library dataset and resize it to ``size`` x ``size`` (bicubic, on the CPU).

    Args:
        dataset: a reader from ``recognizability.data`` (``dataset[i] -> (uint8 (3,H,W), label)``,
            ``.samples`` with ``.path`` and, on synthetic trees, ``.severity`` / ``.hard``).
        size: side of the stored square images.
        chunk: images decoded per resize call.
    """
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"expected size to be an int >= 1, got {size!r}")
    n = len(dataset)
    images = torch.empty((n, 3, size, size), dtype=torch.uint8)
    labels = torch.empty((n,), dtype=torch.int64)
    for start in range(0, n, chunk):
        batch = [dataset[i] for i in range(start, min(n, start + chunk))]
        resized = T.collate_variable_size(batch, size=(size, size))
        images[start : start + len(batch)] = resized[0]
        labels[start : start + len(batch)] = resized[1]
    samples = dataset.samples
    severity = hard = None
    if n and all(getattr(s, "severity", None) is not None for s in samples):
        severity = torch.tensor([float(s.severity) for s in samples], dtype=torch.float32)
        hard = torch.tensor([bool(s.hard) for s in samples], dtype=torch.bool)
    distance = None
    if n and all(getattr(s, "distance", None) is not None for s in samples):
        distance = torch.tensor([int(s.distance) for s in samples], dtype=torch.int64)
    return ImageSet(images, labels, severity, hard, [str(s.path) for s in samples], distance)


def prepare_batch(
    images_uint8: Tensor,
    settings: TrainingSettings,
    backbone: nn.Module,
    augmentation: nn.Module | None = None,
    degrade_to: int | None = None,
    flip: bool = False,
) -> Tensor:
    """uint8 (B, 3, S, S) on any device -> normalised float (B, 3, input_size, input_size) on that device.

    Args:
        augmentation: the training augmentation module (``TrainAugmentation``) or None.
        degrade_to: degrade to this side and back (validation: 16 x 16, supplement Sec. B).
        flip: mirror horizontally (validation).
    """
    x = images_uint8.float()
    if flip:
        x = x.flip(-1)
    if degrade_to is not None:
        x = T.degrade(x, size=degrade_to, value_range=(0.0, 255.0))
    if augmentation is not None:
        x = augmentation(x)
    if tuple(x.shape[-2:]) != (settings.input_size, settings.input_size):
        x = T.resize_batch(x, (settings.input_size, settings.input_size), value_range=(0.0, 255.0))
    x = normalize_for(backbone, x)
    if x.is_cuda:  # the model is channels_last on CUDA (fit); feed it the same layout (untested on GPU here)
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def _autocast(device: torch.device, amp: bool) -> Any:
    return torch.autocast(
        device_type=device.type, dtype=torch.bfloat16, enabled=amp and device.type == "cuda"
    )


def _set_train_mode(model: Any, settings: TrainingSettings) -> None:
    # freeze_batchnorm (applied by build_model) makes frozen BN layers ignore train(); re-applying it is a
    # no-op that also covers a model built elsewhere.
    model.train()
    if settings.freeze_batchnorm:
        freeze_batchnorm(model.backbone)


@torch.no_grad()
def embed_image_set(
    model: nn.Module,
    data: ImageSet,
    settings: TrainingSettings,
    device: torch.device,
    amp: bool = False,
    batch_size: int = 256,
    flip: bool = False,
    degrade_to: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Embeddings v (N, D) float32 and learned index xi_hat (N,) of every image (eval mode, on ``device``)."""
    was_training = model.training
    model.eval()
    embeddings, scores = [], []
    for start in range(0, len(data), batch_size):
        x = data.images[start : start + batch_size].to(device, non_blocking=True)
        x = prepare_batch(x, settings, model.backbone, flip=flip, degrade_to=degrade_to)  # type: ignore[arg-type]
        with _autocast(device, amp):
            v, xi_hat = model.embed_and_score(x)  # type: ignore[operator]
        embeddings.append(v.float())
        scores.append(xi_hat.float())
    model.train(was_training)
    if not embeddings:
        raise ValueError("expected a non-empty image set to embed, got 0 images")
    return torch.cat(embeddings), torch.cat(scores)


@torch.no_grad()
def refresh_ui_center(
    model: nn.Module, ui: ImageSet, settings: TrainingSettings, device: torch.device, amp: bool = False
) -> None:
    """Recompute the UI centre u from the whole UI set with the current backbone (and mu_UI, sigma_UI).

    u = normalised mean of the normalised UI embeddings (``UICenter.fit``). When ``settings.ui_statistics``,
    the predicted index of (up to) ``ui_statistics_samples`` UI images sets (mu_UI, sigma_UI) of Eq. 6.
    """
    embeddings, predicted_index = embed_image_set(model, ui, settings, device, amp)
    model.ui_center.fit(embeddings)  # type: ignore[union-attr, operator]
    if settings.ui_statistics and model.criterion.use_diversion:  # type: ignore[union-attr]
        model.criterion.diversion.set_ui_statistics(  # type: ignore[union-attr, operator]
            predicted_index[: settings.ui_statistics_samples]
        )


def validation_subset(train: ImageSet, settings: TrainingSettings) -> ImageSet:
    """A fixed random subset of the training set (``validation_fraction``, at most ``validation_max``),
    chosen from ``settings.seed`` only."""
    count = min(settings.validation_max, max(1, round(settings.validation_fraction * len(train))))
    generator = torch.Generator().manual_seed(settings.seed)
    index = torch.randperm(len(train), generator=generator)[:count]
    return train.subset(index.sort().values)


@torch.no_grad()
def validate(
    model: nn.Module, data: ImageSet, settings: TrainingSettings, device: torch.device, amp: bool = False
) -> dict[str, float]:
    """Validation per supplement Sec. B: training images flipped and degraded to 16 x 16 (then back).

    Returns:
        ``accuracy``: share whose nearest ArcFace prototype (cosine, no margin) is the label;
        ``mean_predicted_index``: mean xi_hat.
    """
    v, xi_hat = embed_image_set(
        model, data, settings, device, amp, flip=True, degrade_to=settings.validation_degrade_size
    )
    weight: Tensor = getattr(model.head, "weight")  # noqa: B009 - the ArcFace prototypes W (C, D)
    cosine = nn.functional.normalize(v, dim=1) @ nn.functional.normalize(weight.float(), dim=1).T
    labels = data.labels.to(device)
    accuracy = (cosine.argmax(dim=1) == labels).float().mean()
    return {"accuracy": float(accuracy), "mean_predicted_index": float(xi_hat.mean())}


def _progress(total: int, description: str, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=description, leave=False, dynamic_ncols=True, file=sys.stderr)


def train_one_epoch(
    model: nn.Module,
    train: ImageSet,
    optimizer: torch.optim.Optimizer,
    settings: TrainingSettings,
    epoch: int,
    context: DistributedContext,
    ui: ImageSet,
    *,
    forward: Callable[[Tensor, Tensor], Any] | None = None,
    augmentation: nn.Module | None = None,
    amp: bool = False,
    progress: bool = True,
    log_every: int = 10,
) -> dict[str, float]:
    """Run one epoch (0-based ``epoch``) and return the mean of every loss term plus ``images_per_second``.

    Args:
        model: the unwrapped ``RecognizabilityModel`` (its UI centre is refreshed here).
        train: training images in memory.
        optimizer: Adam over ``model.parameter_groups(settings)``.
        context: the process's :class:`DistributedContext` (its sampler shard and device).
        ui: the UI set (the centre is recomputed from all of it at the start of the epoch).
        forward: the callable run on each batch, ``forward(images, labels) -> RecognizabilityLossOutput``;
            the DDP- or ``torch.compile``-wrapped model (default: ``model``).
        augmentation: ``TrainAugmentation`` (None: no augmentation).
        amp: bf16 autocast (CUDA only; ignored on CPU).
        progress: show a tqdm bar with the running loss terms (when tqdm is installed and this is rank 0).
    """
    device = context.device
    seed_everything(epoch_seed(settings.seed, epoch))
    refresh_ui_center(model, ui, settings, device, amp)
    _set_train_mode(model, settings)
    run = forward if forward is not None else model

    sampler = epoch_sampler(train.labels, context, settings.seed)  # type: ignore[arg-type]
    sampler.set_epoch(epoch)
    order = torch.tensor(list(iter(sampler)), dtype=torch.int64)
    steps = len(order) // settings.batch_size
    if settings.max_steps_per_epoch is not None:
        steps = min(steps, settings.max_steps_per_epoch)
    if steps == 0:
        raise ValueError(
            f"expected at least one full batch per process, got {len(order)} images for batch_size "
            f"{settings.batch_size}"
        )
    sums = torch.zeros(len(TERM_NAMES), device=device)
    bar = _progress(steps, f"epoch {epoch + 1}/{settings.epochs}", progress and context.is_main)
    start = time.perf_counter()
    for step in range(steps):
        index = order[step * settings.batch_size : (step + 1) * settings.batch_size]
        images = train.images[index].to(device, non_blocking=True)
        labels = train.labels[index].to(device, non_blocking=True)
        x = prepare_batch(images, settings, model.backbone, augmentation)  # type: ignore[arg-type]
        with _autocast(device, amp):
            out = run(x, labels)
        optimizer.zero_grad(set_to_none=True)
        out.total.backward()
        optimizer.step()
        sums += torch.stack([getattr(out, name).detach().float() for name in TERM_NAMES])
        if bar is not None and ((step + 1) % log_every == 0 or step + 1 == steps):
            means = (sums / (step + 1)).tolist()
            bar.set_postfix({n[:5]: f"{m:.3f}" for n, m in zip(TERM_NAMES, means, strict=True)})
            bar.update((step + 1) - bar.n)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elapsed = time.perf_counter() - start
    if bar is not None:
        bar.close()
    means = context.all_reduce_mean(sums / steps).tolist()
    result = dict(zip(TERM_NAMES, means, strict=True))
    result["images_per_second"] = steps * settings.batch_size * context.world_size / max(elapsed, 1e-9)
    result["steps"] = float(steps)
    if not all(math.isfinite(v) for v in means):
        raise FloatingPointError(f"non-finite loss in epoch {epoch + 1}: {result}")
    return result
