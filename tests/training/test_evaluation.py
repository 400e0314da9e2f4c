"""End-of-run evaluation: the grid of rejected fractions of the error-versus-reject curves."""

from __future__ import annotations

import torch

from recognizability.training.evaluation import _REJECT_FRACTIONS, _common_reject_fractions


def test_reject_fractions_stop_before_a_pair_class_runs_out() -> None:
    # 10 pairs, 2 genuine
    is_genuine = torch.tensor([False] * 8 + [True] * 2)
    good = torch.arange(10, dtype=torch.float32)  # genuine pairs have the highest quality
    bad = -good  # genuine pairs are rejected first
    assert _common_reject_fractions({"good": good}, is_genuine) == [
        f
        for f in _REJECT_FRACTIONS
        if f <= 7 / 10 - 0.05  # last impostor at position 7 of 0..9
    ]
    # with "bad", rejecting 2 of 10 removes every genuine pair; the grid for both scores stops one step
    # before the last fraction that keeps one (0.1)
    assert _common_reject_fractions({"good": good, "bad": bad}, is_genuine) == [0.0, 0.05]
