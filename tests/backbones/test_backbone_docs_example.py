"""The examples in docs/checkpoints.md run: loading checkpoints written in both public formats, then the
shipped pretrained weights."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from recognizability.backbones import adaface_ir50, iresnet50

DOC = Path(__file__).resolve().parents[2] / "docs" / "checkpoints.md"


def _example_blocks() -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    assert len(blocks) == 2, "docs/checkpoints.md should hold two python examples (loading, shipped weights)"
    return [str(block) for block in blocks]


def test_docs_loading_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    # checkpoints as the projects write them: arcface_torch a plain state dict, AdaFace a Lightning .ckpt
    torch.save(iresnet50().state_dict(), tmp_path / "backbone.pth")
    ada = {f"model.{k}": v for k, v in adaface_ir50().state_dict().items()}
    ada["head.kernel"] = torch.randn(512, 4)
    torch.save({"epoch": 1, "state_dict": ada}, tmp_path / "adaface_ir50_ms1mv2.ckpt")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for block in _example_blocks():  # in the order a reader runs them
        exec(compile(block, str(DOC), "exec"), namespace)
    out = namespace["out"]
    assert out.feature_map.shape == (2, 512, 7, 7)  # type: ignore[attr-defined]
    assert out.embedding.shape == (2, 512)  # type: ignore[attr-defined]
    assert namespace["embedding"].shape == (2, 512)  # type: ignore[attr-defined]
    backbone = namespace["backbone"]
    assert backbone.embedding_dim == 128 and backbone.input_size == (32, 32)  # type: ignore[attr-defined]
