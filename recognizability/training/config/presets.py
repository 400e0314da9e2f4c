"""The two configurations a run starts from: the paper's (Table 5, from the benchmark's spec) and the declared
CPU demo.

Table 5 (ResNet-50), per dataset (each column lives in its :class:`BenchmarkSpec`)::

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

from recognizability.backbones import available_pretrained

from .benchmarks import get_benchmark
from .sections import (
    DataConfig,
    HeadConfig,
    LearningRates,
    LossConfig,
    ModelConfig,
    OptimConfig,
    RunConfig,
    TrainingConfig,
    UIConfig,
)

__all__ = ["demo_config", "describe", "paper_config"]


def _weights(model: ModelConfig) -> str:
    """Where the backbone's weights come from, in words."""
    if model.pretrained is None:
        return "from random initialisation"
    if model.pretrained == "synthetic-hr":
        return "pretrained on the synthetic hr set (shipped weights)"
    if model.pretrained in available_pretrained().get(model.backbone, []):
        return f"with the shipped {model.pretrained!r} weights"
    return f"initialised from {model.pretrained}"


def describe(config: TrainingConfig) -> str:
    """The one-line description printed at the start of a run and written into its report, from the
    configuration's own fields: the preset (the paper's Table 5, or the declared CPU demo), the backbone, its
    input size and where its weights come from (``--pretrained``: the shipped weights, a file, or none)."""
    model, dataset = config.model, config.run.dataset
    size = f"{model.backbone} at {model.input_size}x{model.input_size}, {_weights(model)}"
    if config.run.mode == "demo":
        return (
            f"CPU demo configuration (NOT the paper's): {size}, fine-tuned on the {dataset} layout; the "
            "paper's configuration is iresnet50 at 112x112 (Table 5)"
        )
    return f"paper configuration (Table 5, {dataset}): {size}"


def paper_config(dataset: str, backbone: str = "iresnet50") -> TrainingConfig:
    """The paper's configuration for ``dataset`` (its Table 5 column), at 112 x 112.

    ``backbone`` "iresnet50" (or any ResNet) takes Table 5 as printed; "mobilefacenet" takes the supplement's
    MobileFaceNet learning rates (backbone 1e-4, recognition 1e-3, attention 1e-2), the rest unchanged.
    """
    row = get_benchmark(dataset).table5
    lr = row.lr
    if backbone == "mobilefacenet":
        lr = LearningRates(backbone=1e-4, recognition=1e-3, attention=1e-2, regression=lr.regression)
    config = TrainingConfig(
        run=RunConfig(dataset=dataset, mode="paper"),
        model=ModelConfig(backbone=backbone, input_size=112, backbone_dropout=row.backbone_dropout),
        head=HeadConfig(scale=64.0, margin=0.45),
        loss=LossConfig(regression_dropout=0.9),
        ui=UIConfig(),
        optim=OptimConfig(
            lr=lr, epochs=row.epochs, lr_decay_epoch=row.lr_decay_epoch, weight_decay=row.weight_decay
        ),
        data=DataConfig(batch_size=row.batch_size),
    )
    return config.replace(description=describe(config))


def demo_config(dataset: str) -> TrainingConfig:
    """The declared CPU demo configuration: NOT the paper's; for a few minutes on 2 CPU cores.

    The paper's protocol scaled to a CPU: ``small_vlr_net`` (not from the paper) at the VLR images' native
    scale (32 x 32), pretrained on clean faces (the shipped ``pretrained="synthetic-hr"`` weights: ArcFace on
    the synthetic ``hr`` set, docs/checkpoints.md) and fine-tuned with its BatchNorm statistics frozen, as the
    paper fine-tunes VGGFace2 backbones. Per-module learning rates keep Table 5's ratios scaled to a short run
    (backbone a tenth of the recognition module; regression a tenth of the recognition module); loss weights,
    s, m, dropouts and weight decay are Table 5's TinyFace column. 6 epochs of the small synthetic benchmark
    (4,000 images), decay x0.1 for the last two: sized so that ``python examples/train_tinyface.py`` (data,
    ArcFace baseline, full method, evaluation) takes a few minutes on 2 CPU cores (docs/training.md).
    """
    get_benchmark(dataset)  # a clear error for an unknown name
    config = TrainingConfig(
        run=RunConfig(dataset=dataset, mode="demo"),
        model=ModelConfig(
            backbone="small_vlr_net",
            input_size=32,
            embedding_dim=128,
            backbone_dropout=0.2,
            freeze_batchnorm=True,
            pretrained="synthetic-hr",
        ),
        head=HeadConfig(scale=64.0, margin=0.45),
        loss=LossConfig(regression_dropout=0.9),
        ui=UIConfig(ui_statistics_samples=1000),
        optim=OptimConfig(
            lr=LearningRates(backbone=2e-4, recognition=2e-3, attention=2e-3, regression=2e-4),
            epochs=6,
            lr_decay_epoch=5,
            weight_decay=1e-4,
        ),
        data=DataConfig(batch_size=64, validation_max=256),
    )
    return config.replace(description=describe(config))
