"""Quality prediction of a folder (CSV) from a run's checkpoint: the scores are the stored modules'
outputs."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from recognizability.backbones import normalize_for
from recognizability.training import build_modules, demo_config, save_checkpoint
from recognizability.training.predict import load_trained_model, predict_quality, write_quality_csv


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint as a run writes it: the demo configuration's modules (D = 32, 8 classes), UI centre."""
    config = demo_config("tinyface").replace(embedding_dim=32, pretrained=None)
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
