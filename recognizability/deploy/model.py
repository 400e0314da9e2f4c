"""The deployed network: backbone + perceptibility regression module, with its preprocessing written down.

At test time the paper's quality score is ``xi_hat``, the perceptibility regression module's output on the
backbone's feature map F (Sec. 3.2); the embedding v comes from the same forward pass. Neither needs the UI
centre, the ArcFace prototypes or the loss modules, so the deployed model keeps only::

    images (B, 3, S, S) RGB 0..255 -> normalisation -> backbone.forward_features -> F
    F -> backbone.forward_head -> v (B, D)          F -> PerceptibilityRegression (eval) -> xi_hat (B,)

The normalisation is inside :class:`QualityModel` (so an exported ONNX graph takes plain RGB pixels);
decoding and the bicubic resize to ``S x S`` happen before (:meth:`Preprocessing.resize`), exactly as in
training and evaluation.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from recognizability.backbones import channel_order_for, normalize_for
from recognizability.data import transforms as T
from recognizability.nn import PerceptibilityRegression

from .calibration import QualityCalibration

__all__ = ["Preprocessing", "QualityModel", "load_quality_model"]


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
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.regression = regression
        self.preprocessing = preprocessing
        self.calibration = calibration
        self.eval()

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        x = normalize_for(self.backbone, images)
        feature_map = self.backbone.forward_features(x)  # type: ignore[operator]
        embedding: Tensor = self.backbone.forward_head(feature_map)  # type: ignore[operator]
        xi_hat = self.regression(feature_map)
        return embedding.float(), xi_hat

    @torch.no_grad()
    def embed_and_score(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """``forward`` without autograd, on the model's device; returns CPU tensors."""
        self.eval()
        device = next(self.parameters()).device
        embedding, xi_hat = self(images.to(device, torch.float32))
        return embedding.cpu(), xi_hat.cpu()


def load_quality_model(
    checkpoint: str | os.PathLike[str],
    device: str | torch.device = "cpu",
    calibration: QualityCalibration | None = None,
) -> QualityModel:
    """The :class:`QualityModel` of a training checkpoint (``last.pt``), loaded by the training package's
    :func:`~recognizability.training.predict.load_trained_model` (weights only)."""
    from recognizability.training.predict import load_trained_model

    model, settings = load_trained_model(checkpoint, device)
    input_size, backbone_name = _input_of(settings)
    criterion = getattr(model, "criterion", None)
    regression = getattr(criterion, "regression", None)
    if not isinstance(regression, PerceptibilityRegression):
        raise ValueError(
            f"expected the checkpoint {str(checkpoint)!r} to hold a perceptibility regression module, got "
            f"{type(regression).__name__}"
        )
    backbone = model.backbone
    preprocessing = Preprocessing(input_size, channel_order_for(backbone), backbone_name)
    return QualityModel(backbone, regression, preprocessing, calibration).to(device)


def _input_of(settings: Any) -> tuple[int, str]:
    """(input size, backbone name) of a run's settings: flat (``settings.input_size``) or grouped
    (``settings.model.input_size``)."""
    for holder in (settings, getattr(settings, "model", None)):
        size, name = getattr(holder, "input_size", None), getattr(holder, "backbone", None)
        if isinstance(size, int) and isinstance(name, str):
            return size, name
    raise ValueError(f"expected run settings with input_size and backbone, got {type(settings).__name__}")
