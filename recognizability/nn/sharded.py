"""Margin heads with the class prototypes sharded over the processes of a ``torch.distributed`` group.

For millions of identities neither the ``(C, D)`` prototypes nor the ``(B, C)`` logits fit one device. As in
the partial-FC head of the ArcFace authors' ``arcface_torch``, process ``r`` of ``W`` keeps only the
contiguous classes ``[r C // W, (r + 1) C // W)``; the embeddings and labels of all processes are gathered,
each process scores the whole gathered batch against its own classes, and the softmax cross-entropy is
assembled across processes from three ``(B_total,)`` reductions: the all-reduce MAX of the row maxima and the
all-reduce SUM of the sums of exponentials (a distributed log-sum-exp), and the target cosine, which only its
owner holds. The Recognizability Index (paper Eq. 1-3) needs the same target cosine and the largest
non-target cosine over all classes: the all-reduce MAX of each process's best non-target cosine. No process
ever holds a whole row of cosines, and within a process the classes are walked in chunks
(:mod:`recognizability.functional.chunked`).

The margin is a component (:class:`~recognizability.nn.Margin`): its target logit, its per-sample inputs
(the feature norms, from the gathered embeddings) and its running statistics (over the gathered batch, the
same on every process) are computed on every process from the reduced ``(B_total,)`` quantities; a margin that
needs the target cosine before the walk (CurricularFace) gets it from one more all-reduce SUM.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

from .._validation import check_float_in_range, check_floating, check_shape, value_checks_enabled
from ..functional._heads import check_head_call
from ..functional.chunked import DEFAULT_CHUNK_SIZE, check_chunk_size
from ._collectives import all_gather, all_reduce_sum, scale_gradient
from ._prototypes import PrototypeHolder, check_head_sizes, margin_option
from .chunked import ChunkedMarginHead
from .head_output import MarginHeadOutput
from .margins import ArcFaceMargin, Margin

__all__ = ["ShardedArcFace", "ShardedMarginHead", "class_shard", "shard_state"]

_EXTRA_STATE = "_extra_state"


def class_shard(num_classes: int, rank: int, world_size: int) -> tuple[int, int]:
    """The contiguous classes ``[start, end)`` that process ``rank`` of ``world_size`` owns.

    ``start = rank * C // W`` and ``end = (rank + 1) * C // W``: shard sizes differ by at most one.
    """
    return rank * num_classes // world_size, (rank + 1) * num_classes // world_size


def shard_state(num_classes: int, class_start: int, class_end: int) -> dict[str, int]:
    """What a :class:`ShardedMarginHead` saves of its class range (its ``_extra_state``): the classes
    ``[class_start, class_end)`` of ``num_classes``; ``[0, num_classes)`` is a whole head."""
    return {"num_classes": num_classes, "class_start": class_start, "class_end": class_end}


class ShardedMarginHead(ChunkedMarginHead):
    """A margin head whose class prototypes are split over the processes of a ``torch.distributed`` group.

    Any margin component (:class:`~recognizability.nn.ArcFaceMargin`, ..., one of your own). Process ``r`` of
    ``W`` owns the classes ``[r C // W, (r + 1) C // W)`` (:func:`class_shard`) as its parameter ``weight`` of
    shape ``(C_r, D)``, drawn from ``N(0, 0.01^2)`` like :class:`MarginHead`, and the margin's running
    statistics whole (the same on every process). Every process calls the head with its own batch (all
    processes the same batch size ``B``); the embeddings and labels of all processes are gathered
    (``B_total = W B`` rows) and:

    * ``loss`` is the margin's cross-entropy (plus its regulariser) of the whole gathered batch, the same
      value on every process, computed across shards (all-reduce MAX of the row maxima, all-reduce SUM of the
      sums of exponentials, the target cosine from the process that owns it);
    * ``positive_cosine`` and ``nearest_negative_cosine`` are the index's two parts (paper Eq. 1) for this
      process's own ``B`` samples, over all ``C`` classes (the nearest negative is the all-reduce MAX of each
      shard's best non-target cosine);
    * the running statistics (AdaFace's norm mean and standard deviation, CurricularFace's ``t``) are updated
      from the whole gathered batch, so every process holds those of a single process that ran it.

    Gradients. ``weight`` receives exactly the gradient that a single process holding all prototypes would
    give it for the gathered batch. The gradient reaching each process's embeddings is ``W`` times that
    single-process gradient for the classification loss (each of the ``W`` processes back-propagates the same
    loss): wrap the backbone, not this head, in :class:`~torch.nn.parallel.DistributedDataParallel`, whose
    average over the ``W`` processes then gives the backbone exactly the single-process gradient of the
    whole batch; per-process loss terms built on the index parts (averaged over the own samples) get the same
    treatment as in ordinary data-parallel training. Do not wrap this head in DDP: its shards differ.

    Class sampling (``sample_rate < 1``, partial FC): in training mode each process scores the gathered batch
    against a random subset of its classes: every class that is a label in the gathered batch, plus random
    others, ``max(ceil(sample_rate * C_r), B_total + 1)`` classes in all (all ``C_r`` if fewer), drawn afresh
    at every call from the process's default generator. The softmax then runs over the sampled classes only,
    and so does the index's nearest negative: it is the largest cosine over the *sampled* non-target classes,
    a lower bound of the one over all classes (the index, Eq. 3, is then an upper bound; ``d_P`` is exact
    since positives are always kept). In evaluation mode every class is used.

    Without an initialised process group (or with a group of one process) the head is a single-process
    :class:`ChunkedMarginHead` holding all ``C`` classes (and a subclass of it).

    Checkpoints. ``state_dict()`` holds the local shard, the statistics and the class range; loading it into a
    head with another range raises. :meth:`full_weight` gathers the ``(C, D)`` matrix (a collective);
    :meth:`load_full_weight` takes this process's rows from a full matrix (e.g. a dense head's checkpoint);
    :meth:`load_shards` takes them from the shard state dicts written by any number of processes.

    Args:
        embedding_dim: ``D``.
        num_classes: ``C >= max(2, W)`` (every process owns at least one class).
        margin: the margin component.
        process_group: the group the classes are split over (default: the default group, if initialised).
        sample_rate: share of each process's classes scored per training step, in ``(0, 1]`` (default 1:
            all classes, exact).
        chunk_size: classes scored at a time within a process (default 16384): the step's memory beyond the
            shard and its gradient is a few ``(B_total, chunk_size)`` blocks.

    Shape:
        forward(embeddings ``(B, D)``, labels ``(B,)``) -> :class:`MarginHeadOutput` with ``logits`` and
        ``cosine`` ``None``, ``loss`` a scalar and the two index parts ``(B,)``.
    """

    def __init__(
        self,
        embedding_dim: int,
        num_classes: int,
        margin: Margin,
        process_group: dist.ProcessGroup | None = None,
        sample_rate: float = 1.0,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> None:
        embedding_dim, num_classes = check_head_sizes(embedding_dim, num_classes)
        sample_rate = check_float_in_range(sample_rate, "sample_rate", 0, 1, low_closed=False)
        chunk_size = check_chunk_size(chunk_size)
        if process_group is None and dist.is_available() and dist.is_initialized():
            process_group = dist.group.WORLD
        rank = 0 if process_group is None else dist.get_rank(process_group)
        world_size = 1 if process_group is None else dist.get_world_size(process_group)
        if num_classes < max(2, world_size):
            raise ValueError(
                f"expected num_classes >= max(2, world size {world_size}) so that every process owns a "
                f"class and a nearest negative exists, got {num_classes!r}"
            )
        class_start, class_end = class_shard(num_classes, rank, world_size)
        # The holder of this shard's rows only (ChunkedMarginHead.__init__ would hold all C).
        PrototypeHolder.__init__(self, embedding_dim, num_classes, margin, rows=class_end - class_start)
        self.chunk_size = chunk_size
        self.sample_rate = sample_rate
        self.process_group = process_group
        self.rank, self.world_size = rank, world_size
        self.class_start, self.class_end = class_start, class_end
        #: ``(k,)`` global ids of the classes of this shard scored by the last sampled training step
        #: (``None`` when the last call used every class).
        self.sampled_classes: Tensor | None = None

    # ------------------------------------------------------------------------------------------------------
    # Forward
    # ------------------------------------------------------------------------------------------------------

    def forward(self, embeddings: Tensor, labels: Tensor) -> MarginHeadOutput:
        index = check_head_call(embeddings, labels, self.weight, self.embedding_dim, self.num_classes)
        group = self._group()
        batch = embeddings.shape[0]
        if group is not None:
            if value_checks_enabled():
                self._check_equal_batches(batch, embeddings.device, group)
            gathered = all_gather(embeddings, group)
            gathered_labels = all_gather(index, group)  # integer: no gradient to carry
            weight = scale_gradient(self.weight, 1.0 / self.world_size)
        else:
            gathered, gathered_labels, weight = embeddings, index, self.weight
        local_labels = gathered_labels - self.class_start  # outside [0, C_r): a class of another process
        sampled = None
        if self.training and self.sample_rate < 1.0:
            weight, local_labels, sampled = self._sample_classes(weight, local_labels)
        loss, positive, nearest_negative, statistics = self._streamed_loss(gathered, local_labels, weight)
        self._commit(statistics)  # every argument has been checked: now the statistics may change
        self.sampled_classes = sampled
        own = slice(self.rank * batch, (self.rank + 1) * batch)
        return MarginHeadOutput(
            logits=None,
            cosine=None,
            loss=loss,
            positive_cosine=positive[own],
            nearest_negative_cosine=nearest_negative[own],
        )

    def _group(self) -> dist.ProcessGroup | None:
        """The process group when there is more than one process to reduce over, else ``None``."""
        return self.process_group if self.process_group is not None and self.world_size > 1 else None

    def _reduce_target_cosine(self, target_cosine: Tensor) -> Tensor:
        group = self._group()
        if group is not None:  # only the owner's entry is non-zero; a constant (no gradient)
            target_cosine = target_cosine.clone()
            dist.all_reduce(target_cosine, op=dist.ReduceOp.SUM, group=group)
        return target_cosine

    def _reduce_parts(
        self, nontarget_lse: Tensor, positive: Tensor, nearest_negative: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        group = self._group()
        if group is None:
            return nontarget_lse, positive, nearest_negative
        # Distributed log-sum-exp over the non-target classes of all shards; the shift is a constant.
        shift = nontarget_lse.detach().clone()
        dist.all_reduce(shift, op=dist.ReduceOp.MAX, group=group)
        shift = torch.where(shift > -torch.inf, shift, 0.0)
        total = all_reduce_sum(torch.exp(nontarget_lse - shift), group)
        nontarget_lse = torch.log(total) + shift
        positive = all_reduce_sum(positive, group)  # only the owner's entry is non-zero
        per_shard = all_gather(nearest_negative.unsqueeze(0), group)  # (W, B_total)
        return nontarget_lse, positive, per_shard.max(dim=0).values

    def _check_equal_batches(self, batch: int, device: torch.device, group: dist.ProcessGroup) -> None:
        parts = [torch.empty(1, dtype=torch.long, device=device) for _ in range(self.world_size)]
        dist.all_gather(parts, torch.tensor([batch], device=device), group=group)
        sizes = torch.cat(parts).tolist()
        if any(size != batch for size in sizes):
            raise ValueError(
                "expected the same batch size on every process (e.g. drop_last=True), "
                f"got batch sizes {sizes}"
            )

    def _sample_classes(self, weight: Tensor, local_labels: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """Keep every class of this shard that is a label in the gathered batch plus random others; return
        the sampled prototypes, the labels renumbered into them (others stay outside the range) and the global
        ids of the sampled classes (``None`` when every class is kept)."""
        local_classes = weight.shape[0]
        batch_total = local_labels.shape[0]
        keep = min(local_classes, max(math.ceil(self.sample_rate * local_classes), batch_total + 1))
        if keep == local_classes:
            return weight, local_labels, None
        owned = (local_labels >= 0) & (local_labels < local_classes)
        clamped = local_labels.clamp(0, local_classes - 1)
        priority = torch.rand(local_classes, device=weight.device)
        priority.scatter_reduce_(0, clamped, owned.to(priority.dtype) * 2.0, reduce="amax")
        sampled = priority.topk(keep).indices.sort().values
        renumbered = torch.searchsorted(sampled, clamped)
        return weight[sampled], torch.where(owned, renumbered, -1), sampled + self.class_start

    # ------------------------------------------------------------------------------------------------------
    # Checkpoints
    # ------------------------------------------------------------------------------------------------------

    def get_extra_state(self) -> dict[str, int]:
        """The class range of the shard (:func:`shard_state`), saved beside ``weight`` so that a shard cannot
        load into the wrong range."""
        return shard_state(self.num_classes, self.class_start, self.class_end)

    def set_extra_state(self, state: Any) -> None:
        self._check_shard_state(state, "state_dict")

    def _check_shard_state(self, state: object, name: str) -> None:
        expected = self.get_extra_state()
        if state != expected:
            raise ValueError(
                f"expected {name} of the classes [{self.class_start}, {self.class_end}) of "
                f"{self.num_classes} (process {self.rank} of {self.world_size}), got a shard saved as "
                f"{state!r}; use load_shards() or load_full_weight() to load a checkpoint written with "
                "another number of processes"
            )

    def _load_from_state_dict(
        self,
        state_dict: Mapping[str, Any],
        prefix: str,
        local_metadata: dict[str, Any],
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        # Check the range before anything is copied (the base class copies the weight first).
        if prefix + _EXTRA_STATE in state_dict:
            self._check_shard_state(state_dict[prefix + _EXTRA_STATE], "state_dict")
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    @torch.no_grad()
    def full_weight(self) -> Tensor:
        """All ``C`` prototypes, ``(C, D)``, gathered from every process into a CPU tensor on every process.

        A collective: every process of the group must call it.
        """
        group = self.process_group
        if group is None or self.world_size == 1:
            return self.weight.detach().cpu().clone()
        widest = max(end - start for start, end in self._all_shards())
        padded = self.weight.new_zeros(widest, self.embedding_dim)
        padded[: self.weight.shape[0]] = self.weight
        parts = [torch.empty_like(padded) for _ in range(self.world_size)]
        dist.all_gather(parts, padded, group=group)
        return torch.cat(
            [part[: end - start].cpu() for part, (start, end) in zip(parts, self._all_shards(), strict=True)]
        )

    @torch.no_grad()
    def gather_rows(self, rows: Tensor, dst: int = 0) -> Tensor | None:
        """All ``C`` rows of a tensor shaped like the prototypes, whose ``C_r`` rows each process holds,
        ``(C, D)`` on the CPU of process ``dst`` (rank in the head's group); ``None`` on the other processes.

        ``rows`` is this process's ``(C_r, D)`` part: ``weight`` itself or a tensor shaped like it, such as
        Adam's moments of ``weight``. The shards travel to ``dst`` one at a time (point-to-point), so
        ``dst``'s device holds one shard beside its own and its CPU the whole result; the other processes keep
        nothing. A collective: every process of the group must call it, with rows of the same dtype.
        """
        check_shape(rows, "rows", (self.class_end - self.class_start, self.embedding_dim))
        group = self.process_group
        if group is None or self.world_size == 1:
            return rows.detach().cpu().clone()
        if self.rank != dst:
            dist.send(rows.detach().contiguous(), dst=dist.get_global_rank(group, dst), group=group)
            return None
        parts: list[Tensor] = []
        for source, (start, end) in enumerate(self._all_shards()):
            if source == dst:
                parts.append(rows.detach().cpu().clone())
                continue
            received = rows.new_empty(end - start, self.embedding_dim)
            dist.recv(received, src=dist.get_global_rank(group, source), group=group)
            parts.append(received.cpu())
        return torch.cat(parts)

    def local_rows(self, rows: Tensor, name: str = "rows") -> Tensor:
        """This process's rows ``rows[class_start:class_end]`` (a view) of a ``(C, D)`` tensor shaped like all
        the prototypes (the weight, or Adam's moments of it, e.g. from :meth:`gather_rows`)."""
        check_shape(rows, name, (self.num_classes, self.embedding_dim))
        return rows[self.class_start : self.class_end]

    @torch.no_grad()
    def load_full_weight(self, weight: Tensor) -> None:
        """Copy this process's rows ``weight[class_start:class_end]`` of a full ``(C, D)`` prototype matrix
        (e.g. ``ArcFace.state_dict()["weight"]`` or :meth:`full_weight`)."""
        check_shape(weight, "weight", (self.num_classes, self.embedding_dim))
        check_floating(weight, "weight")
        self.weight.copy_(self.local_rows(weight, "weight"))

    @torch.no_grad()
    def load_shards(self, shards: Sequence[Mapping[str, Any]], prefix: str = "") -> None:
        """Load this process's prototypes from the shard state dicts of a run with any number of processes.

        Each state dict is one process's ``head.state_dict()`` (or a model state dict with the head under
        ``prefix``, e.g. ``"head."``); together they must cover this process's classes. The shards may be
        loaded with ``torch.load(path, map_location="cpu", weights_only=True, mmap=True)`` so only the rows
        needed are read. Nothing is changed unless every row is found.

        Args:
            shards: the state dicts, in any order.
            prefix: key prefix of the head inside each state dict.
        """
        rows = self.weight.new_empty(self.weight.shape)
        covered = torch.zeros(self.weight.shape[0], dtype=torch.bool)
        for number, shard in enumerate(shards):
            name = f"shards[{number}]"
            weight_key, state_key = prefix + "weight", prefix + _EXTRA_STATE
            if weight_key not in shard or state_key not in shard:
                raise ValueError(f"expected {name} to hold the keys {weight_key!r} and {state_key!r}")
            state = shard[state_key]
            if not isinstance(state, Mapping) or state.get("num_classes") != self.num_classes:
                raise ValueError(
                    f"expected {name} to be a shard of {self.num_classes} classes, got {state!r}"
                )
            start, end = int(state["class_start"]), int(state["class_end"])
            weight = check_shape(
                shard[weight_key], f"{name}[{weight_key!r}]", (end - start, self.embedding_dim)
            )
            low, high = max(start, self.class_start), min(end, self.class_end)
            if low < high:
                rows[low - self.class_start : high - self.class_start] = weight[low - start : high - start]
                covered[low - self.class_start : high - self.class_start] = True
        if not bool(covered.all()):
            missing = int((~covered).sum())
            raise ValueError(
                f"expected shards covering the classes [{self.class_start}, {self.class_end}), "
                f"got {missing} of them missing"
            )
        self.weight.copy_(rows)

    def _all_shards(self) -> list[tuple[int, int]]:
        return [class_shard(self.num_classes, r, self.world_size) for r in range(self.world_size)]

    def _shard_repr(self) -> str:
        return (
            f"classes=[{self.class_start}, {self.class_end}), world_size={self.world_size}, "
            f"sample_rate={self.sample_rate}, chunk_size={self.chunk_size}"
        )

    def extra_repr(self) -> str:
        return (
            f"embedding_dim={self.embedding_dim}, num_classes={self.num_classes}, "
            f"margin={self.margin_component!r}, {self._shard_repr()}"
        )


class ShardedArcFace(ShardedMarginHead):
    """ArcFace head whose class prototypes are split over the processes of a ``torch.distributed`` group:
    :class:`ShardedMarginHead` with :class:`~recognizability.nn.ArcFaceMargin`, whose ``loss`` is the
    ArcFace cross-entropy ``L_cls`` of the whole gathered batch. Its state dict (``weight`` and the class
    range) is the one of earlier releases.

    Without an initialised process group (or with a group of one process) the head is a single-process
    chunked ArcFace holding all ``C`` classes.

    Args:
        embedding_dim: ``D``.
        num_classes: ``C >= max(2, W)`` (every process owns at least one class).
        scale: ``s`` (paper Table 5: 64).
        margin: ``m`` in radians, ``0 <= m < pi`` (paper Table 5: 0.45).
        process_group: the group the classes are split over (default: the default group, if initialised).
        sample_rate: share of each process's classes scored per training step, in ``(0, 1]`` (default 1:
            all classes, exact).
        chunk_size: classes scored at a time within a process (default 16384).

    Shape:
        forward(embeddings ``(B, D)``, labels ``(B,)``) -> :class:`MarginHeadOutput` with ``logits`` and
        ``cosine`` ``None``, ``loss`` a scalar and the two index parts ``(B,)``.
    """

    margin = margin_option()

    def __init__(
        self,
        embedding_dim: int,
        num_classes: int,
        scale: float = 64.0,
        margin: float = 0.45,
        process_group: dist.ProcessGroup | None = None,
        sample_rate: float = 1.0,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> None:
        component = ArcFaceMargin(scale, margin)
        super().__init__(embedding_dim, num_classes, component, process_group, sample_rate, chunk_size)

    def extra_repr(self) -> str:
        return f"{self._options_repr()}, {self._shard_repr()}"
