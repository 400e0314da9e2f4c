"""The fit-quality evidence agrees everywhere it is shown: the per-seed records follow the protocol of
docs/quality.md (synthetic, five seeds, every score), and the page's tables are the records' tables."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest

from tests.helpers.paths import BENCHMARKS, REPO, load_script

RESULTS = REPO / "benchmarks" / "results" / "quality_evidence.json"
DOC = REPO / "docs" / "quality.md"
BEGIN, END = "<!-- tables of benchmarks/results/quality_evidence.json -->", "<!-- end of tables -->"


def _script() -> ModuleType:
    return load_script(BENCHMARKS / "quality_evidence.py", "quality_evidence_script")


@pytest.fixture(scope="module")
def results() -> dict[str, object]:
    if not RESULTS.is_file():
        pytest.fail(f"expected the per-seed records at {RESULTS}")
    data: dict[str, object] = json.loads(RESULTS.read_text())
    return data


def test_records_follow_the_protocol(results: dict[str, object]) -> None:
    script = _script()
    assert results["synthetic"] is True and results["tree"] == "evidence"
    records = results["records"]
    assert isinstance(records, list) and sorted(r["seed"] for r in records) == [0, 1, 2, 3, 4]
    for record in records:
        assert set(record["figures"]) == set(script.SCORES)
        for figures in record["figures"].values():
            assert set(figures) == set(script.FIGURES)
        assert record["costs"]["cached_pass_images_read"] == 0
        assert record["costs"]["serfiq_passes"] == 100


def test_doc_tables_are_the_records_tables(results: dict[str, object]) -> None:
    text = DOC.read_text()
    assert BEGIN in text and END in text
    shown = text[text.index(BEGIN) + len(BEGIN) : text.index(END)].strip()
    assert shown == _script().tables(results).strip()


def test_quick_run_of_the_script(tmp_path: Path) -> None:
    pytest.importorskip("PIL")
    script = _script()
    assert script.main(["--quick", "--out", str(tmp_path / "out"), "--work", str(tmp_path / "work")]) == 0
    quick = json.loads((tmp_path / "out" / "quality_evidence.json").read_text())
    assert quick["tree"] == "quick" and len(quick["records"]) == 1
    assert "SYNTHETIC" in script.tables(quick)
