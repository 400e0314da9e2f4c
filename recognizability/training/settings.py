"""Training settings as data: the paper's Table 5 (supplement Sec. B) and the declared CPU demo configuration.

Every number a training run depends on lives in one frozen :class:`TrainingSettings`, so a run is described
completely by ``settings.to_dict()`` (written into every checkpoint and report) and a variant is
``dataclasses.replace(settings, ...)``.

Table 5 (ResNet-50), per dataset::

                         TinyFace     SCFace       SurvFace
    batch                64           64           100
    epochs               15           6            30
    lr backbone          1e-5         1e-5         1e-5
    lr recognition (RM)  1e-3         1e-3         5e-4
    lr attention (PAM)   1e-3         1e-3         1e-3
    lr regression (PRM)  1e-4         1e-4         1e-4
    lr decay             x0.1 @ 12    x0.1 @ 12    x0.1 @ 6
    dropout backbone     0.2          0.2          0.4
    dropout regression   0.9          0.9          0.9
    weight decay         1e-4         1e-4         1e-3
    s, m                 64, 0.45     64, 0.45     64, 0.45
    alpha, beta, gamma   5, 2, 1      5, 2, 1      5, 2, 1

MobileFaceNet (supplement Sec. B text): backbone 1e-4, recognition module 1e-3, attention module 1e-2; the
rest unchanged.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "DATASETS",
    "LOSS_TERMS",
    "LearningRates",
    "TrainingSettings",
    "cpu_demo_settings",
    "paper_settings",
]

Dataset = Literal["tinyface", "scface", "survface"]
DATASETS: tuple[str, ...] = ("tinyface", "scface", "survface")
#: Loss terms that can be switched off (the rows of the paper's Table 4): L_ID, L_MSE, L_L1.
LOSS_TERMS: tuple[str, ...] = ("id", "mse", "l1")

#: tau used when the core package does not (yet) export DEFAULT_TAU; see docs/ablation.md.
_FALLBACK_TAU = 1.0


def _default_tau() -> float:
    try:
        from recognizability import functional as _functional

        value: Any = getattr(_functional, "DEFAULT_TAU", _FALLBACK_TAU)
        return float(value)
    except ImportError:  # pragma: no cover - the core package is always importable once installed
        return _FALLBACK_TAU


@dataclass(frozen=True)
class LearningRates:
    """Adam learning rate of each module of the paper's Fig. 2.

    Attributes:
        backbone: the feature extractor (trunk and embedding head).
        recognition: the recognition module (RM): the ArcFace class prototypes ``W`` (C, D).
        attention: the perceptibility attention module (PAM, Eq. 9).
        regression: the perceptibility regression module (PRM, Eq. 4-7).
    """

    backbone: float
    recognition: float
    attention: float
    regression: float

    def __post_init__(self) -> None:
        for name in ("backbone", "recognition", "attention", "regression"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not value >= 0.0:
                raise ValueError(f"expected learning rate {name} to be a number >= 0, got {value!r}")


@dataclass(frozen=True)
class TrainingSettings:
    """Everything that defines one training run (Table 5 plus the library's declared choices).

    Attributes:
        dataset: "tinyface", "scface" or "survface" (which protocol evaluates the run).
        backbone: a name from ``recognizability.backbones.available_backbones()``.
        input_size: side of the square network input; VLR images are bicubic-resized to it (112 in the paper).
        batch_size: mini-batch size per process.
        epochs: number of epochs.
        lr: per-module learning rates (:class:`LearningRates`).
        lr_decay_epoch: epoch (1-based, as the paper counts) from which the learning rates are multiplied by
            ``lr_decay_factor`` ("0.1 / 12th epoch" = epochs 12, 13, ... run at a tenth).
        lr_decay_factor: the decay multiplier.
        backbone_dropout: dropout before the backbone's embedding FC layer.
        regression_dropout: dropout of the perceptibility regression module (0.9).
        weight_decay: Adam weight decay (L2), applied to every group.
        scale: ArcFace scale ``s``.
        margin: ArcFace additive angular margin ``m`` in radians.
        regression_weight: alpha of Eq. 10 (weight of L_L1).
        diversion_weight: beta of Eq. 10 (weight of L_ID); not the smooth-L1 threshold.
        attention_weight: gamma of Eq. 10 (weight of L_MSE).
        smooth_l1_beta: the threshold of the smooth L1 of Eq. 4 (0.75).
        tau: the ID-loss confidence of Eq. 7 (no value in the paper; chosen by the ablation,
            docs/ablation.md).
        use_regression, use_diversion, use_attention: switch L_L1, L_ID, L_MSE on or off (Table 4 rows).
        ui_statistics: estimate (mu_UI, sigma_UI) of Eq. 6 from the UI set each epoch instead of the
            paper's (0, 1).
        ui_statistics_samples: K of Eq. 6 (5,000 in the paper; fewer if the UI set is smaller).
        freeze_batchnorm: keep the backbone's BatchNorm2d statistics and affine fixed (paper: pretrained
            backbones).
        augment: the paper's augmentation (flip, rotation within +-10 degrees, random rescale).
        rescale_fractions: the random-rescale sizes as fractions of ``input_size`` (64/112 and 100/112 in
            the paper).
        validation_fraction: share of the training set (at most ``validation_max``) used for validation,
            flipped and degraded to ``validation_degrade_size`` pixels then resized back (supplement Sec. B).
        validation_max: cap on the number of validation images.
        validation_degrade_size: side the validation images are degraded to (16).
        max_steps_per_epoch: cap on optimiser steps per epoch (None: whole epoch); for tests and smoke
            runs.
        seed: the run's seed; data order, augmentation and dropout of epoch e are a function of (seed, e).
        embedding_dim: D.
        pretrained: path of a public checkpoint to load into the backbone (None: random initialisation).
        description: one line saying what configuration this is (printed and written into the report).
    """

    dataset: str
    backbone: str
    input_size: int
    batch_size: int
    epochs: int
    lr: LearningRates
    lr_decay_epoch: int
    lr_decay_factor: float
    backbone_dropout: float
    regression_dropout: float
    weight_decay: float
    scale: float = 64.0
    margin: float = 0.45
    regression_weight: float = 5.0
    diversion_weight: float = 2.0
    attention_weight: float = 1.0
    smooth_l1_beta: float = 0.75
    tau: float = field(default_factory=_default_tau)
    use_regression: bool = True
    use_diversion: bool = True
    use_attention: bool = True
    ui_statistics: bool = False
    ui_statistics_samples: int = 5000
    freeze_batchnorm: bool = True
    augment: bool = True
    rescale_fractions: tuple[float, float] = (64 / 112, 100 / 112)
    validation_fraction: float = 0.1
    validation_max: int = 2000
    validation_degrade_size: int = 16
    max_steps_per_epoch: int | None = None
    seed: int = 0
    embedding_dim: int = 512
    pretrained: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"expected dataset to be one of {DATASETS}, got {self.dataset!r}")
        for name in ("input_size", "batch_size", "epochs", "lr_decay_epoch", "embedding_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"expected {name} to be an int >= 1, got {value!r}")
        for name in ("backbone_dropout", "regression_dropout", "validation_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"expected {name} in [0, 1), got {value!r}")
        if not self.tau >= 0.0:
            raise ValueError(f"expected tau >= 0, got {self.tau!r}")
        if self.max_steps_per_epoch is not None and self.max_steps_per_epoch < 1:
            raise ValueError(f"expected max_steps_per_epoch >= 1 or None, got {self.max_steps_per_epoch!r}")
        if not isinstance(self.lr, LearningRates):
            raise TypeError(f"expected lr to be a LearningRates, got {type(self.lr).__name__}")

    @property
    def losses(self) -> tuple[str, ...]:
        """The switched-on terms among ("id", "mse", "l1"); () is ArcFace alone (Table 4 first row)."""
        on = {"id": self.use_diversion, "mse": self.use_attention, "l1": self.use_regression}
        return tuple(term for term in LOSS_TERMS if on[term])

    def with_losses(self, losses: tuple[str, ...] | list[str]) -> TrainingSettings:
        """A copy with exactly the given loss terms switched on (subset of ``LOSS_TERMS``)."""
        unknown = [term for term in losses if term not in LOSS_TERMS]
        if unknown:
            raise ValueError(f"expected loss terms from {LOSS_TERMS}, got {unknown}")
        return self.replace(
            use_diversion="id" in losses, use_attention="mse" in losses, use_regression="l1" in losses
        )

    def lr_multiplier(self, epoch: int) -> float:
        """Learning-rate multiplier of (0-based) ``epoch``: ``lr_decay_factor`` from the decay epoch on."""
        return self.lr_decay_factor if epoch + 1 >= self.lr_decay_epoch else 1.0

    def replace(self, **changes: Any) -> TrainingSettings:
        """``dataclasses.replace`` (the settings are frozen)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (nested learning rates as a dict, tuples as lists)."""
        out = dataclasses.asdict(self)
        out["rescale_fractions"] = list(self.rescale_fractions)
        out["losses"] = list(self.losses)
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainingSettings:
        """Inverse of :meth:`to_dict` (unknown keys are an error, so a stale checkpoint fails loudly)."""
        values = dict(values)
        values.pop("losses", None)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"expected TrainingSettings fields, got unknown keys {unknown}")
        values["lr"] = LearningRates(**values["lr"])
        values["rescale_fractions"] = tuple(values["rescale_fractions"])
        return cls(**values)


_TABLE5: dict[str, dict[str, Any]] = {
    "tinyface": dict(
        batch_size=64, epochs=15, lr=LearningRates(1e-5, 1e-3, 1e-3, 1e-4), lr_decay_epoch=12,
        backbone_dropout=0.2, weight_decay=1e-4,
    ),
    "scface": dict(
        batch_size=64, epochs=6, lr=LearningRates(1e-5, 1e-3, 1e-3, 1e-4), lr_decay_epoch=12,
        backbone_dropout=0.2, weight_decay=1e-4,
    ),
    "survface": dict(
        batch_size=100, epochs=30, lr=LearningRates(1e-5, 5e-4, 1e-3, 1e-4), lr_decay_epoch=6,
        backbone_dropout=0.4, weight_decay=1e-3,
    ),
}  # fmt: skip


def _check_dataset(dataset: str) -> None:
    if dataset not in DATASETS:
        raise ValueError(f"expected dataset to be one of {DATASETS}, got {dataset!r}")


def paper_settings(dataset: str, backbone: str = "iresnet50") -> TrainingSettings:
    """The paper's configuration for ``dataset`` (Table 5), at 112 x 112.

    ``backbone`` "iresnet50" (or any ResNet) takes Table 5 as printed; "mobilefacenet" takes the supplement's
    MobileFaceNet learning rates (backbone 1e-4, recognition 1e-3, attention 1e-2), the rest unchanged.
    """
    _check_dataset(dataset)
    row = dict(_TABLE5[dataset])
    if backbone == "mobilefacenet":
        lr = row["lr"]
        row["lr"] = LearningRates(backbone=1e-4, recognition=1e-3, attention=1e-2, regression=lr.regression)
    return TrainingSettings(
        dataset=dataset,
        backbone=backbone,
        input_size=112,
        lr_decay_factor=0.1,
        regression_dropout=0.9,
        description=f"paper configuration (Table 5, {dataset}, {backbone} at 112x112)",
        **row,
    )


def cpu_demo_settings(dataset: str) -> TrainingSettings:
    """The declared CPU demo configuration: NOT the paper's; for a few minutes on 2 CPU cores.

    ``small_vlr_net`` (not from the paper) at the VLR images' native scale (32 x 32), trained from random
    initialisation, so its BatchNorm statistics are learned (not frozen: there is no pretrained backbone whose
    statistics could be kept) and its learning rates are those of a from-scratch run (2e-3 everywhere but the
    regression module, which keeps Table 5's tenth of the recognition rate). Loss weights, s, m, dropouts and
    weight decay are Table 5's TinyFace column. 12 epochs of the small synthetic benchmark (4,000 images),
    decay x0.1 for the last two: sized so that ``python examples/train_tinyface.py`` (generation, ArcFace
    baseline, full method, evaluation) takes a few minutes on 2 CPU cores (docs/training.md: measurement).
    """
    _check_dataset(dataset)
    return TrainingSettings(
        dataset=dataset,
        backbone="small_vlr_net",
        input_size=32,
        batch_size=64,
        epochs=12,
        lr=LearningRates(backbone=2e-3, recognition=2e-3, attention=2e-3, regression=2e-4),
        lr_decay_epoch=11,
        lr_decay_factor=0.1,
        backbone_dropout=0.2,
        regression_dropout=0.9,
        weight_decay=1e-4,
        freeze_batchnorm=False,
        validation_max=256,
        ui_statistics_samples=1000,
        embedding_dim=128,
        description=(
            f"CPU demo configuration (NOT the paper's): small_vlr_net at 32x32 from scratch, "
            f"{dataset} layout; "
            "the paper's configuration is iresnet50 at 112x112 (Table 5)"
        ),
    )
