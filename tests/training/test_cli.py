"""The command line of the example scripts: the options of release 0.1.0 under the same names, configuration
options derived from the configuration's fields, the runs it plans, the synthetic size options."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pytest
import torch

from recognizability.backbones import create_backbone
from recognizability.training import TrainingConfig, build_backbone, demo_config, parse_args
from recognizability.training.cli import _synthetic_sizes, build_parser, choose_config
from recognizability.training.config import describe
from tests.helpers.usage import UsageError, run_command

# Every option of release 0.1.0's parser (recognizability/training/cli.py at 0.1.0), plus --overwrite.
OPTIONS_0_1_0 = {
    "--data-root", "--ui-root", "--config", "--backbone", "--pretrained", "--device", "--amp", "--no-amp",
    "--compile", "--losses", "--no-baseline", "--tau", "--ui-statistics", "--epochs", "--batch-size",
    "--lr-decay-epoch", "--max-steps", "--seed", "--synthetic-seed", "--synthetic-size", "--threads", "--out",
    "--resume", "--no-plots", "--quiet",
}  # fmt: skip


def _weights(tmp: Path, backbone: str = "mobilefacenet") -> Path:
    """A file of ``backbone``'s weights for --pretrained (read and checked against the backbone while
    parsing); ``"demo"``: the CPU demo's backbone."""
    path = tmp / f"{backbone}.pth"
    if backbone == "demo":
        model = build_backbone(dataclasses.replace(demo_config("tinyface").model, pretrained=None))
    else:
        model = create_backbone(backbone)
    torch.save(model.state_dict(), path)
    return path


def test_options_keep_their_names() -> None:
    flags = {s for action in build_parser("tinyface")._actions for s in action.option_strings}
    assert OPTIONS_0_1_0 | {"--overwrite"} <= flags
    derived = {o.flag for o in TrainingConfig.options()}
    assert derived == {"--backbone", "--pretrained", "--freeze-batchnorm", "--tau", "--ui-statistics",
                       "--epochs", "--batch-size", "--lr-decay-epoch", "--max-steps", "--seed", "--head",
                       "--scale", "--margin", "--head-parallel", "--index-gradient",
                       "--detach-regression-input"}  # fmt: skip


def test_options_replace_the_fields_they_name(tmp_path: Path) -> None:
    argv = ["--epochs", "3", "--tau", "0.5", "--ui-statistics", "--max-steps", "2", "--batch-size", "8",
            "--seed", "4", "--out", str(tmp_path)]  # fmt: skip
    arguments = parse_args("scface", argv)
    config = arguments.config
    assert config.run.mode == "demo"
    assert (config.optim.epochs, config.loss.tau, config.ui.ui_statistics) == (3, 0.5, True)
    assert (config.run.max_steps_per_epoch, config.data.batch_size, config.run.seed) == (2, 8, 4)
    weights = ["--backbone", "mobilefacenet", "--pretrained", str(_weights(tmp_path))]
    paper = parse_args("scface", ["--config", "paper", *weights]).config
    assert paper.run.mode == "paper" and paper.optim.lr.attention == 1e-2  # MobileFaceNet's Table 5 rates
    assert paper.model.backbone == "mobilefacenet" and paper.model.pretrained == weights[3]
    assert parse_args("tinyface", ["--data-root", str(tmp_path), *weights]).config.run.mode == "paper"
    # parsed for the CPU: the weights are checked against the demo's backbone
    demo_weights = ["--device", "cpu", "--pretrained", str(_weights(tmp_path, "demo"))]
    demo = parse_args("tinyface", demo_weights).config
    assert demo.run.mode == "demo"  # no GPU, no --data-root
    # the configuration line says what is loaded: the file, not the shipped weights it replaces
    assert f"initialised from {demo_weights[3]}" in demo.run.description
    assert "shipped" not in demo.run.description and "synthetic hr" not in demo.run.description
    assert "pretrained on the synthetic hr set" in parse_args("tinyface", []).config.run.description
    assert "from random initialisation" in describe(demo_config("tinyface").replace(pretrained=None))
    assert choose_config("tinyface", "auto", gpu=True, real_data=False, overrides={}).run.mode == "paper"
    untouched = parse_args("tinyface", []).config
    assert untouched == parse_args("tinyface", []).config.replace(seed=0)


def test_planned_runs() -> None:
    demo = parse_args("tinyface", [])
    assert {k: v.losses for k, v in demo.runs.items()} == {"arcface": (), "full": ("id", "mse", "l1")}
    assert list(parse_args("tinyface", ["--no-baseline"]).runs) == ["full"]
    one = parse_args("tinyface", ["--losses", "id,l1"])
    assert {k: v.losses for k, v in one.runs.items()} == {"arcface+id+l1": ("id", "l1")}
    paper = parse_args("tinyface", ["--config", "paper", "--no-freeze-batchnorm"])
    assert list(paper.runs) == ["full"]
    with pytest.raises(UsageError, match="--losses: expected terms"):
        run_command(lambda argv: parse_args("tinyface", argv), ["--losses", "ce"])


def test_synthetic_size_options_route_ui_keys() -> None:
    sizes, ui = _synthetic_sizes(["train_images=64", "face_images=20", "nonface_images=2"])
    assert sizes == {"train_images": 64} and ui == {"face_images": 20, "nonface_images": 2}
    with pytest.raises(ValueError, match="KEY=N"):
        _synthetic_sizes(["train_images"])


def test_help_texts_name_the_head_and_every_output_option() -> None:
    actions = {flag: action for action in build_parser("tinyface")._actions for flag in action.option_strings}
    assert "margin head (--head)" in str(actions["--losses"].help) and "ArcFace" not in str(
        actions["--losses"].help
    )
    for flag in ("--no-plots", "--no-progress", "--vector", "--threads"):
        assert actions[flag].help, flag
    assert actions["--quiet"].help == argparse.SUPPRESS  # the name of earlier releases, hidden
