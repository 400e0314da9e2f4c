"""Load the checkpoints face engineers already have into our backbones.

Accepted containers (read with ``torch.load(..., map_location="cpu", weights_only=True)``: no code is
unpickled):

- insightface arcface_torch ``backbone.pth``: a plain state dict, ``torch.save(backbone.state_dict(), path)``
  (``train_v2.py``); keys such as ``conv1.weight``, ``layer1.0.bn1.weight``, ``features.running_var``;
- arcface_torch training checkpoint ``checkpoint_gpu_<rank>.pt``: a dict whose ``"state_dict_backbone"``
  entry is the backbone state dict (written when ``save_all_states`` is on);
- AdaFace ``.ckpt`` (PyTorch Lightning): a dict whose ``"state_dict"`` holds ``model.<backbone key>`` and the
  margin head's ``head.kernel`` etc.; only the ``model.`` entries are the backbone (AdaFace ``inference.py``
  keeps exactly those), the others are reported as ignored;
- an already loaded mapping of any of the above.

Known wrapper prefixes shared by *every* key -- ``module.`` (DataParallel/DDP), ``model.``, ``backbone.``,
``_orig_mod.`` (torch.compile) -- are stripped. Missing keys, unexpected keys and shape mismatches raise
:class:`CheckpointError` listing them; nothing is loaded then. With ``strict=False`` the matching tensors are
loaded and the :class:`LoadReport` says what was not. A missing ``num_batches_tracked`` buffer is not an error
(older exports drop it; it only matters for BN with ``momentum=None``). Weights holding NaN or inf are
refused (:class:`CheckpointError` naming the file and the tensors), also before anything is loaded.
"""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["CheckpointError", "LoadReport", "extract_state_dict", "load_pretrained", "read_checkpoint_file"]

_PREFIXES = ("module.", "_orig_mod.", "model.", "backbone.")
_MAX_LISTED = 12


class CheckpointError(ValueError):
    """A checkpoint does not fit the model, or is not a checkpoint we can read safely.

    Attributes:
        path: the file concerned (None for an in-memory checkpoint).
        forbidden_globals: the pickled classes/functions that made :func:`read_checkpoint_file` refuse the
            file (empty for every other kind of failure).
    """

    def __init__(
        self, message: str, *, path: str | None = None, forbidden_globals: Iterable[str] = ()
    ) -> None:
        super().__init__(message)
        self.path = path
        self.forbidden_globals = tuple(forbidden_globals)


_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_PROTOCOL_2_OR_LATER = 0x80
_GLOBAL_IN_MESSAGE = re.compile(r"GLOBAL ([\w.]+)")


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\t\r\n" for ch in text)


def _forbidden_globals(source: str, is_zip: bool, error: BaseException) -> list[str]:
    """The globals a weights-only read refused, found by scanning the pickle opcodes (nothing is run)."""
    found: list[str] = []
    if is_zip:
        try:
            found = list(torch.serialization.get_unsafe_globals_in_checkpoint(source))
        except Exception:  # the error message is the fallback
            found = []
    if not found:
        found = _GLOBAL_IN_MESSAGE.findall(str(error))
    return sorted(set(found))


def read_checkpoint_file(
    path: str | os.PathLike[str],
    *,
    expected: str = "a checkpoint written by torch.save",
    map_location: str | torch.device = "cpu",
    allowed_globals: Iterable[Any] = (),
    mmap: bool = False,
) -> Any:
    """Read a ``torch.save`` file with ``torch.load(weights_only=True)``: no pickled code is ever run.

    Every way the file can be wrong becomes one clear error naming the file and ``expected``; nothing is read
    twice and nothing else is touched.

    Args:
        path: the file.
        expected: what the caller wanted, in words (used in every message), e.g.
            ``"a training checkpoint (last.pt written by fit)"``.
        map_location: where tensors are placed (``torch.load``'s ``map_location``).
        allowed_globals: extra classes/functions the weights-only unpickler may build, in the forms
            ``torch.serialization.safe_globals`` takes (for reading a known older format; default none).
        mmap: map the file's tensors into memory instead of reading them (``torch.load(mmap=True)``, files
            in torch's zip format; others are read): pages are read when a tensor is used, and processes
            that map one file share them. Tensors are copy-on-write views of the file.

    Returns:
        What the file holds (tensors, dicts, lists, tuples, numbers, strings, None).

    Raises:
        TypeError: ``path`` is not a str or os.PathLike.
        FileNotFoundError: no such file (or a broken link).
        IsADirectoryError: ``path`` is a folder.
        PermissionError: the file cannot be opened for reading.
        CheckpointError: the file is empty, truncated or corrupted, not a ``torch.save`` file (e.g. text), or
            holds pickled objects other than tensors and plain containers (``forbidden_globals`` lists them;
            building them could run code, so the file is refused).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"expected path to be a str or os.PathLike naming {expected}, got {type(path).__name__}"
        )
    source = os.fspath(path)
    file = Path(source)
    if file.is_dir():
        raise IsADirectoryError(f"expected {expected} at {source!r}, got a folder")
    if not file.exists():
        raise FileNotFoundError(f"expected {expected} at {source!r}, found no such file")
    if not file.is_file():
        raise CheckpointError(f"expected {expected} at {source!r}, got something that is not a regular file",
                              path=source)  # fmt: skip
    try:
        with file.open("rb") as handle:
            head = handle.read(512)
    except PermissionError as err:
        raise PermissionError(f"expected {expected} at {source!r}, but it cannot be read: {err}") from err
    if not head:
        raise CheckpointError(f"expected {expected} at {source!r}, got an empty file (0 bytes)", path=source)
    is_zip = head.startswith(_ZIP_MAGIC)
    if is_zip and not zipfile.is_zipfile(source):
        raise CheckpointError(
            f"expected {expected} at {source!r}, got a truncated or corrupted file: a torch.save archive "
            f"without its end record ({file.stat().st_size} bytes; an interrupted write or copy?)",
            path=source,
        )
    if not is_zip and head[0] != _PICKLE_PROTOCOL_2_OR_LATER:
        kind = "a text file" if _looks_like_text(head) else f"a file starting with {head[:8]!r}"
        raise CheckpointError(
            f"expected {expected} at {source!r}, got {kind}: not a file written by torch.save", path=source
        )
    try:
        with torch.serialization.safe_globals(list(allowed_globals)):
            return torch.load(source, map_location=map_location, weights_only=True, mmap=mmap and is_zip)
    except MemoryError:
        raise
    except pickle.UnpicklingError as err:
        forbidden = _forbidden_globals(source, is_zip, err)
        if forbidden:
            raise CheckpointError(
                f"refused to load {source!r} (expected {expected}): it holds pickled objects of "
                f"{_listing(forbidden)}, which torch.load(weights_only=True) does not build: building "
                f"them could run code. Re-save the tensors alone (e.g. a state_dict()) with torch.save.",
                path=source,
                forbidden_globals=forbidden,
            ) from None
        raise CheckpointError(
            f"expected {expected} at {source!r}, got a truncated or corrupted file ({_first_line(err)})",
            path=source,
        ) from None
    except Exception as err:  # torch's loaders raise many types for a damaged file
        raise CheckpointError(
            f"expected {expected} at {source!r}, got a truncated or corrupted file "
            f"({type(err).__name__}: {_first_line(err)})",
            path=source,
        ) from None


def _first_line(error: BaseException) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[0][:300] if lines else type(error).__name__


@dataclass(frozen=True)
class LoadReport:
    """What :func:`load_pretrained` found.

    Attributes:
        format: ``"arcface_torch"`` (plain state dict), ``"arcface_torch_checkpoint"``
        (``state_dict_backbone``) or
            ``"adaface"`` (``state_dict`` with ``model.`` keys).
        stripped_prefixes: wrapper prefixes removed from every key, in order.
        loaded_keys: keys copied into the model.
        missing_keys: model keys the checkpoint lacks (not loaded).
        unexpected_keys: checkpoint keys the model lacks (not loaded).
        mismatched_shapes: ``(key, checkpoint shape, model shape)`` for keys present in both with other
        shapes.
        ignored_keys: entries of the container that are not backbone weights (e.g. AdaFace ``head.kernel``).
    """

    format: str
    stripped_prefixes: tuple[str, ...] = ()
    loaded_keys: tuple[str, ...] = ()
    missing_keys: tuple[str, ...] = ()
    unexpected_keys: tuple[str, ...] = ()
    mismatched_shapes: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = ()
    ignored_keys: tuple[str, ...] = field(default=())

    @property
    def is_exact(self) -> bool:
        """True when every model key was loaded and nothing was left over."""
        return not (self.missing_keys or self.unexpected_keys or self.mismatched_shapes)


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:_MAX_LISTED])
    return f"[{shown}{', ...' if len(items) > _MAX_LISTED else ''}]"


def _guess_family(keys: set[str]) -> str | None:
    if "input_layer.0.weight" in keys and any(k.startswith("body.") for k in keys):
        return "an AdaFace IR model (adaface_ir50 / adaface_ir101)"
    if "conv1.weight" in keys and "layer1.0.bn1.weight" in keys:
        n3 = len({k.split(".")[1] for k in keys if k.startswith("layer3.")})
        depth = {2: "iresnet18", 6: "iresnet34", 14: "iresnet50", 30: "iresnet100"}.get(n3)
        return f"an arcface_torch IResNet ({depth or f'{n3} blocks in layer3'})"
    if "conv_sep.layers.0.weight" in keys:
        return "an arcface_torch MobileFaceNet (mobilefacenet)"
    return None


def _check_finite_weights(state: Mapping[str, Tensor], source: str) -> None:
    """CheckpointError naming ``source`` and the first tensors holding NaN or inf, before anything is copied.

    A diverged run saves such weights; loaded, they make every embedding NaN with no error anywhere. Every
    floating-point tensor that would be loaded is read once (loading is not a hot path)."""
    bad: list[str] = []
    for key, tensor in state.items():
        if (tensor.is_floating_point() or tensor.is_complex()) and not bool(torch.isfinite(tensor).all()):
            count = int((~torch.isfinite(tensor)).sum())
            bad.append(f"{key} ({count} of {tensor.numel()} values)")
    if bad:
        raise CheckpointError(
            f"refused to load {source!r}: expected finite weights, got NaN or infinite values in "
            f"{len(bad)} of {len(state)} tensors: {_listing(bad)}. Nothing was loaded (a run that diverged "
            f"saves such weights: load an earlier checkpoint).",
            path=source,
        )


def extract_state_dict(checkpoint: Mapping[str, Any]) -> tuple[dict[str, Tensor], LoadReport]:
    """Find the backbone state dict inside a loaded checkpoint and strip wrapper prefixes.

    Returns:
        (state dict, partial report with ``format``, ``stripped_prefixes`` and ``ignored_keys`` filled in).
    """
    if not isinstance(checkpoint, Mapping):
        raise CheckpointError(
            f"expected the checkpoint to hold a dict (a state dict or a dict with 'state_dict'), "
            f"got {type(checkpoint).__name__}"
        )
    ignored: list[str] = []
    if isinstance(checkpoint.get("state_dict"), Mapping):
        fmt = "adaface"
        inner: Mapping[str, Any] = checkpoint["state_dict"]
        ignored = [f"{k}" for k in checkpoint if k != "state_dict"]
        if any(str(k).startswith("model.") for k in inner):
            ignored += [f"state_dict/{k}" for k in inner if not str(k).startswith("model.")]
            inner = {k: v for k, v in inner.items() if str(k).startswith("model.")}
    elif isinstance(checkpoint.get("state_dict_backbone"), Mapping):
        fmt = "arcface_torch_checkpoint"
        inner = checkpoint["state_dict_backbone"]
        ignored = [f"{k}" for k in checkpoint if k != "state_dict_backbone"]
    else:
        fmt = "arcface_torch"
        inner = checkpoint
    not_tensors = [str(k) for k, v in inner.items() if not isinstance(v, Tensor)]
    if not_tensors:
        raise CheckpointError(
            f"expected a state dict mapping names to tensors, or a dict with 'state_dict' (AdaFace .ckpt) or "
            f"'state_dict_backbone' (arcface_torch checkpoint); got non-tensor entries "
            f"{_listing(not_tensors)}"
        )
    if not inner:
        raise CheckpointError("expected a non-empty state dict, got an empty one")
    state = {str(k): v for k, v in inner.items()}
    stripped: list[str] = []
    changed = True
    while changed:
        changed = False
        for prefix in _PREFIXES:
            if all(k.startswith(prefix) for k in state):
                state = {k[len(prefix) :]: v for k, v in state.items()}
                stripped.append(prefix)
                changed = True
    return state, LoadReport(format=fmt, stripped_prefixes=tuple(stripped), ignored_keys=tuple(ignored))


def load_pretrained(
    model: nn.Module,
    path: str | os.PathLike[str] | Mapping[str, Any],
    strict: bool = True,
) -> LoadReport:
    """Load an arcface_torch or AdaFace checkpoint into ``model`` (in place).

    Args:
        model: the backbone (e.g. ``iresnet50()`` for an arcface_torch r50, ``adaface_ir50()`` for an AdaFace
        IR-50).
        path: checkpoint file, or an already loaded checkpoint mapping.
        strict: raise :class:`CheckpointError` listing missing/unexpected/mismatched keys (default); with
            ``False`` load what matches and return the report.

    Returns:
        :class:`LoadReport`.

    Raises:
        CheckpointError: the file cannot be read safely, holds no backbone state dict, does not fit
            ``model`` (with ``strict``), or a tensor that would be loaded holds NaN or inf (the message names
            the file and the first such tensors). The model is changed only when nothing is raised: all the
            checks run before the first tensor is copied.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected model to be an nn.Module, got {type(model).__name__}")
    if isinstance(path, Mapping):
        checkpoint: Any = path
        source = "checkpoint"
    elif isinstance(path, (str, os.PathLike)):
        source = os.fspath(path)
        checkpoint = read_checkpoint_file(
            source, expected="a backbone checkpoint (state dict, arcface_torch or AdaFace)"
        )
    else:
        raise TypeError(f"expected path to be a file path or a mapping, got {type(path).__name__}")

    try:
        state, report = extract_state_dict(checkpoint)
    except CheckpointError as err:
        hint = ""
        if isinstance(checkpoint, Mapping) and "model" in checkpoint and "settings" in checkpoint:
            hint = (
                " It looks like a training checkpoint of this library: rebuild its model with "
                "recognizability.training.load_trained_model instead."
            )
        raise CheckpointError(f"{source!r} holds no backbone state dict: {err}.{hint}", path=source) from None
    model_state = model.state_dict()
    missing = [k for k in model_state if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in model_state]
    mismatched = [
        (k, tuple(state[k].shape), tuple(model_state[k].shape))
        for k in state
        if k in model_state and state[k].shape != model_state[k].shape
    ]
    if strict and (missing or unexpected or mismatched):
        lines = [f"checkpoint {source!r} ({report.format} format) does not fit {type(model).__name__}:"]
        if missing:
            lines.append(f"  {len(missing)} missing keys: {_listing(missing)}")
        if unexpected:
            lines.append(f"  {len(unexpected)} unexpected keys: {_listing(unexpected)}")
        if mismatched:
            shown = [f"{k}: checkpoint {c} vs model {m}" for k, c, m in mismatched]
            lines.append(f"  {len(mismatched)} shape mismatches: {_listing(shown)}")
        family = _guess_family(set(state))
        if family is not None:
            lines.append(f"  the checkpoint looks like {family}.")
        lines.append("  Nothing was loaded; pass strict=False to load the matching tensors and get a report.")
        raise CheckpointError("\n".join(lines))

    bad = {k for k, _, _ in mismatched}
    loadable = {k: v for k, v in state.items() if k in model_state and k not in bad}
    _check_finite_weights(loadable, source)
    model.load_state_dict(loadable, strict=False)
    return LoadReport(
        format=report.format,
        stripped_prefixes=report.stripped_prefixes,
        loaded_keys=tuple(loadable),
        missing_keys=tuple(missing),
        unexpected_keys=tuple(unexpected),
        mismatched_shapes=tuple(mismatched),
        ignored_keys=report.ignored_keys,
    )
