"""Fitting the perceptibility regression module on cached features: the paper's module and loss, by Adam.

The module is :class:`~recognizability.nn.PerceptibilityRegression` (flatten, dropout, one linear layer;
paper Sec. 3.2), the loss the smooth L1 of Eq. 4 (threshold 0.75 for the index, CR-FIQA's 0.5 for the
certainty ratio), plus, for the index, ``diversion_term_weight`` (0.4 unless set) times the index diversion
term of Eq. 7. The inputs
are standardised for the fit (each feature centred and scaled by its standard deviation over the faces, so
that one learning rate suits any backbone's feature scale) and the standardisation is folded into the linear
layer afterwards: the module returned reads the raw feature map (or embedding), as the deployed model feeds
it.

The fit runs a fixed number of Adam steps on random batches with a one-cycle learning-rate schedule, so its
cost does not depend on the number of faces; a Python loop runs over the steps, never over faces.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from recognizability._validation import check_finite, check_floating, check_nonempty, check_shape
from recognizability.functional import perceptibility_regression_loss
from recognizability.nn import IndexDiversionLoss, PerceptibilityRegression

from .settings import QualityFitSettings

__all__ = ["RegressionFit", "fit_regression"]

#: Standard deviations below this are treated as constant features (not scaled).
_CONSTANT = 1e-6
#: Rows converted to float64 at a time for the feature moments.
_MOMENT_ROWS = 4096


@dataclass(frozen=True)
class RegressionFit:
    """A fitted regression module and how the fit went.

    Attributes:
        module: the module in eval mode, reading raw inputs (standardisation folded in).
        loss_first, loss_last: mean training loss of the first and of the last 10 % of the steps.
        target_median: median target of the faces (the bias the fit started from).
    """

    module: PerceptibilityRegression
    loss_first: float
    loss_last: float
    target_median: float


def fit_regression(inputs: Tensor, targets: Tensor, settings: QualityFitSettings) -> RegressionFit:
    """Fit a :class:`~recognizability.nn.PerceptibilityRegression` to predict ``targets`` from ``inputs``.

    Args:
        inputs: ``(N, F)`` flattened feature maps or embeddings of the faces (floating, e.g. the float16
            feature cache; N >= 2); never copied whole: each step converts its batch to float32.
        targets: ``(N,)`` the regression targets
            (:func:`~recognizability.deploy.quality_fit.quality_targets`).
        settings: dropout, loss threshold, diversion term, steps, batch size, learning rate and seed.

    Returns:
        :class:`RegressionFit`; the random draws come from a generator seeded with ``settings.seed`` (the
        global RNG is left as it was). On the CPU the steps run with one torch thread (the caller's setting is
        restored afterwards).
    """
    check_shape(inputs, "inputs", ("N", "F"))
    check_floating(inputs, "inputs")
    check_nonempty(inputs, "inputs")
    check_shape(targets, "targets", (inputs.shape[0],))
    check_floating(targets, "targets")
    check_finite(inputs, "inputs")
    check_finite(targets, "targets")
    if inputs.shape[0] < 2:
        raise ValueError(f"expected at least 2 faces to fit on, got {inputs.shape[0]}")
    x = inputs
    y = targets.float().to(x.device)
    mean, scale = _column_moments(x)
    scale = torch.where(scale > _CONSTANT, scale, torch.ones_like(scale))
    generator = torch.Generator(device="cpu").manual_seed(settings.seed)
    threads = torch.get_num_threads()
    # the module's dropout draws come from the global streams: seeded here, the caller's restored afterwards
    with torch.random.fork_rng(devices=[x.device] if x.device.type == "cuda" else []):
        torch.manual_seed(settings.seed)
        try:
            if x.device.type == "cpu":
                # A step reads a batch of 256 rows, too little work to share between threads: one thread is
                # several times faster (13x on a busy 2-core machine), and gives the same result.
                torch.set_num_threads(1)
            with torch.enable_grad():  # also when called under torch.no_grad()
                module = _fit(x, y, mean, scale, settings, generator)
        finally:
            torch.set_num_threads(threads)
    return module


def _column_moments(x: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and standard deviation (unbiased) of each column of ``x`` (N, F) as float32, summed in float64
    over blocks of rows: no whole copy of ``x`` in another dtype."""
    total = torch.zeros(x.shape[1], dtype=torch.float64, device=x.device)
    for block in torch.split(x, _MOMENT_ROWS):
        total += block.double().sum(0)
    mean = total / x.shape[0]
    squares = torch.zeros_like(total)
    for block in torch.split(x, _MOMENT_ROWS):
        squares += (block.double() - mean).square().sum(0)
    return mean.float(), (squares / (x.shape[0] - 1)).sqrt().float()


def _fit(
    x: Tensor,
    y: Tensor,
    mean: Tensor,
    scale: Tensor,
    settings: QualityFitSettings,
    generator: torch.Generator,
) -> RegressionFit:
    n, features = x.shape
    module = PerceptibilityRegression(features, dropout=settings.module_dropout).to(x.device)
    median = float(y.median())
    with torch.no_grad():
        module.fc.weight.zero_()
        module.fc.bias.fill_(median)
    optimizer = torch.optim.Adam(module.parameters(), lr=settings.learning_rate)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=settings.learning_rate, total_steps=settings.steps
    )
    diversion_weight = settings.diversion_term_weight
    diversion = IndexDiversionLoss(tau=settings.tau).to(x.device) if diversion_weight > 0 else None
    batch = min(settings.batch_size, n)
    losses = torch.empty(settings.steps, device=x.device)  # read once after the loop: no sync per step
    module.train()
    for step in range(settings.steps):
        rows = torch.randint(0, n, (batch,), generator=generator).to(x.device)
        predicted = module((x.index_select(0, rows).float() - mean) / scale)
        loss = perceptibility_regression_loss(
            predicted, y.index_select(0, rows), beta=settings.smooth_l1_beta
        )
        if diversion is not None:
            loss = loss + diversion_weight * diversion(predicted)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        schedule.step()
        losses[step] = loss.detach()
    module.eval()
    with torch.no_grad():  # fold the standardisation: w . (x - m) / s + b = (w / s) . x + (b - w . m / s)
        weight = module.fc.weight / scale
        module.fc.bias.sub_((weight * mean).sum(1))
        module.fc.weight.copy_(weight)
    losses = losses.cpu()
    tenth = max(1, math.ceil(settings.steps / 10))
    return RegressionFit(module, float(losses[:tenth].mean()), float(losses[-tenth:].mean()), median)
