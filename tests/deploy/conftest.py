"""A tiny trained checkpoint and labelled PNG folders shared by the deployment tests.

The model is the CPU demo backbone ``small_vlr_net`` at 32 x 32 with the full recognizability loss, trained
for a few Adam steps on class-coloured random images: enough for weights that are not at their
initialisation, small enough to train in about a second.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from recognizability.backbones import normalize_for

CLASSES = 6


def class_images(n: int, classes: int = CLASSES, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 (n, 3, 32, 32) images whose brightness and colour depend on the class, and their labels."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % classes
    base = torch.randint(0, 90, (n, 3, 32, 32), generator=g)
    tint = torch.stack([25 * labels, 40 * (labels % 3), 30 * (labels % 2)], 1).view(n, 3, 1, 1)
    return (base + tint).clamp(0, 255).to(torch.uint8), labels


def train_tiny_checkpoint(path: Path, steps: int = 4) -> Path:
    from recognizability.training import build_modules, demo_config
    from recognizability.training.run import save_checkpoint
    from tests.helpers.tiny import step_losses

    settings = demo_config("tinyface").replace(embedding_dim=32, batch_size=24, seed=3, pretrained=None)
    torch.manual_seed(3)
    model = build_modules(settings, CLASSES)
    images, labels = class_images(48)
    ui = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(9))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for step in range(steps):
        model.eval()
        with torch.no_grad():
            model.ui_center.fit(model.backbone(normalize_for(model.backbone, ui)))
        model.train()
        batch = slice((step % 2) * 24, (step % 2) * 24 + 24)
        out = step_losses(model, normalize_for(model.backbone, images[batch]), labels[batch])
        optimizer.zero_grad()
        out.total.backward()
        optimizer.step()
    return save_checkpoint(path, model=model, optimizer=optimizer, scheduler=None, epoch=1, settings=settings)


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_tiny_checkpoint(tmp_path_factory.mktemp("run") / "last.pt")


def write_labelled_folder(root: Path, images: torch.Tensor, labels: torch.Tensor, sizes: bool = True) -> None:
    """``root/id<k>/<i>.png``; with ``sizes`` every other image is stored at 24 x 20 (resized on reading)."""
    from PIL import Image

    for i, (image, label) in enumerate(zip(images, labels.tolist(), strict=True)):
        folder = root / f"id{label}"
        folder.mkdir(parents=True, exist_ok=True)
        picture = Image.fromarray(image.permute(1, 2, 0).numpy())
        if sizes and i % 2:
            picture = picture.resize((20, 24), Image.BICUBIC)
        picture.save(folder / f"{i:03d}.png")


@pytest.fixture(scope="session")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Labelled probe (60 images) and gallery (12) trees of the 6 classes, distractors, and a broken file."""
    pytest.importorskip("PIL")
    root = tmp_path_factory.mktemp("faces")
    probe_images, probe_labels = class_images(60, seed=1)
    gallery_images, gallery_labels = class_images(12, seed=2)
    distractors, _ = class_images(8, seed=3)
    write_labelled_folder(root / "probe", probe_images, probe_labels)
    write_labelled_folder(root / "gallery", gallery_images, gallery_labels)
    write_labelled_folder(root / "distractors", distractors, torch.zeros(8, dtype=torch.int64))
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return {
        "root": root,
        "probe": root / "probe",
        "gallery": root / "gallery",
        "distractors": root / "distractors",
    }


@pytest.fixture(scope="session")
def calibrated(checkpoint: Path, folders: dict[str, Path]) -> Path:
    """The checkpoint with its calibration beside it (``recognizability calibrate`` on the folders)."""
    from recognizability.deploy.cli import main

    status = main(
        [
            "calibrate", "--checkpoint", str(checkpoint), "--probe", str(folders["probe"]),
            "--gallery", str(folders["gallery"]), "--fmr", "0.01", "--workers", "0", "--no-progress",
        ]
    )  # fmt: skip
    assert status == 0
    return checkpoint.with_name("last.calibration.json")


@pytest.fixture(scope="session")
def onnx_model(checkpoint: Path, calibrated: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``recognizability export`` of the calibrated checkpoint."""
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from recognizability.deploy.cli import main

    out = tmp_path_factory.mktemp("exported") / "model.onnx"
    assert main(["export", "--checkpoint", str(checkpoint), "--out", str(out)]) == 0
    return out
