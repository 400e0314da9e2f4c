"""ONNX export of a :class:`~recognizability.deploy.QualityModel` and scoring with ONNX Runtime.

The graph has one input and two outputs, with a dynamic batch size:

- ``images``: float32 (B, 3, S, S), RGB, values 0..255, already resized to S x S (``preprocessing``);
- ``embedding``: float32 (B, D), the backbone embedding v (un-normalised);
- ``xi_hat``: float32 (B,), the learned recognizability index (the raw quality score).

The model's ``metadata_props`` carry JSON strings: ``recognizability.preprocessing`` (:class:`Preprocessing`),
``recognizability.calibration`` (:class:`QualityCalibration`, when the model has one),
``recognizability.version`` and ``recognizability.outputs``. Needs the ``onnx`` extra
(``pip install recognizability[onnx]``: onnx, onnxscript for the exporter, onnxruntime).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from recognizability._files import check_new_output, write_atomically
from recognizability._version import __version__

from .calibration import QualityCalibration
from .model import Preprocessing, QualityModel

__all__ = ["INPUT_NAME", "OUTPUT_NAMES", "OnnxQualityModel", "export_onnx", "read_onnx_metadata"]

INPUT_NAME = "images"
OUTPUT_NAMES = ("embedding", "xi_hat")
_PREFIX = "recognizability."


def _require(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"ONNX export and scoring need {module!r}, part of the onnx extra: "
            "pip install recognizability[onnx]"
        ) from error


def export_onnx(
    model: QualityModel,
    out: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    opset_version: int = 18,
) -> Path:
    """Write ``model`` as one self-contained ONNX file (weights inside), atomically.

    Args:
        model: the quality model (put in eval mode: the regression module's dropout is off, so its exported
            form is the plain linear layer).
        out: the .onnx file to write.
        overwrite: replace an existing ``out`` (refused otherwise).
        opset_version: ONNX opset.

    Raises:
        FileExistsError: ``out`` exists and ``overwrite`` is False.
    """
    if not isinstance(model, QualityModel):
        raise TypeError(f"expected model to be a QualityModel, got {type(model).__name__}")
    path = check_new_output(out, overwrite=overwrite)
    onnx = _require("onnx")
    _require("onnxscript")
    model.eval()
    size = model.preprocessing.input_size
    device = next(model.parameters()).device
    example = torch.full((2, 3, size, size), 127.0, device=device)
    batch = torch.export.Dim("batch", min=1)
    registry_log = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registry_log.level
    registry_log.setLevel(logging.ERROR)  # "torchvision is not installed": irrelevant to this model
    try:
        with warnings.catch_warnings():
            # the exporter's own deprecation notes (pytree internals) are not the user's to act on
            warnings.simplefilter("ignore", category=FutureWarning)
            warnings.simplefilter("ignore", category=DeprecationWarning)
            program = torch.onnx.export(
                model,
                (example,),
                input_names=[INPUT_NAME],
                output_names=list(OUTPUT_NAMES),
                dynamic_shapes=({0: batch},),
                opset_version=opset_version,
                dynamo=True,
                verbose=False,
            )
    finally:
        registry_log.setLevel(level)
    if program is None:  # pragma: no cover - the dynamo exporter always returns a program
        raise RuntimeError("torch.onnx.export returned no program")
    proto = program.model_proto
    metadata = {
        "preprocessing": json.dumps(model.preprocessing.to_dict(), sort_keys=True),
        "version": __version__,
        "outputs": "embedding: float32 (B, D) backbone embedding v; xi_hat: float32 (B,) learned "
        "recognizability index (raw quality; higher = more recognisable)",
    }
    if model.calibration is not None:
        metadata["calibration"] = model.calibration.to_json()
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = _PREFIX + key, value
    proto.producer_name = "recognizability"
    proto.producer_version = __version__
    onnx.checker.check_model(proto)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = proto.SerializeToString()
    write_atomically(path, lambda handle: handle.write(payload), shared=True)
    return path


def read_onnx_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The ``recognizability.*`` metadata of an exported model, keys without the prefix."""
    onnx = _require("onnx")
    file = Path(path)
    expected = "expected --onnx to be an ONNX model written by recognizability export"
    if not file.is_file():
        what = "a folder" if file.is_dir() else "no such file"
        raise FileNotFoundError(f"{expected}, got {str(file)!r} ({what})")
    try:
        proto = onnx.load(str(file), load_external_data=False)
    except Exception as error:  # onnx raises protobuf's DecodeError, ValueError, ... for what is not a model
        raise ValueError(
            f"{expected}, got {str(file)!r}, which is not an ONNX model (a text file, a truncated model, a "
            f"PyTorch checkpoint? --checkpoint takes last.pt): {type(error).__name__}: {error}"
        ) from None
    if not proto.graph.node:
        raise ValueError(f"{expected}, got {str(file)!r}, which holds no ONNX graph")
    return {p.key[len(_PREFIX) :]: p.value for p in proto.metadata_props if p.key.startswith(_PREFIX)}


class OnnxQualityModel:
    """An exported model under ONNX Runtime: the same ``embed_and_score`` as :class:`QualityModel`.

    Args:
        path: the .onnx file written by :func:`export_onnx`.
        device: ``"cpu"`` (CPUExecutionProvider) or ``"cuda"`` (CUDAExecutionProvider when installed).
        threads: intra-op threads (None: ONNX Runtime's default).

    Attributes:
        preprocessing, calibration (None when exported without one), metadata (every ``recognizability.*``
            entry).
    """

    def __init__(self, path: str | os.PathLike[str], device: str = "cpu", threads: int | None = None) -> None:
        metadata = read_onnx_metadata(path)
        if "preprocessing" not in metadata:
            raise ValueError(
                "expected an ONNX model written by recognizability export (with recognizability.preprocessing"
                f" metadata), got {str(path)!r}"
            )
        ort = _require("onnxruntime")
        if device not in ("cpu", "cuda"):
            raise ValueError(f"expected device 'cpu' or 'cuda' for an ONNX model, got {device!r}")
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if device == "cuda" else []
        providers.append("CPUExecutionProvider")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        available = set(ort.get_available_providers())
        self.session = ort.InferenceSession(
            str(path), options, providers=[p for p in dict.fromkeys(providers) if p in available]
        )
        self.metadata = metadata
        self.preprocessing = Preprocessing.from_dict(json.loads(metadata["preprocessing"]))
        self.calibration = (
            QualityCalibration.from_json(metadata["calibration"]) if "calibration" in metadata else None
        )

    def embed_and_score(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """images float (B, 3, S, S) RGB 0..255 -> (embedding (B, D), xi_hat (B,)), float32 CPU tensors."""
        x = np.ascontiguousarray(images.detach().cpu().to(torch.float32).numpy())
        embedding, xi_hat = self.session.run(list(OUTPUT_NAMES), {INPUT_NAME: x})
        return torch.from_numpy(embedding), torch.from_numpy(xi_hat)
