"""The training commands: declared in pyproject.toml's [project.scripts], and runnable with ``python -m``
without runpy's warning about a module imported twice."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = {
    "recognizability-plots": "recognizability.training.plots:main",
}


def test_console_commands_are_declared_and_resolve() -> None:
    tomllib = pytest.importorskip("tomllib")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert {k: scripts.get(k) for k in COMMANDS} == COMMANDS
    for target in COMMANDS.values():
        module, _, function = target.partition(":")
        main = getattr(importlib.import_module(module), function)
        with pytest.raises(SystemExit) as stop:
            main(["--help"])
        assert stop.value.code == 0


@pytest.mark.parametrize(
    "module",
    ["recognizability.training.plots", "recognizability.training.pretrain", "recognizability.deploy.cli"],
)
def test_python_m_runs_without_a_double_import(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-m", module, "--help"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout


def test_the_retired_predict_command_is_declared_and_says_what_replaces_it() -> None:
    tomllib = pytest.importorskip("tomllib")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["recognizability-predict"] == "recognizability.deploy.cli:predict_main"
