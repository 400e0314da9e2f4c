"""Inputs of the deployment commands: files, folders and globs; background decoding; unreadable files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from recognizability.data import IMAGE_EXTENSIONS
from recognizability.data.transforms import resize_batch
from recognizability.deploy import Preprocessing, collect_images
from recognizability.deploy.images import image_batches

PRE = Preprocessing(input_size=32, channel_order="RGB", backbone="small_vlr_net")


def _write(path: Path, image: torch.Tensor) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image.permute(1, 2, 0).numpy()).save(path)
    return path


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Path]:
    pytest.importorskip("PIL")
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (4, 3, 20, 16), dtype=torch.uint8, generator=g)
    out = {
        "a": _write(tmp_path / "faces" / "a.png", images[0]),
        "b": _write(tmp_path / "faces" / "sub" / "b.jpg", images[1]),
        "c": _write(tmp_path / "more" / "c.png", images[2]),
        "d": _write(tmp_path / "more" / "d.png", images[3]),
    }
    (tmp_path / "faces" / "notes.txt").write_text("not an image")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return out


EXTENSIONS = "/".join(IMAGE_EXTENSIONS)


def test_files_folders_and_globs_are_expanded_once_in_order(tree: dict[str, Path], tmp_path: Path) -> None:
    items = [
        str(tmp_path / "faces"),
        str(tmp_path / "more" / "*.png"),
        str(tree["a"]),  # already found through its folder
        str(tmp_path / "missing.png"),
        str(tmp_path / "nothing" / "*.png"),
        str(tmp_path / "faces" / "notes.txt"),
    ]
    paths, problems = collect_images(items)
    assert paths == [tree["a"], tree["b"], tree["c"], tree["d"]]
    reasons = {p.path: p.reason for p in problems}
    assert reasons == {
        str(tmp_path / "missing.png"): "no such file or folder",
        str(tmp_path / "nothing" / "*.png"): f"pattern matches no image file ({EXTENSIONS})",
        str(tmp_path / "faces" / "notes.txt"): f"not an image file (extension not one of {EXTENSIONS})",
    }


@pytest.mark.parametrize("workers", [0, 1])
def test_batches_keep_order_resize_like_training_and_skip_unreadable(
    tree: dict[str, Path], tmp_path: Path, workers: int
) -> None:
    from recognizability.data import decode_image

    paths = [tree["a"], tmp_path / "broken.png", tree["b"], tree["c"], tmp_path / "gone.png", tree["d"]]
    batches = list(image_batches(paths, PRE, batch_size=4, workers=workers))
    assert [b.indices for b in batches] == [[0, 2, 3], [5]]
    assert [u.path for b in batches for u in b.unreadable] == [str(paths[1]), str(paths[4])]
    assert "could not decode" in batches[0].unreadable[0].reason
    assert "not found" in batches[1].unreadable[0].reason
    expected = resize_batch(decode_image(tree["c"]).unsqueeze(0), (32, 32))[0]
    assert batches[0].images.dtype == torch.uint8 and batches[0].images.shape == (3, 3, 32, 32)
    assert torch.equal(batches[0].images[2], expected)


def test_batch_arguments_are_checked(tree: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match="batch_size to be an int >= 1, got 0"):
        image_batches([tree["a"]], PRE, batch_size=0)
    with pytest.raises(ValueError, match="workers to be an int >= 0, got -1"):
        image_batches([tree["a"]], PRE, workers=-1)
