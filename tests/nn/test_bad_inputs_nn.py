"""Bad inputs to every public function and module of ``recognizability.nn``: one table, each row the
call, the exception type and a pattern of its message (the argument named, the expected and the received
value); then calls that fail and must change nothing."""

from __future__ import annotations

import pytest
import torch

import recognizability.functional as functional
import recognizability.nn as rnn
from tests.helpers.bad_inputs import (
    NAN,
    Row,
    assert_unchanged,
    class_labels,
    snapshot,
    table_tests,
    ui_center,
    x,
)

ROWS: list[Row] = [
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
        lambda: rnn.UICenter(3).cosine(x(2, 3)),
        RuntimeError,
        r"holds no centre yet: call fit",
    ),
    (
        "UICenter.project_away",
        lambda: ui_center().project_away(x(2, 4)),
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
        lambda: rnn.RecognizabilityIndex()(torch.rand(4, 3), class_labels().float(), torch.rand(4)),
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
        lambda: rnn.PerceptibilityAttention(8, 4, (3, 3))(x(2, 8, 4, 4)),
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
        lambda: rnn.PerceptibilityRegression(8)(x(2, 9)),
        ValueError,
        r"feature_map of shape \(B, C, H, W\) or \(B, F\) with C\*H\*W = F = 8, got shape \(2, 9\)",
    ),
    (
        "ArcFace",
        lambda: rnn.ArcFace(4, 3)(x(2, 4), torch.tensor([0, 3])),
        ValueError,
        r"labels with values in \[0, 3\), got values in \[0, 3\]",
    ),
    (
        "ArcFace",
        lambda: rnn.ArcFace(4, 3)(x(2, 5), torch.tensor([0, 1])),
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
    ("MarginHead", lambda: rnn.MarginHead(3, 1, 64.0), ValueError, r"num_classes to be an int >= 2, got 1"),
    ("AdaFace", lambda: rnn.AdaFace(3, 1), ValueError, r"num_classes to be an int >= 2, got 1"),
    (
        "AdaFace",
        lambda: rnn.AdaFace(3, 4)(torch.full((4, 3), NAN), class_labels()),
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
        lambda: rnn.CurricularFace(3, 4)(torch.full((4, 3), torch.inf), class_labels()),
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
        lambda: rnn.ArcFace(3, 4)(torch.full((4, 3), NAN), class_labels()),
        ValueError,
        r"embeddings with finite values, got 12 non-finite value",
    ),
    (
        "CosFace",
        lambda: rnn.CosFace(3, 4)(torch.full((4, 3), NAN), class_labels()),
        ValueError,
        r"embeddings with finite values, got 12 non-finite value",
    ),
    (
        "MagFace",
        lambda: rnn.MagFace(3, 4)(torch.full((4, 3), NAN), class_labels()),
        ValueError,
        r"embeddings with finite values, got 12 non-finite value",
    ),
    (
        "ChunkedArcFace",
        lambda: rnn.ChunkedArcFace(3, 4)(torch.full((4, 3), NAN), class_labels()),
        ValueError,
        r"embeddings with finite values, got 12 non-finite value",
    ),
    (
        "ShardedArcFace",
        lambda: rnn.ShardedArcFace(3, 4)(torch.full((4, 3), NAN), class_labels()),
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
        lambda: rnn.ArcFace(8, 5)(x(4, 9), class_labels()),
        ValueError,
        r"expected embeddings of shape \(B, 8\), got shape \(4, 9\)",
    ),
    (
        "ChunkedArcFace",
        lambda: rnn.ChunkedArcFace(8, 5)(x(4, 9), class_labels()),
        ValueError,
        r"expected embeddings of shape \(B, 8\), got shape \(4, 9\)",
    ),
    (
        "ShardedArcFace",
        lambda: rnn.ShardedArcFace(8, 5)(x(4, 9), class_labels()),
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
        lambda: rnn.ChunkedMarginHead(8, 5, rnn.AdaFaceMargin())(x(4, 9), class_labels()),
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
        lambda: rnn.ShardedMarginHead(8, 5, rnn.CurricularFaceMargin())(x(4, 8), torch.tensor([0, 1, 2, 5])),
        ValueError,
        r"labels with values in \[0, 5\), got values in \[0, 5\]",
    ),
]


test_bad_input_raises_a_clear_error, test_table_covers_every_public_function_and_module = table_tests(
    ROWS, [rnn], "recognizability.nn."
)


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
    center = ui_center()
    before = snapshot(center)
    with pytest.raises(ValueError):
        center.fit(bad)
    assert_unchanged(center, before)


@pytest.mark.parametrize("momentum", [None, 0.5])
def test_ui_center_keeps_its_state_when_update_fails(momentum: float | None) -> None:
    center = rnn.UICenter(3, momentum=momentum)
    empty = snapshot(center)
    with pytest.raises(ValueError, match=r"cancel out"):
        center.update(torch.cat([torch.eye(3), -torch.eye(3)]))
    assert_unchanged(center, empty)
    center.update(torch.tensor([[3.0, 4.0, 0.0]]))  # running mean (0.6, 0.8, 0): unit length
    before = snapshot(center)
    # A batch whose mean is -(0.6, 0.8, 0) takes the running mean (or the EMA) to zero: no direction.
    with pytest.raises(ValueError, match=r"cancel out"):
        center.update(torch.tensor([[-3.0, -4.0, 0.0]]))
    for bad in (torch.tensor([[1.0, NAN, 0.0]]), torch.randn(2, 4), torch.randn(0, 3)):
        with pytest.raises(ValueError):
            center.update(bad)
    assert_unchanged(center, before)


def test_index_diversion_statistics_unchanged_when_refused() -> None:
    loss = rnn.IndexDiversionLoss(mu=0.5, sigma=2.0)
    before = snapshot(loss)
    for bad in (torch.ones(5), torch.tensor([1.0, NAN, 2.0]), torch.ones(2, 2)):
        with pytest.raises(ValueError):
            loss.set_ui_statistics(bad)
    assert_unchanged(loss, before)


def test_heads_and_inputs_unchanged_by_refused_calls() -> None:
    regression = rnn.PerceptibilityRegression(8).train()
    attention = rnn.PerceptibilityAttention(8, 4, (1, 1))
    snapshots = {regression: snapshot(regression), attention: snapshot(attention)}
    with pytest.raises(ValueError):
        regression(x(2, 9))
    with pytest.raises(ValueError):
        attention(x(2, 8, 2, 2))
    for module, before in snapshots.items():
        assert_unchanged(module, before)
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
            call(cosine, class_labels())
        assert torch.equal(cosine, original)


@pytest.mark.parametrize("parallel", ["none", "chunked", "sharded"])
@pytest.mark.parametrize("name", ["adaface", "curricularface"])
def test_margin_statistics_unchanged_by_refused_calls(name: str, parallel: str) -> None:
    head = rnn.build_head(name, 3, 4, parallel=parallel).train()
    head(x(4, 3), class_labels())
    before = {k: v.clone() for k, v in head.state_dict().items() if k != "_extra_state"}
    for embeddings, labels in (
        (x(4, 5), class_labels()),
        (x(4, 3), torch.tensor([0, 1, 2, 4])),
        (torch.full((4, 3), NAN), class_labels()),
    ):
        with pytest.raises(ValueError):
            head(embeddings, labels)
    after = {k: v for k, v in head.state_dict().items() if k != "_extra_state"}
    assert all(torch.equal(before[k], after[k]) for k in before)
