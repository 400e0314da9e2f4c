"""Each example script runs a tiny configuration end to end via ``main(argv)``: a tiny synthetic tree of its
dataset's layout is generated, a few steps are trained, the dataset's protocol evaluator runs (TinyFace,
SCFace per distance, SurvFace open set with the verification pairs), report.json, plots and the comparison
are written, and the ``recognizability`` command calibrates the run's checkpoint and scores a folder with
it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from recognizability.deploy.cli import main as recognizability_main
from recognizability.training.report import REPORT_FIELDS
from recognizability.training.report.plots import PLOT_NAMES
from tests.helpers.tiny import load_example

# Tiny trees (a second or less to generate each); keys are the synthetic generator's size fields.
TINY: dict[str, list[str]] = {
    "tinyface": ["train_identities=12", "train_images=72", "test_identities=10", "probe_identities=8",
                 "probe_images=16", "gallery_images=20", "distractor_images=16"],
    # the SCFace reader keeps subjects 1-50 for training (the paper's protocol): 54 leaves 4 probe subjects
    "scface": ["subjects=54"],
    "survface": ["train_identities=12", "train_images=72", "watchlist_identities=8", "gallery_images=16",
                 "mated_probe_images=16", "unmated_identities=6", "unmated_probe_images=12",
                 "verification_pairs=12"],
}  # fmt: skip
UI_TINY = ["face_images=20", "nonface_images=4"]


def _argv(dataset: str, out: Path, *extra: str) -> list[str]:
    argv = ["--out", str(out), "--epochs", "1", "--max-steps", "2", "--batch-size", "16", "--no-progress",
            "--device", "cpu", "--threads", "1", *extra]  # fmt: skip
    for item in TINY[dataset] + UI_TINY:
        argv += ["--synthetic-size", item]
    return argv


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["tinyface", "scface", "survface"])
def test_example_runs_end_to_end(dataset: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECOGNIZABILITY_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    assert load_example(f"train_{dataset}").main(_argv(dataset, out, "--no-baseline")) == 0
    report = json.loads((out / "full" / "report.json").read_text())
    assert set(REPORT_FIELDS) <= set(report)
    assert report["dataset"] == dataset
    assert report["data"]["provenance"] == "synthetic"
    assert report["settings"]["losses"] == ["id", "mse", "l1"]
    protocol = report["protocol"]
    if dataset == "tinyface":
        assert 0.0 <= protocol["rank_1"] <= protocol["rank_20"] <= 1.0
        assert protocol["num_distractors"] == 16 and protocol["num_probes"] == 16
    elif dataset == "scface":
        assert sum(protocol["num_probes_per_distance"]) == report["data"]["test_sizes"]["probe"]
        assert all(0.0 <= protocol[f"rank_1_d{d}"] <= 1.0 for d in (1, 2, 3))
    else:
        # the verification pairs of the tree reach the evaluator: TAR@FAR is filled in
        assert protocol["tar_at_far_0_1"] is not None and 0.0 <= protocol["tar_at_far_0_1"] <= 1.0
        assert "verification" in report["conventions"]
        assert 0.0 <= protocol["tpir20_at_fpir_0_3"] <= 1.0
    for method in ("learned_index", "ers", "magface_norm", "crfiqa"):
        entry = report["quality"][method]
        assert -1.0 <= entry["spearman_with_severity"] <= 1.0
        assert len(entry["reject_fractions"]) == len(entry["erc_fnmr_fmr_0.01"])
    assert "oracle" in report["conventions"]["quality_crfiqa"]
    cmc = report["curves"]["cmc"]
    assert cmc["ranks"][0] == 1.0 and cmc["rates"] == sorted(cmc["rates"])
    scatter = report["curves"]["index_vs_ui_distance"]
    assert len(scatter["predicted_index"]) == len(scatter["ui_distance"]) > 0
    assert (out / "full" / "last.pt").is_file()
    for name in PLOT_NAMES:
        assert (out / "full" / name).stat().st_size > 1000, name
    comparison = json.loads((out / "comparison.json").read_text())
    assert list(comparison["runs"]) == ["full"] and comparison["seconds"]["total"] > 0.0


@pytest.mark.slow
def test_demo_trains_baseline_and_full_and_predicts_quality(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECOGNIZABILITY_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    assert load_example("train_tinyface").main(_argv("tinyface", out, "--no-plots")) == 0
    printed = capsys.readouterr().out
    assert "CPU demo configuration (NOT the paper's)" in printed
    table = printed[printed.index("measured on synthetic data") :]
    header = table.splitlines()[1].split()
    assert header == ["arcface", "full"]
    assert "timing (" in printed and "training images/s" in printed
    # the demo says where it wrote everything, and at which FMR its ERC areas are
    assert f"outputs in {out}/:" in printed and "arcface/: last.pt, report.json" in printed
    assert "error-versus-reject area at FMR 1e-2" in printed
    baseline = json.loads((out / "arcface" / "report.json").read_text())
    assert baseline["settings"]["losses"] == []
    # ArcFace alone never trains the regression module: its output is no index and is not compared
    assert "learned_index" not in baseline["quality"] and "ers" in baseline["quality"]

    # quality of any folder of images -> CSV, from the full run's checkpoint: calibrate once, then score
    folder = tmp_path / "cache" / "synthetic"
    images = next(p for p in folder.iterdir() if p.name.startswith("ui-"))
    checkpoint = str(out / "full" / "last.pt")
    common = ["--no-progress", "--workers", "0"]
    assert recognizability_main(["calibrate", "--checkpoint", checkpoint, "--fmr", "0.1", *common]) == 0
    csv_path = tmp_path / "q.csv"
    argv = ["quality", str(images), "--checkpoint", checkpoint, "--out", str(csv_path), *common]
    assert recognizability_main(argv) == 0
    with csv_path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 24  # face_images + nonface_images of UI_TINY
    assert list(rows[0]) == ["path", "quality", "xi_hat"]
    assert all(Path(row["path"]).is_file() for row in rows)
    assert all(0 <= int(row["quality"]) <= 100 for row in rows)

    # the same --out again: refused before anything is loaded; --resume finds both runs finished and
    # re-evaluates them with the same figures
    main = load_example("train_tinyface").main
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        main(_argv("tinyface", out, "--no-plots"))
    assert stop.value.code == 2 and "--resume" in capsys.readouterr().err  # a usage error
    before = json.loads((out / "comparison.json").read_text())["runs"]
    capsys.readouterr()
    assert main(_argv("tinyface", out, "--no-plots", "--resume")) == 0
    assert "resumed from" in capsys.readouterr().out
    assert json.loads((out / "comparison.json").read_text())["runs"] == before


@pytest.mark.slow
def test_overwrite_keeps_the_earlier_run_until_the_new_one_checkpoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECOGNIZABILITY_CACHE", str(tmp_path / "cache"))
    from recognizability.training.run import meter

    out = tmp_path / "out"
    (out / "full").mkdir(parents=True)
    for name in ("last.pt", "report.json", "cmc.png"):
        (out / "full" / name).write_bytes(f"earlier {name}".encode())
    before = {p.name: p.read_bytes() for p in (out / "full").iterdir()}
    typo = tmp_path / "weights.txt"  # not weights: refused while parsing, before anything is loaded
    typo.write_text("not weights\n")
    main = load_example("train_tinyface").main
    with pytest.raises(SystemExit) as stop:
        main(_argv("tinyface", out, "--no-baseline", "--overwrite", "--pretrained", str(typo)))
    assert stop.value.code == 2
    assert {p.name: p.read_bytes() for p in (out / "full").iterdir()} == before

    def fails(self: object, *args: object) -> None:
        raise RuntimeError("the new run failed in its first step")

    with monkeypatch.context() as patch:  # a failure during training, before the first checkpoint
        patch.setattr(meter.EpochMeter, "update", fails)
        with pytest.raises(RuntimeError, match="first step"):
            main(_argv("tinyface", out, "--no-baseline", "--overwrite"))
        assert {p.name: p.read_bytes() for p in (out / "full").iterdir()} == before  # no backup left either
        with pytest.raises(RuntimeError, match="first step"):
            main(_argv("tinyface", tmp_path / "new", "--no-baseline"))
        assert not (tmp_path / "new").exists()  # a failed new run leaves no empty folder

    assert main(_argv("tinyface", out, "--no-baseline", "--no-plots", "--overwrite")) == 0
    assert sorted(p.name for p in (out / "full").iterdir()) == ["last.pt", "report.json"]  # the old plot too
    assert (out / "full" / "last.pt").read_bytes() != before["last.pt"]
