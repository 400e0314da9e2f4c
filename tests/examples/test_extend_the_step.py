"""The step is the example's: a researcher copies ``examples/train_tinyface.py``, adds a loss term with a
trainable module of its own in that copy alone, and the library logs the term, reports it, stores the module
in ``last.pt``, resumes it exactly and trains it with its own learning rate, with no change to the library.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest
import torch

from tests.helpers.paths import load_script
from tests.helpers.tiny import EXAMPLES

#: The edits a researcher makes to the copy: (text of the example, replacement).
EDITS: tuple[tuple[str, str], ...] = (
    (
        "    ui_center = UICenter(backbone.embedding_dim)\n",
        "    ui_center = UICenter(backbone.embedding_dim)\n"
        "    norm_head = torch.nn.Linear(backbone.embedding_dim, 1)  # new: predicts the embedding norm\n"
        "    INITIAL[name] = norm_head.weight.detach().clone()\n",
    ),
    (
        "MethodModules(backbone, head, criterion, ui_center)",
        "MethodModules(backbone, head, criterion, ui_center, norm_head=norm_head)",
    ),
    ("regression=criterion.regression,\n", "regression=criterion.regression, norm_head=(norm_head, 1e-2),\n"),
    (
        "            optimizer.zero_grad(set_to_none=True)\n            losses.total.backward()\n",
        "                norm_term = (norm_head(v.detach()).squeeze(1) - v.detach().norm(dim=1))"
        ".pow(2).mean()\n"
        "            optimizer.zero_grad(set_to_none=True)\n"
        "            (losses.total + 0.1 * norm_term).backward()\n",
    ),
    ("meter.update(losses, len(labels))", "meter.update(losses, len(labels), norm_term=norm_term)"),
    ('DATASET = "tinyface"\n', 'DATASET = "tinyface"\nINITIAL: dict[str, torch.Tensor] = {}\n'),
)

SIZES = ["train_identities=10", "train_images=60", "test_identities=8", "probe_identities=6",
         "probe_images=12", "gallery_images=14", "distractor_images=8", "face_images=16",
         "nonface_images=2"]  # fmt: skip


def _copy(tmp: Path) -> ModuleType:
    source = (EXAMPLES / "train_tinyface.py").read_text()
    for old, new in EDITS:
        assert source.count(old) == 1, old  # the example still reads as the edit expects
        source = source.replace(old, new)
    path = tmp / "my_train.py"
    path.write_text(source)
    return load_script(path, "my_train")


def _argv(out: Path, *extra: str) -> list[str]:
    argv = ["--out", str(out), "--max-steps", "2", "--batch-size", "16", "--no-baseline", "--no-plots",
            "--no-progress", "--device", "cpu", "--threads", "1", *extra]  # fmt: skip
    for item in SIZES:
        argv += ["--synthetic-size", item]
    return argv


@pytest.mark.slow
def test_a_new_term_and_module_in_a_copy_of_the_example_are_logged_saved_and_resumed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECOGNIZABILITY_CACHE", str(tmp_path / "cache"))
    script = _copy(tmp_path)
    assert script.main(_argv(tmp_path / "straight", "--epochs", "2")) == 0
    log = capsys.readouterr().out

    # logged: the epoch line names the new term beside the paper's
    epoch_lines = [line for line in log.splitlines() if line.startswith("epoch ")]
    assert len(epoch_lines) == 2 and all("norm_term " in line and "L1 " in line for line in epoch_lines)
    # reported: every epoch of the report's history carries it
    report = json.loads((tmp_path / "straight" / "full" / "report.json").read_text())
    history = report["training"]["history"]
    assert len(history) == 2 and all(row["norm_term"] > 0.0 for row in history)
    # stored, trained, with its own learning rate
    stored = torch.load(tmp_path / "straight" / "full" / "last.pt", weights_only=True)
    weight = stored["model"]["norm_head.weight"]
    assert weight.shape == script.INITIAL["full"].shape and not torch.equal(weight, script.INITIAL["full"])
    groups = {g["name"]: g for g in stored["optimizer"]["param_groups"]}
    assert groups["norm_head"]["lr"] == 1e-2 and history[0]["lr_norm_head"] == 1e-2  # its own rate

    # resumed exactly: one epoch, then --resume to two, equals the two epochs run straight
    assert script.main(_argv(tmp_path / "split", "--epochs", "1")) == 0
    assert script.main(_argv(tmp_path / "split", "--epochs", "2", "--resume")) == 0
    resumed = torch.load(tmp_path / "split" / "full" / "last.pt", weights_only=True)
    for key, value in stored["model"].items():
        assert torch.equal(resumed["model"][key], value), key

    def figures(rows: list[dict[str, float]]) -> list[dict[str, float]]:
        return [{k: v for k, v in row.items() if k != "images_per_second"} for row in rows]  # timing differs

    assert figures(resumed["extra"]["history"]) == figures(stored["extra"]["history"])
