"""The running mean of every loss term of an epoch, by name, and its progress bar.

:class:`EpochMeter` reads whatever terms the training step hands it: every scalar tensor field of the loss
output (``total``, ``classification``, ``regression``, ``diversion``, ``attention`` of
:class:`~recognizability.nn.RecognizabilityLossOutput`), and any further term passed by name
(``meter.update(losses, len(labels), my_term=my_term)``). A term added to the step in the example is therefore
logged, written into the run's history and report, and drawn, with no change here.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from ..config import TERMS
from .distributed import DistributedContext

__all__ = ["EpochMeter", "scalar_terms", "term_label"]

#: How a loss output's fields are printed: the paper's symbols for the terms of Eq. 10.
_LABELS: dict[str, str] = {
    "classification": "cls",
    **{term.output: term.symbol.removeprefix("L_") for term in TERMS},
}


def term_label(name: str) -> str:
    """The short label of a term in the epoch line: the paper's symbol for Eq. 10's terms ("L1" for
    ``regression``), the name itself for any other."""
    return _LABELS.get(name, name)


def scalar_terms(losses: object, extra: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The scalar (0-dim) tensors of ``losses`` (a dataclass or a mapping of tensors), then ``extra``, by
    name.

    Per-sample fields (``index``, ``predicted_index``) are not terms and are left out.

    Raises:
        TypeError: ``losses`` is neither a dataclass instance nor a mapping, or an extra term is not a 0-dim
            tensor.
        ValueError: an extra term has the name of a field of ``losses``.
    """
    if dataclasses.is_dataclass(losses) and not isinstance(losses, type):
        fields: dict[str, Any] = {f.name: getattr(losses, f.name) for f in dataclasses.fields(losses)}
    elif isinstance(losses, Mapping):
        fields = dict(losses)
    else:
        raise TypeError(
            f"expected losses to be a dataclass or a mapping of tensors, got {type(losses).__name__}"
        )
    terms = {name: value for name, value in fields.items() if isinstance(value, Tensor) and value.dim() == 0}
    for name, value in extra.items():
        if name in terms:
            raise ValueError(f"expected a new term name, got {name!r}, a field of the loss output")
        if not (isinstance(value, Tensor) and value.dim() == 0):
            got = f"shape {tuple(value.shape)}" if isinstance(value, Tensor) else type(value).__name__
            raise TypeError(f"expected the term {name!r} to be a 0-dim tensor, got {got}")
        terms[name] = value
    return terms


class EpochMeter:
    """The running mean of every loss term over one epoch, and its progress bar.

    Terms are summed on the device and read back once every ``log_every`` steps (for the bar) and once at the
    end, so the loop has no per-step host sync beyond what the optimiser needs. The names of the terms are
    those of the first :meth:`update`; every later step must hand the same ones.
    """

    def __init__(
        self,
        epoch: int,
        epochs: int,
        steps: int,
        context: DistributedContext,
        progress: bool,
        log_every: int = 10,
    ) -> None:
        self.context, self.steps, self.log_every, self.done = context, steps, log_every, 0
        self.epoch = epoch
        self.names: tuple[str, ...] = ()
        self.sums: Tensor | None = None
        self.bar: Any = None
        if progress and context.is_main:
            try:
                from tqdm import tqdm

                self.bar = tqdm(total=steps, desc=f"epoch {epoch + 1}/{epochs}", leave=False, file=sys.stderr)
            except ImportError:
                pass
        self.images = 0
        self.began = time.perf_counter()

    def update(self, losses: object, batch_size: int, **terms: Tensor) -> None:
        """Add one step's terms: the scalar fields of ``losses`` and the keyword ``terms``
        (:func:`scalar_terms`).

        Raises:
            ValueError: the step's term names differ from the first step's.
        """
        found = scalar_terms(losses, terms)
        names = tuple(found)
        if self.sums is None:
            self.names = names
            self.sums = torch.zeros(len(names), device=self.context.device)
        elif names != self.names:
            raise ValueError(
                f"expected the terms {list(self.names)} of the epoch's first step, got {list(names)}"
            )
        self.sums += torch.stack([value.detach().float().to(self.sums.device) for value in found.values()])
        self.done += 1
        self.images += batch_size
        if self.bar is not None and (self.done % self.log_every == 0 or self.done == self.steps):
            means = (self.sums / self.done).tolist()
            self.bar.set_postfix({term_label(n): f"{m:.3f}" for n, m in zip(self.names, means, strict=True)})
            self.bar.update(self.done - self.bar.n)

    def finish(self) -> dict[str, float]:
        """Mean of every term over the epoch (and over the processes), ``images_per_second`` and ``steps``.

        Raises:
            FloatingPointError: a mean is not finite (named, with the usual causes); the checkpoint of the
                previous epoch is left as it was.
        """
        if self.context.device.type == "cuda":
            torch.cuda.synchronize(self.context.device)
        elapsed = time.perf_counter() - self.began
        if self.bar is not None:
            self.bar.close()
        sums = self.sums if self.sums is not None else torch.zeros(0, device=self.context.device)
        means: list[float] = self.context.all_reduce_mean(sums / max(self.done, 1)).tolist()
        result = dict(zip(self.names, means, strict=True))
        result["images_per_second"] = self.images * self.context.world_size / max(elapsed, 1e-9)
        result["steps"] = float(self.done)
        bad = [name for name, value in zip(self.names, means, strict=True) if not math.isfinite(value)]
        if bad:
            raise FloatingPointError(
                f"expected finite losses, got non-finite {bad} in epoch {self.epoch + 1} (means {result}). "
                f"Usual causes: a learning rate too high for the model; frozen batch norm on a backbone "
                f"without pretrained weights (--pretrained); non-finite input images (value checks, "
                f"recognizability.set_value_checks(True), find them before the backbone runs). "
                f"The last checkpoint holds the previous epoch: --resume continues from it"
            )
        return result
