"""The ablation's evidence agrees everywhere it is shown: the per-seed records, the tables of docs/ablation.md
and the summary the CPU demo prints (shipped in the package)."""

from __future__ import annotations

import json
from types import ModuleType

import pytest

from recognizability.training.report.evidence import ablation_summary, evidence_lines
from tests.helpers.paths import BENCHMARKS, REPO, load_script

RESULTS = REPO / "benchmarks" / "results" / "ablation.json"
DOC = REPO / "docs" / "ablation.md"
BEGIN, END = "<!-- tables of benchmarks/results/ablation.json -->", "<!-- end of tables -->"


def _ablation_script() -> ModuleType:
    return load_script(BENCHMARKS / "ablation.py", "ablation_script")


@pytest.fixture(scope="module")
def results() -> dict[str, object]:
    if not RESULTS.is_file():
        pytest.fail(f"expected the per-seed records at {RESULTS}")
    data: dict[str, object] = json.loads(RESULTS.read_text())
    return data


def test_records_are_paired_synthetic_and_five_seeds(results: dict[str, object]) -> None:
    records = results["records"]
    assert results["synthetic"] is True and results["tree"] == "evidence"
    assert isinstance(records, list)
    seeds_by_row: dict[str, set[int]] = {}
    for record in records:
        seeds_by_row.setdefault(record["row"], set()).add(record["seed"])
    assert seeds_by_row["ArcFace"] == seeds_by_row["all"] and len(seeds_by_row["all"]) >= 5


def test_doc_tables_are_the_records_tables(results: dict[str, object]) -> None:
    text = DOC.read_text()
    assert BEGIN in text and END in text
    shown = text[text.index(BEGIN) + len(BEGIN) : text.index(END)].strip()
    assert shown == _ablation_script().tables(results["records"]).strip()


def test_shipped_summary_is_the_records_summary(results: dict[str, object]) -> None:
    assert ablation_summary() == _ablation_script().summary(results)
    lines = evidence_lines()
    assert lines and "synthetic" in lines[0] and any(line.strip().startswith("all") for line in lines)


def test_the_earlier_labs_tables_are_its_records() -> None:
    # the generator-version-1 (cartoon) records kept beside the current ones, and their tables in the docs
    earlier = json.loads((REPO / "benchmarks" / "results" / "ablation_v1.json").read_text())
    assert earlier["generator_version"] == 1 and earlier["synthetic"] is True
    text = DOC.read_text()
    begin, end = "<!-- tables of benchmarks/results/ablation_v1.json -->", "<!-- end of v1 tables -->"
    shown = text[text.index(begin) + len(begin) : text.index(end)].strip()
    assert shown == _ablation_script().tables(earlier["records"]).strip()


def test_the_records_name_the_generator_version_of_their_faces(results: dict[str, object]) -> None:
    from recognizability.data.synthetic import GENERATOR_VERSION

    assert results["generator_version"] == GENERATOR_VERSION
    assert results["rows"] and "placebo (L1, detached)" in results["rows"]  # type: ignore[operator]
