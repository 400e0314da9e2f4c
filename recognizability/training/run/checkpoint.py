"""Atomic, complete training checkpoints that can be read without running code.

A checkpoint holds everything needed to continue a run as if it had never stopped: model, optimiser and
scheduler states, the RNG states (python, numpy, torch CPU and every CUDA device), the number of finished
epochs and the settings. It is written to a temporary file in the same folder and moved into place with
``os.replace``, so an interruption never leaves a truncated ``last.pt`` (a left-over ``.last.pt.*.tmp`` is
removed by :func:`~recognizability.training.run.run_dir.prepare_run_dir`).

Everything in it is a tensor or a plain Python value (dict, list, str, int, float, bool, None), so it is read
with ``torch.load(weights_only=True)`` (:func:`read_training_checkpoint`): a file that holds anything else is
refused, never unpickled. The RNG states are stored as tensors and plain values and restored exactly:

- python ``random``: ``{"version": 3, "internal_state": int64 (625,), "gauss_next": float | None}``;
- numpy's global generator: ``{"bit_generator": "MT19937", "key": int64 (624,), "pos", "has_gauss",
  "cached_gaussian"}`` (the fields of ``np.random.get_state()``);
- torch CPU: uint8 tensor; CUDA: a list of uint8 tensors, one per device.

Format 1 (earlier releases) pickled numpy's state as a numpy array; such a file is still read without running
code (numpy's uint32 array reconstruction is the only extra object allowed) and its RNG state converted.

Loading is all-or-nothing: :func:`load_checkpoint` checks the whole checkpoint against the model, optimiser,
scheduler and settings before copying anything into them.

Exact resume also needs the randomness of an epoch not to depend on how the process got there: the training
loop reseeds every generator at the start of epoch ``e`` from ``(seed, e)`` (:func:`epoch_seed`), so a
resumed run draws the same data order, augmentations and dropout masks as an uninterrupted one.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from recognizability._files import write_atomically
from recognizability.backbones.loading import CheckpointError, read_checkpoint_file

__all__ = [
    "CHECKPOINT_FORMAT",
    "CheckpointError",
    "TrainingCheckpoint",
    "capture_rng_state",
    "check_checkpoint_fits",
    "check_resume_settings",
    "epoch_seed",
    "load_checkpoint",
    "read_training_checkpoint",
    "restore_rng_state",
    "save_checkpoint",
    "seed_everything",
    "unwrap_model",
]

#: Version of the checkpoint layout written by :func:`save_checkpoint` (1: earlier releases, numpy RNG state
#: pickled as an array).
CHECKPOINT_FORMAT = 2
#: The marker every checkpoint of this library carries under ``"kind"`` (format 2 on).
CHECKPOINT_KIND = "recognizability training checkpoint"
#: The marker of a pretraining (stage 1) checkpoint of ``recognizability.training.pretrain``: a backbone and
#: its ArcFace head, which prediction cannot use (pretraining checkpoints written before carried
#: :data:`CHECKPOINT_KIND` and are told apart by their settings).
PRETRAINING_CHECKPOINT_KIND = "recognizability pretraining checkpoint"
#: Settings that may differ between a checkpoint and the run resuming it (the description is the printed line
#: that names the configuration; its wording changes nothing the run computes).
RESUMABLE_CHANGES: tuple[str, ...] = ("epochs", "max_steps_per_epoch", "description")

#: What a training checkpoint is, in the words of the error messages.
TRAINING_CHECKPOINT = "a training checkpoint (OUT/<run>/last.pt written by an example script's training run)"


class RunSettings(Protocol):
    """What a checkpoint needs of a run's settings (``TrainingSettings`` or any configuration class):
    ``to_dict()`` -> a plain dict (str keys; nested dicts, lists, str, int, float, bool, None), and, for
    :func:`check_resume_settings`, a ``from_dict`` class method that reads it back."""

    def to_dict(self) -> dict[str, Any]: ...


_KINDS = (CHECKPOINT_KIND, PRETRAINING_CHECKPOINT_KIND)
_KEYS = ("format", "model", "optimizer", "scheduler", "rng", "epoch", "settings", "extra")
_MT19937_WORDS = 624  # numpy's and python's Mersenne Twister state: 624 32-bit words (+ position)


def epoch_seed(seed: int, epoch: int) -> int:
    """Seed of epoch ``epoch`` of a run seeded ``seed``: a fixed mix of both, in [0, 2**63)."""
    if epoch < 0:
        raise ValueError(f"expected epoch >= 0, got {epoch}")
    # SplitMix64-style mixing so that (seed, epoch) and (seed + 1, epoch - 1) differ.
    x = (seed * 0x9E3779B97F4A7C15 + epoch * 0xBF58476D1CE4E5B9 + 0x94D049BB133111EB) % (1 << 64)
    x ^= x >> 31
    x = (x * 0xBF58476D1CE4E5B9) % (1 << 64)
    x ^= x >> 27
    return x % (1 << 63)


def seed_everything(seed: int) -> None:
    """Seed python's ``random``, numpy's global generator, torch's CPU and CUDA generators."""
    random.seed(seed)
    np.random.seed(seed % (1 << 32))  # noqa: NPY002 - the global generator user code may draw from
    torch.manual_seed(seed)  # also seeds every CUDA device


def capture_rng_state() -> dict[str, Any]:
    """The global RNG states as tensors and plain values (readable with ``weights_only=True``).

    Returns:
        ``{"python": {...}, "numpy": {...}, "torch": uint8 tensor[, "cuda": [uint8 tensor per device]]}``
        (layout in the module docstring).
    """
    version, internal, gauss_next = random.getstate()
    kind, key, pos, has_gauss, cached_gaussian = np.random.get_state(legacy=True)  # noqa: NPY002
    state: dict[str, Any] = {
        "python": {
            "version": int(version),
            "internal_state": torch.tensor(internal, dtype=torch.int64),
            "gauss_next": None if gauss_next is None else float(gauss_next),
        },
        "numpy": {
            "bit_generator": str(kind),
            "key": torch.from_numpy(np.asarray(key, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state` (CUDA states are restored only when CUDA is available).

    The state is checked first (:func:`_check_rng_state`); a malformed one raises and restores nothing.
    """
    _check_rng_state(state, "rng state")
    python, numpy_state = state["python"], state["numpy"]
    internal = tuple(int(x) for x in python["internal_state"].tolist())
    random.setstate((python["version"], internal, python["gauss_next"]))
    np.random.set_state(  # noqa: NPY002
        (
            numpy_state["bit_generator"],
            numpy_state["key"].numpy().astype(np.uint32),
            numpy_state["pos"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_rng_state(state: object, where: str) -> None:
    """ValueError naming ``where`` unless ``state`` has the layout of :func:`capture_rng_state`."""

    def fail(what: str) -> None:
        raise ValueError(f"{where}: expected {what}")

    if not isinstance(state, Mapping):
        fail(f"a dict of RNG states, got {type(state).__name__}")
        return
    missing = [k for k in ("python", "numpy", "torch") if k not in state]
    if missing:
        fail(f"RNG states for python, numpy and torch, got none for {missing}")
    python, numpy_state, cpu = state["python"], state["numpy"], state["torch"]
    if not (
        isinstance(python, Mapping)
        and _is_int(python.get("version"))
        and isinstance(python.get("internal_state"), torch.Tensor)
        and python["internal_state"].dtype == torch.int64
        and tuple(python["internal_state"].shape) == (_MT19937_WORDS + 1,)
        and (python.get("gauss_next") is None or isinstance(python.get("gauss_next"), float))
    ):
        fail(
            "python's random state as {'version': int, 'internal_state': int64 (625,), "
            "'gauss_next': float or None}"
        )
    if not (
        isinstance(numpy_state, Mapping)
        and numpy_state.get("bit_generator") == "MT19937"
        and isinstance(numpy_state.get("key"), torch.Tensor)
        and numpy_state["key"].dtype == torch.int64
        and tuple(numpy_state["key"].shape) == (_MT19937_WORDS,)
        and _is_int(numpy_state.get("pos"))
        and _is_int(numpy_state.get("has_gauss"))
        and isinstance(numpy_state.get("cached_gaussian"), float)
    ):
        fail(
            "numpy's MT19937 state as {'bit_generator', 'key': int64 (624,), 'pos', 'has_gauss', "
            "'cached_gaussian'}"
        )
    if not (isinstance(cpu, torch.Tensor) and cpu.dtype == torch.uint8 and cpu.dim() == 1):
        fail("torch's CPU RNG state as a 1-D uint8 tensor")
    cuda = state.get("cuda")
    if cuda is not None and not (
        isinstance(cuda, (list, tuple))
        and all(isinstance(s, torch.Tensor) and s.dtype == torch.uint8 and s.dim() == 1 for s in cuda)
    ):
        fail("the CUDA RNG states as a list of 1-D uint8 tensors")


def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside DistributedDataParallel / torch.compile wrappers (their state-dict keys differ)."""
    inner = getattr(model, "module", None)
    if isinstance(inner, torch.nn.Module):
        model = inner
    orig = getattr(model, "_orig_mod", None)
    if isinstance(orig, torch.nn.Module):
        model = orig
    return model


def save_checkpoint(
    path: str | os.PathLike[str],
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    epoch: int,
    settings: RunSettings,
    extra: dict[str, Any] | None = None,
    kind: str = CHECKPOINT_KIND,
    model_state: Mapping[str, Any] | None = None,
    optimizer_state: Mapping[str, Any] | None = None,
) -> Path:
    """Write a complete checkpoint to ``path`` atomically (temporary file + ``os.replace``).

    Args:
        path: destination file (its folder is created).
        model: the model (DDP / compiled wrappers are unwrapped so the keys are the plain module's).
        optimizer: its state (Adam moments) is saved.
        scheduler: an ``torch.optim.lr_scheduler`` object (its ``state_dict()`` is saved) or None.
        epoch: the number of finished epochs (the resumed run starts at this 0-based epoch).
        settings: the run's settings (saved as a dict; checked on resume).
        extra: any JSON-able history (per-epoch loss terms, validation figures).
        kind: :data:`CHECKPOINT_KIND` (fine-tuning) or :data:`PRETRAINING_CHECKPOINT_KIND` (stage 1).
        model_state, optimizer_state: the state dicts to store instead of ``model.state_dict()`` and
            ``optimizer.state_dict()`` (a class-sharded head's whole prototypes:
            :func:`~recognizability.training.run.sharded_heads.checkpoint_states`).

    Returns:
        The path written.
    """
    if kind not in _KINDS:
        raise ValueError(f"expected kind to be one of {list(_KINDS)}, got {kind!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "kind": kind,
        "model": unwrap_model(model).state_dict() if model_state is None else dict(model_state),
        "optimizer": optimizer.state_dict() if optimizer_state is None else dict(optimizer_state),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "rng": capture_rng_state(),
        "epoch": int(epoch),
        "settings": settings.to_dict(),
        "extra": extra or {},
    }
    return write_atomically(path, lambda handle: torch.save(payload, handle))


@dataclass(frozen=True)
class TrainingCheckpoint:
    """A training checkpoint read and checked by :func:`read_training_checkpoint` (nothing applied yet).

    Attributes:
        path: the file it was read from.
        format: the layout version it was written in (1: earlier releases, converted on reading).
        epoch: the number of finished epochs.
        settings: the run's settings as saved (``settings.to_dict()``; parse with the settings class's
            ``from_dict``).
        num_classes: C, rows of the stored ArcFace prototypes ``head.weight`` (C, D); None when the model
            has none (a checkpoint of another module).
        payload: the checkpoint in the current layout (keys ``model``, ``optimizer``, ``scheduler``, ``rng``,
            ``epoch``, ``settings``, ``extra``, ...); RNG states converted from format 1 when needed.
    """

    path: Path
    format: int
    epoch: int
    settings: dict[str, Any]
    num_classes: int | None
    payload: dict[str, Any]


def _legacy_numpy_globals() -> list[Any]:
    """The only objects a format-1 checkpoint needs beyond tensors: numpy's uint32 array reconstruction."""
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # pragma: no cover - numpy < 2
        from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
    uint32_dtype = type(np.dtype(np.uint32))
    return [
        _reconstruct,
        (_reconstruct, "numpy.core.multiarray._reconstruct"),  # written by numpy 1.x
        np.ndarray,
        np.dtype,
        uint32_dtype,
    ]


def _convert_format1_rng(rng: object, source: str) -> dict[str, Any]:
    """Format-1 RNG state (python tuple, numpy tuple with a uint32 array) -> the current layout."""
    if not isinstance(rng, Mapping):
        raise CheckpointError(
            f"{source!r}: expected the format-1 RNG states as a dict, got {type(rng).__name__}", path=source
        )
    try:
        version, internal, gauss_next = rng["python"]
        kind, key, pos, has_gauss, cached_gaussian = rng["numpy"]
        converted = dict(rng)
        converted["python"] = {
            "version": int(version),
            "internal_state": torch.tensor([int(x) for x in internal], dtype=torch.int64),
            "gauss_next": None if gauss_next is None else float(gauss_next),
        }
        converted["numpy"] = {
            "bit_generator": str(kind),
            "key": torch.from_numpy(np.asarray(key, dtype=np.uint32).astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        }
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{source!r}: malformed format-1 RNG states ({err})", path=source) from None
    return converted


def read_training_checkpoint(
    path: str | os.PathLike[str],
    *,
    map_location: str | torch.device = "cpu",
    expected: str = TRAINING_CHECKPOINT,
    kinds: tuple[str, ...] = (CHECKPOINT_KIND,),
    mmap: bool = False,
) -> TrainingCheckpoint:
    """Read and check a checkpoint written by :func:`save_checkpoint`, without running any pickled code.

    The file is read with ``torch.load(weights_only=True)``
    (:func:`~recognizability.backbones.loading.read_checkpoint_file`); then its layout is checked: the format
    marker, every key, the settings (a dict), the RNG states, the model state dict (names -> tensors).
    Nothing is applied to any object: :func:`load_checkpoint` and
    :func:`~recognizability.deploy.load_trained_model` do that.

    Args:
        path: the checkpoint file (``OUT/<run>/last.pt``).
        map_location: where its tensors are placed.
        expected: what the caller asked for, in words, for the messages (e.g. naming a command-line option).
        kinds: the ``kind`` markers accepted (default: fine-tuning checkpoints only; a pretraining checkpoint
            is then refused and named as such).
        mmap: map the tensors instead of reading them
            (:func:`~recognizability.backbones.loading.read_checkpoint_file`): a process that keeps a part of
            a large tensor (its rows of a class-sharded head) reads only that part.

    Raises:
        TypeError, FileNotFoundError, IsADirectoryError, PermissionError: as
            :func:`~recognizability.backbones.loading.read_checkpoint_file`.
        CheckpointError (a ValueError): the file is empty, truncated, corrupted, text, holds pickled objects
            (refused, never built), or is not a training checkpoint of this library (a missing format marker
            or key, a bare state dict, malformed RNG states or settings). The message names the file.
    """
    source = os.fspath(path) if isinstance(path, (str, os.PathLike)) else path
    try:
        raw = read_checkpoint_file(path, expected=expected, map_location=map_location, mmap=mmap)
        fmt_read = "current"
    except CheckpointError as err:
        legacy_names = {"numpy._core.multiarray._reconstruct", "numpy.core.multiarray._reconstruct",
                        "numpy.ndarray", "numpy.dtype", "numpy.dtypes.UInt32DType"}  # fmt: skip
        if not err.forbidden_globals or not set(err.forbidden_globals) <= legacy_names:
            raise
        raw = read_checkpoint_file(
            path, expected=expected, map_location=map_location, allowed_globals=_legacy_numpy_globals(),
            mmap=mmap,
        )  # fmt: skip
        fmt_read = "format 1"
    assert isinstance(source, str)

    def refuse(why: str) -> CheckpointError:
        return CheckpointError(f"expected {expected} at {source!r}, but {why}", path=source)

    if not isinstance(raw, dict):
        raise refuse(f"it holds a {type(raw).__name__}, not a dict")
    if "format" not in raw:
        if raw and all(isinstance(v, torch.Tensor) for v in raw.values()):
            raise refuse(
                "it holds a bare state dict (weights only, no format marker): a backbone's weights are "
                "loaded with recognizability.backbones.load_pretrained"
            )
        raise refuse(f"it has no 'format' marker (keys {sorted(map(str, raw))[:12]})")
    fmt = raw["format"]
    if fmt not in (1, CHECKPOINT_FORMAT) or (fmt_read == "format 1" and fmt != 1):
        raise refuse(f"its format is {fmt!r}; this version reads formats 1 and {CHECKPOINT_FORMAT}")
    kind = raw.get("kind", CHECKPOINT_KIND) if fmt == 1 else raw.get("kind")
    if kind == PRETRAINING_CHECKPOINT_KIND and kind not in kinds:
        raise refuse(
            "it is a pretraining (stage 1) checkpoint of recognizability.training.pretrain (a backbone and "
            "its ArcFace head); fine-tune from it first: pass the backbone.pt next to it as --pretrained of "
            "an example script"
        )
    if kind not in kinds:
        raise refuse(f"its 'kind' marker is {kind!r}, not {' or '.join(map(repr, kinds))}")
    missing = [k for k in _KEYS if k not in raw]
    if missing:
        raise refuse(f"it lacks the entries {missing}")
    payload = dict(raw)
    if fmt == 1:
        payload["rng"] = _convert_format1_rng(raw["rng"], source)
    try:
        _check_rng_state(payload["rng"], "the RNG states")
    except ValueError as err:
        raise refuse(str(err)) from None
    epoch = payload["epoch"]
    if not _is_int(epoch) or epoch < 0:
        raise refuse(f"its epoch count is {epoch!r}, not an int >= 0")
    settings = payload["settings"]
    if not isinstance(settings, dict) or not all(isinstance(k, str) for k in settings):
        raise refuse(f"its settings are a {type(settings).__name__}, not a dict with str keys")
    model_state = payload["model"]
    if not isinstance(model_state, Mapping) or not all(
        isinstance(k, str) and (isinstance(v, torch.Tensor) or _is_extra_state(k, v))
        for k, v in model_state.items()
    ):
        raise refuse("its 'model' entry is not a state dict (names -> tensors, or plain module extra states)")
    prototypes = model_state.get("head.weight")
    num_classes = int(prototypes.shape[0]) if prototypes is not None and prototypes.dim() == 2 else None
    for name in ("optimizer", "extra"):
        if not isinstance(payload[name], dict):
            raise refuse(f"its {name!r} entry is a {type(payload[name]).__name__}, not a dict")
    if payload["scheduler"] is not None and not isinstance(payload["scheduler"], dict):
        raise refuse(f"its 'scheduler' entry is a {type(payload['scheduler']).__name__}, not a dict or None")
    payload["format"] = CHECKPOINT_FORMAT
    payload["kind"] = kind
    return TrainingCheckpoint(Path(source), int(fmt), int(epoch), settings, num_classes, payload)


def _is_extra_state(key: str, value: object) -> bool:
    """A module's ``get_extra_state()`` entry (e.g. a class-sharded head's class range) holding plain
    values only: ints, floats, str, bool, None, and lists, tuples and str-keyed dicts of them."""
    if not key.rsplit(".", 1)[-1] == "_extra_state":
        return False

    def plain(item: object) -> bool:
        if item is None or isinstance(item, (bool, int, float, str)):
            return True
        if isinstance(item, (list, tuple)):
            return all(plain(x) for x in item)
        if isinstance(item, Mapping):
            return all(isinstance(k, str) and plain(v) for k, v in item.items())
        return False

    return plain(value)


def _flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping) and key != "lr":
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def check_resume_settings(
    checkpoint: TrainingCheckpoint, settings: RunSettings, *, epochs: int | None = None
) -> None:
    """Check that a run with ``settings`` may continue ``checkpoint``, changing nothing.

    Every setting must equal the checkpoint's except those named in :data:`RESUMABLE_CHANGES` (``epochs``: a
    run may be extended; ``max_steps_per_epoch``), and the run's number of epochs may not be fewer than the
    epochs already finished. The checkpoint's settings are first read back with ``type(settings).from_dict``
    when the class has one (so settings saved by an earlier layout compare field for field).

    Args:
        checkpoint: from :func:`read_training_checkpoint`.
        settings: this run's settings (``TrainingSettings`` or any class with ``to_dict``/``from_dict``).
        epochs: this run's number of epochs (default: the one ``epochs`` entry of ``settings.to_dict()``).

    Raises:
        TypeError: ``settings`` has no ``to_dict``.
        ValueError: naming the checkpoint and every differing field with both values, or the epoch counts.
    """
    to_dict = getattr(settings, "to_dict", None)
    if not callable(to_dict):
        raise TypeError(f"expected settings with a to_dict() method, got {type(settings).__name__}")
    source = str(checkpoint.path)
    theirs: Any = checkpoint.settings
    from_dict = getattr(type(settings), "from_dict", None)
    if callable(from_dict):
        try:
            theirs = from_dict(theirs).to_dict()
        except (TypeError, ValueError, KeyError) as err:
            raise ValueError(
                f"expected the settings of {source!r} to be readable as {type(settings).__name__} to resume "
                f"it, got {type(err).__name__}: {err}"
            ) from None
    mine_flat, theirs_flat = _flatten(to_dict()), _flatten(theirs)
    differing = sorted(
        k
        for k in set(mine_flat) | set(theirs_flat)
        if k.rsplit(".", 1)[-1] not in RESUMABLE_CHANGES and mine_flat.get(k) != theirs_flat.get(k)
    )
    if differing:
        shown = "; ".join(
            f"{k}: checkpoint {theirs_flat.get(k)!r}, this run {mine_flat.get(k)!r}" for k in differing[:8]
        )
        raise ValueError(
            f"expected the settings of {source!r} to match this run's to resume it, got differences in "
            f"{differing} ({shown}); start a new run (another output folder, or overwrite) to train with "
            f"other settings"
        )
    if epochs is None:
        found = [v for k, v in mine_flat.items() if k.rsplit(".", 1)[-1] == "epochs"]
        epochs = found[0] if len(found) == 1 and _is_int(found[0]) else None
    if epochs is not None and epochs < checkpoint.epoch:
        raise ValueError(
            f"expected epochs >= {checkpoint.epoch} to resume {source!r}, which has already finished "
            f"{checkpoint.epoch} epochs; got epochs={epochs} (pass at least {checkpoint.epoch}, or start a "
            f"new run to train fewer)"
        )


def _shape_list(items: list[str]) -> str:
    shown = ", ".join(items[:8])
    return f"[{shown}{', ...' if len(items) > 8 else ''}]"


def _described(entry: object) -> object:
    """What of a state-dict entry must match between a checkpoint and a model: a tensor's shape, or a
    module's extra state itself (a class-sharded head's class range)."""
    return tuple(entry.shape) if isinstance(entry, torch.Tensor) else entry


def check_checkpoint_fits(
    checkpoint: TrainingCheckpoint,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
) -> None:
    """Check, without changing anything, that ``checkpoint`` can be loaded into these objects.

    Model: the same keys with the same shapes (another backbone, embedding size or number of classes fails
    here). Optimiser: the same number of parameter groups, with the same names and sizes, and every
    per-parameter state tensor (Adam's moments) shaped like its parameter. Scheduler: as many base learning
    rates as parameter groups.

    Raises:
        CheckpointError: naming the file and what does not fit.
    """
    source = str(checkpoint.path)
    stored = checkpoint.payload["model"]
    own = unwrap_model(model).state_dict()
    missing = [k for k in own if k not in stored]
    unexpected = [k for k in stored if k not in own]
    mismatched = [
        f"{k}: checkpoint {_described(stored[k])} vs model {_described(own[k])}"
        for k in own
        if k in stored and _described(stored[k]) != _described(own[k])
    ]
    if missing or unexpected or mismatched:
        lines = [
            f"checkpoint {source!r} (backbone {checkpoint.settings.get('backbone')!r}, "
            f"{checkpoint.num_classes} classes, embedding {checkpoint.settings.get('embedding_dim')}) does "
            f"not fit this model:"
        ]
        if missing:
            lines.append(f"  {len(missing)} missing keys: {_shape_list(missing)}")
        if unexpected:
            lines.append(f"  {len(unexpected)} unexpected keys: {_shape_list(unexpected)}")
        if mismatched:
            lines.append(f"  {len(mismatched)} shape mismatches: {_shape_list(mismatched)}")
        lines.append("  Nothing was loaded.")
        raise CheckpointError("\n".join(lines), path=source)
    if optimizer is not None:
        _check_optimizer_fits(checkpoint.payload["optimizer"], optimizer, source)
    if scheduler is not None and optimizer is not None and checkpoint.payload["scheduler"] is not None:
        base_lrs = checkpoint.payload["scheduler"].get("base_lrs")
        if isinstance(base_lrs, list) and len(base_lrs) != len(optimizer.param_groups):
            raise CheckpointError(
                f"checkpoint {source!r}: its scheduler has {len(base_lrs)} base learning rates, the "
                f"optimizer {len(optimizer.param_groups)} parameter groups. Nothing was loaded.",
                path=source,
            )


def _check_optimizer_fits(state: dict[str, Any], optimizer: torch.optim.Optimizer, source: str) -> None:
    def refuse(why: str) -> CheckpointError:
        return CheckpointError(f"checkpoint {source!r}: its optimizer state {why}. Nothing was loaded.",
                               path=source)  # fmt: skip

    groups, saved = optimizer.param_groups, state.get("param_groups")
    per_param = state.get("state")
    if not isinstance(saved, list) or not isinstance(per_param, dict):
        raise refuse("lacks 'param_groups' (a list) or 'state' (a dict)")
    if len(saved) != len(groups):
        raise refuse(f"has {len(saved)} parameter groups, the optimizer {len(groups)}")
    params: dict[Any, torch.Tensor] = {}
    for index, (group, theirs) in enumerate(zip(groups, saved, strict=True)):
        name = group.get("name", index)
        if not isinstance(theirs, dict) or not isinstance(theirs.get("params"), list):
            raise refuse(f"group {name!r} is malformed")
        if theirs.get("name", name) != name:
            raise refuse(f"group {index} is named {theirs.get('name')!r}, the optimizer's {name!r}")
        if len(theirs["params"]) != len(group["params"]):
            raise refuse(
                f"group {name!r} has {len(theirs['params'])} parameters, the optimizer {len(group['params'])}"
            )
        params.update(zip(theirs["params"], group["params"], strict=True))
    for key, values in per_param.items():
        if key not in params:
            raise refuse(f"has state for parameter {key!r}, which no group lists")
        if not isinstance(values, dict):
            raise refuse(f"state of parameter {key!r} is not a dict")
        shape = tuple(params[key].shape)
        for field_name, value in values.items():
            if isinstance(value, torch.Tensor) and value.dim() > 0 and tuple(value.shape) != shape:
                raise refuse(
                    f"{field_name!r} of parameter {key!r} has shape {tuple(value.shape)}, the parameter "
                    f"{shape}"
                )


def load_checkpoint(
    path: str | os.PathLike[str] | TrainingCheckpoint,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    settings: RunSettings | None = None,
    restore_rng: bool = True,
    map_location: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` into the given objects, all or nothing.

    The checkpoint is read safely (:func:`read_training_checkpoint`) and checked whole -- against ``settings``
    (:func:`check_resume_settings`) when given, and against the model, optimizer and scheduler
    (:func:`check_checkpoint_fits`) -- before anything is copied; a failed check changes nothing.

    Args:
        path: the file, or a checkpoint already read with :func:`read_training_checkpoint`.
        model, optimizer, scheduler: the objects to fill (optimizer/scheduler optional).
        settings: this run's settings, to check resuming is allowed (None: no check).
        restore_rng: also restore the global RNG states.
        map_location: where the checkpoint's tensors are placed while reading.

    Returns:
        The payload (keys ``epoch``, ``settings``, ``extra``, ...).
    """
    checkpoint = (
        path
        if isinstance(path, TrainingCheckpoint)
        else read_training_checkpoint(path, map_location=map_location)
    )
    if settings is not None:
        check_resume_settings(checkpoint, settings)
    check_checkpoint_fits(checkpoint, model, optimizer, scheduler)
    payload = checkpoint.payload
    unwrap_model(model).load_state_dict(payload["model"])
    if optimizer is not None:
        optimizer.load_state_dict(payload["optimizer"])
    if scheduler is not None and payload["scheduler"] is not None:
        scheduler.load_state_dict(payload["scheduler"])
    if restore_rng:
        restore_rng_state(payload["rng"])
    return payload
