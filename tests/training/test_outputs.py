"""What a run leaves behind: quality prediction of a folder (CSV) from its checkpoint, plots from a report,
the ERC grid, the typed report and its headline figures."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import torch

from recognizability.backbones import normalize_for
from recognizability.training import Benchmark, build_modules, demo_config, get_benchmark, save_checkpoint
from recognizability.training.benchmarks import HardProbesRank1
from recognizability.training.evaluation import _REJECT_FRACTIONS, _common_reject_fractions
from recognizability.training.plots import PLOT_NAMES, plot_report
from recognizability.training.predict import load_trained_model, predict_quality, write_quality_csv
from recognizability.training.reports import (
    CMCCurve,
    DataSummary,
    IndexScatter,
    PairCounts,
    QualityFigures,
    RunReport,
    TrainingSummary,
    comparison_table,
)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint as a run writes it: the demo configuration's modules (D = 32, 8 classes), UI centre."""
    config = demo_config("tinyface").replace(embedding_dim=32)
    torch.manual_seed(0)
    model = build_modules(config, 8)
    model.eval()
    with torch.no_grad():
        model.ui_center.fit(torch.randn(16, 32))
    optimizer = torch.optim.Adam(model.parameters())
    path = tmp_path_factory.mktemp("run") / "last.pt"
    save_checkpoint(path, model=model, optimizer=optimizer, scheduler=None, epoch=1, settings=config)
    return path


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
    model, _ = load_trained_model(checkpoint)
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


def _report() -> RunReport:
    fractions = [0.0, 0.05, 0.1]
    figures = QualityFigures(
        spearman_with_severity=-0.3,
        erc_auc={0.01: 0.04, 0.001: 0.06},
        erc_fnmr={0.01: [0.5, 0.4, 0.3], 0.001: [0.7, 0.6, 0.5]},
        reject_fractions=fractions,
    )
    protocol = HardProbesRank1(rank_1=0.5, num_probes=4)
    return RunReport(
        dataset="tinyface",
        protocol=protocol,
        protocol_hard=HardProbesRank1(rank_1=0.25, num_probes=2),
        hard_probes=2,
        quality={"learned_index": figures, "ers": figures},
        pairs=PairCounts(3, 30),
        cmc=CMCCurve([1.0, 2.0, 3.0], [0.2, 0.3, 0.5]),
        index_vs_ui_distance=IndexScatter([0.1, 0.5, 0.9], [0.2, 0.6, 1.1], severity=[0.9, 0.5, 0.1]),
        conventions={"protocol": get_benchmark("tinyface").protocol},
        config=demo_config("tinyface").with_losses(["id"]),
        data=DataSummary(Benchmark("tinyface", Path("r"), Path("u"), "synthetic"), {"probe": 4}, 3),
        training=TrainingSummary(
            [{"images_per_second": 10.0}, {"images_per_second": 30.0}], 1.0, 0, "cpu", 1, 1
        ),
    )


def test_report_headline_figures_and_json_layout() -> None:
    report = _report()
    figures = report.headline_figures()  # tinyface's headline: rank_1 of the protocol report
    assert figures == {
        "rank_1": 0.5, "rank_1_hard": 0.25, "learned_index_spearman": -0.3, "learned_index_erc_auc": 0.04,
        "ers_spearman": -0.3, "ers_erc_auc": 0.04,
    }  # fmt: skip
    data = report.to_dict()
    assert data["protocol_hard"]["probes"] == 2 and data["quality"]["pairs"] == {"genuine": 3, "impostor": 30}
    assert data["quality"]["ers"]["erc_auc_fmr_0.001"] == 0.06 and data["settings"]["losses"] == ["id"]
    assert report.training.images_per_second() == 20.0
    table = comparison_table({"a": report, "b": report}).splitlines()
    assert table[0].split() == ["a", "b"] and table[1].split()[0] == "rank_1"
    assert math.isnan(TrainingSummary([], 0.0, 0, "cpu", 1, 1).images_per_second())


def test_plots_are_written_from_the_report_alone(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    written = plot_report(_report().to_dict(), tmp_path / "plots")
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
        for f in _REJECT_FRACTIONS
        if f <= 7 / 10 - 0.05  # last impostor at position 7 of 0..9
    ]
    # with "bad", rejecting 2 of 10 removes every genuine pair; the grid for both scores stops one step
    # before the last fraction that keeps one (0.1)
    assert _common_reject_fractions({"good": good, "bad": bad}, is_genuine) == [0.0, 0.05]
