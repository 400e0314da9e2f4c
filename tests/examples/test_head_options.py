"""``--head``, ``--scale``, ``--margin`` and ``--head-parallel`` of the example scripts: derived from
``HeadConfig``, parsed into the configuration, and the runs named by the head."""

from __future__ import annotations

from pathlib import Path

import pytest

from recognizability.nn import available_heads
from recognizability.training import parse_args
from recognizability.training.cli import build_parser
from recognizability.training.config import HEAD_PARALLEL, HeadConfig


def _config(tmp_path: Path, *argv: str) -> HeadConfig:
    return parse_args("tinyface", [*argv, "--out", str(tmp_path)]).config.head


def test_the_default_is_the_papers_arcface(tmp_path: Path) -> None:
    assert _config(tmp_path) == HeadConfig(name="arcface", scale=64.0, margin=0.45, parallel="none")


@pytest.mark.parametrize("name", available_heads())
def test_head_takes_its_own_papers_scale_and_margin(tmp_path: Path, name: str) -> None:
    head = _config(tmp_path, "--head", name)
    expected = HeadConfig(name=name, scale=64.0, margin=0.45) if name == "arcface" else HeadConfig(name=name)
    assert head == expected


def test_scale_and_margin_given_explicitly_are_kept(tmp_path: Path) -> None:
    head = _config(tmp_path, "--head", "cosface", "--scale", "30", "--margin", "0.2")
    assert (head.name, head.scale, head.margin) == ("cosface", 30.0, 0.2)
    assert _config(tmp_path, "--margin", "0.5").margin == 0.5  # ArcFace's m


def test_magface_refuses_a_single_margin(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        _config(tmp_path, "--head", "magface", "--margin", "0.5")
    assert stop.value.code == 2 and "margin None with the head 'magface'" in capsys.readouterr().err


@pytest.mark.parametrize("parallel", HEAD_PARALLEL)
def test_head_parallel_is_parsed(tmp_path: Path, parallel: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if parallel == "sharded":  # a usage error without torchrun (tests/training/test_distributed_heads.py)
        monkeypatch.setenv("RANK", "0")
        monkeypatch.setenv("WORLD_SIZE", "1")
    assert _config(tmp_path, "--head-parallel", parallel).parallel == parallel


def test_every_margin_head_takes_head_parallel(tmp_path: Path) -> None:
    assert _config(tmp_path, "--head", "adaface", "--head-parallel", "chunked").parallel == "chunked"


@pytest.mark.parametrize(("flag", "value"), [("--head", "softmax"), ("--head-parallel", "dense")])
def test_unknown_choices_are_refused_with_the_choices(
    flag: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parse_args("tinyface", [flag, value])
    assert "invalid choice" in capsys.readouterr().err


def test_help_lists_the_heads() -> None:
    text = build_parser("scface").format_help()
    assert "{arcface,cosface,adaface,curricularface,magface}" in text
    assert "{none,chunked,sharded}" in text


def test_runs_are_named_by_the_head(tmp_path: Path) -> None:
    arguments = parse_args("tinyface", ["--head", "adaface", "--out", str(tmp_path)])
    runs = arguments.runs
    assert list(runs) == ["adaface", "full"]  # the demo's baseline is the head alone
    assert all(config.head.name == "adaface" for config in runs.values())
    assert runs["adaface"].losses == ()
    one = parse_args("tinyface", ["--head", "cosface", "--losses", "id,mse", "--out", str(tmp_path)])
    assert list(one.runs) == ["cosface+id+mse"]
