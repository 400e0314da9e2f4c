"""The quality model file written by ``recognizability fit-quality``: a frozen recognizer and its fitted head.

One ``torch.save`` file of tensors and plain values only (read back with ``torch.load(weights_only=True)``):

    {"format": 1, "kind": "recognizability quality model", "version": <library version>,
     "backbone": {"name": registry name, "architecture": factory arguments, "state": state dict,
                  "source": the tag or file it came from, "sha256": digest of those weights},
     "regression": {"input": "feature_map" | "embedding", "in_features": F,
                    "state": {"fc.weight", "fc.bias"}},
     "preprocessing": Preprocessing.to_dict(),
     "settings": QualityFitSettings.to_dict(),
     "report": what the fit measured (JSON-able)}

The backbone's weights are stored whole, so the file is self-contained (``export`` needs nothing else). The
calibration is not inside: like a training checkpoint's, it lives beside the file as
``<stem>.calibration.json``, where ``quality``, ``evaluate``, ``export`` and ``--threshold-for`` read it.
:func:`read_quality_model_file` checks the whole layout and names the file in every error;
:func:`~recognizability.deploy.load_quality_model` builds the model from it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor

from recognizability._files import write_atomically
from recognizability._version import __version__
from recognizability.backbones import CheckpointError

__all__ = [
    "QUALITY_MODEL",
    "QUALITY_MODEL_FORMAT",
    "QUALITY_MODEL_KIND",
    "REGRESSION_INPUTS",
    "QualityModelFile",
    "RegressionInput",
    "is_quality_model_payload",
    "parse_quality_model_payload",
    "write_quality_model_file",
]

#: The ``kind`` marker of a quality model file.
QUALITY_MODEL_KIND = "recognizability quality model"
#: Layout version of the file.
QUALITY_MODEL_FORMAT = 1
#: What the file is, in the words of the error messages.
QUALITY_MODEL = "a quality model (written by recognizability fit-quality)"
#: What the regression module of a quality model reads: the backbone's feature map F (the paper, Sec. 3.2)
#: or its embedding v.
RegressionInput = Literal["feature_map", "embedding"]
REGRESSION_INPUTS: tuple[RegressionInput, ...] = ("feature_map", "embedding")
_KEYS = ("format", "kind", "version", "backbone", "regression", "preprocessing", "settings", "report")


@dataclass(frozen=True)
class QualityModelFile:
    """The checked content of a quality model file (nothing built yet).

    Attributes:
        path: the file. backbone: registry name. architecture: its factory arguments.
        backbone_state: its state dict. backbone_source: the tag or file the weights came from.
        backbone_sha256: digest of those weights. regression_input: ``"feature_map"`` or ``"embedding"``.
        in_features: the regression module's input size. regression_state: ``fc.weight`` (1, F), ``fc.bias``
        (1,). preprocessing, settings, report: plain dicts.
    """

    path: Path
    backbone: str
    architecture: dict[str, Any]
    backbone_state: dict[str, Tensor]
    backbone_source: str
    backbone_sha256: str
    regression_input: str
    in_features: int
    regression_state: dict[str, Tensor]
    preprocessing: dict[str, Any]
    settings: dict[str, Any]
    report: dict[str, Any]


def _plain_architecture(architecture: Mapping[str, Any]) -> dict[str, Any]:
    """Factory arguments as plain values (tuples as lists)."""
    return {str(k): list(v) if isinstance(v, tuple) else v for k, v in architecture.items()}


def write_quality_model_file(
    path: str | os.PathLike[str],
    *,
    backbone: str,
    architecture: Mapping[str, Any],
    backbone_state: Mapping[str, Tensor],
    backbone_source: str,
    backbone_sha256: str,
    regression_input: str,
    regression_state: Mapping[str, Tensor],
    preprocessing: Mapping[str, Any],
    settings: Mapping[str, Any],
    report: Mapping[str, Any],
) -> Path:
    """Write a quality model file atomically (:func:`~recognizability._files.write_atomically`)."""
    weight = regression_state["fc.weight"]
    payload = {
        "format": QUALITY_MODEL_FORMAT,
        "kind": QUALITY_MODEL_KIND,
        "version": __version__,
        "backbone": {
            "name": backbone,
            "architecture": _plain_architecture(architecture),
            "state": {k: v.detach().cpu().clone() for k, v in backbone_state.items()},
            "source": backbone_source,
            "sha256": backbone_sha256,
        },
        "regression": {
            "input": regression_input,
            "in_features": int(weight.shape[1]),
            "state": {k: v.detach().cpu().float().clone() for k, v in regression_state.items()},
        },
        "preprocessing": dict(preprocessing),
        "settings": dict(settings),
        "report": dict(report),
    }
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    return write_atomically(out, lambda handle: torch.save(payload, handle), shared=True)


def is_quality_model_payload(payload: object) -> bool:
    """Whether what a file holds carries the quality model's ``kind`` marker."""
    return isinstance(payload, Mapping) and payload.get("kind") == QUALITY_MODEL_KIND


def parse_quality_model_payload(payload: Mapping[str, Any], path: str | os.PathLike[str]) -> QualityModelFile:
    """Check the layout of a quality model file's content (read with ``weights_only=True``).

    Raises:
        CheckpointError: naming the file and what is wrong (format, a missing entry, a wrong type or shape).
    """
    source = os.fspath(path)

    def refuse(why: str) -> CheckpointError:
        return CheckpointError(f"expected {QUALITY_MODEL} at {source!r}, but {why}", path=source)

    if payload.get("format") != QUALITY_MODEL_FORMAT:
        raise refuse(
            f"its format is {payload.get('format')!r}; this version reads format {QUALITY_MODEL_FORMAT}"
        )
    missing = [k for k in _KEYS if k not in payload]
    if missing:
        raise refuse(f"it lacks the entries {missing}")
    backbone, regression = payload["backbone"], payload["regression"]
    if not isinstance(backbone, Mapping) or not {"name", "architecture", "state", "source", "sha256"} <= set(
        backbone
    ):
        raise refuse("its 'backbone' entry is not {name, architecture, state, source, sha256}")
    state = backbone["state"]
    if (
        not isinstance(state, Mapping)
        or not state
        or not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in state.items())
    ):
        raise refuse("its backbone state is not a state dict (names -> tensors)")
    if not isinstance(backbone["name"], str) or not isinstance(backbone["architecture"], Mapping):
        raise refuse("its backbone name is not a str or its architecture not a dict")
    if not isinstance(regression, Mapping) or not {"input", "in_features", "state"} <= set(regression):
        raise refuse("its 'regression' entry is not {input, in_features, state}")
    if regression["input"] not in REGRESSION_INPUTS:
        raise refuse(f"its regression input is {regression['input']!r}, not one of {list(REGRESSION_INPUTS)}")
    in_features = regression["in_features"]
    head = regression["state"]
    if not (isinstance(in_features, int) and in_features >= 1 and isinstance(head, Mapping)):
        raise refuse("its regression module's size or state is malformed")
    weight, bias = head.get("fc.weight"), head.get("fc.bias")
    if not (
        isinstance(weight, Tensor)
        and isinstance(bias, Tensor)
        and tuple(weight.shape) == (1, in_features)
        and tuple(bias.shape) == (1,)
        and set(head) == {"fc.weight", "fc.bias"}
    ):
        raise refuse(f"its regression state is not {{fc.weight (1, {in_features}), fc.bias (1,)}}")
    if not bool(torch.isfinite(weight).all() and torch.isfinite(bias).all()):
        raise refuse("its regression module holds NaN or infinite weights")
    for name in ("preprocessing", "settings", "report"):
        if not isinstance(payload[name], Mapping):
            raise refuse(f"its {name!r} entry is a {type(payload[name]).__name__}, not a dict")
    return QualityModelFile(
        path=Path(source),
        backbone=backbone["name"],
        architecture=dict(backbone["architecture"]),
        backbone_state=dict(state),
        backbone_source=str(backbone["source"]),
        backbone_sha256=str(backbone["sha256"]),
        regression_input=str(regression["input"]),
        in_features=in_features,
        regression_state={"fc.weight": weight, "fc.bias": bias},
        preprocessing=dict(payload["preprocessing"]),
        settings=dict(payload["settings"]),
        report=dict(payload["report"]),
    )
