"""End-of-run evaluation: the grid of rejected fractions of the error-versus-reject curves."""

from __future__ import annotations

import torch

from recognizability.functional import cosine_logits
from recognizability.functional.margin_heads import positive_and_nearest_negative_cosine
from recognizability.metrics import spearman_correlation
from recognizability.nn.certainty_ratio import certainty_ratio
from recognizability.training.report.evaluation import (
    _REJECT_FRACTIONS,
    _fit_crfiqa_branch,
    _full_prototypes,
    common_reject_fractions,
)


def test_reject_fractions_stop_before_a_pair_class_runs_out() -> None:
    # 10 pairs, 2 genuine
    is_genuine = torch.tensor([False] * 8 + [True] * 2)
    good = torch.arange(10, dtype=torch.float32)  # genuine pairs have the highest quality
    bad = -good  # genuine pairs are rejected first
    assert common_reject_fractions({"good": good}, is_genuine) == [
        f
        for f in _REJECT_FRACTIONS
        if f <= 7 / 10 - 0.05  # last impostor at position 7 of 0..9
    ]
    # with "bad", rejecting 2 of 10 removes every genuine pair; the grid for both scores stops one step
    # before the last fraction that keeps one (0.1)
    assert common_reject_fractions({"good": good, "bad": bad}, is_genuine) == [0.0, 0.05]


def test_the_crfiqa_branch_learns_the_certainty_ratio_of_the_training_faces() -> None:
    generator = torch.Generator().manual_seed(0)
    prototypes = torch.randn(6, 8, generator=generator)
    labels = torch.arange(60) % 6
    # embeddings near their prototype by a varying amount: the certainty ratio varies with it
    noise = torch.randn(60, 8, generator=generator) * torch.linspace(0.1, 3.0, 60)[:, None]
    v = prototypes[labels] + noise
    branch = _fit_crfiqa_branch(v, labels, prototypes, seed=0)
    target = certainty_ratio(*positive_and_nearest_negative_cosine(cosine_logits(v, prototypes), labels))

    def loss(prediction: torch.Tensor) -> float:  # CR-FIQA's loss: smooth L1, beta 0.5
        return float(torch.nn.functional.smooth_l1_loss(prediction, target, beta=0.5))

    # the best linear map by least squares: the fitted branch is at least as good in its own loss
    x = torch.cat([v, torch.ones(60, 1)], dim=1).double()
    least_squares = (x @ torch.linalg.lstsq(x, target.double()[:, None]).solution).squeeze(1).float()
    with torch.no_grad():
        predicted = branch(v)
    assert loss(predicted) <= loss(least_squares) * 1.001
    assert loss(predicted) < 0.7 * loss(torch.full_like(target, float(target.mean())))
    assert spearman_correlation(predicted, target) > 0.5
    again = _fit_crfiqa_branch(v, labels, prototypes, seed=0)
    assert torch.equal(again.linear.weight, branch.linear.weight)  # seeded: the same fit every time


def test_full_prototypes_only_when_the_head_holds_every_class() -> None:
    head = torch.nn.Linear(4, 6, bias=False)  # weight (6, 4): a (C, D) prototype matrix for C = 6
    assert _full_prototypes(head, 6) is not None
    assert _full_prototypes(head, 12) is None  # a shard of a 12-class head
    assert _full_prototypes(torch.nn.Identity(), 6) is None
