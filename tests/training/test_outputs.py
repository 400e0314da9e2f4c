"""What a run leaves behind: quality prediction of a folder (CSV), plots from a report, the ERC grid, the
command line's size options."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from recognizability.backbones import normalize_for
from recognizability.training.cli import _synthetic_sizes
from recognizability.training.evaluation import REJECT_FRACTIONS, _common_reject_fractions
from recognizability.training.plots import PLOT_NAMES, plot_report
from recognizability.training.predict import predict_quality, write_quality_csv
from recognizability.training.recipe import fit

from .test_recipe import _data, _settings


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    train, ui = _data()
    out = tmp_path_factory.mktemp("run")
    fit(_settings(epochs=1, max_steps_per_epoch=1), train, ui, out_dir=out, progress=False, log=None)
    return out / "last.pt"


def _write_pngs(folder: Path, images: torch.Tensor) -> list[Path]:
    from PIL import Image

    paths = []
    for i, image in enumerate(images):
        path = folder / ("sub" if i % 2 else "") / f"img{i:02d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(path)
        paths.append(path)
    return paths


def test_predicted_index_equals_the_regression_module_on_the_images(checkpoint: Path, tmp_path: Path) -> None:
    pytest.importorskip("PIL")
    images = torch.randint(
        0, 256, (5, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(1)
    )
    _write_pngs(tmp_path / "faces", images)
    prediction = predict_quality(checkpoint, tmp_path / "faces", batch_size=2)

    # reference: the stored weights applied by hand (images already at the run's 32 x 32, so no resize)
    payload = torch.load(checkpoint, weights_only=False)
    from recognizability.training.predict import load_trained_model

    model, _ = load_trained_model(checkpoint)
    assert torch.equal(model.head.weight, payload["model"]["head.weight"])
    order = sorted(range(5), key=lambda i: f"sub/img{i:02d}.png" if i % 2 else f"img{i:02d}.png")
    with torch.no_grad():
        x = normalize_for(model.backbone, images[order].float())
        features = model.backbone.forward_features(x)
        expected_index = model.criterion.regression(features)
        v = torch.nn.functional.normalize(model.backbone.forward_head(features), dim=1)
        expected_distance = 1.0 - v @ model.ui_center.center
    assert prediction.paths == [f"sub/img{i:02d}.png" if i % 2 else f"img{i:02d}.png" for i in order]
    torch.testing.assert_close(prediction.recognizability_index, expected_index)
    torch.testing.assert_close(prediction.ui_distance, expected_distance)

    path = write_quality_csv(prediction, tmp_path / "out" / "q.csv")
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["path"] for r in rows] == prediction.paths
    got = torch.tensor([float(r["recognizability_index"]) for r in rows])
    torch.testing.assert_close(got, prediction.recognizability_index, atol=1e-6, rtol=0)  # 6 decimals in CSV


def test_prediction_refuses_bad_input(checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="--images"):
        predict_quality(checkpoint, tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="--checkpoint"):
        predict_quality(tmp_path / "absent.pt", tmp_path)
    with pytest.raises(ValueError, match="batch_size"):
        predict_quality(checkpoint, tmp_path, batch_size=0)
    (tmp_path / "junk.pt").write_bytes(b"")
    torch.save({"weights": 1}, tmp_path / "junk.pt")
    with pytest.raises(ValueError, match="training checkpoint"):
        predict_quality(tmp_path / "junk.pt", tmp_path)


def _report() -> dict[str, object]:
    fractions = [0.0, 0.05, 0.1]
    quality = {
        name: {"reject_fractions": fractions, "erc_fnmr_fmr_0.01": [0.5, 0.4, 0.3],
               "erc_fnmr_fmr_0.001": [0.7, 0.6, 0.5], "erc_auc_fmr_0.001": 0.06}
        for name in ("learned_index", "ers", "magface_norm", "crfiqa")
    }  # fmt: skip
    curves = {
        "cmc": {"ranks": [1.0, 2.0, 3.0], "rates": [0.2, 0.3, 0.5]},
        "index_vs_ui_distance": {"predicted_index": [0.1, 0.5, 0.9], "ui_distance": [0.2, 0.6, 1.1],
                                 "severity": [0.9, 0.5, 0.1]},
    }  # fmt: skip
    return {"dataset": "tinyface", "quality": quality, "curves": curves, "settings": {"losses": ["id"]}}


def test_plots_are_written_from_the_report_alone(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    written = plot_report(_report(), tmp_path / "plots")
    assert [p.name for p in written] == list(PLOT_NAMES)
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="'quality' and 'curves'"):
        plot_report({"quality": {}}, tmp_path)


def test_reject_fractions_stop_before_a_pair_class_runs_out() -> None:
    # 10 pairs, 2 genuine
    is_genuine = torch.tensor([False] * 8 + [True] * 2)
    good = torch.arange(10, dtype=torch.float32)  # genuine pairs have the highest quality
    bad = -good  # genuine pairs are rejected first
    assert _common_reject_fractions({"good": good}, is_genuine) == [
        f
        for f in REJECT_FRACTIONS
        if f <= 7 / 10 - 0.05  # last impostor at position 7 of 0..9
    ]
    # with "bad", rejecting 2 of 10 removes every genuine pair; the grid for both scores stops one step
    # before the last fraction that keeps one (0.1)
    assert _common_reject_fractions({"good": good, "bad": bad}, is_genuine) == [0.0, 0.05]


def test_synthetic_size_options_route_ui_keys() -> None:
    sizes, ui = _synthetic_sizes(["train_images=64", "face_images=20", "nonface_images=2"])
    assert sizes == {"train_images": 64} and ui == {"face_images": 20, "nonface_images": 2}
    with pytest.raises(SystemExit, match="KEY=N"):
        _synthetic_sizes(["train_images"])
