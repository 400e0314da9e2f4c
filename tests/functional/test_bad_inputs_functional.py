"""Bad inputs to every public function and module of ``recognizability.functional``: one table, each row the
call, the exception type and a pattern of its message (the argument named, the expected and the received
value); then calls that fail and must change nothing."""

from __future__ import annotations

import math

import pytest
import torch

import recognizability.functional as functional
import recognizability.nn as rnn
from tests.helpers.bad_inputs import (
    NAN,
    Row,
    class_labels,
    table_tests,
    ui_center,
    x,
)

ROWS: list[Row] = [
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
        lambda: functional.l2_normalize(x(2, 2), dim=5),
        ValueError,
        r"dim to be an int in \[-2, 2\), got 5",
    ),
    (
        "l2_normalize",
        lambda: functional.l2_normalize(x(2, 2), dim=1.0),
        TypeError,
        r"dim to be an int in \[-2, 2\), got 1.0",
    ),
    (
        "ui_cosine",
        lambda: functional.ui_cosine(x(2, 3), torch.tensor([NAN, 0.0, 0.0])),
        ValueError,
        r"finite, non-zero center \(a direction\), got 1 non-finite value",
    ),
    (
        "ui_cosine",
        lambda: functional.ui_cosine(x(2, 3), torch.zeros(3)),
        ValueError,
        r"non-zero center \(a direction\), got the zero vector",
    ),
    (
        "ui_cosine",
        lambda: functional.ui_cosine(x(2, 3), x(4)),
        ValueError,
        r"center of shape \(3,\), got shape \(4,\)",
    ),
    (
        "cosine_logits",
        lambda: functional.cosine_logits(torch.ones(2, 3, dtype=torch.long), x(4, 3)),
        TypeError,
        r"embeddings with a floating-point dtype, got torch.int64",
    ),
    (
        "cosine_logits",
        lambda: functional.cosine_logits(x(2, 3), x(4, 2)),
        ValueError,
        r"prototypes of shape \(C, 3\), got shape \(4, 2\)",
    ),
    (
        "arcface_logits",
        lambda: functional.arcface_logits(torch.rand(4, 3), class_labels(), scale="64"),
        TypeError,
        r"scale to be a float, got str",
    ),
    (
        "arcface_logits",
        lambda: functional.arcface_logits(torch.rand(4, 3), class_labels(), margin=4.0),
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
            64.0 * (torch.rand(4, 3) * 2 - 1), class_labels()
        ),  # logits, not cosines
        ValueError,
        r"expected cosine to hold cosines in \[-1, 1\]",
    ),
    (
        "curricularface_logits",
        lambda: functional.curricularface_logits(
            torch.full((4, 3), 2.0), class_labels(), torch.tensor([0.1])
        ),
        ValueError,
        r"expected cosine to hold cosines in \[-1, 1\] \(pre-margin, unscaled\), got a value of magnitude 2",
    ),
    (
        "recognizability_index",
        lambda: functional.recognizability_index(torch.rand(4, 3), class_labels(), torch.rand(4), eps=NAN),
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
            torch.rand(4, 3), torch.rand(4), class_labels(), torch.tensor(20.0), torch.tensor(-1.0)
        ),
        ValueError,
        r"expected a finite batch_std >= 0, got \[-1.0\]",
    ),
    (
        "adaface_logits",
        lambda: functional.adaface_logits(
            torch.rand(4, 3), torch.rand(4), class_labels(), torch.tensor(NAN), torch.tensor(1.0)
        ),
        ValueError,
        r"expected a finite batch_mean, got \[nan\]",
    ),
    (
        "adaface_logits",
        lambda: functional.adaface_logits(
            torch.rand(4, 3), -torch.rand(4) - 0.1, class_labels(), torch.tensor(20.0), torch.tensor(1.0)
        ),
        ValueError,
        r"expected norms >= 0 \(feature norms\), got 4 negative or NaN value",
    ),
    (
        "curricularface_logits",
        lambda: functional.curricularface_logits(torch.rand(4, 3), class_labels(), torch.tensor([NAN])),
        ValueError,
        r"expected a finite t, got \[nan\]",
    ),
    (
        "recognizability_index",
        lambda: functional.recognizability_index(torch.rand(4, 3), class_labels(), torch.full((4,), 1.5)),
        ValueError,
        r"ui_cosine to hold cosines in \[-1, 1\] \(pre-margin, unscaled\), got a value of magnitude 1.5",
    ),
    (
        "recognizability_index",
        lambda: functional.recognizability_index(torch.full((4, 3), NAN), class_labels(), torch.rand(4)),
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
        lambda: functional.attention_mse_loss(x(2, 3), x(2, 3), reduction="sum"),
        ValueError,
        r"reduction to be one of \['mean', 'sum_over_dim_mean_over_batch', 'none'\], got 'sum'",
    ),
    (
        "attention_mse_loss",
        lambda: functional.attention_mse_loss(x(2, 3), x(2, 4)),
        ValueError,
        r"target of shape \(2, 3\), got shape \(2, 4\)",
    ),
    (
        "project_away",
        lambda: functional.project_away(x(2, 3), torch.tensor([NAN, 1.0, 0.0])),
        ValueError,
        r"ui_center with finite values, got 1 non-finite",
    ),
    (
        "project_away",
        lambda: functional.project_away(x(2, 3), torch.zeros(3)),
        ValueError,
        r"non-zero ui_center, got the zero vector",
    ),
    (
        "cosface_logits",
        lambda: functional.cosface_logits(torch.rand(4, 3), class_labels(), margin=-0.1),
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
        lambda: functional.magface_logits(torch.rand(4, 3), torch.rand(4, 1), class_labels()),
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
]


test_bad_input_raises_a_clear_error, test_table_covers_every_public_function_and_module = table_tests(
    ROWS, [functional], "recognizability.functional."
)


def test_the_documented_value_checks_of_docs_method_md() -> None:
    """docs/method.md, "Which calls check values": the pure functions propagate NaN and inf (no host sync)
    except where a finite input is outside the function's domain; the modules and the criterion refuse
    non-finite inputs. All with value checks on (the default)."""
    embeddings, prototypes, labels = x(4, 3), x(5, 3), class_labels()
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
    output = rnn.ArcFace(3, 5)(x(4, 3), labels)
    cosine_with_nan = output.cosine.detach().clone()
    cosine_with_nan[0, 0] = NAN
    with pytest.raises(ValueError, match=r"expected cosine with finite values, got 1 non-finite value"):
        criterion(
            x(4, 2, 1, 1),
            x(4, 3),
            labels,
            ui_center=ui_center(),
            classification_loss=output.loss,
            cosine=cosine_with_nan,
        )
    from recognizability import value_checks

    with value_checks(False):  # no value is read: out-of-domain cosines are the caller's
        assert functional.arcface_logits(torch.full((1, 2), 1.5), torch.tensor([0])).isfinite().all()
