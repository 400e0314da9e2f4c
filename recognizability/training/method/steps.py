"""Small pieces the training loop calls: autocast, embedding a whole image set, and validation.

- :func:`autocast`: bf16 autocast on CUDA when asked (the index and loss arithmetic of the package stays
  float32 inside it); a no-op on the CPU.
- :func:`embed_images`: the embedding v and the learned index xi_hat of every image of a set, in eval mode
  (the UI set at the start of every epoch, the test sets at the end).
- :func:`validate`: supplement Sec. B's validation, training images flipped and degraded to 16 x 16.
"""

from __future__ import annotations

import contextlib

import torch
import torch.distributed as dist
from torch import Tensor, nn

from recognizability._validation import check_bool, check_positive_int
from recognizability.functional import cosine_logits
from recognizability.nn import ShardedMarginHead

from ..data import ImageSet, prepare_batch
from .guards import evaluation_mode
from .modules import MethodModules

__all__ = ["autocast", "embed_images", "nearest_class", "validate"]


def autocast(device: torch.device, amp: bool) -> contextlib.AbstractContextManager[None]:
    """bf16 autocast on CUDA when ``amp``; otherwise a context that changes nothing."""
    if amp and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def embed_images(
    model: MethodModules,
    data: ImageSet,
    input_size: int,
    device: torch.device,
    amp: bool = False,
    batch_size: int = 256,
    flip: bool = False,
    degrade_to: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Embeddings v (N, D) float32 and learned index xi_hat (N,) of every image, in eval mode on ``device``.

    Every module's train/eval flag is restored afterwards, also when a call raises
    (:func:`~recognizability.training.method.guards.evaluation_mode`); the arguments are checked before the
    first batch.

    Raises:
        TypeError: ``data`` is not an ImageSet, or a bad argument type.
        ValueError: an empty set, ``input_size``/``batch_size``/``degrade_to`` < 1.
    """
    if not isinstance(data, ImageSet):
        raise TypeError(f"expected data to be an ImageSet, got {type(data).__name__}")
    if len(data) == 0:
        raise ValueError("expected a non-empty image set to embed, got 0 images")
    check_positive_int(input_size, "input_size")
    check_positive_int(batch_size, "batch_size")
    check_bool(flip, "flip")
    if degrade_to is not None:
        check_positive_int(degrade_to, "degrade_to")
    embeddings, scores = [], []
    with evaluation_mode(model):
        for start in range(0, len(data), batch_size):
            x = data.images[start : start + batch_size].to(device, non_blocking=True)
            x = prepare_batch(x, input_size, model.backbone, flip=flip, degrade_to=degrade_to)
            with autocast(device, amp):
                v, xi_hat = model.embed_and_score(x)
            embeddings.append(v.float())
            scores.append(xi_hat.float())
    return torch.cat(embeddings), torch.cat(scores)


@torch.no_grad()
def validate(
    model: MethodModules,
    data: ImageSet,
    input_size: int,
    degrade_to: int,
    device: torch.device,
    amp: bool = False,
) -> dict[str, float]:
    """Validation per supplement Sec. B: training images flipped and degraded to ``degrade_to`` pixels (then
    back).

    Returns:
        ``accuracy``: share whose nearest class prototype (cosine, no margin; :func:`nearest_class`, also for
        chunked and class-sharded heads) is the label;
        ``mean_predicted_index``: mean xi_hat.

    The model's train/eval flags are what they were afterwards, on every exit path.
    """
    check_positive_int(degrade_to, "degrade_to")
    v, xi_hat = embed_images(model, data, input_size, device, amp, flip=True, degrade_to=degrade_to)
    accuracy = (nearest_class(v, model.head) == data.labels.to(device)).float().mean()
    return {"accuracy": float(accuracy), "mean_predicted_index": float(xi_hat.mean())}


@torch.no_grad()
def nearest_class(embeddings: Tensor, head: nn.Module, chunk_size: int = 16384) -> Tensor:
    """The class of the nearest prototype (largest cosine, no margin) of each embedding, ``(N,)`` long.

    The head's prototypes ``weight`` are walked ``chunk_size`` classes at a time, so no ``(N, C)`` tensor is
    built. A class-sharded head (:class:`~recognizability.nn.ShardedMarginHead`) holds only its classes
    ``[class_start, class_end)``: each process finds its best class and the best over the processes wins (a
    collective: every process of the head's group must call it with the same embeddings).
    """
    prototypes = getattr(head, "weight", None)
    if not isinstance(prototypes, Tensor):
        raise TypeError(
            f"expected the head to hold its prototypes as .weight, got {type(prototypes).__name__}"
        )
    best = torch.full((embeddings.shape[0],), -torch.inf, device=embeddings.device)
    best_class = torch.zeros(embeddings.shape[0], dtype=torch.long, device=embeddings.device)
    for start in range(0, prototypes.shape[0], chunk_size):
        cosine = cosine_logits(embeddings.float(), prototypes[start : start + chunk_size].detach().float())
        value, index = cosine.max(dim=1)
        better = value > best
        best = torch.where(better, value, best)
        best_class = torch.where(better, index + start, best_class)
    if not isinstance(head, ShardedMarginHead):
        return best_class
    best_class += head.class_start
    group = head.process_group
    if group is not None and head.world_size > 1:
        values = [torch.empty_like(best) for _ in range(head.world_size)]
        classes = [torch.empty_like(best_class) for _ in range(head.world_size)]
        dist.all_gather(values, best, group=group)
        dist.all_gather(classes, best_class, group=group)
        winner = torch.stack(values).argmax(dim=0)  # the first process among equals
        best_class = torch.stack(classes).gather(0, winner.unsqueeze(0)).squeeze(0)
    return best_class
