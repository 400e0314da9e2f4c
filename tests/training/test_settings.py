"""Table 5 as data: every figure of the supplement's table, the MobileFaceNet variant, validation."""

from __future__ import annotations

import dataclasses

import pytest

from recognizability.training.settings import (
    LearningRates,
    TrainingSettings,
    cpu_demo_settings,
    paper_settings,
)

# Supplement Table 5, typed in from the table (batch, epochs, lr BB/RM/PAM/PRM, decay epoch, dropout BB, wd).
TABLE5 = {
    "tinyface": (64, 15, (1e-5, 1e-3, 1e-3, 1e-4), 12, 0.2, 1e-4),
    "scface": (64, 6, (1e-5, 1e-3, 1e-3, 1e-4), 12, 0.2, 1e-4),
    "survface": (100, 30, (1e-5, 5e-4, 1e-3, 1e-4), 6, 0.4, 1e-3),
}


@pytest.mark.parametrize("dataset", sorted(TABLE5))
def test_paper_settings_match_table5(dataset: str) -> None:
    batch, epochs, lrs, decay, dropout, wd = TABLE5[dataset]
    s = paper_settings(dataset)
    assert (s.batch_size, s.epochs, s.lr_decay_epoch, s.backbone_dropout, s.weight_decay) == (
        batch,
        epochs,
        decay,
        dropout,
        wd,
    )
    assert (s.lr.backbone, s.lr.recognition, s.lr.attention, s.lr.regression) == lrs
    assert (s.scale, s.margin) == (64.0, 0.45)
    assert (s.regression_weight, s.diversion_weight, s.attention_weight) == (5.0, 2.0, 1.0)
    assert s.regression_dropout == 0.9 and s.lr_decay_factor == 0.1 and s.smooth_l1_beta == 0.75
    assert s.input_size == 112 and s.backbone == "iresnet50" and s.freeze_batchnorm


@pytest.mark.parametrize("dataset", sorted(TABLE5))
def test_mobilefacenet_learning_rates(dataset: str) -> None:
    s = paper_settings(dataset, backbone="mobilefacenet")
    assert (s.lr.backbone, s.lr.recognition, s.lr.attention) == (1e-4, 1e-3, 1e-2)
    assert s.lr.regression == paper_settings(dataset).lr.regression
    assert s.batch_size == TABLE5[dataset][0]


def test_lr_decay_counts_epochs_from_one() -> None:
    s = paper_settings("tinyface")  # x0.1 from the 12th epoch
    assert [s.lr_multiplier(e) for e in range(10, 13)] == [1.0, 0.1, 0.1]


def test_round_trip_and_loss_switches() -> None:
    s = cpu_demo_settings("tinyface").with_losses(["id", "l1"])
    assert s.losses == ("id", "l1") and not s.use_attention
    assert TrainingSettings.from_dict(s.to_dict()) == s
    assert cpu_demo_settings("scface").with_losses([]).losses == ()
    with pytest.raises(ValueError, match="loss terms"):
        s.with_losses(["ce"])


def test_frozen_and_validated() -> None:
    s = cpu_demo_settings("survface")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.epochs = 3  # type: ignore[misc]
    with pytest.raises(ValueError, match="dataset"):
        paper_settings("lfw")
    with pytest.raises(ValueError, match="batch_size"):
        s.replace(batch_size=0)
    with pytest.raises(ValueError, match="backbone_dropout"):
        s.replace(backbone_dropout=1.5)
    with pytest.raises(ValueError, match="learning rate attention"):
        LearningRates(1e-3, 1e-3, -1.0, 1e-3)
    with pytest.raises(ValueError, match="unknown keys"):
        TrainingSettings.from_dict({**s.to_dict(), "lr_typo": 1})
