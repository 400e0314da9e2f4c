"""The typed configuration: modules are built from its fields (none is dropped on the way), it round-trips
through JSON, it reads the settings of release 0.1.0's checkpoints, and it refuses bad values."""

from __future__ import annotations

import dataclasses
import json

import pytest

from recognizability.nn import RecognizabilityLoss
from recognizability.training import (
    LossConfig,
    TrainingConfig,
    build_criterion,
    build_modules,
    demo_config,
    paper_config,
)
from tests.helpers.paths import TEST_DATA

LEGACY = json.loads((TEST_DATA / "checkpoints" / "legacy_v0_1_0.json").read_text())

# A value for every loss field that differs from its default, so a field that does not reach the criterion
# shows up as the default.
CHANGED = {
    "tau": 1.7,
    "regression_weight": 3.5,
    "diversion_weight": 0.25,
    "attention_weight": 4.0,
    "smooth_l1_beta": 0.33,
    "regression_dropout": 0.55,
    "use_regression": False,
    "use_diversion": False,
    "use_attention": False,
    "index_gradient": True,
    "detach_regression_input": True,
}


def test_every_loss_field_reaches_the_criterion() -> None:
    assert set(CHANGED) == {f.name for f in dataclasses.fields(LossConfig)}
    config = demo_config("tinyface").replace(embedding_dim=16, pretrained=None, **CHANGED)
    for criterion in (
        build_criterion(config, build_modules(config, 4).backbone),
        build_modules(config, 4).criterion,
    ):
        assert isinstance(criterion, RecognizabilityLoss)
        for name, value in CHANGED.items():
            if name == "tau":
                got = criterion.diversion.tau
            elif name == "regression_dropout":
                got = criterion.regression.dropout
            else:
                got = getattr(criterion, name)
            assert got == value, name


def test_head_fields_reach_the_head() -> None:
    config = demo_config("scface").replace(embedding_dim=16, pretrained=None, scale=30.0, margin=0.2)
    head = build_modules(config, 5).head
    assert (head.scale, head.margin, tuple(head.weight.shape)) == (30.0, 0.2, (5, 16))


def test_round_trip_and_loss_switches() -> None:
    c = demo_config("tinyface").with_losses(["id", "l1"])
    assert c.losses == ("id", "l1") and not c.loss.use_attention
    assert TrainingConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    assert demo_config("scface").with_losses([]).losses == ()
    with pytest.raises(ValueError, match="loss terms"):
        c.with_losses(["ce"])


def test_release_0_1_0_settings_are_read_field_for_field() -> None:
    # settings written by release 0.1.0's save_checkpoint (tests/data/checkpoints/legacy_v0_1_0.json)
    flat = LEGACY["settings"]
    config = TrainingConfig.from_dict(flat)
    assert config.run.mode == "demo" and config.head.name == "arcface"
    written = config.to_dict()
    assert {k: written[k] for k in flat} == flat  # every 0.1.0 field kept its name and value
    assert set(written) - set(flat) == {
        "mode",
        "name",
        "parallel",
        "index_gradient",
        "detach_regression_input",
    }
    assert written["parallel"] == "none"  # 0.1.0 had the dense head only
    paper = {**flat, "description": "paper configuration (Table 5, tinyface, iresnet50 at 112x112)"}
    assert TrainingConfig.from_dict(paper).run.mode == "paper"


def test_replace_by_path_or_unique_name() -> None:
    c = demo_config("tinyface")
    assert c.replace(**{"optim.epochs": 3}).optim.epochs == 3 == c.replace(epochs=3).optim.epochs
    with pytest.raises(ValueError, match="expected a field of TrainingConfig"):
        c.replace(epoch=3)
    with pytest.raises(ValueError, match="unknown keys"):
        TrainingConfig.from_dict({**c.to_dict(), "lr_typo": 1})
    with pytest.raises(ValueError, match="fields"):
        TrainingConfig.from_dict({k: v for k, v in c.to_dict().items() if k != "batch_size"})


def test_frozen_and_validated() -> None:
    c = demo_config("survface")
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.optim.epochs = 3  # type: ignore[misc]
    with pytest.raises(ValueError, match="dataset"):
        paper_config("lfw")
    with pytest.raises(ValueError, match="batch_size"):
        c.replace(batch_size=0)
    with pytest.raises(ValueError, match="backbone_dropout"):
        c.replace(backbone_dropout=1.5)
    with pytest.raises(ValueError, match="mode"):
        c.replace(mode="fast")
    with pytest.raises(TypeError, match="use_attention"):
        c.replace(use_attention=1)
    with pytest.raises(ValueError, match="learning rate attention"):
        dataclasses.replace(c.optim.lr, attention=-1.0)
