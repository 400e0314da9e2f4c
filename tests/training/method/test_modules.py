"""The modules of Fig. 2 built from the configuration, and Adam's per-module groups (Table 5)."""

from __future__ import annotations

import json

import pytest

from recognizability.nn import ArcFace, available_heads
from recognizability.training import TrainingConfig, build_head, build_modules, demo_config, parameter_groups
from recognizability.training.config import HeadConfig
from tests.helpers.paths import TEST_DATA

LEGACY = json.loads((TEST_DATA / "checkpoints" / "legacy_v0_1_0.json").read_text())


def _config() -> TrainingConfig:
    return demo_config("tinyface").replace(embedding_dim=32, pretrained=None)


def test_parameter_groups_partition_the_modules_with_table5_rates() -> None:
    config = _config()
    model = build_modules(config, 8)
    c = model.criterion
    groups = parameter_groups(
        config.optim, backbone=model.backbone, recognition=model.head, attention=c.attention,
        regression=c.regression,
    )  # fmt: skip
    assert [g["name"] for g in groups] == ["backbone", "recognition", "attention", "regression"]
    assert [g["lr"] for g in groups] == [2e-4, 2e-3, 2e-3, 2e-4]
    grouped = [id(p) for g in groups for p in g["params"]]
    trainable = [id(p) for p in model.parameters() if p.requires_grad]
    assert sorted(grouped) == sorted(trainable) and len(set(grouped)) == len(grouped)
    assert groups[1]["params"] == [model.head.weight]
    with pytest.raises(ValueError, match="one module for each"):
        parameter_groups(config.optim, backbone=model.backbone)
    with pytest.raises(ValueError, match="sharing parameters"):
        parameter_groups(
            config.optim, backbone=model.backbone, recognition=model.backbone, attention=c.attention,
            regression=c.regression,
        )  # fmt: skip


def test_heads_are_built_by_name() -> None:
    config = _config()
    head = build_head(config.head, 32, 5)
    assert isinstance(head, ArcFace)
    assert available_heads() == ("arcface", "cosface", "adaface", "curricularface", "magface")
    with pytest.raises(ValueError, match="expected head to be one of"):
        HeadConfig(name="softmax")


def test_checkpoint_layout_is_release_0_1_0s() -> None:
    # the state-dict keys of a checkpoint written by release 0.1.0 (tests/data/checkpoints/legacy_v0_1_0.json)
    model = build_modules(TrainingConfig.from_dict(LEGACY["settings"]), 4)
    assert sorted(model.state_dict()) == LEGACY["model_keys"]
