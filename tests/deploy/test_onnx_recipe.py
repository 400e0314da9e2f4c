"""docs/deployment.md's preprocessing recipe is exact: a plain script written from the page alone (numpy,
Pillow, ONNX Runtime; tests/deploy/onnx_plain_script.py) writes byte for byte the CSV of
``recognizability quality``, on faces of many sizes (shrunk and enlarged), colour modes and formats."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from recognizability.deploy.cli import main

SCRIPT = Path(__file__).with_name("onnx_plain_script.py")


def test_the_plain_script_uses_nothing_but_numpy_pillow_and_onnxruntime() -> None:
    tree = ast.parse(SCRIPT.read_text())
    modules = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
               for alias in node.names}  # fmt: skip
    modules |= {str(node.module).split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert modules <= {"__future__", "csv", "json", "sys", "numpy", "PIL", "onnxruntime"}, modules


def _faces(folder: Path) -> list[Path]:
    """Faces as users have them: sizes from 5 x 7 to 150 x 90 (shrunk and enlarged to 32 x 32, and one at
    32 x 32), RGB, grey, RGBA and palette PNGs, a JPEG, a BMP."""
    from PIL import Image

    rng = np.random.default_rng(0)
    folder.mkdir()
    paths = []
    sizes = [
        (5, 7),
        (16, 20),
        (20, 16),
        (24, 31),
        (32, 32),
        (33, 47),
        (64, 48),
        (90, 150),
        (17, 17),
        (112, 96),
    ]
    for i, (height, width) in enumerate(sizes):
        smooth = np.cumsum(rng.integers(-9, 10, size=(height, width, 3)), axis=1)
        pixels = np.clip(smooth + rng.integers(60, 200), 0, 255).astype(np.uint8)
        image = Image.fromarray(pixels)
        mode, suffix = [("RGB", "png"), ("L", "png"), ("RGBA", "png"), ("P", "png"), ("RGB", "jpg"),
                        ("RGB", "bmp")][i % 6]  # fmt: skip
        path = folder / f"face{i:02d}.{suffix}"
        image.convert(mode).save(path)
        paths.append(path)
    return paths


def test_a_plain_script_reproduces_the_quality_command_exactly(onnx_model: Path, tmp_path: Path) -> None:
    faces = [str(p) for p in _faces(tmp_path / "faces")]
    command_csv, script_csv = tmp_path / "command.csv", tmp_path / "script.csv"
    assert main(["quality", *faces, "--onnx", str(onnx_model), "--out", str(command_csv), "--workers", "0",
                 "--no-progress"]) == 0  # fmt: skip
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(onnx_model), str(script_csv), *faces],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert script_csv.read_text() == command_csv.read_text()
    assert len(command_csv.read_text().splitlines()) == 1 + len(faces)


@pytest.fixture(autouse=True)
def _needs_onnx() -> None:
    for module in ("PIL", "onnx", "onnxruntime", "onnxscript"):
        pytest.importorskip(module)
