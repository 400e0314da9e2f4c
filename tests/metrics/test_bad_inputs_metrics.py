"""Bad inputs to every public function and module of ``recognizability.metrics``: one table, each row the
call, the exception type and a pattern of its message (the argument named, the expected and the received
value); then calls that fail and must change nothing."""

from __future__ import annotations

import pytest
import torch

import recognizability.metrics as metrics
from recognizability.metrics import ui_cluster
from tests.helpers.bad_inputs import (
    NAN,
    Row,
    class_labels,
    dropout_model,
    table_tests,
    x,
)

ROWS: list[Row] = [
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
        lambda: metrics.cmc(x(4, 3), class_labels(), x(4, 3), class_labels(), ranks=(0,)),
        ValueError,
        r"ranks as positive integers, got \(0,\)",
    ),
    (
        "cmc",
        lambda: metrics.cmc(x(4, 3), class_labels(), x(4, 2), class_labels()),
        ValueError,
        r"gallery_features of shape \(N, 3\)|probe_features of shape \(N, 2\)",
    ),
    (
        "cmc",
        lambda: metrics.cmc(x(4, 3), class_labels().float(), x(4, 3), class_labels()),
        TypeError,
        r"integer probe_labels, got dtype torch.float32",
    ),
    (
        "cmc",
        lambda: metrics.cmc(torch.full((4, 3), NAN), class_labels(), x(4, 3), class_labels()),
        ValueError,
        r"finite probe_features, got NaN/inf values",
    ),
    (
        "cmc",
        lambda: metrics.cmc(x(4, 3), class_labels(), x(4, 3), class_labels(), normalize="yes"),
        TypeError,
        r"normalize to be a bool, got str",
    ),
    (
        "CMCAccumulator",
        lambda: metrics.CMCAccumulator(x(4, 3), -torch.ones(4, dtype=torch.long)),
        ValueError,
        r"at least one gallery entry with a label >= 0, got only distractors",
    ),
    (
        "CMCAccumulator",
        lambda: metrics.CMCAccumulator(x(4, 3), class_labels(), ranking="x"),
        ValueError,
        r"ranking to be one of \['image', 'identity'\], got 'x'",
    ),
    (
        "CMCAccumulator",
        lambda: metrics.CMCAccumulator(x(4, 3), class_labels()).compute(),
        ValueError,
        r"at least one evaluated probe, got none",
    ),
    (
        "identity_templates",
        lambda: metrics.identity_templates(x(4, 3), -class_labels() - 1),
        ValueError,
        r"labels >= 0 for identity templates, got negative",
    ),
    (
        "identity_templates",
        lambda: metrics.identity_templates(x(4, 3), class_labels()[:3]),
        ValueError,
        r"labels of shape \(4,\), got shape \(3,\)",
    ),
    (
        "identity_templates",
        lambda: metrics.identity_templates(torch.cat([x(1, 3), -x(1, 3)]), torch.tensor([7, 7])),
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
        lambda: metrics.tpir_at_fpir(x(4, 3), class_labels(), x(4, 3), x(4, 3), class_labels(), 0.1, rank=0),
        ValueError,
        r"rank to be a positive int, got 0",
    ),
    (
        "tpir_at_fpir",
        lambda: metrics.tpir_at_fpir(x(4, 3), class_labels(), x(4, 3), x(4, 3), class_labels(), NAN),
        ValueError,
        r"fpir in \[0, 1\], got \[nan\]",
    ),
    (
        "tpir_at_fpir",
        lambda: metrics.tpir_at_fpir(
            x(4, 3), class_labels(), x(4, 3), x(4, 3), class_labels(), 0.1, gallery="x"
        ),
        ValueError,
        r"gallery to be one of \['image', 'template'\], got 'x'",
    ),
    (
        "unmated_top_scores",
        lambda: metrics.unmated_top_scores(x(4, 3), x(4, 2)),
        ValueError,
        r"gallery_features of shape \(N, 3\) to match the other features, got \(4, 2\)",
    ),
    (
        "unmated_top_scores",
        lambda: metrics.unmated_top_scores(x(4, 3), x(4, 3), max_elements=0),
        ValueError,
        r"max_elements to be a positive int, got 0",
    ),
    (
        "unmated_top_scores",
        lambda: metrics.unmated_top_scores(x(4, 3) * 1e20, x(4, 3) * 1e20, normalize=False),
        ValueError,
        r"finite scores, got NaN/inf: the raw dot products of probe_features and gallery_features overflow",
    ),
    (
        "cmc",
        lambda: metrics.cmc(x(4, 3) * 1e20, class_labels(), x(4, 3) * 1e20, class_labels(), normalize=False),
        ValueError,
        r"raw dot products of probe_features and gallery_features overflow torch.float32",
    ),
    (
        "evaluate_tinyface",
        lambda: metrics.evaluate_tinyface(
            x(4, 3), class_labels(), x(4, 3), class_labels(), flip_fusion="yes"
        ),
        TypeError,
        r"flip_fusion to be a bool, got str",
    ),
    (
        "evaluate_scface",
        lambda: metrics.evaluate_scface(
            x(4, 3), class_labels(), torch.tensor([1, 2, 3, 4]), x(4, 3), class_labels()
        ),
        ValueError,
        r"probe_distances in \{1, 2, 3\}, got \[1, 2, 3, 4\]",
    ),
    (
        "evaluate_survface",
        lambda: metrics.evaluate_survface(
            x(4, 3), class_labels(), x(4, 3), x(4, 3), class_labels(), positive_pairs=(x(4, 3), x(4, 3))
        ),
        ValueError,
        r"both positive_pairs and negative_pairs or neither, got only one",
    ),
    (
        "evaluate_survface",
        lambda: metrics.evaluate_survface(
            x(4, 3),
            class_labels(),
            x(4, 3),
            x(4, 3),
            class_labels(),
            positive_pairs=x(4, 3),
            negative_pairs=x(4, 3),
        ),
        TypeError,
        r"positive_pairs as a pair \(features_a \(N, D\), features_b \(N, D\)\)",
    ),
    (
        "flip_fuse",
        lambda: metrics.flip_fuse(x(4, 3), x(3, 3)),
        ValueError,
        r"flipped_features of shape \(4, 3\), got \(3, 3\)",
    ),
    (
        "flip_fuse",
        lambda: metrics.flip_fuse(x(4, 3), -x(4, 3)),
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
        lambda: metrics.ers_quality(x(4, 3), torch.zeros(3)),
        ValueError,
        r"non-zero ui_center \(a direction\), got the zero vector",
    ),
    (
        "ers_quality",
        lambda: metrics.ers_quality(x(4, 3), torch.tensor([NAN, 1.0, 0.0])),
        ValueError,
        r"finite ui_center, got 1 NaN/inf value",
    ),
    (
        "ers_quality",
        lambda: metrics.ers_quality(torch.cat([x(2, 3), torch.zeros(1, 3)]), torch.ones(3)),
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
        lambda: metrics.crfiqa_quality(x(4, 3), class_labels(), x(2, 3)),
        ValueError,
        r"labels with values in \[0, 2\), got values outside",
    ),
    (
        "crfiqa_quality",
        lambda: metrics.crfiqa_quality(x(4, 3), class_labels(), x(1, 3)),
        ValueError,
        r"prototypes of shape \(C, D\) with C >= 2, got \(1, 3\)",
    ),
    (
        "crfiqa_quality",
        lambda: metrics.crfiqa_quality(x(4, 3), class_labels(), x(3, 3), offset=1.0),
        ValueError,
        r"offset to be a float in \(1, inf\), got 1.0",
    ),
    (
        "crfiqa_quality",
        lambda: metrics.crfiqa_quality(x(4, 3), class_labels(), x(3, 3), offset=0.0),
        ValueError,
        r"offset to be a float in \(1, inf\), got 0.0",
    ),
    (
        "serfiq_quality",
        lambda: metrics.serfiq_quality(torch.nn.Linear(3, 2), x(4, 3)),
        ValueError,
        r"model with at least one dropout module for SER-FIQ, got none",
    ),
    (
        "serfiq_quality",
        lambda: metrics.serfiq_quality(dropout_model(), x(4, 3), passes=1),
        ValueError,
        r"passes to be an int >= 2, got 1",
    ),
    (
        "serfiq_quality",
        lambda: metrics.serfiq_quality("model", x(4, 3)),
        TypeError,
        r"model to be a torch.nn.Module, got str",
    ),
    (
        "serfiq_score",
        lambda: metrics.serfiq_score(x(4, 1, 3)),
        ValueError,
        r"stochastic_embeddings of shape \(B, m, D\) with m >= 2 passes, got shape \(4, 1, 3\)",
    ),
    (
        "serfiq_score",
        lambda: metrics.serfiq_score(torch.ones(4, 2, 3, dtype=torch.int64)),
        TypeError,
        r"floating-point stochastic_embeddings, got dtype torch.int64",
    ),
    (
        "serfiq_score",
        lambda: metrics.serfiq_score(torch.full((4, 2, 3), float("inf"))),
        ValueError,
        r"finite stochastic_embeddings, got NaN/inf",
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
]


test_bad_input_raises_a_clear_error, test_table_covers_every_public_function_and_module = table_tests(
    ROWS, [metrics, ui_cluster], "recognizability.metrics."
)


def test_accumulators_unchanged_by_refused_batches() -> None:
    verification = metrics.VerificationAccumulator()
    verification.update(torch.tensor([0.9, 0.2, 0.8]), torch.tensor([True, False, False]))
    before = verification.roc_curve()
    for scores, mask in ((torch.tensor([NAN]), torch.tensor([True])), (torch.rand(2), torch.tensor([True]))):
        with pytest.raises(ValueError):
            verification.update(scores, mask)
    after = verification.roc_curve()
    assert torch.equal(before.far, after.far) and torch.equal(before.tar, after.tar)

    gallery, labels = x(4, 3), class_labels()
    closed_set = metrics.CMCAccumulator(gallery, labels)
    closed_set.update(gallery[:2], labels[:2])
    result = closed_set.compute()
    with pytest.raises(ValueError, match=r"absent from gallery_labels"):
        closed_set.update(gallery[:2], torch.tensor([0, 9]))
    with pytest.raises(ValueError, match=r"finite probe_features"):
        closed_set.update(torch.full((1, 3), NAN), labels[:1])
    again = closed_set.compute()
    assert again.num_probes == result.num_probes and torch.equal(again.rates, result.rates)
