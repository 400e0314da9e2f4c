"""Bad input to the ``recognizability`` command: every case named, nothing of the user's lost, one bad image
never stops a run.

Each row gives the arguments, the exit status and words the error must contain; the files the command was
given are compared byte for byte before and after.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from recognizability.deploy.cli import main, predict_main

pytest.importorskip("PIL")
from tests.helpers.fake_trees import write_huge_png, write_image


def _png(path: Path, seed: int = 0) -> Path:
    return write_image(path, (20, 24), value=seed)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _snapshot(*paths: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in paths}


# ----------------------------------------------------------------------------------------------------------
# Outputs: --overwrite replaces an earlier output, never an input of the same command
# ----------------------------------------------------------------------------------------------------------


def test_out_naming_the_checkpoint_is_refused_even_with_overwrite(
    calibrated: Path, checkpoint: Path, folders: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    before = _snapshot(checkpoint, calibrated)
    for out in (checkpoint, calibrated):
        argv = ["quality", str(folders["probe"]), "--checkpoint", str(checkpoint), "--out", str(out)]
        assert main([*argv, "--overwrite"]) == 2
        assert "an input of this command" in capsys.readouterr().err
    assert _snapshot(checkpoint, calibrated) == before


def test_out_naming_an_image_being_scored_is_refused(
    calibrated: Path, checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = _png(tmp_path / "d" / "a.png")
    before = _snapshot(image)
    argv = [
        "quality",
        str(tmp_path / "d"),
        "--checkpoint",
        str(checkpoint),
        "--out",
        str(image),
        "--overwrite",
    ]
    assert main(argv) == 2
    assert "a file this command reads" in capsys.readouterr().err
    argv = ["quality", str(image), "--checkpoint", str(checkpoint), "--out", str(image), "--overwrite"]
    assert main(argv) == 2
    assert "an input of this command" in capsys.readouterr().err
    assert _snapshot(image) == before


def test_export_and_calibrate_never_replace_their_inputs(
    calibrated: Path, checkpoint: Path, folders: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    before = _snapshot(checkpoint, calibrated)
    assert main(["export", "--checkpoint", str(checkpoint), "--out", str(checkpoint), "--overwrite"]) == 2
    assert "an input of this command" in capsys.readouterr().err
    argv = ["calibrate", "--checkpoint", str(checkpoint), "--out", str(checkpoint), "--overwrite"]
    assert main(argv) == 2
    assert "an input of this command" in capsys.readouterr().err
    assert _snapshot(checkpoint, calibrated) == before


def test_out_dash_writes_the_csv_to_standard_output(
    calibrated: Path, checkpoint: Path, folders: dict[str, Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    argv = ["quality", str(folders["probe"] / "id1"), "--checkpoint", str(checkpoint), "--workers", "0"]
    assert main([*argv, "--out", "-", "--no-progress"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0] == "path,quality,xi_hat" and len(lines) == 1 + len(
        list((folders["probe"] / "id1").iterdir())
    )
    assert "wrote" in captured.err  # messages go to standard error, the CSV alone to standard output
    assert not (tmp_path / "-").exists()


def test_an_existing_csv_is_replaced_only_when_asked_and_never_torn(
    calibrated: Path, checkpoint: Path, folders: dict[str, Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    out = tmp_path / "q.csv"
    out.write_text("earlier results\n")
    argv = ["quality", str(folders["probe"] / "id1"), "--checkpoint", str(checkpoint), "--out", str(out)]
    assert main([*argv, "--workers", "0"]) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert out.read_text() == "earlier results\n"

    def broken_writer(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("csv.writer", broken_writer)
    assert main([*argv, "--overwrite", "--workers", "0"]) == 2
    assert "disk full" in capsys.readouterr().err
    assert out.read_text() == "earlier results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.csv"]  # no temporary file left
    monkeypatch.undo()
    assert main([*argv, "--overwrite", "--workers", "0"]) == 0
    assert out.read_text().startswith("path,quality,xi_hat")


# ----------------------------------------------------------------------------------------------------------
# One bad file never stops a run; whatever is skipped is listed
# ----------------------------------------------------------------------------------------------------------


def test_links_are_followed_and_unreadable_files_listed(
    calibrated: Path, checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = [_png(tmp_path / "elsewhere" / f"img{i}.png", seed=i) for i in range(2)]
    folder = tmp_path / "faces"
    for i in range(2):
        _png(folder / f"img{i}.png", seed=10 + i)
    (folder / "link_to_outside.png").symlink_to(outside[0])
    (folder / "linked_folder").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (folder / "broken.png").symlink_to(tmp_path / "gone.png")
    (folder / "corrupt.png").write_bytes(b"not an image")
    (folder / "cycle").symlink_to(folder, target_is_directory=True)
    out = tmp_path / "q.csv"
    argv = ["quality", str(folder), "--checkpoint", str(checkpoint), "--out", str(out), "--workers", "0"]
    assert main([*argv, "--batch-size", "2"]) == 0
    rows = _rows(out)
    names = [Path(r["path"]).relative_to(folder).as_posix() for r in rows]
    assert names == [
        "img0.png",
        "img1.png",
        "link_to_outside.png",
        "linked_folder/img0.png",
        "linked_folder/img1.png",
    ]
    err = capsys.readouterr().err
    assert "broken.png: broken symbolic link" in err and "cycle: symbolic link to a folder" in err
    assert "corrupt.png: could not decode" in err
    # a link scores what it points to (up to the last printed digit: rows of a batch may round differently)
    assert abs(float(rows[2]["xi_hat"]) - float(rows[3]["xi_hat"])) <= 2e-6


def test_a_decompression_bomb_is_skipped_and_named(
    calibrated: Path, checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "faces"
    _png(folder / "good.png")
    bomb = write_huge_png(folder / "huge.png")
    out = tmp_path / "q.csv"
    argv = ["quality", str(folder), "--checkpoint", str(checkpoint), "--out", str(out), "--workers", "0"]
    assert main(argv) == 0
    assert [Path(r["path"]).name for r in _rows(out)] == ["good.png"]
    err = capsys.readouterr().err
    assert f"{bomb}: " in err and "pixels" in err
    # given alone: nothing to score, the reason named, no traceback
    alone = ["quality", str(bomb), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "alone.csv")]
    assert main(alone) == 1
    err = capsys.readouterr().err
    assert "huge.png" in err and "Traceback" not in err


def test_bmp_and_webp_are_scored_and_other_files_listed(
    calibrated: Path, checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    folder = tmp_path / "faces"
    source = Image.open(_png(folder / "a.png"))
    source.save(folder / "b.bmp")
    source.save(folder / "c.webp", lossless=True)
    (folder / "notes.txt").write_text("not a face")
    out = tmp_path / "q.csv"
    argv = ["quality", str(folder), "--checkpoint", str(checkpoint), "--out", str(out), "--workers", "0"]
    assert main(argv) == 0
    rows = _rows(out)
    assert [Path(r["path"]).name for r in rows] == ["a.png", "b.bmp", "c.webp"]
    scores = [float(r["xi_hat"]) for r in rows]  # the same pixels, stored losslessly three ways
    assert max(scores) - min(scores) <= 2e-6
    assert "notes.txt: not an image file" in capsys.readouterr().err


def test_without_pillow_one_message_names_the_extra(
    calibrated: Path, checkpoint: Path, folders: dict[str, Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setitem(sys.modules, "PIL", None)  # `import PIL` now fails as if it were not installed
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    argv = [
        "quality",
        str(folders["probe"]),
        "--checkpoint",
        str(checkpoint),
        "--out",
        str(tmp_path / "q.csv"),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "recognizability[image]" in err and "DataLoader" not in err
    assert not (tmp_path / "q.csv").exists()


# ----------------------------------------------------------------------------------------------------------
# Options: each error names its flag
# ----------------------------------------------------------------------------------------------------------


def _not_onnx(tmp: Path, kind: str) -> Path:
    path = tmp / f"{kind}.onnx"
    if kind == "text":
        path.write_text("this is not a model\n")
    elif kind == "truncated":
        import onnx

        graph = onnx.helper.make_graph(
            [onnx.helper.make_node("Identity", ["x"], ["y"])], "g",
            [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
            [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])],
        )  # fmt: skip
        data = onnx.helper.make_model(graph).SerializeToString()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "checkpoint":
        path = tmp / "last.pt"
        torch.save({"w": torch.zeros(2)}, path)
    return path


OPTION_FAULTS: list[tuple[str, Callable[[Path, Path], list[str]], str]] = [
    ("--threshold-for 5", lambda t, c: ["quality", "--checkpoint", str(c), "--threshold-for", "5"],
        r"expected --threshold-for to be a float in \[0, 1\), got 5.0"),
    ("--onnx missing", lambda t, c: ["quality", "--onnx", str(t / "missing.onnx"), "--threshold-for", "0.1"],
        r"expected --onnx to be an ONNX model .*missing\.onnx' \(no such file\)"),
    ("--onnx a text file", lambda t, c: ["quality", "--onnx", str(_not_onnx(t, "text")), "--threshold-for",
        "0.1"], "not an ONNX model"),
    ("--onnx truncated", lambda t, c: ["quality", "--onnx", str(_not_onnx(t, "truncated")),
        "--threshold-for", "0.1"], "not an ONNX model"),
    ("--onnx a .pt file", lambda t, c: ["quality", "--onnx", str(_not_onnx(t, "checkpoint")),
        "--threshold-for", "0.1"], r"not an ONNX model.*--checkpoint takes last\.pt"),
    ("--batch-size 0", lambda t, c: ["quality", str(t), "--checkpoint", str(c), "--out", str(t / "q.csv"),
        "--batch-size", "0"], "expected --batch-size to be a positive int, got 0"),
    ("--workers -1", lambda t, c: ["quality", str(t), "--checkpoint", str(c), "--out", str(t / "q.csv"),
        "--workers", "-1"], "expected --workers to be a non-negative int, got -1"),
    ("--fmr 0", lambda t, c: ["calibrate", "--checkpoint", str(c), "--out", str(t / "c.json"), "--fmr", "0"],
        r"expected --fmr to be a float in \(0, 1\)"),
    ("--out a folder", lambda t, c: ["quality", str(t), "--checkpoint", str(c), "--out", str(t)],
        "expected --out to be a file path, got the folder"),
    ("evaluate --out a file", lambda t, c: ["evaluate", "--probe", str(t), "--gallery", str(t),
        "--checkpoint", str(c), "--out", str(c)], "expected --out to be a folder"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "argv", "words"), OPTION_FAULTS, ids=[row[0] for row in OPTION_FAULTS])
def test_bad_options_are_named(
    name: str, argv: Callable[[Path, Path], list[str]], words: str, calibrated: Path, checkpoint: Path,
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    pytest.importorskip("onnx")
    assert main(argv(tmp_path, checkpoint)) == 2
    err = capsys.readouterr().err
    assert err.startswith("recognizability ") and "Traceback" not in err
    assert err.count("\n") == 1
    import re

    assert re.search(words, err), err


def test_the_retired_predict_command_says_what_replaces_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert predict_main(["--checkpoint", "last.pt", "--images", "faces", "--out", "q.csv"]) == 2
    err = capsys.readouterr().err
    assert "retired" in err and "recognizability calibrate" in err and "recognizability quality" in err
