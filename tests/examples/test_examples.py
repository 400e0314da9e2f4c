"""Each example script runs a tiny configuration end to end (synthetic data, 1 epoch, 2 steps) via main(argv)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from recognizability.training import REPORT_FIELDS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["tinyface", "scface", "survface"])
def test_example_runs_end_to_end(dataset: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECOGNIZABILITY_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    argv = ["--out", str(out), "--epochs", "1", "--max-steps", "2", "--batch-size", "16", "--quiet",
            "--no-plots", "--no-baseline", "--device", "cpu"]  # fmt: skip
    assert _load(f"train_{dataset}").main(argv) == 0
    report = json.loads((out / "full" / "report.json").read_text())
    assert set(REPORT_FIELDS) <= set(report)
    assert report["data"]["provenance"] == "synthetic"
    assert report["settings"]["losses"] == ["id", "mse", "l1"]
    assert report["protocol"], report
    for method in ("learned_index", "ers", "magface_norm", "crfiqa"):
        assert method in report["quality"]
    assert (out / "full" / "last.pt").is_file()
