"""The README's promises: its training-step snippet runs as written, and CI runs its test command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def test_readme_snippet_runs_and_trains(capsys: pytest.CaptureFixture[str]) -> None:
    (snippet,) = _blocks("python")
    torch.manual_seed(0)
    namespace: dict[str, object] = {"__name__": "__readme__"}
    exec(compile(snippet, "README.md", "exec"), namespace)
    losses = namespace["losses"]
    total = losses.total  # type: ignore[attr-defined]
    assert torch.isfinite(total)
    printed = capsys.readouterr().out
    for term in ("total", "cls", "L1", "ID", "MSE"):
        assert term in printed
    # Every trainable piece of the method received a gradient from the one backward pass.
    for name in ("backbone", "head", "criterion"):
        module = namespace[name]
        grads = [p.grad for p in module.parameters() if p.requires_grad]  # type: ignore[attr-defined]
        assert grads and all(g is not None for g in grads), name


def test_ci_runs_the_readme_test_command() -> None:
    commands = [block.strip() for block in _blocks("bash")]
    test_command = next(c for c in commands if "pytest" in c)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci.splitlines()
