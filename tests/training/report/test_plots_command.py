"""The recognizability-plots command: a run's figures redrawn beside its report (in place) or into --out
(never replacing a file unasked), several reports compared on one set of axes with seeds pooled by run folder,
vector copies, and usage errors that name the option."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recognizability.training.plots import main
from tests.helpers.figures import run_report
from tests.helpers.usage import UsageError, run_command

pytest.importorskip("matplotlib")


def _write(folder: Path, **options: object) -> Path:
    folder.mkdir(parents=True)
    path = folder / "report.json"
    path.write_text(json.dumps(run_report(**options)))  # type: ignore[arg-type]
    return path


def test_redraws_beside_the_report_and_compares_runs(tmp_path: Path) -> None:
    arcface = _write(tmp_path / "seed0" / "arcface", losses=())
    full = [_write(tmp_path / f"seed{s}" / "full") for s in (0, 1)]
    assert main([str(full[0])]) == 0 and main([str(full[0])]) == 0  # a run's own figures: redrawn in place
    assert (full[0].parent / "erc.png").is_file()
    comparison = tmp_path / "comparison.png"
    assert main([str(arcface), *map(str, full), "--comparison", str(comparison), "--runs-only",
                 "--vector", "svg"]) == 0  # fmt: skip
    assert comparison.is_file() and comparison.with_suffix(".svg").is_file()
    assert not (full[1].parent / "erc.png").exists()  # --runs-only: no run figures
    out = tmp_path / "out"
    assert main([str(arcface), str(full[0]), "--out", str(out)]) == 0
    assert (out / "arcface" / "cmc.png").is_file() and (out / "full" / "index_vs_ui_distance.png").is_file()
    assert not (out / "arcface" / "index_vs_ui_distance.png").exists()  # no L_L1, no learned index


def test_nothing_in_out_is_replaced_unasked_and_bad_input_is_a_usage_error(tmp_path: Path) -> None:
    report = _write(tmp_path / "run")
    out = tmp_path / "out"
    assert main([str(report), "--out", str(out)]) == 0
    with pytest.raises(UsageError, match="--overwrite"):
        run_command(main, [str(report), "--out", str(out)])
    assert main([str(report), "--out", str(out), "--overwrite"]) == 0
    (tmp_path / "text.json").write_text("not json")
    with pytest.raises(UsageError, match="which is not JSON"):
        run_command(main, [str(tmp_path / "text.json")])
    with pytest.raises(UsageError, match="--runs-only: expected --comparison"):
        run_command(main, [str(report), "--runs-only"])
    with pytest.raises(UsageError, match=r"expected --comparison to name a \.png file"):
        run_command(main, [str(report), "--comparison", str(tmp_path / "c.pdf")])
    existing = tmp_path / "c.png"
    existing.write_text("mine")
    with pytest.raises(UsageError, match=r"expected --comparison .*c\.png.*--overwrite"):
        run_command(main, [str(report), "--comparison", str(existing)])
    assert existing.read_text() == "mine"
