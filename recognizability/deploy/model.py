"""The deployed network: backbone + perceptibility regression module, with its preprocessing written down.

At test time the paper's quality score is ``xi_hat``, the perceptibility regression module's output on the
backbone's feature map F (Sec. 3.2); the embedding v comes from the same forward pass. Neither needs the UI
centre, the ArcFace prototypes or the loss modules, so the deployed model keeps only::

    images (B, 3, S, S) RGB 0..255 -> normalisation -> backbone.forward_features -> F
    F -> backbone.forward_head -> v (B, D)          F -> PerceptibilityRegression (eval) -> xi_hat (B,)

(a head fitted to a frozen recognizer by ``recognizability fit-quality`` may read v instead of F). The
normalisation is inside :class:`QualityModel` (so an exported ONNX graph takes plain RGB pixels); decoding
and the bicubic resize to ``S x S`` happen before (:meth:`Preprocessing.resize`), exactly as in training and
evaluation.

:func:`load_quality_model` is the one loader of both kinds of ``--checkpoint``: a training checkpoint
(``last.pt``, through :func:`load_trained_model`) and a quality model file of ``fit-quality``
(:mod:`~recognizability.deploy.quality_file`).
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from recognizability.backbones import (
    channel_order_for,
    create_backbone,
    load_pretrained,
    normalize_for,
    read_checkpoint_file,
)
from recognizability.data import transforms as T
from recognizability.nn import PerceptibilityRegression
from recognizability.training.config import TrainingConfig
from recognizability.training.method import MethodModules, build_modules, embed_and_score
from recognizability.training.run.checkpoint import (
    TRAINING_CHECKPOINT,
    CheckpointError,
    load_checkpoint,
    read_training_checkpoint,
)

from .calibration import QualityCalibration
from .quality_file import (
    QUALITY_MODEL,
    REGRESSION_INPUTS,
    QualityModelFile,
    RegressionInput,
    is_quality_model_payload,
    parse_quality_model_payload,
)

__all__ = [
    "Preprocessing",
    "QualityModel",
    "build_quality_model",
    "load_quality_model",
    "load_trained_model",
]


@dataclass(frozen=True)
class Preprocessing:
    """How images reach the network (recorded in exported models).

    Attributes:
        input_size: S; faces are resized to S x S.
        resize: the resize applied before the model (bicubic, Pillow-style antialiasing when shrinking).
        input: what the model's input tensor holds.
        normalisation: what the model does to it first.
        channel_order: the colour order the backbone expects after the model's own channel flip.
        backbone: the backbone's registry name.
    """

    input_size: int
    channel_order: str
    backbone: str
    resize: str = "bicubic with antialiasing (recognizability.data.transforms.resize_batch) to S x S"
    input: str = "float32 (B, 3, S, S), RGB, values 0..255"
    normalisation: str = "(x / 255 - 0.5) / 0.5, channels reversed when channel_order is BGR"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessing:
        names = list(cls.__dataclass_fields__)
        missing = [n for n in names if n not in data]
        if missing:
            raise ValueError(f"expected preprocessing with keys {names}, missing {missing}")
        return cls(**{n: data[n] for n in names})

    def resize_image(self, image: Tensor) -> Tensor:
        """uint8 (3, H, W) RGB -> uint8 (3, S, S): the resize of training and evaluation."""
        size = (self.input_size, self.input_size)
        resized: Tensor = T.resize_batch(image.unsqueeze(0), size)[0]
        return resized


class QualityModel(nn.Module):
    """Backbone and perceptibility regression module of a trained model: images -> (v, xi_hat).

    Args:
        backbone: a library backbone (``forward_features``, ``forward_head``, ``input_channel_order``).
        regression: the trained :class:`~recognizability.nn.PerceptibilityRegression`.
        preprocessing: the recorded preprocessing.
        calibration: the xi_hat -> quality calibration, or None.
        regression_input: what the regression module reads: ``"feature_map"`` F (the paper) or
            ``"embedding"`` v (a head fitted by ``fit-quality`` may).

    Shape:
        forward(images float (B, 3, S, S) RGB 0..255) -> (embedding (B, D) float32, xi_hat (B,) float32).
        Built in eval mode (dropout, the regression module's 0.9 included, off; BatchNorm statistics fixed);
        :meth:`embed_and_score` and the export switch to eval mode themselves.
    """

    def __init__(
        self,
        backbone: nn.Module,
        regression: PerceptibilityRegression,
        preprocessing: Preprocessing,
        calibration: QualityCalibration | None = None,
        regression_input: RegressionInput = "feature_map",
    ) -> None:
        super().__init__()
        if regression_input not in REGRESSION_INPUTS:
            raise ValueError(
                f"expected regression_input to be one of {list(REGRESSION_INPUTS)}, got {regression_input!r}"
            )
        self.backbone = backbone
        self.regression = regression
        self.preprocessing = preprocessing
        self.calibration = calibration
        self.regression_input: RegressionInput = regression_input
        self.eval()

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        x = normalize_for(self.backbone, images)
        if self.regression_input == "feature_map":
            embedding, xi_hat = embed_and_score(self.backbone, self.regression, x)
        else:
            embedding = self.backbone.forward_head(self.backbone.forward_features(x))  # type: ignore[operator]
            xi_hat = self.regression(embedding)
        return embedding.float(), xi_hat

    @torch.no_grad()
    def embed_and_score(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """``forward`` without autograd, on the model's device; returns CPU tensors."""
        self.eval()
        device = next(self.parameters()).device
        embedding, xi_hat = self(images.to(device, torch.float32))
        return embedding.cpu(), xi_hat.cpu()


def load_trained_model(
    checkpoint: str | os.PathLike[str], device: str | torch.device = "cpu"
) -> tuple[MethodModules, TrainingConfig]:
    """Rebuild the modules of a training run's checkpoint (``OUT/<run>/last.pt``) and load their weights: the
    one model loader of the package.

    The file is read with ``torch.load(weights_only=True)`` and checked whole
    (:func:`~recognizability.training.run.read_training_checkpoint`): no pickled code is ever run, and a file
    that is not a training checkpoint of this library is refused with an error naming it. The backbone is
    built from the checkpoint's configuration without re-reading its ``pretrained`` weights (the trained
    weights replace them); the number of classes is read from the stored prototypes ``head.weight``. A
    class-sharded run's checkpoint holds the whole head and loads in one process.

    Args:
        checkpoint: ``OUT/<run>/last.pt``.
        device: where the modules are placed.

    Returns:
        (the modules in eval mode, the run's configuration).

    Raises:
        TypeError: ``checkpoint`` is not a path.
        FileNotFoundError, IsADirectoryError, PermissionError, CheckpointError (a ValueError): the file is
            missing or not a readable training checkpoint of a fine-tuning run (a pretraining checkpoint is
            named as such), or its model cannot be rebuilt.
    """
    if not isinstance(checkpoint, (str, os.PathLike)):
        raise TypeError(f"expected --checkpoint to be a path, got {type(checkpoint).__name__}")
    source = str(checkpoint)
    loaded = read_training_checkpoint(
        checkpoint, expected=f"--checkpoint to be {TRAINING_CHECKPOINT}", map_location="cpu"
    )
    if loaded.num_classes is None:
        raise CheckpointError(
            f"checkpoint {source!r}: expected the class prototypes 'head.weight' (C, D) of a training run in "
            f"its model state, found none",
            path=source,
        )
    try:
        config = TrainingConfig.from_dict(loaded.settings).replace(pretrained=None)
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(
            f"checkpoint {source!r}: its settings cannot be read by this version "
            f"({type(err).__name__}: {err})",
            path=source,
        ) from None
    try:
        model = build_modules(config, loaded.num_classes)
    except (KeyError, ValueError, TypeError) as err:
        raise CheckpointError(
            f"checkpoint {source!r}: could not rebuild its model ({type(err).__name__}: {err})", path=source
        ) from None
    load_checkpoint(loaded, model=model, restore_rng=False)
    model.eval()
    return model.to(device), config


def load_quality_model(
    checkpoint: str | os.PathLike[str],
    device: str | torch.device = "cpu",
    calibration: QualityCalibration | None = None,
) -> QualityModel:
    """The :class:`QualityModel` of a ``--checkpoint``: a training checkpoint (``last.pt``: its backbone and
    perceptibility regression module, read by :func:`load_trained_model`) or a quality model file written by
    ``recognizability fit-quality`` (a frozen recognizer and its fitted head). Weights only, in both cases.

    Args:
        checkpoint: the file.
        device: where the model is placed.
        calibration: the calibration to attach (the commands read ``<stem>.calibration.json`` beside the
            file, or ``--calibration``), or None.

    Raises:
        TypeError, FileNotFoundError, IsADirectoryError, PermissionError, CheckpointError (a ValueError): the
            file is missing or neither kind of checkpoint, or its model cannot be rebuilt.
    """
    if not isinstance(checkpoint, (str, os.PathLike)):
        raise TypeError(f"expected --checkpoint to be a path, got {type(checkpoint).__name__}")
    expected = f"--checkpoint to be {TRAINING_CHECKPOINT} or {QUALITY_MODEL}"
    try:  # mapped, not read: a training checkpoint's tensors stay on disk until load_trained_model reads them
        payload = read_checkpoint_file(checkpoint, expected=expected, mmap=True)
    except CheckpointError as error:
        if not error.forbidden_globals:
            raise
        payload = None  # a format-1 training checkpoint: load_trained_model reads it
    if is_quality_model_payload(payload):
        return build_quality_model(parse_quality_model_payload(payload, checkpoint), device, calibration)
    model, config = load_trained_model(checkpoint, device)
    backbone = model.backbone
    preprocessing = Preprocessing(config.model.input_size, channel_order_for(backbone), config.model.backbone)
    return QualityModel(backbone, model.criterion.regression, preprocessing, calibration).to(device)


def build_quality_model(
    content: QualityModelFile,
    device: str | torch.device = "cpu",
    calibration: QualityCalibration | None = None,
) -> QualityModel:
    """Rebuild the :class:`QualityModel` of a checked quality model file (backbone from the registry with its
    stored architecture, weights loaded strictly; the regression module with its stored weights).

    Raises:
        CheckpointError: naming the file, when the backbone cannot be built or the weights do not fit it.
    """
    source = str(content.path)
    architecture: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in content.architecture.items()
    }
    try:
        backbone = create_backbone(content.backbone, **architecture)
        load_pretrained(backbone, content.backbone_state)
    except (TypeError, ValueError) as error:  # CheckpointError is a ValueError
        raise CheckpointError(
            f"{QUALITY_MODEL} {source!r}: could not rebuild its backbone {content.backbone!r} "
            f"{content.architecture}: {error}",
            path=source,
        ) from None
    expected = (
        math.prod(backbone.feature_shape)
        if content.regression_input == "feature_map"
        else backbone.embedding_dim
    )
    if content.in_features != expected:
        raise CheckpointError(
            f"{QUALITY_MODEL} {source!r}: its regression module reads {content.in_features} values, the "
            f"backbone's {content.regression_input} has {expected}",
            path=source,
        )
    regression = PerceptibilityRegression(content.in_features, dropout=0.0)
    regression.load_state_dict(content.regression_state)
    try:
        preprocessing = Preprocessing.from_dict(content.preprocessing)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{QUALITY_MODEL} {source!r}: {error}", path=source) from None
    model = QualityModel(
        backbone, regression, preprocessing, calibration,
        regression_input="feature_map" if content.regression_input == "feature_map" else "embedding",
    )  # fmt: skip
    return model.to(device)
