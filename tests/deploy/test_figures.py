"""The figures of the deployment commands: ``recognizability evaluate``'s follow the package's one style, and
``recognizability figures`` draws the paper's Fig. 5 (Grad-CAM of the recognition module and of the
perceptibility attention) and Fig. 6 (faces by quality) for a run, on a folder of faces, leaving out what the
run did not train. Read from the matplotlib objects, not from pixels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from recognizability._figures import METHOD_STYLES
from recognizability.deploy import evaluate, figures
from recognizability.deploy.cli import main
from recognizability.deploy.explain import grad_cam
from tests.helpers.figures import caught_figures, titles

pytest.importorskip("matplotlib")
pytest.importorskip("PIL")


def test_grad_cam_is_relu_of_the_gradient_weighted_channels() -> None:
    feature_map = torch.tensor([[[[1.0, 2.0], [3.0, -4.0]], [[0.5, 0.0], [-1.0, 2.0]]]], requires_grad=True)
    a = torch.tensor([[1.0, 3.0], [0.0, 0.0]])  # d score / d F_0: spatial mean 1
    b = torch.tensor([[-2.0, 0.0], [0.0, 0.0]])  # d score / d F_1: spatial mean -0.5
    score = (feature_map[:, 0] * a).sum(dim=(1, 2)) + (feature_map[:, 1] * b).sum(dim=(1, 2))
    maps = grad_cam(feature_map, score, (2, 2))
    expected = torch.relu(1.0 * feature_map[0, 0] - 0.5 * feature_map[0, 1]).detach()
    torch.testing.assert_close(maps[0], expected / expected.max())
    assert maps.shape == (1, 2, 2) and float(maps.max()) == 1.0


def test_evaluate_figures_follow_the_style(
    calibrated: Path,
    checkpoint: Path,
    folders: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "eval"
    command = ["evaluate", "--probe", str(folders["probe"]), "--gallery", str(folders["gallery"]),
               "--checkpoint", str(checkpoint), "--out", str(out), "--workers", "0", "--no-progress",
               "--vector", "svg"]  # fmt: skip
    with caught_figures(monkeypatch, evaluate) as caught:
        assert main(command) == 0
    assert set(caught) == {"cmc.png", "edc.png", "quality_histogram.png"}
    assert {p.name for p in out.glob("*.svg")} == {"cmc.svg", "edc.svg", "quality_histogram.svg"}
    probes = json.loads((out / "report.json").read_text())["identification"]["probes"]
    for name, fig in caught.items():
        text = "\n".join(titles(fig))
        assert "probe probe/" in text and str(checkpoint) in text and "n = " in text, name
        for title, extent, box in fig.title_boxes:
            assert box.x0 - 1 <= extent.x0 and extent.x1 <= box.x1 + 1, (name, title)
    (cmc,) = caught["cmc.png"].axes
    ticks = [t for t in cmc.get_xticks() if cmc.get_xlim()[0] <= t <= cmc.get_xlim()[1]]
    assert all(float(t).is_integer() for t in ticks) and cmc.get_ylim() == (0.0, 1.0)
    assert f"n = {probes} probes" in titles(caught["cmc.png"])[0]
    (edc,) = caught["edc.png"].axes
    assert edc.get_lines()[0].get_color() == METHOD_STYLES["calibrated_quality"].color


def _without_terms(checkpoint: Path, out: Path, **switches: bool) -> Path:
    """The checkpoint with its settings saying that some terms were not trained (same weights)."""
    payload = torch.load(checkpoint, map_location="cpu", weights_only=True)
    payload["settings"] = {**payload["settings"], **switches}
    payload["settings"]["losses"] = [
        term for term, switch in (("id", "use_diversion"), ("mse", "use_attention"), ("l1", "use_regression"))
        if payload["settings"][switch]
    ]  # fmt: skip
    torch.save(payload, out)
    return out


def test_figures_draws_fig5_and_fig6_for_a_run(
    checkpoint: Path, folders: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    out = tmp_path / "figures"
    command = ["figures", "--checkpoint", str(checkpoint), "--faces", str(folders["probe"]),
               str(folders["root"] / "broken.png"), "--out", str(out), "--count", "4", "--maps", "3",
               "--workers", "0", "--vector", "pdf"]  # fmt: skip
    with caught_figures(monkeypatch, figures) as caught:
        assert main(command) == 0
    assert {p.name for p in out.iterdir()} == {
        "quality_extremes.png", "quality_extremes.pdf", "activation_maps.png", "activation_maps.pdf"
    }  # fmt: skip
    assert "broken.png" in capsys.readouterr().err  # skipped and listed
    extremes = caught["quality_extremes.png"]
    rows = [ax.get_ylabel() for ax in extremes.axes if ax.get_ylabel()]
    assert [r.split("\n")[0] for r in rows] == [
        METHOD_STYLES[n].label
        for n in ("learned_index", "learned_index", "ers", "magface_norm", "crfiqa_nearest")
    ]
    assert [r.split("\n")[1] for r in rows] == ["lowest", "highest", "lowest", "lowest", "lowest"]
    text = "\n".join(titles(extremes))
    assert "Fig. 6" in text and "probe" in text and "n = 60 faces" in text and "small_vlr_net" in text
    maps = caught["activation_maps.png"]
    labels = [ax.get_ylabel() for ax in maps.axes if ax.get_ylabel()]
    assert labels == ["face", "recognition module\n(arcface, this run)", "perceptibility\nattention"]
    assert len(maps.axes) == 3 * 3 and "Fig. 5" in titles(maps)[0]
    assert main(command) == 2  # the figures exist: never replaced without --overwrite
    assert main([*command, "--overwrite"]) == 0


def test_figures_leave_out_what_the_run_did_not_train(
    checkpoint: Path, folders: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    baseline = _without_terms(
        checkpoint, tmp_path / "arcface.pt", use_regression=False, use_diversion=False, use_attention=False
    )
    command = ["figures", "--checkpoint", str(baseline), "--faces", str(folders["probe"]), "--out",
               str(tmp_path / "out"), "--count", "3", "--maps", "2", "--workers", "0"]  # fmt: skip
    with caught_figures(monkeypatch, figures) as caught:
        assert main(command) == 0
    rows = [ax.get_ylabel().split("\n")[0] for ax in caught["quality_extremes.png"].axes if ax.get_ylabel()]
    assert METHOD_STYLES["learned_index"].label not in rows and len(rows) == 3
    labels = [ax.get_ylabel() for ax in caught["activation_maps.png"].axes if ax.get_ylabel()]
    assert labels == ["face", "recognition module\n(arcface, this run)"]  # no attention row
    assert "ERS" in caught["activation_maps.png"].axes[0].get_xlabel()  # ordered by ERS, no learned index


def test_figures_beside_a_compared_run(
    checkpoint: Path, folders: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compare = tmp_path / "arcface" / "last.pt"
    compare.parent.mkdir()
    _without_terms(checkpoint, compare, use_regression=False, use_diversion=False, use_attention=False)
    command = ["figures", "--checkpoint", str(checkpoint), "--compare", str(compare), "--faces",
               str(folders["probe"]), "--out", str(tmp_path / "out"), "--maps", "2",
               "--workers", "0"]  # fmt: skip
    with caught_figures(monkeypatch, figures) as caught:
        assert main(command) == 0
    labels = [ax.get_ylabel() for ax in caught["activation_maps.png"].axes if ax.get_ylabel()]
    assert labels == ["face", "arcface alone\n(run arcface)", "perceptibility\nattention"]
    assert (
        main(["figures", "--checkpoint", str(checkpoint), "--out", str(tmp_path / "x"), "--count", "0"]) == 2
    )
