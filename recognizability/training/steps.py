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
from torch import Tensor

from recognizability.functional import cosine_logits

from .images import ImageSet, prepare_batch
from .modules import MethodModules

__all__ = ["autocast", "embed_images", "validate"]


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
    """Embeddings v (N, D) float32 and learned index xi_hat (N,) of every image, in eval mode on ``device``
    (the modules' training mode is restored afterwards)."""
    if len(data) == 0:
        raise ValueError("expected a non-empty image set to embed, got 0 images")
    was_training = model.training
    model.eval()
    embeddings, scores = [], []
    for start in range(0, len(data), batch_size):
        x = data.images[start : start + batch_size].to(device, non_blocking=True)
        x = prepare_batch(x, input_size, model.backbone, flip=flip, degrade_to=degrade_to)
        with autocast(device, amp):
            v, xi_hat = model.embed_and_score(x)
        embeddings.append(v.float())
        scores.append(xi_hat.float())
    model.train(was_training)
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
        ``accuracy``: share whose nearest class prototype (cosine, no margin) is the label;
        ``mean_predicted_index``: mean xi_hat.
    """
    v, xi_hat = embed_images(model, data, input_size, device, amp, flip=True, degrade_to=degrade_to)
    prototypes = model.head.weight
    if not isinstance(prototypes, Tensor):
        raise TypeError(
            f"expected the head to hold its prototypes as .weight, got {type(prototypes).__name__}"
        )
    cosine = cosine_logits(v, prototypes.detach())
    accuracy = (cosine.argmax(dim=1) == data.labels.to(device)).float().mean()
    return {"accuracy": float(accuracy), "mean_predicted_index": float(xi_hat.mean())}
