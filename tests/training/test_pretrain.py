"""Stage 1 (pretraining on clean faces): identity labels from folders, exact resume, safe outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from recognizability.backbones import create_backbone, load_pretrained
from recognizability.data.synthetic import generate
from recognizability.training.pretrain import PretrainConfig, load_identity_folder, main
from tests.helpers.usage import UsageError, run_command

TINY = [
    "--epochs",
    "2",
    "--batch-size",
    "16",
    "--lr-decay-epoch",
    "2",
    "--embedding-dim",
    "16",
    "--threads",
    "1",
]


@pytest.fixture(scope="module")
def hr_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hr") / "tree"
    return generate("hr", root, seed=3, identities=12, images_per_identity=4, image_size=32)


def test_identity_folder_labels_follow_sorted_folder_names(hr_root: Path) -> None:
    data = load_identity_folder(hr_root, 32)
    assert len(data) == 48 and data.images.shape == (48, 3, 32, 32)
    folders = [Path(p).parent.name for p in data.paths]
    ranks = {name: i for i, name in enumerate(sorted(set(folders)))}
    assert data.labels.tolist() == [ranks[f] for f in folders]


def test_identity_folder_refuses_flat_and_single_identity_folders(tmp_path: Path, hr_root: Path) -> None:
    one = sorted(p for p in hr_root.iterdir() if p.is_dir())[0]
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "a.png").write_bytes((one / "0001.png").read_bytes())
    with pytest.raises(FileNotFoundError, match="flat"):
        load_identity_folder(flat, 32)
    single = tmp_path / "single"
    (single / "x").mkdir(parents=True)
    (single / "x" / "a.png").write_bytes((one / "0001.png").read_bytes())
    with pytest.raises(ValueError, match="at least 2 identity folders"):
        load_identity_folder(single, 32)


def test_config_checks_and_round_trips() -> None:
    config = PretrainConfig(epochs=3)
    assert PretrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="batch_size"):
        PretrainConfig(batch_size=0)
    with pytest.raises(ValueError, match="unknown keys"):
        PretrainConfig.from_dict({**config.to_dict(), "lr_backbone": 1.0})


@pytest.mark.slow
def test_command_trains_resumes_exactly_and_never_overwrites(tmp_path: Path, hr_root: Path) -> None:
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert main(["--hr-root", str(hr_root), "--out", str(straight), *TINY]) == 0
    one_epoch = [*TINY[:1], "1", *TINY[2:]]
    assert main(["--hr-root", str(hr_root), "--out", str(split), *one_epoch]) == 0
    assert main(["--hr-root", str(hr_root), "--out", str(split), *TINY, "--resume"]) == 0
    a = torch.load(straight / "backbone.pt", weights_only=True)
    b = torch.load(split / "backbone.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    report = json.loads((straight / "pretrain.json").read_text())
    assert [r["epoch"] for r in report["history"]] == [1.0, 2.0]
    assert report["data"] == {
        "root": str(hr_root),
        "provenance": "user folder",
        "images": 48,
        "identities": 12,
    }
    backbone = create_backbone("small_vlr_net", input_size=(32, 32), embedding_dim=16)
    assert load_pretrained(backbone, straight / "backbone.pt").is_exact

    before = (straight / "last.pt").read_bytes()
    with pytest.raises(UsageError, match=r"error: .*--resume to continue"):
        run_command(main, ["--hr-root", str(hr_root), "--out", str(straight), *TINY])
    assert (straight / "last.pt").read_bytes() == before
