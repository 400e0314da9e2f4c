"""Bad inputs to every public function and module of ``recognizability.functional``, ``.nn``, ``.metrics``
and ``.backbones``: one table, each row the call, the exception type and a pattern of its message (the
argument named, the expected and the received value); then calls that fail and must change nothing.

The readers and the training code have tables of their own (``tests/data``, ``tests/training``); the
margin heads have more rows in ``tests/nn/test_nn_heads*``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import pytest
import torch

import recognizability.backbones as backbones
import recognizability.functional as functional
import recognizability.metrics as metrics
import recognizability.nn as rnn
from recognizability.metrics import ui_cluster

NAN = math.nan


def _x(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(sum(shape)))


def _labels() -> torch.Tensor:
    return torch.tensor([0, 1, 2, 0])


def _ui_center() -> rnn.UICenter:
    center = rnn.UICenter(3)
    center.fit(_x(6, 3) + 1)
    return center


def _under_cpu_autocast(call: Callable[[], Any]) -> Any:
    with torch.autocast("cpu", dtype=torch.bfloat16):
        return call()


def _small_state_with_non_finite_values() -> dict[str, torch.Tensor]:
    state = {k: v.clone() for k, v in backbones.small_vlr_net(width=8).state_dict().items()}
    state["conv1.weight"][0, 0, 0, 0] = NAN
    state["bn1.running_var"][:2] = math.inf
    return state


def _dropout_model() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Dropout(0.5), torch.nn.Linear(3, 2))


Row = tuple[str, Callable[[], Any], type[Exception], str]

# (the public name the row covers, the call, the exception type, a regex of the message)
ROWS: list[Row] = [
    # ---- recognizability.functional ---------------------------------------------------------------------
    (
        "l2_normalize",
        lambda: functional.l2_normalize([[1.0]]),
        TypeError,
        r"x to be a torch.Tensor, got list",
    ),
    (
        "l2_normalize",
        lambda: functional.l2_normalize(torch.ones(2, 2, dtype=torch.long)),
        TypeError,
        r"x with a floating-point dtype, got torch.int64",
    ),
    (
        "l2_normalize",
        lambda: functional.l2_normalize(_x(2, 2), dim=5),
        ValueError,
        r"dim to be an int in \[-2, 2\), got 5",
    ),
    (
        "l2_normalize",
        lambda: functional.l2_normalize(_x(2, 2), dim=1.0),
        TypeError,
        r"dim to be an int in \[-2, 2\), got 1.0",
    ),
    (
        "ui_cosine",
        lambda: functional.ui_cosine(_x(2, 3), torch.tensor([NAN, 0.0, 0.0])),
        ValueError,
        r"finite, non-zero center \(a direction\), got 1 non-finite value",
    ),
    (
        "ui_cosine",
        lambda: functional.ui_cosine(_x(2, 3), torch.zeros(3)),
        ValueError,
        r"non-zero center \(a direction\), got the zero vector",
    ),
    (
        "ui_cosine",
        lambda: functional.ui_cosine(_x(2, 3), _x(4)),
        ValueError,
        r"center of shape \(3,\), got shape \(4,\)",
    ),
    (
        "cosine_logits",
        lambda: functional.cosine_logits(torch.ones(2, 3, dtype=torch.long), _x(4, 3)),
        TypeError,
        r"embeddings with a floating-point dtype, got torch.int64",
    ),
    (
        "cosine_logits",
        lambda: functional.cosine_logits(_x(2, 3), _x(4, 2)),
        ValueError,
        r"prototypes of shape \(C, 3\), got shape \(4, 2\)",
    ),
    (
        "arcface_logits",
        lambda: functional.arcface_logits(torch.rand(4, 3), _labels(), scale="64"),
        TypeError,
        r"scale to be a float, got str",
    ),
    (
        "arcface_logits",
        lambda: functional.arcface_logits(torch.rand(4, 3), _labels(), margin=4.0),
        ValueError,
        r"margin to be a float in \[0, pi\), got 4.0",
    ),
    (
        "arcface_logits",
        lambda: functional.arcface_logits(torch.rand(4, 3), torch.tensor([0, 1, 2, 3])),
        ValueError,
        r"labels with values in \[0, 3\), got values in \[0, 3\]",
    ),
    (
        "arcface_logits",
        lambda: functional.arcface_logits(torch.tensor([[1.5, 0.2], [0.1, NAN]]), torch.tensor([0, 1])),
        ValueError,
        r"expected cosine to hold cosines in \[-1, 1\] \(pre-margin, unscaled\), got a value of magnitude "
        r"1.5",
    ),
    (
        "arcface_logits",
        lambda: functional.arcface_logits(
            -1.01 * torch.ones(2, 3, dtype=torch.float64), torch.tensor([0, 1])
        ),
        ValueError,
        r"expected cosine to hold cosines in \[-1, 1\] .*got a value of magnitude 1.01",
    ),
    (
        "arcface_logits",
        lambda: functional.arcface_logits(
            64.0 * (torch.rand(4, 3) * 2 - 1), _labels()
        ),  # logits, not cosines
        ValueError,
        r"expected cosine to hold cosines in \[-1, 1\]",
    ),
    (
        "curricularface_logits",
        lambda: functional.curricularface_logits(torch.full((4, 3), 2.0), _labels(), torch.tensor([0.1])),
        ValueError,
        r"expected cosine to hold cosines in \[-1, 1\] \(pre-margin, unscaled\), got a value of magnitude 2",
    ),
    (
        "recognizability_index",
        lambda: functional.recognizability_index(torch.rand(4, 3), _labels(), torch.rand(4), eps=NAN),
        ValueError,
        r"eps to be a finite float > 0, got nan",
    ),
    (
        "recognizability_index",
        lambda: functional.recognizability_index(
            torch.rand(4, 1), torch.zeros(4, dtype=torch.long), torch.rand(4)
        ),
        ValueError,
        r"C >= 2 classes.*got shape \(4, 1\)",
    ),
    (
        "adaface_logits",
        lambda: functional.adaface_logits(
            torch.rand(4, 3), torch.rand(4), _labels(), torch.tensor(20.0), torch.tensor(-1.0)
        ),
        ValueError,
        r"expected a finite batch_std >= 0, got \[-1.0\]",
    ),
    (
        "adaface_logits",
        lambda: functional.adaface_logits(
            torch.rand(4, 3), torch.rand(4), _labels(), torch.tensor(NAN), torch.tensor(1.0)
        ),
        ValueError,
        r"expected a finite batch_mean, got \[nan\]",
    ),
    (
        "adaface_logits",
        lambda: functional.adaface_logits(
            torch.rand(4, 3), -torch.rand(4) - 0.1, _labels(), torch.tensor(20.0), torch.tensor(1.0)
        ),
        ValueError,
        r"expected norms >= 0 \(feature norms\), got 4 negative or NaN value",
    ),
    (
        "curricularface_logits",
        lambda: functional.curricularface_logits(torch.rand(4, 3), _labels(), torch.tensor([NAN])),
        ValueError,
        r"expected a finite t, got \[nan\]",
    ),
    (
        "recognizability_index",
        lambda: functional.recognizability_index(torch.rand(4, 3), _labels(), torch.full((4,), 1.5)),
        ValueError,
        r"ui_cosine to hold cosines in \[-1, 1\] \(pre-margin, unscaled\), got a value of magnitude 1.5",
    ),
    (
        "recognizability_index",
        lambda: functional.recognizability_index(torch.full((4, 3), NAN), _labels(), torch.rand(4)),
        ValueError,
        r"expected cosine with finite values, got 12 non-finite value",
    ),
    (
        "recognizability_index_from_parts",
        lambda: functional.recognizability_index_from_parts(
            torch.rand(4), torch.full((4,), torch.inf), torch.rand(4)
        ),
        ValueError,
        r"nearest_negative_cosine with finite values, got 4 non-finite value",
    ),
    (
        "recognizability_index_from_parts",
        lambda: functional.recognizability_index_from_parts(torch.rand(4), torch.rand(3), torch.rand(4)),
        ValueError,
        r"nearest_negative_cosine of shape \(4,\), got shape \(3,\)",
    ),
    (
        "recognizability_index_from_parts",
        lambda: functional.recognizability_index_from_parts(
            torch.rand(4), torch.rand(4), torch.ones(4, dtype=torch.long)
        ),
        TypeError,
        r"ui_cosine with a floating-point dtype, got torch.int64",
    ),
    (
        "ui_index_statistics",
        lambda: functional.ui_index_statistics([1.0, 2.0]),
        TypeError,
        r"predicted_index_of_ui_images to be a torch.Tensor, got list",
    ),
    (
        "ui_index_statistics",
        lambda: functional.ui_index_statistics(torch.tensor([1.0])),
        ValueError,
        r"K >= 2 \(unbiased std\), got shape \(1,\)",
    ),
    (
        "perceptibility_regression_loss",
        lambda: functional.perceptibility_regression_loss(torch.rand(3), torch.rand(3), beta=NAN),
        ValueError,
        r"beta to be a finite float > 0, got nan",
    ),
    (
        "perceptibility_regression_loss",
        lambda: functional.perceptibility_regression_loss(torch.rand(3), torch.rand(3), reduction="avg"),
        ValueError,
        r"reduction to be one of \['mean', 'sum', 'none'\], got 'avg'",
    ),
    (
        "index_diversion_loss",
        lambda: functional.index_diversion_loss(torch.rand(3), tau="1"),
        TypeError,
        r"tau to be a float, got str",
    ),
    (
        "index_diversion_loss",
        lambda: functional.index_diversion_loss(torch.rand(3), 1.0, sigma=torch.ones(2)),
        ValueError,
        r"sigma to be a scalar \(0-dim\) tensor, got shape \(2,\)",
    ),
    (
        "index_diversion_loss",
        lambda: functional.index_diversion_loss(torch.rand(3), 1.0, mu=NAN),
        ValueError,
        r"mu to be a finite float, got nan",
    ),
    (
        "attention_mse_loss",
        lambda: functional.attention_mse_loss(_x(2, 3), _x(2, 3), reduction="sum"),
        ValueError,
        r"reduction to be one of \['mean', 'sum_over_dim_mean_over_batch', 'none'\], got 'sum'",
    ),
    (
        "attention_mse_loss",
        lambda: functional.attention_mse_loss(_x(2, 3), _x(2, 4)),
        ValueError,
        r"target of shape \(2, 3\), got shape \(2, 4\)",
    ),
    (
        "project_away",
        lambda: functional.project_away(_x(2, 3), torch.tensor([NAN, 1.0, 0.0])),
        ValueError,
        r"ui_center with finite values, got 1 non-finite",
    ),
    (
        "project_away",
        lambda: functional.project_away(_x(2, 3), torch.zeros(3)),
        ValueError,
        r"non-zero ui_center, got the zero vector",
    ),
    # ---- recognizability.nn ------------------------------------------------------------------------------
    ("UICenter", lambda: rnn.UICenter(0), ValueError, r"embedding_dim to be a positive int, got 0"),
    ("UICenter", lambda: rnn.UICenter("3"), TypeError, r"embedding_dim to be a positive int, got '3'"),
    (
        "UICenter",
        lambda: rnn.UICenter(3, momentum=1.5),
        ValueError,
        r"momentum to be a float in \(0, 1\], got 1.5",
    ),
    (
        "UICenter.fit",
        lambda: rnn.UICenter(3).fit([[1.0, 2.0, 3.0]]),
        TypeError,
        r"embeddings to be a torch.Tensor, got list",
    ),
    (
        "UICenter.fit",
        lambda: rnn.UICenter(3).fit(torch.zeros(2, 3)),
        ValueError,
        r"normalised mean has a direction .*got a mean of norm 0.0e\+00",
    ),
    (
        "UICenter.update",
        lambda: rnn.UICenter(3).update(torch.tensor([[1.0, NAN, 0.0]])),
        ValueError,
        r"embeddings with finite values, got 1 non-finite",
    ),
    (
        "UICenter.cosine",
        lambda: rnn.UICenter(3).cosine(_x(2, 3)),
        RuntimeError,
        r"holds no centre yet: call fit",
    ),
    (
        "UICenter.project_away",
        lambda: _ui_center().project_away(_x(2, 4)),
        ValueError,
        r"embeddings of shape \(B, D\)|ui_center of shape \(4,\), got shape \(3,\)",
    ),
    (
        "RecognizabilityIndex",
        lambda: rnn.RecognizabilityIndex(eps=0),
        ValueError,
        r"eps to be a finite float > 0, got 0",
    ),
    (
        "RecognizabilityIndex",
        lambda: rnn.RecognizabilityIndex()(torch.rand(4, 3), _labels().float(), torch.rand(4)),
        TypeError,
        r"labels with an integer dtype",
    ),
    (
        "IndexDiversionLoss",
        lambda: rnn.IndexDiversionLoss(sigma=0.0),
        ValueError,
        r"sigma to be a finite float > 0, got 0.0",
    ),
    (
        "IndexDiversionLoss",
        lambda: rnn.IndexDiversionLoss(tau=NAN),
        ValueError,
        r"tau to be a finite float, got nan",
    ),
    (
        "IndexDiversionLoss",
        lambda: rnn.IndexDiversionLoss(reduction="avg"),
        ValueError,
        r"reduction to be one of \['mean', 'sum', 'none'\], got 'avg'",
    ),
    (
        "IndexDiversionLoss.set_ui_statistics",
        lambda: rnn.IndexDiversionLoss().set_ui_statistics(torch.ones(5)),
        ValueError,
        r"finite, positive standard deviation, got mu=1.0, sigma=0.0",
    ),
    (
        "PerceptibilityAttention",
        lambda: rnn.PerceptibilityAttention(8, 4, kernel_size=4),
        ValueError,
        r"an odd kernel_size, got 4",
    ),
    (
        "PerceptibilityAttention",
        lambda: rnn.PerceptibilityAttention(8, 4, spatial_size=(7,)),
        ValueError,
        r"spatial_size to be a pair \(H, W\), got \(7,\)",
    ),
    (
        "PerceptibilityAttention",
        lambda: rnn.PerceptibilityAttention(8, 4, (3, 3))(_x(2, 8, 4, 4)),
        ValueError,
        r"feature_map of shape \(B, 8, 3, 3\), got shape \(2, 8, 4, 4\)",
    ),
    (
        "PerceptibilityAttention",
        lambda: rnn.PerceptibilityAttention(8, 4, (3, 3))(torch.ones(2, 8, 3, 3, dtype=torch.long)),
        TypeError,
        r"feature_map with a floating-point dtype",
    ),
    (
        "PerceptibilityRegression",
        lambda: rnn.PerceptibilityRegression(8, dropout=1.0),
        ValueError,
        r"dropout to be a float in \[0, 1\), got 1.0",
    ),
    (
        "PerceptibilityRegression",
        lambda: rnn.PerceptibilityRegression(True),
        TypeError,
        r"in_features to be a positive int, got True",
    ),
    (
        "PerceptibilityRegression",
        lambda: rnn.PerceptibilityRegression(8)(_x(2, 9)),
        ValueError,
        r"feature_map of shape \(B, C, H, W\) or \(B, F\) with C\*H\*W = F = 8, got shape \(2, 9\)",
    ),
    (
        "ArcFace",
        lambda: rnn.ArcFace(4, 3)(_x(2, 4), torch.tensor([0, 3])),
        ValueError,
        r"labels with values in \[0, 3\), got values in \[0, 3\]",
    ),
    (
        "ArcFace",
        lambda: rnn.ArcFace(4, 3)(_x(2, 5), torch.tensor([0, 1])),
        ValueError,
        r"embeddings of shape \(B, 4\)|prototypes of shape \(C, 5\), got shape \(3, 4\)",
    ),
    (
        "RecognizabilityLoss",
        lambda: rnn.RecognizabilityLoss(8, (3,), 4),
        ValueError,
        r"spatial_size to be a pair \(H, W\), got \(3,\)",
    ),
    (
        "RecognizabilityLoss",
        lambda: rnn.RecognizabilityLoss(8, (3, 3), 4, regression_weight=-1.0),
        ValueError,
        r"regression_weight to be a finite float >= 0, got -1.0",
    ),
    # ---- the margin heads (recognizability.functional.margin_heads, recognizability.nn) -----------------
    (
        "cosface_logits",
        lambda: functional.cosface_logits(torch.rand(4, 3), _labels(), margin=-0.1),
        ValueError,
        r"margin to be a finite float >= 0, got -0.1",
    ),
    (
        "adaface_norm_statistics",
        lambda: functional.adaface_norm_statistics(torch.rand(1), torch.ones(1), torch.ones(1)),
        ValueError,
        r"norms of shape \(B,\) with B >= 2 .*got shape \(1,\)",
    ),
    (
        "curricularface_t_update",
        lambda: functional.curricularface_t_update(torch.rand(4), torch.zeros(1), momentum=0.0),
        ValueError,
        r"momentum to be a float in \(0, 1\], got 0.0",
    ),
    (
        "magface_logits",
        lambda: functional.magface_logits(torch.rand(4, 3), torch.rand(4, 1), _labels()),
        ValueError,
        r"norms of shape \(4,\), got shape \(4, 1\)",
    ),
    (
        "magface_margin",
        lambda: functional.magface_margin(torch.rand(4), lower_norm=10.0, upper_norm=10.0),
        ValueError,
        r"lower_norm < upper_norm, got 10.0 and 10.0",
    ),
    (
        "magface_regularizer",
        lambda: functional.magface_regularizer(torch.rand(4), lower_norm=0.0),
        ValueError,
        r"lower_norm to be a finite float > 0, got 0.0",
    ),
    (
        "positive_and_nearest_negative_cosine",
        lambda: functional.positive_and_nearest_negative_cosine(torch.rand(4, 3), torch.tensor([0, 1, 2, 3])),
        ValueError,
        r"labels with values in \[0, 3\), got values in \[0, 3\]",
    ),
    ("MarginHead", lambda: rnn.MarginHead(3, 1, 64.0), ValueError, r"num_classes to be an int >= 2, got 1"),
    ("AdaFace", lambda: rnn.AdaFace(3, 1), ValueError, r"num_classes to be an int >= 2, got 1"),
    (
        "AdaFace",
        lambda: rnn.AdaFace(3, 4)(torch.full((4, 3), NAN), _labels()),
        ValueError,
        r"embeddings with finite values, got 12 non-finite value",
    ),
    (
        "CurricularFace",
        lambda: rnn.CurricularFace(3, 4, t_momentum=0.0),
        ValueError,
        r"t_momentum to be a float in \(0, 1\], got 0.0",
    ),
    (
        "CurricularFace",
        lambda: rnn.CurricularFace(3, 4)(torch.full((4, 3), torch.inf), _labels()),
        ValueError,
        r"embeddings with finite values, got 12 non-finite value",
    ),
    (
        "CosFace",
        lambda: rnn.CosFace(3, 4, margin=-0.1),
        ValueError,
        r"margin to be a finite float >= 0, got -0.1",
    ),
    (
        "MagFace",
        lambda: rnn.MagFace(3, 4, lower_norm=110.0, upper_norm=10.0),
        ValueError,
        r"lower_norm < upper_norm, got 110.0 and 10.0",
    ),
    (
        "ChunkedArcFace",
        lambda: rnn.ChunkedArcFace(3, 4, chunk_size=0),
        ValueError,
        r"chunk_size to be a positive int, got 0",
    ),
    (
        "ShardedArcFace",
        lambda: rnn.ShardedArcFace(3, 4, sample_rate=0.0),
        ValueError,
        r"sample_rate to be a float in \(0, 1\], got 0.0",
    ),
    (
        "ArcFace",
        lambda: rnn.ArcFace(3, 4)(torch.full((4, 3), NAN), _labels()),
        ValueError,
        r"embeddings with finite values, got 12 non-finite value",
    ),
    (
        "CosFace",
        lambda: rnn.CosFace(3, 4)(torch.full((4, 3), NAN), _labels()),
        ValueError,
        r"embeddings with finite values, got 12 non-finite value",
    ),
    (
        "MagFace",
        lambda: rnn.MagFace(3, 4)(torch.full((4, 3), NAN), _labels()),
        ValueError,
        r"embeddings with finite values, got 12 non-finite value",
    ),
    (
        "ChunkedArcFace",
        lambda: rnn.ChunkedArcFace(3, 4)(torch.full((4, 3), NAN), _labels()),
        ValueError,
        r"embeddings with finite values, got 12 non-finite value",
    ),
    (
        "ShardedArcFace",
        lambda: rnn.ShardedArcFace(3, 4)(torch.full((4, 3), NAN), _labels()),
        ValueError,
        r"embeddings with finite values, got 12 non-finite value",
    ),
    (
        "build_head",
        lambda: rnn.build_head("bogus", 3, 4),
        ValueError,
        r"name to be one of 'arcface', 'cosface', 'adaface', 'curricularface', 'magface', got 'bogus'",
    ),
    (
        "build_head",
        lambda: rnn.build_head("cosface", 3, 4, parallel="dense"),
        ValueError,
        r"parallel to be one of 'none', 'chunked', 'sharded', got 'dense'",
    ),
    (
        "build_head",
        lambda: rnn.build_head("cosface", 3, 4, parallel="chunked", sample_rate=0.5),
        TypeError,
        r"options of cosface \(parallel='chunked'\) among scale, margin, chunk_size, got unknown sample_rate",
    ),
    (
        "available_heads",
        lambda: rnn.available_heads(parallel=None),  # type: ignore[arg-type]
        ValueError,
        r"parallel to be one of 'none', 'chunked', 'sharded', got None",
    ),
    ("register_head", lambda: rnn.register_head(""), ValueError, r"name to be a non-empty str, got ''"),
    (
        "register_head",
        lambda: rnn.register_head("ArcFace"),
        ValueError,
        r"a new head name, got 'ArcFace' \(already registered\)",
    ),
    (
        "register_head",
        lambda: rnn.register_head("fresh", margin=rnn.ArcFace),  # type: ignore[arg-type]
        TypeError,
        r"margin to be a Margin subclass, got <class",
    ),
    # issue 19: a wrong embedding width is the embeddings' fault, for every holder
    (
        "ArcFace",
        lambda: rnn.ArcFace(8, 5)(_x(4, 9), _labels()),
        ValueError,
        r"expected embeddings of shape \(B, 8\), got shape \(4, 9\)",
    ),
    (
        "ChunkedArcFace",
        lambda: rnn.ChunkedArcFace(8, 5)(_x(4, 9), _labels()),
        ValueError,
        r"expected embeddings of shape \(B, 8\), got shape \(4, 9\)",
    ),
    (
        "ShardedArcFace",
        lambda: rnn.ShardedArcFace(8, 5)(_x(4, 9), _labels()),
        ValueError,
        r"expected embeddings of shape \(B, 8\), got shape \(4, 9\)",
    ),
    ("Margin", lambda: rnn.Margin(scale=0.0), ValueError, r"scale to be a finite float > 0, got 0.0"),
    (
        "ArcFaceMargin",
        lambda: rnn.ArcFaceMargin(margin=4.0),
        ValueError,
        r"margin to be a float in \[0, pi\), got 4.0",
    ),
    (
        "CosFaceMargin",
        lambda: rnn.CosFaceMargin(margin=-0.1),
        ValueError,
        r"margin to be a finite float >= 0, got -0.1",
    ),
    (
        "AdaFaceMargin",
        lambda: rnn.AdaFaceMargin(t_alpha=0.0),
        ValueError,
        r"t_alpha to be a float in \(0, 1\], got 0.0",
    ),
    (
        "CurricularFaceMargin",
        lambda: rnn.CurricularFaceMargin(t_momentum=1.5),
        ValueError,
        r"t_momentum to be a float in \(0, 1\], got 1.5",
    ),
    (
        "MagFaceMargin",
        lambda: rnn.MagFaceMargin(lower_margin=0.9, upper_margin=0.5),
        ValueError,
        r"lower_margin <= upper_margin, got 0.9 and 0.5",
    ),
    (
        "MarginHead",
        lambda: rnn.MarginHead(3, 4, 64.0),  # type: ignore[arg-type]
        TypeError,
        r"margin to be a Margin \(e.g. ArcFaceMargin\(scale=64.0, margin=0.45\)\), got float",
    ),
    (
        "ChunkedMarginHead",
        lambda: rnn.ChunkedMarginHead(3, 4, rnn.CosFaceMargin(), chunk_size=0),
        ValueError,
        r"chunk_size to be a positive int, got 0",
    ),
    (
        "ChunkedMarginHead",
        lambda: rnn.ChunkedMarginHead(8, 5, rnn.AdaFaceMargin())(_x(4, 9), _labels()),
        ValueError,
        r"expected embeddings of shape \(B, 8\), got shape \(4, 9\)",
    ),
    (
        "ShardedMarginHead",
        lambda: rnn.ShardedMarginHead(3, 4, rnn.MagFaceMargin(), sample_rate=2.0),
        ValueError,
        r"sample_rate to be a float in \(0, 1\], got 2.0",
    ),
    (
        "ShardedMarginHead",
        lambda: rnn.ShardedMarginHead(8, 5, rnn.CurricularFaceMargin())(_x(4, 8), torch.tensor([0, 1, 2, 5])),
        ValueError,
        r"labels with values in \[0, 5\), got values in \[0, 5\]",
    ),
    # ---- recognizability.metrics -------------------------------------------------------------------------
    (
        "roc_curve",
        lambda: metrics.roc_curve(torch.tensor([NAN]), torch.rand(3)),
        ValueError,
        r"finite genuine_scores, got 1 NaN/inf value\(s\) out of 1",
    ),
    (
        "roc_curve",
        lambda: metrics.roc_curve(torch.rand(3, 1), torch.rand(3)),
        ValueError,
        r"genuine_scores of shape \(N,\), got shape \(3, 1\)",
    ),
    (
        "area_under_roc",
        lambda: metrics.area_under_roc(torch.tensor([True]), torch.rand(3)),
        TypeError,
        r"genuine_scores of a real dtype, got torch.bool",
    ),
    (
        "equal_error_rate",
        lambda: metrics.equal_error_rate(None, torch.rand(3)),
        TypeError,
        r"genuine_scores as a torch.Tensor or array-like, got NoneType",
    ),
    (
        "equal_error_rate",
        lambda: metrics.equal_error_rate(torch.rand(3), torch.rand(0)),
        ValueError,
        r"impostor_scores to hold at least one score, got an empty tensor",
    ),
    (
        "tar_at_far",
        lambda: metrics.tar_at_far(torch.rand(3), torch.rand(3), 2.0),
        ValueError,
        r"far in \[0, 1\], got \[2.0\]",
    ),
    (
        "tar_at_far",
        lambda: metrics.tar_at_far(torch.rand(3), torch.rand(3), True),
        TypeError,
        r"far as a number or a sequence of numbers, got True",
    ),
    (
        "tar_at_far",
        lambda: metrics.tar_at_far(torch.rand(3), torch.rand(3), [0.1, 0.1]),
        ValueError,
        r"far without duplicates, got \[0.1, 0.1\]",
    ),
    (
        "tar_at_far",
        lambda: metrics.tar_at_far(torch.rand(3), torch.rand(3), torch.tensor([[0.1]])),
        ValueError,
        r"far as a number or a 1-D sequence, got shape \(1, 1\)",
    ),
    (
        "survface_grid_verification",
        lambda: metrics.survface_grid_verification(torch.rand(30), torch.rand(30), far=[0.1, 0.1]),
        ValueError,
        r"far without duplicates, got \[0.1, 0.1\]",
    ),
    (
        "survface_grid_verification",
        lambda: metrics.survface_grid_verification(torch.rand(30), torch.rand(30), folds=2.5),
        TypeError,
        r"folds to be an int >= 2, got 2.5",
    ),
    (
        "survface_grid_verification",
        lambda: metrics.survface_grid_verification(torch.rand(30), torch.rand(30) * 2 - 1),
        ValueError,
        r"expected impostor_distances >= 0 \(distances, e.g. sqrt\(2 - 2 cos\) of unit-norm features\), "
        r"got \d+ negative value\(s\) out of 30, the lowest -0\.\d+",
    ),
    (
        "survface_grid_verification",
        lambda: metrics.survface_grid_verification([-0.5] + [0.5] * 29, torch.rand(30)),
        ValueError,
        r"expected genuine_distances >= 0 .* got 1 negative value\(s\) out of 30, the lowest -0\.5 ",
    ),
    (
        "survface_grid_verification",
        lambda: metrics.survface_grid_verification(torch.rand(30), torch.rand(30), far=NAN),
        ValueError,
        r"far in \[0, 1\], got \[nan\]",
    ),
    (
        "VerificationAccumulator",
        lambda: metrics.VerificationAccumulator().update(torch.rand(3), torch.tensor([True])),
        ValueError,
        r"is_genuine of shape \(3,\), got shape \(1,\)",
    ),
    (
        "VerificationAccumulator",
        lambda: metrics.VerificationAccumulator().equal_error_rate(),
        ValueError,
        r"at least one update\(\) before compute, got none",
    ),
    (
        "cmc",
        lambda: metrics.cmc(_x(4, 3), _labels(), _x(4, 3), _labels(), ranks=(0,)),
        ValueError,
        r"ranks as positive integers, got \(0,\)",
    ),
    (
        "cmc",
        lambda: metrics.cmc(_x(4, 3), _labels(), _x(4, 2), _labels()),
        ValueError,
        r"gallery_features of shape \(N, 3\)|probe_features of shape \(N, 2\)",
    ),
    (
        "cmc",
        lambda: metrics.cmc(_x(4, 3), _labels().float(), _x(4, 3), _labels()),
        TypeError,
        r"integer probe_labels, got dtype torch.float32",
    ),
    (
        "cmc",
        lambda: metrics.cmc(torch.full((4, 3), NAN), _labels(), _x(4, 3), _labels()),
        ValueError,
        r"finite probe_features, got NaN/inf values",
    ),
    (
        "cmc",
        lambda: metrics.cmc(_x(4, 3), _labels(), _x(4, 3), _labels(), normalize="yes"),
        TypeError,
        r"normalize to be a bool, got str",
    ),
    (
        "CMCAccumulator",
        lambda: metrics.CMCAccumulator(_x(4, 3), -torch.ones(4, dtype=torch.long)),
        ValueError,
        r"at least one gallery entry with a label >= 0, got only distractors",
    ),
    (
        "CMCAccumulator",
        lambda: metrics.CMCAccumulator(_x(4, 3), _labels(), ranking="x"),
        ValueError,
        r"ranking to be one of \['image', 'identity'\], got 'x'",
    ),
    (
        "CMCAccumulator",
        lambda: metrics.CMCAccumulator(_x(4, 3), _labels()).compute(),
        ValueError,
        r"at least one evaluated probe, got none",
    ),
    (
        "identity_templates",
        lambda: metrics.identity_templates(_x(4, 3), -_labels() - 1),
        ValueError,
        r"labels >= 0 for identity templates, got negative",
    ),
    (
        "identity_templates",
        lambda: metrics.identity_templates(_x(4, 3), _labels()[:3]),
        ValueError,
        r"labels of shape \(4,\), got shape \(3,\)",
    ),
    (
        "identity_templates",
        lambda: metrics.identity_templates(torch.cat([_x(1, 3), -_x(1, 3)]), torch.tensor([7, 7])),
        ValueError,
        r"each identity to have a mean direction, got 1 identity\(ies\) \(labels \[7\]\).*cancel out",
    ),
    (
        "identity_templates",
        lambda: metrics.identity_templates(torch.zeros(2, 3), torch.tensor([0, 1]), normalize=False),
        ValueError,
        r"got 2 identity\(ies\) \(labels \[0, 1\]\) whose features are zero",
    ),
    (
        "tpir_at_fpir",
        lambda: metrics.tpir_at_fpir(_x(4, 3), _labels(), _x(4, 3), _x(4, 3), _labels(), 0.1, rank=0),
        ValueError,
        r"rank to be a positive int, got 0",
    ),
    (
        "tpir_at_fpir",
        lambda: metrics.tpir_at_fpir(_x(4, 3), _labels(), _x(4, 3), _x(4, 3), _labels(), NAN),
        ValueError,
        r"fpir in \[0, 1\], got \[nan\]",
    ),
    (
        "tpir_at_fpir",
        lambda: metrics.tpir_at_fpir(_x(4, 3), _labels(), _x(4, 3), _x(4, 3), _labels(), 0.1, gallery="x"),
        ValueError,
        r"gallery to be one of \['image', 'template'\], got 'x'",
    ),
    (
        "unmated_top_scores",
        lambda: metrics.unmated_top_scores(_x(4, 3), _x(4, 2)),
        ValueError,
        r"gallery_features of shape \(N, 3\) to match the other features, got \(4, 2\)",
    ),
    (
        "unmated_top_scores",
        lambda: metrics.unmated_top_scores(_x(4, 3), _x(4, 3), max_elements=0),
        ValueError,
        r"max_elements to be a positive int, got 0",
    ),
    (
        "unmated_top_scores",
        lambda: metrics.unmated_top_scores(_x(4, 3) * 1e20, _x(4, 3) * 1e20, normalize=False),
        ValueError,
        r"finite scores, got NaN/inf: the raw dot products of probe_features and gallery_features overflow",
    ),
    (
        "cmc",
        lambda: metrics.cmc(_x(4, 3) * 1e20, _labels(), _x(4, 3) * 1e20, _labels(), normalize=False),
        ValueError,
        r"raw dot products of probe_features and gallery_features overflow torch.float32",
    ),
    (
        "evaluate_tinyface",
        lambda: metrics.evaluate_tinyface(_x(4, 3), _labels(), _x(4, 3), _labels(), flip_fusion="yes"),
        TypeError,
        r"flip_fusion to be a bool, got str",
    ),
    (
        "evaluate_scface",
        lambda: metrics.evaluate_scface(_x(4, 3), _labels(), torch.tensor([1, 2, 3, 4]), _x(4, 3), _labels()),
        ValueError,
        r"probe_distances in \{1, 2, 3\}, got \[1, 2, 3, 4\]",
    ),
    (
        "evaluate_survface",
        lambda: metrics.evaluate_survface(
            _x(4, 3), _labels(), _x(4, 3), _x(4, 3), _labels(), positive_pairs=(_x(4, 3), _x(4, 3))
        ),
        ValueError,
        r"both positive_pairs and negative_pairs or neither, got only one",
    ),
    (
        "evaluate_survface",
        lambda: metrics.evaluate_survface(
            _x(4, 3),
            _labels(),
            _x(4, 3),
            _x(4, 3),
            _labels(),
            positive_pairs=_x(4, 3),
            negative_pairs=_x(4, 3),
        ),
        TypeError,
        r"positive_pairs as a pair \(features_a \(N, D\), features_b \(N, D\)\)",
    ),
    (
        "flip_fuse",
        lambda: metrics.flip_fuse(_x(4, 3), _x(3, 3)),
        ValueError,
        r"flipped_features of shape \(4, 3\), got \(3, 3\)",
    ),
    (
        "flip_fuse",
        lambda: metrics.flip_fuse(_x(4, 3), -_x(4, 3)),
        ValueError,
        r"sum has a direction, got 4 row\(s\) \(e.g. rows \[0, 1, 2, 3\]\) that are zero or cancel out",
    ),
    (
        "error_versus_reject",
        lambda: metrics.error_versus_reject(
            torch.rand(4), torch.tensor([True, False, True, False]), torch.rand(4), 0.1, [0.2, 0.1]
        ),
        ValueError,
        r"reject_fractions in increasing order without duplicates, got \[0.2, 0.1\]",
    ),
    (
        "error_versus_reject",
        lambda: metrics.error_versus_reject(torch.rand(4), torch.rand(4), torch.rand(4), 0.1),
        TypeError,
        r"boolean is_genuine, got dtype torch.float32",
    ),
    (
        "error_versus_reject",
        lambda: metrics.error_versus_reject(
            torch.rand(4), torch.tensor([True, False, True, False]), torch.rand(4), 1.0
        ),
        ValueError,
        r"fmr to be a float in \(0, 1\), got 1.0",
    ),
    (
        "pair_quality",
        lambda: metrics.pair_quality(torch.rand(3), torch.rand(1)),
        ValueError,
        r"quality_b of shape \(3,\) like quality_a, got shape \(1,\)",
    ),
    (
        "pair_quality",
        lambda: metrics.pair_quality(torch.tensor([NAN]), torch.rand(1)),
        ValueError,
        r"finite quality_a, got 1 NaN/inf value",
    ),
    (
        "ers_quality",
        lambda: metrics.ers_quality(_x(4, 3), torch.zeros(3)),
        ValueError,
        r"non-zero ui_center \(a direction\), got the zero vector",
    ),
    (
        "ers_quality",
        lambda: metrics.ers_quality(_x(4, 3), torch.tensor([NAN, 1.0, 0.0])),
        ValueError,
        r"finite ui_center, got 1 NaN/inf value",
    ),
    (
        "ers_quality",
        lambda: metrics.ers_quality(torch.cat([_x(2, 3), torch.zeros(1, 3)]), torch.ones(3)),
        ValueError,
        r"embeddings without zero rows \(a zero embedding has no direction\), got 1 zero row\(s\) "
        r"\(e.g. rows \[2\]\)",
    ),
    (
        "magface_quality",
        lambda: metrics.magface_quality(torch.ones(2, 3, dtype=torch.long)),
        TypeError,
        r"floating-point embeddings, got dtype torch.int64",
    ),
    (
        "crfiqa_quality",
        lambda: metrics.crfiqa_quality(_x(4, 3), _labels(), _x(2, 3)),
        ValueError,
        r"labels with values in \[0, 2\), got values outside",
    ),
    (
        "crfiqa_quality",
        lambda: metrics.crfiqa_quality(_x(4, 3), _labels(), _x(1, 3)),
        ValueError,
        r"prototypes of shape \(C, D\) with C >= 2, got \(1, 3\)",
    ),
    (
        "crfiqa_quality",
        lambda: metrics.crfiqa_quality(_x(4, 3), _labels(), _x(3, 3), offset=1.0),
        ValueError,
        r"offset to be a float in \(1, inf\), got 1.0",
    ),
    (
        "crfiqa_quality",
        lambda: metrics.crfiqa_quality(_x(4, 3), _labels(), _x(3, 3), offset=0.0),
        ValueError,
        r"offset to be a float in \(1, inf\), got 0.0",
    ),
    (
        "serfiq_quality",
        lambda: metrics.serfiq_quality(torch.nn.Linear(3, 2), _x(4, 3)),
        ValueError,
        r"model with at least one dropout module for SER-FIQ, got none",
    ),
    (
        "serfiq_quality",
        lambda: metrics.serfiq_quality(_dropout_model(), _x(4, 3), passes=1),
        ValueError,
        r"passes to be an int >= 2, got 1",
    ),
    (
        "serfiq_quality",
        lambda: metrics.serfiq_quality("model", _x(4, 3)),
        TypeError,
        r"model to be a torch.nn.Module, got str",
    ),
    (
        "spearman_correlation",
        lambda: metrics.spearman_correlation([1.0, 2.0, 3.0], [1.0, 2.0]),
        ValueError,
        r"x and y of the same length >= 2, got 3 and 2",
    ),
    (
        "spearman_correlation",
        lambda: metrics.spearman_correlation([1.0, NAN], [1.0, 2.0]),
        ValueError,
        r"finite x, got 1 NaN/inf value",
    ),
    (
        "hard_share_in_lowest_quality",
        lambda: metrics.hard_share_in_lowest_quality(
            torch.rand(10), torch.ones(10, dtype=torch.bool), fraction=0.01
        ),
        ValueError,
        r"selects at least one of the 10 images \(fraction \* N >= 1\), got fraction=0.01: 0.1 images",
    ),
    (
        "hard_share_in_lowest_quality",
        lambda: metrics.hard_share_in_lowest_quality(
            torch.rand(4), torch.ones(4, dtype=torch.bool), fraction=0
        ),
        ValueError,
        r"fraction to be a float in \(0, 1\], got 0",
    ),
    (
        "hard_share_in_lowest_quality",
        lambda: metrics.hard_share_in_lowest_quality(torch.rand(4), torch.ones(3, dtype=torch.bool)),
        ValueError,
        r"hard of shape \(4,\), got shape \(3,\)",
    ),
    (
        "bimodality_coefficient",
        lambda: ui_cluster.bimodality_coefficient([1.0, 2.0, 3.0]),
        ValueError,
        r"values of shape \(N,\) with N >= 4, got N = 3",
    ),
    (
        "ui_cluster_statistics",
        lambda: ui_cluster.ui_cluster_statistics(
            torch.rand(5), torch.rand(4), torch.ones(5, dtype=torch.bool)
        ),
        ValueError,
        r"severity of shape \(N,\) = \(5,\) to match distance_to_ui, got \(4,\)",
    ),
    # ---- recognizability.backbones -----------------------------------------------------------------------
    (
        "create_backbone",
        lambda: backbones.create_backbone("resnet"),
        ValueError,
        r"name to be one of \[.*'small_vlr_net'\].*got 'resnet'",
    ),
    ("create_backbone", lambda: backbones.create_backbone(5), TypeError, r"name to be a str, got int"),
    (
        "canonical_backbone_name",
        lambda: backbones.canonical_backbone_name("resnet", "--backbone"),
        ValueError,
        r"expected --backbone to be one of \[.*'iresnet50'.*\] \(or alias .*\), got 'resnet'",
    ),
    (
        "iresnet18",
        lambda: backbones.iresnet18(dropout=1.0),
        ValueError,
        r"dropout to be a float in \[0, 1\), got 1.0",
    ),
    (
        "iresnet34",
        lambda: backbones.iresnet34(embedding_dim=0),
        ValueError,
        r"embedding_dim to be a positive int, got 0",
    ),
    (
        "iresnet50",
        lambda: backbones.iresnet50(dropout="0.1"),
        TypeError,
        r"dropout to be a float in \[0, 1\), got '0.1'",
    ),
    (
        "iresnet100",
        lambda: backbones.iresnet100(embedding_dim=2.5),
        TypeError,
        r"embedding_dim to be a positive int, got 2.5",
    ),
    (
        "IResNet",
        lambda: backbones.IResNet((3, 4, 0, 3)),
        ValueError,
        r"layers to be four positive ints, got \(3, 4, 0, 3\)",
    ),
    (
        "AdaFaceIR",
        lambda: backbones.AdaFaceIR((3, 4, 14)),
        ValueError,
        r"layers to be four positive ints, got \(3, 4, 14\)",
    ),
    (
        "adaface_ir50",
        lambda: backbones.adaface_ir50(dropout=-0.1),
        ValueError,
        r"dropout to be a float in \[0, 1\), got -0.1",
    ),
    (
        "adaface_ir101",
        lambda: backbones.adaface_ir101(embedding_dim=True),
        TypeError,
        r"embedding_dim to be a positive int, got True",
    ),
    (
        "mobilefacenet",
        lambda: backbones.mobilefacenet(embedding_dim=0),
        ValueError,
        r"embedding_dim to be a positive int, got 0",
    ),
    (
        "MobileFaceNet",
        lambda: backbones.MobileFaceNet(dropout=2.0),
        ValueError,
        r"dropout to be a float in \[0, 1\), got 2.0",
    ),
    (
        "small_vlr_net",
        lambda: backbones.small_vlr_net(width=3),
        ValueError,
        r"width to be an even positive int, got 3",
    ),
    (
        "SmallVLRNet",
        lambda: backbones.SmallVLRNet(input_size=(30, 30)),
        ValueError,
        r"input_size to be two positive ints divisible by 8, got \(30, 30\)",
    ),
    (
        "FaceBackbone",
        lambda: backbones.small_vlr_net()(_x(2, 3, 16, 16)),
        ValueError,
        r"images of shape \(B, 3, 32, 32\) for SmallVLRNet.*got shape \(2, 3, 16, 16\)",
    ),
    (
        "FaceBackbone",
        lambda: backbones.small_vlr_net().forward_head(_x(2, 3, 3, 3)),
        ValueError,
        r"feature_map of shape \(B, 128, 4, 4\) for SmallVLRNet, got shape \(2, 3, 3, 3\)",
    ),
    (
        "FaceBackbone",
        lambda: backbones.small_vlr_net().forward_with_features([1.0]),
        TypeError,
        r"images to be a torch.Tensor, got list",
    ),
    (
        "small_vlr_net",
        lambda: backbones.small_vlr_net(input_size="32"),
        TypeError,
        r"expected input_size to be an int or a pair \(H, W\) of ints, got '32'",
    ),
    (
        "small_vlr_net",
        lambda: backbones.small_vlr_net(input_size=(32, 32, 3)),
        TypeError,
        r"expected input_size to be an int or a pair \(H, W\) of ints, got \(32, 32, 3\)",
    ),
    (
        "small_vlr_net",
        lambda: backbones.small_vlr_net(input_size=30),
        ValueError,
        r"expected input_size to be two positive ints divisible by 8, got 30",
    ),
    (
        "SmallVLRNet",
        lambda: backbones.SmallVLRNet(input_size=(0, 32)),
        ValueError,
        r"expected input_size to hold positive ints, got \(0, 32\)",
    ),
    (
        "create_backbone",
        lambda: backbones.create_backbone("iresnet50", input_size=96),
        ValueError,
        r"expected input_size \(112, 112\) for 'iresnet50', got \(96, 96\)",
    ),
    (
        "create_backbone",
        lambda: backbones.create_backbone("mobilefacenet", input_size=None),
        TypeError,
        r"expected input_size to be an int or a pair \(H, W\) of ints, got None",
    ),
    (
        "create_backbone",
        lambda: backbones.create_backbone("small_vlr_net", pretrained="synthetic-hr", input_size=48),
        ValueError,
        r"expected the architecture of pretrained='synthetic-hr' \(\{'input_size': \(32, 32\)\}\), "
        r"got \{'input_size': \(48, 48\)\}",
    ),
    (
        "FaceBackbone",
        lambda: backbones.small_vlr_net()(_x(2, 3, 32, 32).half()),
        TypeError,
        r"expected images of dtype torch.float32, the dtype of SmallVLRNet's parameters \(or float16, "
        r"bfloat16 or float32 under torch.autocast, which leaves float64 as it is\), got dtype torch.float16",
    ),
    (
        "FaceBackbone",
        lambda: backbones.small_vlr_net().forward_features(_x(2, 3, 32, 32).double()),
        TypeError,
        r"expected images of dtype torch.float32, .* got dtype torch.float64",
    ),
    (
        "FaceBackbone",
        lambda: _under_cpu_autocast(lambda: backbones.small_vlr_net().eval()(_x(2, 3, 32, 32).double())),
        TypeError,
        r"expected images of dtype torch.float32, .*which leaves float64 as it is\), got dtype torch.float64",
    ),
    (
        "FaceBackbone",
        lambda: backbones.small_vlr_net().train()(_x(1, 3, 32, 32)),
        ValueError,
        r"expected images of shape \(B, 3, 32, 32\) with B >= 2 while batch norm trains, "
        r"got shape \(1, 3, 32, 32\): SmallVLRNet has 14 batch-norm layers in training mode",
    ),
    (
        "FaceBackbone",
        lambda: backbones.small_vlr_net().train().forward_with_features(_x(2, 3, 32, 32)[:0]),
        ValueError,
        r"expected images of shape \(B, 3, 32, 32\) with B >= 2 while batch norm trains, got shape "
        r"\(0, 3, 32, 32\)",
    ),
    (
        "FaceBackbone",
        lambda: backbones.small_vlr_net().train().forward_head(_x(1, 128, 4, 4)),
        ValueError,
        r"expected feature_map of shape \(B, 128, 4, 4\) with B >= 2 while batch norm trains, "
        r"got shape \(1, 128, 4, 4\)",
    ),
    (
        "FaceBackbone",
        lambda: backbones.small_vlr_net()(torch.empty(2, 3, 32, 32, device="meta")),
        ValueError,
        r"expected images on the device of SmallVLRNet's parameters \(cpu\), got meta",
    ),
    (
        "check_backbone_images",
        lambda: backbones.check_backbone_images(torch.nn.Conv2d(3, 4, 3), torch.zeros(2, 3, 5, 5).double()),
        TypeError,
        r"expected images of dtype torch.float32, the dtype of Conv2d's parameters .* got dtype "
        r"torch.float64",
    ),
    (
        "check_backbone_images",
        lambda: backbones.check_backbone_images(torch.nn.BatchNorm2d(3), torch.zeros(1, 3, 5, 5)),
        ValueError,
        r"expected images of shape \(B, 3, H, W\) with B >= 2 while batch norm trains, got shape "
        r"\(1, 3, 5, 5\): BatchNorm2d has 1 batch-norm layers",
    ),
    (
        "check_backbone_images",
        lambda: backbones.check_backbone_images(torch.nn.Identity(), torch.zeros(2, 4, 5, 5)),
        ValueError,
        r"expected images of shape \(B, 3, H, W\) for Identity .*got shape \(2, 4, 5, 5\)",
    ),
    (
        "training_batchnorm_layers",
        lambda: backbones.training_batchnorm_layers("model"),
        TypeError,
        r"expected model to be an nn.Module, got str",
    ),
    (
        "normalize_for",
        lambda: backbones.normalize_for(torch.zeros(1, 3, 4, 4), "x"),
        TypeError,
        r"model_or_format to be an nn.Module or a format name, got Tensor",
    ),
    (
        "channel_order_for",
        lambda: backbones.channel_order_for("x"),
        ValueError,
        r"model_or_format to be a backbone or one of \['adaface', 'arcface_torch', 'insightface'\], got 'x'",
    ),
    (
        "freeze_batchnorm",
        lambda: backbones.freeze_batchnorm("model"),
        TypeError,
        r"module to be an nn.Module, got str",
    ),
    (
        "unfreeze_batchnorm",
        lambda: backbones.unfreeze_batchnorm(3),
        TypeError,
        r"module to be an nn.Module, got int",
    ),
    (
        "load_pretrained",
        lambda: backbones.load_pretrained(backbones.small_vlr_net(), "/nonexistent/x.pt"),
        FileNotFoundError,
        r"at '/nonexistent/x.pt', found no such file",
    ),
    (
        "load_pretrained",
        lambda: backbones.load_pretrained(
            backbones.small_vlr_net(width=8), _small_state_with_non_finite_values()
        ),
        backbones.CheckpointError,
        r"refused to load 'checkpoint': expected finite weights, got NaN or infinite values in 2 of 85 "
        r"tensors: \[conv1.weight \(1 of 108 values\), bn1.running_var \(2 of 4 values\)\]. "
        r"Nothing was loaded",
    ),
    (
        "load_pretrained",
        lambda: backbones.load_pretrained(
            backbones.small_vlr_net(width=8), _small_state_with_non_finite_values(), strict=False
        ),
        backbones.CheckpointError,
        r"expected finite weights, got NaN or infinite values in 2 of 85 tensors",
    ),
    (
        "extract_state_dict",
        lambda: backbones.extract_state_dict("abc"),
        backbones.CheckpointError,
        r"checkpoint to hold a dict .*got str",
    ),
    (
        "read_checkpoint_file",
        lambda: backbones.read_checkpoint_file(3),
        TypeError,
        r"expected path to be a str or os.PathLike .*got int",
    ),
    (
        "is_frozen",
        lambda: backbones.is_frozen("model"),
        TypeError,
        r"expected layer to be an nn.Module, got str",
    ),
]


@pytest.mark.parametrize(
    ("target", "call", "error", "pattern"), ROWS, ids=[f"{r[0]}-{i}" for i, r in enumerate(ROWS)]
)
def test_bad_input_raises_a_clear_error(
    target: str, call: Callable[[], Any], error: type[Exception], pattern: str
) -> None:
    with pytest.raises(error, match=pattern):
        call()


# Public names that take no input worth refusing, or are types the library builds (results, errors).
_NOT_CALLED_WITH_USER_INPUT = {
    "available_backbones",  # takes no argument
    "available_pretrained",  # takes no argument
    "BackboneOutput",
    "CheckpointError",
    "LoadReport",
    "RecognizabilityLossOutput",
    "MarginHeadOutput",  # the heads' output type
    "HeadOutputWithCosine",  # typing protocols
    "HeadOutputWithIndexParts",
}
_OWN_MODULES = (
    "recognizability.functional.",
    "recognizability.nn.",
    "recognizability.metrics.",
    "recognizability.backbones.",
)


def _public_callables() -> set[str]:
    names = set()
    for package in (functional, rnn, metrics, backbones, ui_cluster):
        for name in getattr(package, "__all__", []):
            obj = getattr(package, name)
            module = getattr(obj, "__module__", "") or ""
            is_result = inspect.isclass(obj) and hasattr(obj, "to_dict")  # metric reports
            if callable(obj) and module.startswith(_OWN_MODULES) and not is_result:
                names.add(name)
    return names - _NOT_CALLED_WITH_USER_INPUT


def test_table_covers_every_public_function_and_module() -> None:
    covered = {target.split(".")[0] for target, *_ in ROWS}
    missing = _public_callables() - covered
    assert not missing, f"public names without a bad-input row: {sorted(missing)}"


# ---- a failing call changes nothing ------------------------------------------------------------------------


def _snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _assert_unchanged(module: torch.nn.Module, before: dict[str, torch.Tensor]) -> None:
    after = module.state_dict()
    assert after.keys() == before.keys()
    for key, value in before.items():
        assert torch.equal(after[key], value), key


@pytest.mark.parametrize(
    "bad",
    [
        torch.cat([torch.eye(3), -torch.eye(3)]),  # cancels out: no mean direction
        torch.zeros(4, 3),
        torch.tensor([[1.0, NAN, 0.0]]),
        torch.randn(2, 4),
    ],
)
def test_ui_center_keeps_its_state_when_fit_fails(bad: torch.Tensor) -> None:
    center = _ui_center()
    before = _snapshot(center)
    with pytest.raises(ValueError):
        center.fit(bad)
    _assert_unchanged(center, before)


@pytest.mark.parametrize("momentum", [None, 0.5])
def test_ui_center_keeps_its_state_when_update_fails(momentum: float | None) -> None:
    center = rnn.UICenter(3, momentum=momentum)
    empty = _snapshot(center)
    with pytest.raises(ValueError, match=r"cancel out"):
        center.update(torch.cat([torch.eye(3), -torch.eye(3)]))
    _assert_unchanged(center, empty)
    center.update(torch.tensor([[3.0, 4.0, 0.0]]))  # running mean (0.6, 0.8, 0): unit length
    before = _snapshot(center)
    # A batch whose mean is -(0.6, 0.8, 0) takes the running mean (or the EMA) to zero: no direction.
    with pytest.raises(ValueError, match=r"cancel out"):
        center.update(torch.tensor([[-3.0, -4.0, 0.0]]))
    for bad in (torch.tensor([[1.0, NAN, 0.0]]), torch.randn(2, 4), torch.randn(0, 3)):
        with pytest.raises(ValueError):
            center.update(bad)
    _assert_unchanged(center, before)


def test_index_diversion_statistics_unchanged_when_refused() -> None:
    loss = rnn.IndexDiversionLoss(mu=0.5, sigma=2.0)
    before = _snapshot(loss)
    for bad in (torch.ones(5), torch.tensor([1.0, NAN, 2.0]), torch.ones(2, 2)):
        with pytest.raises(ValueError):
            loss.set_ui_statistics(bad)
    _assert_unchanged(loss, before)


def test_backbone_batch_norm_statistics_unchanged_by_refused_images() -> None:
    net = backbones.small_vlr_net().train()
    before = _snapshot(net)
    refused = (
        _x(2, 3, 16, 16),
        torch.zeros(2, 3, 32, 32, dtype=torch.uint8),
        _x(2, 3, 32, 32).half(),
        _x(2, 3, 32, 32).double(),
        _x(1, 3, 32, 32),  # one sample while batch norm trains
        _x(2, 3, 32, 32)[:0],  # an empty batch would still count a step (num_batches_tracked)
    )
    for bad in refused:
        for method in (net, net.forward_features, net.forward_with_features):
            with pytest.raises((ValueError, TypeError)):
                method(bad)
    with pytest.raises(ValueError, match="B >= 2 while batch norm trains"):
        net.forward_head(_x(1, 128, 4, 4))
    _assert_unchanged(net, before)


def test_backbones_accept_what_the_checks_allow() -> None:
    net = backbones.small_vlr_net(input_size=32)
    assert net.input_size == (32, 32) and backbones.small_vlr_net(input_size=[48, 40]).input_size == (48, 40)
    assert backbones.create_backbone("small_vlr_net", input_size=16, width=8).input_size == (16, 16)
    assert backbones.create_backbone(
        "small_vlr_net", pretrained="synthetic-hr", input_size=32
    ).input_size == (
        32,
        32,
    )
    assert backbones.create_backbone("mobilefacenet", input_size=112).input_size == (112, 112)
    net.eval()  # a single image, and none, embed in eval mode
    assert net(_x(1, 3, 32, 32)).shape == (1, 512) and net(_x(2, 3, 32, 32)[:0]).shape == (0, 512)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # autocast casts float16/bfloat16/float32 images
        for dtype in (torch.float16, torch.bfloat16, torch.float32):
            assert net(_x(2, 3, 32, 32).to(dtype)).shape == (2, 512)
    assert net.double()(_x(2, 3, 32, 32).double()).dtype == torch.float64  # the parameters' dtype
    frozen = backbones.freeze_batchnorm(backbones.small_vlr_net().train())
    with pytest.raises(ValueError, match=r"has 1 batch-norm layers in training mode \(e.g. \['features'\]\)"):
        frozen(_x(1, 3, 32, 32))  # the trunk is frozen; the head's BatchNorm1d still trains
    frozen.features.eval()
    assert frozen(_x(1, 3, 32, 32)).shape == (1, 512)  # no layer trains: a batch of one is fine
    assert backbones.training_batchnorm_layers(frozen) == []
    assert backbones.training_batchnorm_layers(frozen, assume_train=True) == ["features"]


def test_backbone_unchanged_by_refused_non_finite_weights() -> None:
    net = backbones.small_vlr_net(width=8)
    before = _snapshot(net)
    for strict in (True, False):
        with pytest.raises(backbones.CheckpointError, match="expected finite weights"):
            backbones.load_pretrained(net, _small_state_with_non_finite_values(), strict=strict)
    _assert_unchanged(net, before)  # all or nothing: not even the finite tensors were copied


def test_heads_and_inputs_unchanged_by_refused_calls() -> None:
    regression = rnn.PerceptibilityRegression(8).train()
    attention = rnn.PerceptibilityAttention(8, 4, (1, 1))
    snapshots = {regression: _snapshot(regression), attention: _snapshot(attention)}
    with pytest.raises(ValueError):
        regression(_x(2, 9))
    with pytest.raises(ValueError):
        attention(_x(2, 8, 2, 2))
    for module, before in snapshots.items():
        _assert_unchanged(module, before)
    cosine = torch.rand(4, 3)
    original = cosine.clone()
    with pytest.raises(ValueError):
        functional.arcface_logits(cosine, torch.tensor([0, 1, 2, 5]))
    assert torch.equal(cosine, original)
    cosine[0, 0] = 1.5
    original = cosine.clone()
    for call in (
        functional.arcface_logits,
        lambda c, y: functional.curricularface_logits(c, y, torch.zeros(1)),
    ):
        with pytest.raises(ValueError, match=r"got a value of magnitude 1\.5"):
            call(cosine, _labels())
        assert torch.equal(cosine, original)


def test_the_documented_value_checks_of_docs_method_md() -> None:
    """docs/method.md, "Which calls check values": the pure functions propagate NaN and inf (no host sync)
    except where a finite input is outside the function's domain; the modules and the criterion refuse
    non-finite inputs. All with value checks on (the default)."""
    embeddings, prototypes, labels = _x(4, 3), _x(5, 3), _labels()
    embeddings[1, 0] = NAN
    cosine = functional.cosine_logits(embeddings, prototypes)
    assert cosine[1].isnan().all() and cosine[[0, 2, 3]].isfinite().all()
    logits = functional.arcface_logits(cosine, labels)
    assert logits[1].isnan().all() and logits[[0, 2, 3]].isfinite().all()
    with_inf = torch.rand(4, 3)
    with_inf[2, 1] = math.inf
    assert functional.arcface_logits(with_inf, labels)[2, 1] == math.inf
    loss = functional.perceptibility_regression_loss(torch.tensor([0.5, NAN]), torch.tensor([0.2, 0.3]))
    assert loss.isnan()
    # rounding beyond [-1, 1] is a cosine still: 1e-3, or 16 epsilons of the dtype
    near_one = torch.tensor([[1.0009, 0.0], [-1.0009, 0.5]])
    assert functional.arcface_logits(near_one, torch.tensor([0, 0])).isfinite().all()
    assert (
        functional.arcface_logits(torch.tensor([[1.01, 0.0]], dtype=torch.bfloat16), torch.tensor([0]))
        .isfinite()
        .all()
    )
    with pytest.raises(ValueError, match=r"got a value of magnitude 1.0011"):
        functional.arcface_logits(torch.tensor([[1.0011, 0.0]]), torch.tensor([0]))
    # the modules and the criterion refuse what the functions propagate
    with pytest.raises(ValueError, match=r"expected embeddings with finite values, got 1 non-finite value"):
        rnn.ArcFace(3, 5)(embeddings, labels)
    criterion = rnn.RecognizabilityLoss(2, (1, 1), 3)
    output = rnn.ArcFace(3, 5)(_x(4, 3), labels)
    cosine_with_nan = output.cosine.detach().clone()
    cosine_with_nan[0, 0] = NAN
    with pytest.raises(ValueError, match=r"expected cosine with finite values, got 1 non-finite value"):
        criterion(
            _x(4, 2, 1, 1),
            _x(4, 3),
            labels,
            ui_center=_ui_center(),
            classification_loss=output.loss,
            cosine=cosine_with_nan,
        )
    from recognizability import value_checks

    with value_checks(False):  # no value is read: out-of-domain cosines are the caller's
        assert functional.arcface_logits(torch.full((1, 2), 1.5), torch.tensor([0])).isfinite().all()


@pytest.mark.parametrize("parallel", ["none", "chunked", "sharded"])
@pytest.mark.parametrize("name", ["adaface", "curricularface"])
def test_margin_statistics_unchanged_by_refused_calls(name: str, parallel: str) -> None:
    head = rnn.build_head(name, 3, 4, parallel=parallel).train()
    head(_x(4, 3), _labels())
    before = {k: v.clone() for k, v in head.state_dict().items() if k != "_extra_state"}
    for embeddings, labels in (
        (_x(4, 5), _labels()),
        (_x(4, 3), torch.tensor([0, 1, 2, 4])),
        (torch.full((4, 3), NAN), _labels()),
    ):
        with pytest.raises(ValueError):
            head(embeddings, labels)
    after = {k: v for k, v in head.state_dict().items() if k != "_extra_state"}
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_accumulators_unchanged_by_refused_batches() -> None:
    verification = metrics.VerificationAccumulator()
    verification.update(torch.tensor([0.9, 0.2, 0.8]), torch.tensor([True, False, False]))
    before = verification.roc_curve()
    for scores, mask in ((torch.tensor([NAN]), torch.tensor([True])), (torch.rand(2), torch.tensor([True]))):
        with pytest.raises(ValueError):
            verification.update(scores, mask)
    after = verification.roc_curve()
    assert torch.equal(before.far, after.far) and torch.equal(before.tar, after.tar)

    gallery, labels = _x(4, 3), _labels()
    closed_set = metrics.CMCAccumulator(gallery, labels)
    closed_set.update(gallery[:2], labels[:2])
    result = closed_set.compute()
    with pytest.raises(ValueError, match=r"absent from gallery_labels"):
        closed_set.update(gallery[:2], torch.tensor([0, 9]))
    with pytest.raises(ValueError, match=r"finite probe_features"):
        closed_set.update(torch.full((1, 3), NAN), labels[:1])
    again = closed_set.compute()
    assert again.num_probes == result.num_probes and torch.equal(again.rates, result.rates)
