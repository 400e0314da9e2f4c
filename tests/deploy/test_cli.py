"""The ``recognizability`` command: quality CSVs, calibration, evaluation, and its errors."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from recognizability.backbones import normalize_for
from recognizability.data import decode_image
from recognizability.data.transforms import resize_batch
from recognizability.deploy import QualityCalibration, load_quality_model, load_trained_model
from recognizability.deploy.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_console_command_is_declared() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["recognizability"] == "recognizability.deploy.cli:main"


def test_calibration_is_written_beside_the_checkpoint_and_never_overwritten(
    checkpoint: Path, calibrated: Path, folders: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    calibration = QualityCalibration.from_json(calibrated.read_text())
    assert not calibration.synthetic and str(folders["probe"]) in calibration.source
    assert calibration.mated == 60 and calibration.non_mated == 60 * 5 and calibration.fmr == 0.01
    before = calibrated.read_bytes()
    arguments = ["calibrate", "--checkpoint", str(checkpoint), "--probe", str(folders["probe"])]
    assert main([*arguments, "--gallery", str(folders["gallery"]), "--no-progress"]) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert calibrated.read_bytes() == before
    assert main([*arguments, "--no-progress"]) == 2
    assert "both --probe and --gallery" in capsys.readouterr().err


def test_quality_scores_files_folders_and_globs_and_lists_unreadable_ones(
    checkpoint: Path,
    calibrated: Path,
    folders: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "scores.csv"
    items = [
        str(folders["probe"]),
        str(folders["gallery"] / "id1" / "*.png"),
        str(folders["root"] / "broken.png"),
        str(tmp_path / "missing.jpg"),
    ]
    status = main(
        ["quality", *items, "--checkpoint", str(checkpoint), "--out", str(out), "--batch-size", "16"]
    )
    assert status == 0
    captured = capsys.readouterr()
    assert "skipped 2 unreadable input(s)" in captured.err
    assert "broken.png: could not decode" in captured.err and "missing.jpg: no such file" in captured.err
    rows = _rows(out)
    assert list(rows[0]) == ["path", "quality", "xi_hat"]
    probes = sorted(folders["probe"].rglob("*.png"))
    assert [r["path"] for r in rows[:60]] == [str(p) for p in probes]
    assert [Path(r["path"]).parent.name for r in rows[60:]] == ["id1", "id1"]

    # xi_hat is the stored modules applied by hand: decode, bicubic resize to the run's input, normalise,
    # F = forward_features, xi_hat = regression(F) (eval mode)
    model, config = load_trained_model(checkpoint)
    size = (config.model.input_size, config.model.input_size)
    with torch.no_grad():
        images = torch.cat([resize_batch(decode_image(p).unsqueeze(0), size) for p in probes]).float()
        expected = model.criterion.regression(
            model.backbone.forward_features(normalize_for(model.backbone, images))
        )
    xi_hat = np.array([float(r["xi_hat"]) for r in rows[:60]])
    np.testing.assert_allclose(xi_hat, expected.numpy(), atol=2e-6)
    calibration = QualityCalibration.from_json(calibrated.read_text())
    quality = np.array([int(r["quality"]) for r in rows])
    assert np.array_equal(quality, calibration.quality(np.array([float(r["xi_hat"]) for r in rows])))
    assert quality.min() >= 0 and quality.max() <= 100

    assert main(["quality", str(folders["probe"]), "--checkpoint", str(checkpoint), "--out", str(out)]) == 2
    assert "pass --overwrite" in capsys.readouterr().err


def test_onnx_scores_a_folder_with_the_pytorch_numbers(
    checkpoint: Path, onnx_model: Path, folders: dict[str, Path], tmp_path: Path
) -> None:
    common = [str(folders["probe"]), "--no-progress", "--batch-size", "7"]
    assert main(["quality", *common, "--checkpoint", str(checkpoint), "--out", str(tmp_path / "pt.csv")]) == 0
    assert main(["quality", *common, "--onnx", str(onnx_model), "--out", str(tmp_path / "ort.csv")]) == 0
    torch_rows, onnx_rows = _rows(tmp_path / "pt.csv"), _rows(tmp_path / "ort.csv")
    assert [r["path"] for r in torch_rows] == [r["path"] for r in onnx_rows]
    a = np.array([float(r["xi_hat"]) for r in torch_rows])
    b = np.array([float(r["xi_hat"]) for r in onnx_rows])
    np.testing.assert_allclose(b, a, atol=1e-4, rtol=0)
    # the integer scores agree except where xi_hat sits within 1e-4 of a rounding boundary
    qa = np.array([int(r["quality"]) for r in torch_rows])
    qb = np.array([int(r["quality"]) for r in onnx_rows])
    assert np.abs(qa - qb).max() <= 1


def test_threshold_guidance(checkpoint: Path, calibrated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    calibration = QualityCalibration.from_json(calibrated.read_text())
    target = float(max(calibration.edc_fnmr))
    guidance = calibration.threshold_for(target)
    assert main(["quality", "--checkpoint", str(checkpoint), "--threshold-for", str(target)]) == 0
    line = capsys.readouterr().out
    assert f"keep quality >= {guidance.quality_threshold} " in line
    assert f"discarding {100 * guidance.discarded_share:.2f}% of its 60 mated comparisons" in line
    assert main(["quality", "--checkpoint", str(checkpoint), "--threshold-for", "1.5"]) == 2
    assert "expected --threshold-for to be a float in [0, 1), got 1.5" in capsys.readouterr().err


def test_quality_needs_a_calibration_and_says_how_to_make_one(
    checkpoint: Path, folders: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = shutil.copy(checkpoint, tmp_path / "other.pt")
    out = tmp_path / "scores.csv"
    assert main(["quality", str(folders["probe"]), "--checkpoint", str(copy), "--out", str(out)]) == 2
    assert "run recognizability calibrate --checkpoint" in capsys.readouterr().err
    assert not out.exists()


def test_missing_and_foreign_checkpoints_give_clear_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "--checkpoint", str(tmp_path / "none.pt"), "--out", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("recognizability export: error:") and "none.pt" in err
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    calibration = tmp_path / "c.json"
    calibration.write_text("{}")
    command = [
        "quality",
        "--checkpoint",
        str(foreign),
        "--calibration",
        str(calibration),
        "--threshold-for",
        "0.1",
    ]
    assert main(command) == 2
    assert "expected a calibration written by recognizability calibrate" in capsys.readouterr().err
    assert main(["export", "--checkpoint", str(foreign), "--out", str(tmp_path / "m.onnx")]) == 2
    assert "foreign.pt" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


def test_export_refuses_an_existing_file(checkpoint: Path, calibrated: Path, tmp_path: Path) -> None:
    out = tmp_path / "model.onnx"
    out.write_text("mine")
    assert main(["export", "--checkpoint", str(checkpoint), "--out", str(out)]) == 2
    assert out.read_text() == "mine"


def test_evaluate_never_replaces_a_figure_unasked(
    checkpoint: Path, calibrated: Path, folders: dict[str, Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    out = tmp_path / "eval"
    out.mkdir()
    mine = out / "edc.png"
    mine.write_text("mine")
    command = ["evaluate", "--probe", str(folders["probe"]), "--gallery", str(folders["gallery"]),
               "--checkpoint", str(checkpoint), "--out", str(out), "--workers", "0"]  # fmt: skip
    assert main(command) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert mine.read_text() == "mine" and not (out / "report.json").exists()


def test_evaluate_writes_a_report_and_plots(
    checkpoint: Path, calibrated: Path, folders: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "eval"
    command = [
        "evaluate", "--probe", str(folders["probe"]), "--gallery", str(folders["gallery"]),
        "--distractors", str(folders["distractors"]), "--checkpoint", str(checkpoint), "--out", str(out),
        "--no-progress", "--workers", "0",
    ]  # fmt: skip
    assert main(command) == 0
    report = json.loads((out / "report.json").read_text())
    assert set(report) == {"identification", "verification", "quality", "curves", "data", "conventions"}
    assert report["data"]["probe_images"] == 60 and report["data"]["distractor_images"] == 8
    ident = report["identification"]
    assert set(ident) >= {"rank_1", "rank_5", "rank_10", "rank_20", "mAP"}
    assert all(0 <= ident[f"rank_{k}"] <= 1 for k in (1, 5, 10, 20))
    assert (
        ident["rank_1"] <= ident["rank_5"] <= ident["rank_10"] <= ident["rank_20"] == 1.0
    )  # 20 = gallery size

    # rank-1 by brute force from the same model's embeddings
    model = load_quality_model(checkpoint)
    from recognizability.deploy import embed_images

    gallery_paths = sorted(folders["gallery"].rglob("*.png")) + sorted(folders["distractors"].rglob("*.png"))
    probe_paths = sorted(folders["probe"].rglob("*.png"))
    g = embed_images(model, gallery_paths, workers=0)
    p = embed_images(model, probe_paths, workers=0)
    gallery_labels = [path.parent.name if i < 12 else "distractor" for i, path in enumerate(gallery_paths)]
    similarity = (
        torch.nn.functional.normalize(p.embeddings, dim=1)
        @ torch.nn.functional.normalize(g.embeddings, dim=1).T
    )
    best = similarity.argmax(1).tolist()
    hits = sum(gallery_labels[b] == path.parent.name for b, path in zip(best, probe_paths, strict=True))
    assert ident["rank_1"] == pytest.approx(hits / 60)

    edc = report["quality"]["edc"]
    assert edc["fmr"] == 0.01 and len(edc["fnmr"]) == len(edc["discard_fractions"])
    assert sum(report["quality"]["histogram"]) == 60 + 12
    assert {p.name for p in out.glob("*.png")} == {"cmc.png", "edc.png", "quality_histogram.png"}
    assert main(command) == 2  # the report exists: never overwritten without --overwrite


def test_default_calibration_set_is_the_synthetic_benchmark(
    checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --probe/--gallery the calibration is fitted on a cached synthetic tree and says so (sizes made
    small here; the shipped ones are ``SYNTHETIC_CALIBRATION_SIZES``)."""
    from recognizability.deploy import evaluate

    small = {**evaluate.SYNTHETIC_CALIBRATION_SIZES, "test_identities": 12, "probe_identities": 12}
    monkeypatch.setattr(
        evaluate, "SYNTHETIC_CALIBRATION_SIZES", {**small, "probe_images": 48, "gallery_images": 24}
    )
    monkeypatch.setenv("RECOGNIZABILITY_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "synthetic.json"
    command = [
        "calibrate",
        "--checkpoint",
        str(checkpoint),
        "--fmr",
        "0.05",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main(command) == 0
    assert "calibrated on SYNTHETIC faces" in capsys.readouterr().out
    calibration = QualityCalibration.from_json(out.read_text())
    assert calibration.synthetic and "synthetic benchmark (TinyFace layout, seed 1" in calibration.source
    assert calibration.mated == 48 and calibration.non_mated == 48 * 11
    trees = list((tmp_path / "cache" / "synthetic").iterdir())  # the one synthetic cache
    assert len(trees) == 1 and (trees[0] / "SYNTHETIC.txt").is_file()
    # the tree is generated once and reused
    stamp = (trees[0] / "SYNTHETIC.txt").stat().st_mtime_ns
    assert main([*command, "--overwrite"]) == 0
    assert (trees[0] / "SYNTHETIC.txt").stat().st_mtime_ns == stamp
    assert QualityCalibration.from_json(out.read_text()) == calibration


def test_evaluate_skips_and_lists_unreadable_images(
    checkpoint: Path,
    calibrated: Path,
    folders: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    probe = Path(shutil.copytree(folders["probe"], tmp_path / "probe"))
    broken = probe / "id0" / "zz_broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    out = tmp_path / "eval"
    command = [
        "evaluate", "--probe", str(probe), "--gallery", str(folders["gallery"]),
        "--checkpoint", str(checkpoint), "--out", str(out), "--no-progress", "--workers", "0", "--no-plots",
    ]  # fmt: skip
    assert main(command) == 0
    report = json.loads((out / "report.json").read_text())
    assert [u["path"] for u in report["data"]["unreadable"]] == [str(broken)]
    assert report["data"]["probe_images"] == 60 and not list(out.glob("*.png"))
    assert f"{broken}: could not decode" in capsys.readouterr().err
