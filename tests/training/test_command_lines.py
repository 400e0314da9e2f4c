"""The training command lines refuse bad option values as usage errors (exit status 2, ``error:`` naming the
option, the expected and the received value) before anything is loaded or written, and ``--overwrite`` loses
nothing until the new run has written its first checkpoint."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from recognizability.training import parse_args
from recognizability.training import pretrain as pretrain_module
from tests.helpers.usage import UsageError, run_command


def _earlier_run(
    folder: Path, names: tuple[str, ...] = ("last.pt", "report.json", "cmc.png")
) -> dict[str, bytes]:
    """A folder as a finished run leaves it (contents do not matter: nothing may read or replace them)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(f"earlier {name}".encode())
    return _listing(folder)


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _text_file(tmp: Path) -> str:
    (tmp / "notes.txt").write_text("not weights\n")
    return str(tmp / "notes.txt")


def _other_weights(tmp: Path) -> str:
    """An arcface_torch-style state dict of iresnet18: weights, but not the demo backbone's."""
    import torch

    from recognizability.backbones import create_backbone

    torch.save(create_backbone("iresnet18", embedding_dim=8).state_dict(), tmp / "r18.pth")
    return str(tmp / "r18.pth")


def _a_trained_run_in(tmp: Path) -> Path:
    from tests.helpers.models import trained_checkpoint  # embedding_dim 16, not the demo's

    (tmp / "out" / "full").mkdir(parents=True)
    trained_checkpoint(tmp / "out" / "full")
    return tmp / "out"


def _a_run_in(tmp: Path) -> Path:
    _earlier_run(tmp / "out" / "full")
    return tmp / "out"


# (name, argv after --out OUT, words of the error); OUT is tmp/"out" unless the row makes it
EXAMPLE_FAULTS: list[tuple[str, Callable[[Path], list[str]], str]] = [
    ("--batch-size 0", lambda t: ["--batch-size", "0"], r"argument --batch-size: expected batch_size"),
    ("--batch-size 1", lambda t: ["--batch-size", "1"],
        r"--batch-size: expected batch_size >= 2.*one sample"),
    ("--epochs 0", lambda t: ["--epochs", "0"], r"argument --epochs: expected epochs .*got 0"),
    ("--max-steps 0", lambda t: ["--max-steps", "0"], r"argument --max-steps: .*got 0"),
    ("--lr-decay-epoch 0", lambda t: ["--lr-decay-epoch", "0"], r"argument --lr-decay-epoch: .*got 0"),
    ("--tau nan", lambda t: ["--tau", "nan"], r"argument --tau: .*nan"),
    ("--threads 0", lambda t: ["--threads", "0"], r"argument --threads: expected an int >= 1, got 0"),
    ("--device tpu7", lambda t: ["--device", "tpu7"], r"--device to be cpu, cuda or cuda:N, got 'tpu7'"),
    ("--resume --overwrite", lambda t: ["--resume", "--overwrite"], r"argument --overwrite: not allowed"),
    ("--out a file", lambda t: ["--out", _text_file(t)], r"--out .* is a file"),
    ("--out holds a run", lambda t: ["--out", str(_a_run_in(t)), "--no-baseline"], r"--resume to continue"),
    ("--pretrained missing", lambda t: ["--pretrained", str(t / "absent.pth")],
        r"--pretrained .*no such file"),
    ("--pretrained a text file", lambda t: ["--pretrained", _text_file(t)],
        r"--pretrained: expected a backbone checkpoint .*notes\.txt', got a text file"),
    ("--pretrained another backbone's weights", lambda t: ["--pretrained", _other_weights(t)],
        r"--pretrained: checkpoint .*r18\.pth' .*does not fit SmallVLRNet"),
    ("--config paper without --pretrained", lambda t: ["--config", "paper"],
        r"expected --pretrained with frozen batch normalisation.*--no-freeze-batchnorm"),
    ("--data-root missing", lambda t: ["--data-root", str(t / "absent")], r"argument --data-root: .*absent"),
    ("--synthetic-size unknown key", lambda t: ["--synthetic-size", "foo=3"],
        r"argument --synthetic-size: .*size names.*\['foo'\]"),
    ("--synthetic-size with --data-root", lambda t: ["--data-root", str(t), "--config", "demo",
        "--synthetic-size", "train_images=40"], r"--synthetic-size: \['train_images'\] size the generated"),
    ("--losses ce", lambda t: ["--losses", "ce"], r"--losses: expected terms"),
    ("--resume with other settings",
        lambda t: ["--out", str(_a_trained_run_in(t)), "--resume", "--no-baseline"],
        r"settings of .*last\.pt' to match this run's.*embedding_dim"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "extra", "words"), EXAMPLE_FAULTS, ids=[row[0] for row in EXAMPLE_FAULTS])
def test_example_options_are_usage_errors_before_anything_is_written(
    name: str, extra: Callable[[Path], list[str]], words: str, tmp_path: Path
) -> None:
    argv = ["--out", str(tmp_path / "out"), "--device", "cpu", *extra(tmp_path)]
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(UsageError, match=words) as caught:
        run_command(lambda a: parse_args("tinyface", a), argv)
    assert "error:" in str(caught.value)
    assert sorted(os.listdir(tmp_path)) == before  # nothing created, nothing removed


def test_an_unwritable_out_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(UsageError, match=r"--out .* no write permission"):
        run_command(lambda a: parse_args("tinyface", a), ["--out", str(tmp_path / "out"), "--device", "cpu"])


# ----------------------------------------------------------------------------------------------------------
# pretrain
# ----------------------------------------------------------------------------------------------------------

PRETRAIN_FAULTS: list[tuple[str, list[str], str]] = [
    ("--batch-size 1", ["--batch-size", "1"], r"argument --batch-size: expected batch_size >= 2"),
    ("--epochs 0", ["--epochs", "0"], r"argument --epochs: expected epochs to be an int >= 1, got 0"),
    ("--lr nan", ["--lr", "nan"], r"argument --lr: .*nan"),
    ("--flip-p 2", ["--flip-p", "2"], r"argument --flip-p: expected flip_p in \[0, 1\], got 2"),
    ("--margin 4", ["--margin", "4"], r"--margin: expected margin .*got 4"),
    ("--device tpu7", ["--device", "tpu7"], r"--device to be cpu, cuda or cuda:N"),
    ("--threads 0", ["--threads", "0"], r"argument --threads"),
    ("--resume --overwrite", ["--resume", "--overwrite"], r"argument --overwrite: not allowed"),
    ("--synthetic-size x", ["--synthetic-size", "x"], r"--synthetic-size: expected KEY=N"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "extra", "words"), PRETRAIN_FAULTS, ids=[row[0] for row in PRETRAIN_FAULTS])
def test_pretrain_options_are_usage_errors_before_anything_is_written(
    name: str, extra: list[str], words: str, tmp_path: Path
) -> None:
    with pytest.raises(UsageError, match=words):
        run_command(pretrain_module.main, ["--out", str(tmp_path / "pt"), "--hr-root", str(tmp_path), *extra])
    assert not (tmp_path / "pt").exists()


def test_pretrain_overwrite_keeps_the_earlier_run_when_the_new_one_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from recognizability.data.synthetic import generate

    hr = generate("hr", tmp_path / "hr", seed=1, identities=3, images_per_identity=2, image_size=32)
    out = tmp_path / "pt"
    before = _earlier_run(out, ("last.pt", "backbone.pt", "pretrain.json"))
    argv = ["--out", str(out), "--hr-root", str(hr), "--batch-size", "2", "--epochs", "1", "--threads", "1"]
    with pytest.raises(UsageError, match="--batch-size: expected batch_size >= 2"):
        run_command(pretrain_module.main, [*argv, "--overwrite", "--batch-size", "1"])
    assert _listing(out) == before

    def fails(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the new run failed in its first epoch")

    monkeypatch.setattr(pretrain_module, "pretrain", fails)
    with pytest.raises(RuntimeError, match="first epoch"):
        pretrain_module.main([*argv, "--overwrite"])
    assert _listing(out) == before  # the whole earlier run: last.pt, backbone.pt and pretrain.json
    with pytest.raises(RuntimeError, match="first epoch"):
        pretrain_module.main([*argv, "--out", str(tmp_path / "new")])
    assert not (tmp_path / "new").exists()  # a failed new run leaves no folder behind


def test_pretrain_resume_of_a_fine_tuning_run_says_what_it_holds(tmp_path: Path) -> None:
    from tests.helpers.models import trained_checkpoint

    folder = tmp_path / "full"
    folder.mkdir()
    trained_checkpoint(folder)
    with pytest.raises(UsageError, match=r"those of a fine-tuning \(stage 2\) run.*example's --resume"):
        run_command(pretrain_module.main, ["--out", str(folder), "--resume", "--hr-root", str(tmp_path)])
