"""Table 5 as data (each column in its benchmark's spec), the MobileFaceNet variant and the CPU demo."""

from __future__ import annotations

import pytest

from recognizability.training import demo_config, paper_config
from recognizability.training.config import get_benchmark

# Supplement Table 5, typed in from the table (batch, epochs, lr BB/RM/PAM/PRM, decay epoch, dropout BB, wd).
TABLE5 = {
    "tinyface": (64, 15, (1e-5, 1e-3, 1e-3, 1e-4), 12, 0.2, 1e-4),
    "scface": (64, 6, (1e-5, 1e-3, 1e-3, 1e-4), 12, 0.2, 1e-4),
    "survface": (100, 30, (1e-5, 5e-4, 1e-3, 1e-4), 6, 0.4, 1e-3),
}


@pytest.mark.parametrize("dataset", sorted(TABLE5))
def test_paper_config_matches_table5(dataset: str) -> None:
    batch, epochs, lrs, decay, dropout, wd = TABLE5[dataset]
    c = paper_config(dataset)
    assert (c.data.batch_size, c.optim.epochs, c.optim.lr_decay_epoch) == (batch, epochs, decay)
    assert (c.model.backbone_dropout, c.optim.weight_decay) == (dropout, wd)
    lr = c.optim.lr
    assert (lr.backbone, lr.recognition, lr.attention, lr.regression) == lrs
    assert get_benchmark(dataset).table5.lr == lr
    assert (c.head.name, c.head.scale, c.head.margin) == ("arcface", 64.0, 0.45)
    assert (c.loss.regression_weight, c.loss.diversion_weight, c.loss.attention_weight) == (5.0, 2.0, 1.0)
    assert (
        c.loss.regression_dropout == 0.9 and c.optim.lr_decay_factor == 0.1 and c.loss.smooth_l1_beta == 0.75
    )
    assert c.model.input_size == 112 and c.model.backbone == "iresnet50" and c.model.freeze_batchnorm
    assert c.run.mode == "paper" and c.run.dataset == dataset


@pytest.mark.parametrize("dataset", sorted(TABLE5))
def test_mobilefacenet_learning_rates(dataset: str) -> None:
    c = paper_config(dataset, backbone="mobilefacenet")
    assert (c.optim.lr.backbone, c.optim.lr.recognition, c.optim.lr.attention) == (1e-4, 1e-3, 1e-2)
    assert c.optim.lr.regression == paper_config(dataset).optim.lr.regression
    assert c.data.batch_size == TABLE5[dataset][0]


def test_lr_decay_counts_epochs_from_one() -> None:
    optim = paper_config("tinyface").optim  # x0.1 from the 12th epoch
    assert [optim.lr_multiplier(e) for e in range(10, 13)] == [1.0, 0.1, 0.1]


def test_demo_is_declared_as_such() -> None:
    c = demo_config("tinyface")
    assert c.run.mode == "demo" and "NOT the paper's" in c.run.description
    assert (c.model.backbone, c.model.input_size, c.model.freeze_batchnorm) == ("small_vlr_net", 32, True)
    # the paper's protocol: fine-tune a backbone pretrained on clean faces
    assert c.model.pretrained == "synthetic-hr"
