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
(older exports drop it; it only matters for BN with ``momentum=None``).
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["CheckpointError", "LoadReport", "extract_state_dict", "load_pretrained"]

_PREFIXES = ("module.", "_orig_mod.", "model.", "backbone.")
_MAX_LISTED = 12


class CheckpointError(ValueError):
    """A checkpoint does not fit the model (or is not a checkpoint we can read)."""


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
        ``False``
            load what matches and return the report.

    Returns:
        :class:`LoadReport`.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected model to be an nn.Module, got {type(model).__name__}")
    if isinstance(path, Mapping):
        checkpoint: Any = path
        source = "checkpoint"
    elif isinstance(path, (str, os.PathLike)):
        source = os.fspath(path)
        if not os.path.isfile(source):
            raise FileNotFoundError(f"expected path to be a checkpoint file, got {source!r} (no such file)")
        try:
            checkpoint = torch.load(source, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as err:
            raise CheckpointError(
                f"could not read {source!r} with torch.load(weights_only=True): it contains objects "
                f"other than tensors and plain containers. Re-save the backbone's state_dict() alone. ({err})"
            ) from err
    else:
        raise TypeError(f"expected path to be a file path or a mapping, got {type(path).__name__}")

    state, report = extract_state_dict(checkpoint)
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
