"""``recognizability fit-quality``: a frozen backbone and two folders become a quality model that ``quality``,
``calibrate``, ``export`` and ``evaluate`` take as ``--checkpoint``; bad input is refused by name, before
anything is written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from recognizability.backbones import create_backbone
from recognizability.deploy import load_quality_model
from recognizability.deploy.cli import main

FIT = ["fit-quality", "--backbone", "small_vlr_net", "--pretrained", "synthetic-hr"]
FAST = ["--steps", "60", "--calibration-share", "0.5", "--fmr", "0.01", "--workers", "0", "--no-progress"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small SYNTHETIC TinyFace-layout tree (16 training identities x 10 images) and a UI set."""
    pytest.importorskip("PIL")
    from recognizability.data import synthetic

    root = tmp_path_factory.mktemp("synthetic")
    synthetic.generate("tinyface", root / "tree", seed=3, train_identities=16, train_images=160,
                       test_identities=6, probe_identities=6, probe_images=24, gallery_images=12,
                       distractor_images=4)  # fmt: skip
    synthetic.generate("ui", root / "ui", seed=3, face_images=24, nonface_images=2)
    return root


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_fit_quality_makes_a_checkpoint_every_command_takes(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECOGNIZABILITY_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "models" / "quality.pt"
    faces = str(tree / "tree" / "Training_Set")
    ui = ["--ui", str(tree / "ui")]  # the default target, the index, needs a UI set
    status, printed, _ = _run(capsys, *FIT, "--faces", faces, *ui, "--out", str(out), *FAST)
    assert status == 0, printed
    assert "index head on the feature map" in printed and "SYNTHETIC" in printed
    calibration = out.with_name("quality.calibration.json")
    assert out.is_file() and calibration.is_file()
    assert json.loads(calibration.read_text())["synthetic"] is True
    # a second fit with other choices (the certainty ratio, which needs no UI set) reads no image
    second = tmp_path / "models" / "ratio.pt"
    ratio = ["--target", "certainty_ratio", "--input", "embedding"]
    status, printed, _ = _run(capsys, *FIT, "--faces", faces, "--out", str(second), *ratio, *FAST)
    assert status == 0 and "certainty_ratio head on the embedding" in printed, printed
    assert "embedding pass 0 of 160 images read" in printed, printed

    probe = tree / "tree" / "Testing_Set" / "Probe"
    assert _run(capsys, "quality", "--checkpoint", str(out), "--threshold-for", "0.5")[0] == 0
    status, printed, _ = _run(capsys, "quality", str(probe), "--checkpoint", str(out), "--out",
                              str(tmp_path / "scores.csv"), "--workers", "0", "--no-progress")  # fmt: skip
    assert status == 0
    rows = (tmp_path / "scores.csv").read_text().splitlines()
    assert rows[0] == "path,quality,xi_hat" and len(rows) == 25
    model = load_quality_model(out)
    assert model.regression_input == "feature_map" and model.preprocessing.input_size == 32

    # evaluate on labelled folders made of the test split
    from recognizability.data import TinyFace

    for subset in ("probe", "gallery"):
        for record in TinyFace(tree / "tree", subset).samples:
            folder = tmp_path / subset / f"id{record.label}"
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy(record.path, folder / record.path.name)
    folders = ["--probe", str(tmp_path / "probe"), "--gallery", str(tmp_path / "gallery")]
    quiet = ["--no-plots", "--workers", "0", "--no-progress"]
    status, printed, _ = _run(
        capsys, "evaluate", *folders, "--checkpoint", str(out), "--out", str(tmp_path / "e"), *quiet
    )
    assert status == 0 and "rank-1" in printed
    # calibrate writes the sidecar the other commands read: refused without --overwrite, then replaced
    calibrate = ["calibrate", "--checkpoint", str(out), *folders, "--fmr", "0.05", "--workers", "0",
                 "--no-progress"]  # fmt: skip
    assert _run(capsys, *calibrate)[0] == 2
    assert _run(capsys, *calibrate, "--overwrite")[0] == 0
    assert json.loads(calibration.read_text())["fmr"] == 0.05

    for module in ("onnx", "onnxruntime", "onnxscript"):
        pytest.importorskip(module)
    onnx_path = tmp_path / "quality.onnx"
    for checkpoint in (out, second):
        export = ["export", "--checkpoint", str(checkpoint), "--out", str(onnx_path), "--overwrite"]
        status, printed, err = _run(capsys, *export)
        assert status == 0, err
        from recognizability.deploy import OnnxQualityModel

        exported, torch_model = OnnxQualityModel(onnx_path), load_quality_model(checkpoint)
        images = torch.rand(5, 3, 32, 32) * 255
        for a, b in zip(exported.embed_and_score(images), torch_model.embed_and_score(images), strict=True):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-4)
        assert exported.calibration is not None


def test_pseudo_ui_and_no_calibration(tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "q.pt"
    faces = str(tree / "tree" / "Training_Set")
    options = ["--no-cache", "--steps", "30", "--calibration-share", "0", "--workers", "0", "--no-progress"]
    index = ["--pseudo-ui"]
    status, printed, _ = _run(capsys, *FIT, "--faces", faces, *index, "--out", str(out), *options)
    assert status == 0 and "run recognizability calibrate --checkpoint" in printed
    assert out.is_file() and not out.with_name("q.calibration.json").exists()
    status, _, err = _run(capsys, "quality", "--checkpoint", str(out), "--threshold-for", "0.5")
    assert status == 2 and "expected a quality calibration" in err
    content = torch.load(out, weights_only=True)
    assert (
        content["kind"] == "recognizability quality model" and content["report"]["ui"]["source"] == "pseudo"
    )
    # the file says what the fit used: the default target and its diversion term, written out
    assert (content["settings"]["target"], content["settings"]["diversion_weight"]) == ("index", 0.4)


def _nothing_written(tmp_path: Path) -> None:
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "cache").exists()


def _image_folder(root: Path, layout: dict[str, int]) -> Path:
    from PIL import Image

    for identity, count in layout.items():
        (root / identity).mkdir(parents=True)
        for k in range(count):
            Image.fromarray(np.full((32, 32, 3), 40 * k % 256, dtype=np.uint8)).save(
                root / identity / f"{k}.png"
            )
    return root


@pytest.mark.parametrize(
    ("case", "match"),
    [
        ("one identity", r"at least 2 identity folders .* got 1: \['solo'\]"),
        ("identities with one image", r"got 2 identities with one image: \['lone1', 'lone2'\].*--skip-small"),
        ("UI of non-images", r"--ui .*notes.* no image file \(2 other file\(s\)"),
        ("another architecture", r"--pretrained .*other\.pth.* does not fit SmallVLRNet"),
        ("unknown tag", r"tag shipped for 'small_vlr_net' \(\['synthetic-hr'\]\) or a checkpoint file"),
        ("too few comparisons", r"1/fmr = 1000 non-mated comparisons .* --fmr or --calibration-share"),
        ("both UI sets", r"not allowed with argument"),
        ("a UI set the ratio does not read", r"no UI set with --target certainty_ratio .* got --ui"),
        ("the index without a UI set", r"exactly one UI set for --target index .* got neither"),
    ],
)
def test_bad_input_is_refused_by_name_and_nothing_is_written(
    case: str, match: str, tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    pytest.importorskip("PIL")
    faces = str(tree / "tree" / "Training_Set")
    ui = ["--ui", str(tree / "ui")]
    pretrained = "synthetic-hr"
    extra: list[str] = ["--fmr", "0.01", "--calibration-share", "0.5"]
    if case == "one identity":
        faces = str(_image_folder(tmp_path / "faces", {"solo": 3}))
    elif case == "identities with one image":
        faces = str(_image_folder(tmp_path / "faces", {"a": 2, "lone1": 1, "b": 3, "lone2": 1}))
    elif case == "UI of non-images":
        notes = tmp_path / "notes"
        notes.mkdir()
        (notes / "readme.txt").write_text("no faces here")
        (notes / "list.csv").write_text("a,b\n")
        ui = ["--ui", str(notes)]
    elif case == "another architecture":
        other = tmp_path / "other.pth"
        torch.save(create_backbone("small_vlr_net", width=16, embedding_dim=128).state_dict(), other)
        pretrained = str(other)
        extra += ["--embedding-dim", "128"]
    elif case == "unknown tag":
        pretrained = "vggface2"
    elif case == "too few comparisons":
        extra = ["--fmr", "0.001", "--calibration-share", "0.2"]
    elif case == "a UI set the ratio does not read":
        extra += ["--target", "certainty_ratio"]
    elif case == "the index without a UI set":
        ui = []
    elif case == "both UI sets":
        ui += ["--pseudo-ui"]
    monkeypatch.setenv("RECOGNIZABILITY_CACHE", str(tmp_path / "cache"))
    argv = ["fit-quality", "--backbone", "small_vlr_net", "--pretrained", pretrained, "--faces", faces, *ui,
            "--out", str(tmp_path / "out" / "q.pt"), "--workers", "0", "--no-progress", *extra]  # fmt: skip
    if case == "both UI sets":
        with pytest.raises(SystemExit):
            main(argv)
        err = capsys.readouterr().err
    else:
        status, _, err = _run(capsys, *argv)
        assert status == 2
    assert __import__("re").search(match, " ".join(err.split())), err
    _nothing_written(tmp_path)


def test_small_identities_can_be_left_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("PIL")
    layout = {f"id{k}": 4 for k in range(8)} | {"lone": 1}
    faces = _image_folder(tmp_path / "faces", layout)
    status, printed, err = _run(capsys, *FIT, "--faces", str(faces), "--out", str(tmp_path / "q.pt"),
                                "--pseudo-ui", "--skip-small-identities", "--no-cache", "--steps", "20",
                                "--calibration-share", "0.5", "--fmr", "0.1", "--workers", "0",
                                "--no-progress")  # fmt: skip
    assert status == 0, err
    assert "left out 1 identities with one image" in err and "fitted on 4 identities" in printed


def test_an_existing_output_or_an_input_is_never_replaced(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "q.pt"
    out.write_text("mine")
    common = ["fit-quality", "--backbone", "small_vlr_net", "--pretrained", "synthetic-hr", "--faces",
              str(tree / "tree" / "Training_Set"), "--pseudo-ui", "--no-cache"]  # fmt: skip
    status, _, err = _run(capsys, *common, "--out", str(out))
    assert status == 2 and "pass --overwrite" in err and out.read_text() == "mine"
    sidecar = tmp_path / "r.calibration.json"
    sidecar.write_text("{}")
    status, _, err = _run(capsys, *common, "--out", str(tmp_path / "r.pt"))
    assert status == 2 and "calibration beside --out" in err and not (tmp_path / "r.pt").exists()
    image = next((tree / "tree" / "Training_Set").rglob("*.png"))
    status, _, err = _run(capsys, *common, "--out", str(image), "--overwrite")
    assert status == 2 and "a file this command reads" in err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fit_quality_on_cuda_runs_the_backbone_there(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "q.pt"
    argv = [*FIT, "--faces", str(tree / "tree" / "Training_Set"), "--pseudo-ui", "--out", str(out),
            "--device", "cuda", "--no-cache", *FAST]  # fmt: skip
    status, _, err = _run(capsys, *argv)
    assert status == 0, err
    model = load_quality_model(out)  # written on the CPU, readable anywhere
    assert next(model.backbone.parameters()).device.type == "cpu"
