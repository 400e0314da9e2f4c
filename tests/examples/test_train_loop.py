"""The training loop of the example scripts (``train`` in examples/train_*.py) on tiny in-memory data:
resume is exact, every loss switch trains, the modules of switched-off terms stay untouched, BatchNorm stays
frozen when asked, the learning rates decay from the decay epoch, an empty UI set is refused, and the three
scripts share the same loop."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

from recognizability.training import RunData, RunOptions, Session, build_modules, prepare_batch
from recognizability.training.config import LOSS_TERMS
from recognizability.training.run import session as session_module
from tests.helpers.tiny import EXAMPLES, load_example, tiny_config, tiny_data, tiny_session

train = load_example("train_tinyface").train


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_resume_reaches_bitwise_the_same_weights(tmp_path: Path) -> None:
    data = tiny_data(tmp_path)
    config = tiny_config(epochs=3)
    straight = train("run", config, data, tiny_session())

    out = tmp_path / "out"
    # "interrupted" after epoch 1: a run of 1 epoch writes last.pt; the resumed run continues to epoch 3
    train("run", config.replace(epochs=1), data, tiny_session(out))
    torch.manual_seed(12345)  # the interruption may leave any RNG state behind
    resumed = train("run", config, data, tiny_session(out, resume=True))

    assert resumed.resumed_from == 1 and len(resumed.history) == 3
    a, b = _weights(straight.model), _weights(resumed.model)
    assert a.keys() == b.keys()
    differing = [k for k in a if not torch.equal(a[k], b[k])]
    assert differing == []
    assert straight.history[-1]["total"] == resumed.history[-1]["total"]


def test_resume_trains_with_the_thread_count_of_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """CPU kernels split their sums by thread: the checkpoint records the count, --resume restores it (the
    machine's load may have changed torch's own choice), so the resumed run is the uninterrupted one."""
    monkeypatch.setattr(session_module, "_cpu_is_busy", lambda: False)  # the load of this machine aside
    data = tiny_data(tmp_path)
    config = tiny_config(epochs=3)
    previous = torch.get_num_threads()
    out = tmp_path / "out"
    try:
        torch.set_num_threads(1)
        straight = train("run", config, data, tiny_session())
        train("run", config.replace(epochs=1), data, tiny_session(out))
        saved = torch.load(out / "run" / "last.pt", weights_only=True)
        assert saved["extra"]["threads"] == 1
        torch.set_num_threads(2)  # the resuming process starts with another count
        resumed = train("run", config, data, tiny_session(out, resume=True))
        assert torch.get_num_threads() == 1
        assert "using 1 torch threads, as" in capsys.readouterr().out
    finally:
        torch.set_num_threads(previous)
    a, b = _weights(straight.model), _weights(resumed.model)
    assert [k for k in a if not torch.equal(a[k], b[k])] == []


def test_threads_given_on_resume_win_and_say_what_they_cost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    previous = torch.get_num_threads()
    out = tmp_path / "out"
    try:
        torch.set_num_threads(1)
        train("run", tiny_config(epochs=1), tiny_data(tmp_path), tiny_session(out))
        options = RunOptions(out=out, device="cpu", resume=True, progress=False, plots=False, threads=2)
        session = Session(options)
        train("run", tiny_config(epochs=2), tiny_data(tmp_path), session)
        assert torch.get_num_threads() == 2
        assert "was trained with 1 torch threads; --threads 2" in capsys.readouterr().out
    finally:
        torch.set_num_threads(previous)


@pytest.mark.parametrize("losses", [(), ("id",), ("mse",), ("l1",), LOSS_TERMS])
def test_every_loss_switch_trains(losses: tuple[str, ...], tmp_path: Path) -> None:
    result = train("run", tiny_config(epochs=1).with_losses(losses), tiny_data(tmp_path), tiny_session())
    row = result.history[-1]
    terms = {"id": "diversion", "mse": "attention", "l1": "regression"}
    for term, field in terms.items():
        if term in losses:
            assert row[field] > 0.0, (term, row)
        else:
            assert row[field] == 0.0, (term, row)
    assert row["total"] >= row["classification"] > 0.0


def test_modules_of_switched_off_terms_stay_untouched(tmp_path: Path) -> None:
    config = tiny_config(epochs=1).with_losses(())
    torch.manual_seed(config.run.seed)
    before = _weights(build_modules(config, 8).criterion)
    after = _weights(train("run", config, tiny_data(tmp_path), tiny_session()).model.criterion)
    assert all(torch.equal(before[k], after[k]) for k in before if "regression" in k or "attention" in k)


def test_frozen_batchnorm_keeps_statistics(tmp_path: Path) -> None:
    config = tiny_config(epochs=1, freeze_batchnorm=True)
    torch.manual_seed(config.run.seed)
    reference = build_modules(config, 8)
    trained = train("run", config, tiny_data(tmp_path), tiny_session()).model
    # the BatchNorm2d layers after the trunk's convolutions are frozen (the embedding's BatchNorm1d trains)
    ref = dict(reference.backbone.named_modules())
    checked = 0
    for name, layer in trained.backbone.named_modules():
        if isinstance(layer, torch.nn.BatchNorm2d):
            assert layer.running_mean is not None and torch.equal(layer.running_mean, ref[name].running_mean)
            checked += 1
    assert checked > 0


def test_lr_decay_applies_from_the_decay_epoch(tmp_path: Path) -> None:
    result = train("run", tiny_config(epochs=2, lr_decay_epoch=2), tiny_data(tmp_path), tiny_session())
    backbone_lr = tiny_config().optim.lr.backbone
    assert result.history[0]["lr_backbone"] == pytest.approx(backbone_lr)
    assert result.history[1]["lr_backbone"] == pytest.approx(backbone_lr * 0.1)


def test_empty_ui_set_is_refused(tmp_path: Path) -> None:
    data = tiny_data(tmp_path)
    with pytest.raises(ValueError, match="non-empty UI set"):
        RunData(data.benchmark, data.train, data.ui.subset(torch.arange(0)), {}, None)


def test_a_training_set_of_one_identity_is_refused_naming_its_root(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"2 training identities.*got 1 in the training set of '/"):
        tiny_data(tmp_path, classes=1)


def test_ui_statistics_from_one_ui_image_are_refused_before_training(tmp_path: Path) -> None:
    data = tiny_data(tmp_path)
    one = RunData(data.benchmark, data.train, data.ui.subset(torch.arange(1)), {}, None)
    session = tiny_session()
    session.data = one  # what load_data would have loaded
    with pytest.raises(ValueError, match=r">= 2 UI images with --ui-statistics.*got 1"):
        train("run", tiny_config(ui_statistics=True), one, session)


def test_a_non_finite_epoch_is_named_with_its_causes() -> None:
    from recognizability.training.run import EpochMeter, init_distributed

    meter = EpochMeter(2, 5, 1, init_distributed("cpu"), progress=False)
    meter.update({"total": torch.tensor(float("nan")), "classification": torch.tensor(1.0)}, 4)
    with pytest.raises(
        FloatingPointError, match=r"non-finite \['total'\] in epoch 3.*--pretrained.*--resume"
    ):
        meter.finish()


def _function_source(path: Path, name: str) -> str:
    tree = ast.parse(path.read_text())
    (node,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
    return ast.unparse(node)


def test_each_script_shows_the_whole_step_of_fig2() -> None:
    # each script is the method a researcher edits for one benchmark: the whole step is in the file they run
    # (they may drift apart: a change to one is that benchmark's own)
    step = ("build_backbone(", "build_head(", "RecognizabilityLoss(", "UICenter(", "parameter_groups(",
            "ui_center.fit(", "forward_features(", "forward_head(", "criterion(", ".backward()",
            "optimizer.step()", "meter.update(", "validate(")  # fmt: skip
    for dataset in ("tinyface", "scface", "survface"):
        path = EXAMPLES / f"train_{dataset}.py"
        source = _function_source(path, "train")
        assert all(piece in source for piece in step), (path, [p for p in step if p not in source])
        assert f'DATASET = "{dataset}"' in path.read_text()
        assert len(path.read_text().splitlines()) < 200, path


def test_configurations_that_differ_in_loss_terms_see_the_same_images(tmp_path: Path) -> None:
    # The augmentation draws from a stream of its own, so the dropout of modules that only some configurations
    # run does not change the images: runs are paired image for image (the ablation compares rows this way).
    example = load_example("train_tinyface")
    seen: list[torch.Tensor] = []

    def recording(*args: object, **kwargs: object) -> torch.Tensor:
        x: torch.Tensor = prepare_batch(*args, **kwargs)  # type: ignore[arg-type]
        seen.append(x.detach().clone())
        return x

    example.prepare_batch = recording
    data, config = tiny_data(tmp_path), tiny_config(epochs=2, max_steps_per_epoch=2)
    example.train("a", config.with_losses(()), data, tiny_session())
    arcface, seen[:] = list(seen), []
    example.train("b", config.with_losses(LOSS_TERMS), data, tiny_session())
    assert len(arcface) == len(seen) == 4
    assert all(torch.equal(a, b) for a, b in zip(arcface, seen, strict=True))
