"""ImageFolder (UI sets), image decoding and the synthetic metadata attachment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from recognizability.data import ImageFolder, TinyFace, decode_image
from tests.helpers.fake_trees import build_tinyface, write_huge_png, write_image


def test_folder_is_walked_recursively_with_label_minus_one(tmp_path: Path) -> None:
    write_image(tmp_path / "ui" / "b.png", value=1)
    write_image(tmp_path / "ui" / "a.JPEG", value=2)
    write_image(tmp_path / "ui" / "nested" / "c.jpg", value=3)
    (tmp_path / "ui" / "notes.txt").write_text("x")
    (tmp_path / "ui" / ".hidden.jpg").write_bytes(b"")
    data = ImageFolder(tmp_path / "ui")
    assert [r.path.relative_to(data.root).as_posix() for r in data.samples] == [
        "a.JPEG",
        "b.png",
        "nested/c.jpg",
    ]
    assert data.labels == [-1, -1, -1]
    assert sum(data.report.excluded.values()) == 2
    flat = ImageFolder(tmp_path / "ui", recursive=False)
    assert len(flat) == 2 and flat.report.excluded["sub-folder (not walked)"] == 1


def test_empty_folder_fails(tmp_path: Path) -> None:
    (tmp_path / "ui").mkdir()
    (tmp_path / "ui" / "readme.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match="found none"):
        ImageFolder(tmp_path / "ui")


def test_grayscale_and_png_decode_to_three_uint8_channels(tmp_path: Path) -> None:
    gray = decode_image(write_image(tmp_path / "g.png", size=(7, 5), mode="L"))
    assert gray.shape == (3, 5, 7) and gray.dtype == torch.uint8
    assert torch.equal(gray[0], gray[1]) and torch.equal(gray[1], gray[2])
    # PNG is lossless: the decoded pixels are the ones written.
    array = np.array(Image.open(tmp_path / "g.png"))
    assert torch.equal(gray[0], torch.from_numpy(array))
    with pytest.raises(FileNotFoundError, match="image file not found"):
        decode_image(tmp_path / "missing.png")


@pytest.mark.parametrize(
    ("suffix", "mode"), [(".bmp", "RGB"), (".BMP", "L"), (".webp", "RGB"), (".WebP", "L")]
)
def test_bmp_and_webp_decode_to_the_pixels_written(tmp_path: Path, suffix: str, mode: str) -> None:
    path = write_image(tmp_path / f"face{suffix}", size=(7, 5), mode=mode)
    image = decode_image(path)
    with Image.open(path) as opened:
        assert opened.format == {".bmp": "BMP", ".webp": "WEBP"}[suffix.lower()]
        written = torch.from_numpy(np.array(opened.convert("RGB"))).permute(2, 0, 1)
    assert image.dtype == torch.uint8 and image.shape == (3, 5, 7)
    assert torch.equal(image, written)  # BMP and lossless WebP: the pixels written


def test_bmp_and_webp_files_are_read_by_the_folder_and_dataset_readers(tmp_path: Path) -> None:
    write_image(tmp_path / "ui" / "a.bmp", value=1)
    write_image(tmp_path / "ui" / "b.webp", value=2)
    write_image(tmp_path / "ui" / "c.png", value=3)
    (tmp_path / "ui" / "d.gif").write_bytes(b"GIF89a")
    data = ImageFolder(tmp_path / "ui")
    assert [r.path.name for r in data.samples] == ["a.bmp", "b.webp", "c.png"]
    assert data.report.excluded == {"not an image file (extension not .jpg/.jpeg/.png/.bmp/.webp)": 1}
    assert [data[i][0].shape for i in range(3)] == [(3, 20, 16)] * 3
    for ext in (".bmp", ".webp"):
        root = build_tinyface(tmp_path / f"tinyface{ext}", ext=ext)
        reference = build_tinyface(tmp_path / f"reference{ext}", ext=".png")
        for subset in ("train", "probe", "gallery", "distractor"):
            read, expected = TinyFace(root, subset), TinyFace(reference, subset)
            assert read.labels == expected.labels and read.report.excluded == expected.report.excluded
            assert torch.equal(read[0][0], expected[0][0])  # lossless formats: the same pixels


def test_a_decompression_bomb_beside_good_images_is_named_and_the_good_ones_decode(tmp_path: Path) -> None:
    from PIL import Image as PILImage

    from recognizability.data import ImageDecodeError

    limit = PILImage.MAX_IMAGE_PIXELS
    write_image(tmp_path / "ui" / "a.png", value=1)
    huge = write_huge_png(tmp_path / "ui" / "b.png")
    write_image(tmp_path / "ui" / "c.png", value=3)
    data = ImageFolder(tmp_path / "ui")
    assert len(data) == 3
    assert data[0][0].shape == data[2][0].shape == (3, 20, 16)
    with pytest.raises(ImageDecodeError, match=r"b\.png: expected an image of at most 178956970 pixels"):
        data[1]
    with pytest.raises(
        ImageDecodeError, match=r"1 of 3 images could not be decoded:\n  .*b\.png: .*196000000"
    ):
        data.verify_images()
    # the folder scorers skip it and list it, and score the others
    from recognizability.deploy import Preprocessing
    from recognizability.deploy.images import image_batches

    preprocessing = Preprocessing(input_size=8, channel_order="RGB", backbone="small_vlr_net")
    (batch,) = image_batches([r.path for r in data.samples], preprocessing, batch_size=3, workers=0)
    assert batch.indices == [0, 2] and batch.images.shape == (2, 3, 8, 8)
    assert [u.path for u in batch.unreadable] == [str(huge)]
    assert "196000000 pixels" in batch.unreadable[0].reason
    assert PILImage.MAX_IMAGE_PIXELS == limit  # Pillow's protection is kept, not switched off
    with pytest.raises(ImageDecodeError, match="huge"):
        decode_image(huge.rename(tmp_path / "huge.png"))


def test_synthetic_metadata_is_attached_by_relative_path(tmp_path: Path) -> None:
    root = build_tinyface(tmp_path / "t", ext=".png")
    (root / "SYNTHETIC.txt").write_text("synthetic")
    rows = [
        "path,identity,severity,hard,blur",
        "Testing_Set/Probe/3_1.png,3,0.25,0,1.0",
        "Testing_Set/Probe/7_1.png,7,0.9,1,2.0",
    ]
    (root / "synthetic_metadata.csv").write_text("\n".join(rows) + "\n")
    data = TinyFace(root, "probe")
    assert data.synthetic
    by_name = {r.path.name: r for r in data.samples}
    assert (by_name["3_1.png"].severity, by_name["3_1.png"].hard) == (0.25, False)
    assert (by_name["7_1.png"].severity, by_name["7_1.png"].hard) == (0.9, True)
    assert by_name["12_1.png"].severity is None
    assert any("2 have no row" in note for note in data.report.notes)
    assert not TinyFace(build_tinyface(tmp_path / "real"), "probe").synthetic


@pytest.mark.parametrize(
    ("rows", "pattern"),
    [
        (["path,identity,hard", "x.png,1,0"], r"missing \['severity'\]"),
        (
            ["path,identity,severity,hard", "x.png,1,1.5,0"],
            r"line 2: severity should lie in \[0, 1\], got 1.5",
        ),
        (["path,identity,severity,hard", "x.png,1,0.5,2"], r"line 2: hard should be 0 or 1, got '2'"),
    ],
)
def test_malformed_metadata_fails(tmp_path: Path, rows: list[str], pattern: str) -> None:
    write_image(tmp_path / "ui" / "x.png")
    (tmp_path / "ui" / "synthetic_metadata.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(ValueError, match=pattern):
        ImageFolder(tmp_path / "ui")
