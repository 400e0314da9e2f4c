"""The training loop end to end on tiny in-memory data: resume is exact, every loss switch trains, groups."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from recognizability.training.loop import ImageSet
from recognizability.training.model import build_model
from recognizability.training.recipe import fit
from recognizability.training.settings import LOSS_TERMS, TrainingSettings, cpu_demo_settings


def _data(n: int = 192, classes: int = 8) -> tuple[ImageSet, ImageSet]:
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(n) % classes
    # class-dependent brightness so there is something to learn
    images = (torch.randint(0, 120, (n, 3, 32, 32), generator=g) + 15 * labels.view(-1, 1, 1, 1)).to(
        torch.uint8
    )
    train = ImageSet(images, labels, None, None, [f"t{i}" for i in range(n)])
    ui_images = torch.randint(0, 256, (24, 3, 32, 32), dtype=torch.uint8, generator=g)
    ui = ImageSet(ui_images, torch.full((24,), -1), None, None, [f"u{i}" for i in range(24)])
    return train, ui


def _settings(**changes: object) -> TrainingSettings:
    base = cpu_demo_settings("tinyface").replace(
        batch_size=32, epochs=2, max_steps_per_epoch=3, validation_max=32, embedding_dim=32, seed=7
    )
    return base.replace(**changes)


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_resume_reaches_bitwise_the_same_weights(tmp_path: Path) -> None:
    train, ui = _data()
    settings = _settings(epochs=3)
    straight = fit(settings, train, ui, progress=False, log=None)

    out = tmp_path / "run"
    # "interrupted" after epoch 1: a run of 1 epoch writes last.pt; the resumed run continues to epoch 3
    fit(settings.replace(epochs=1), train, ui, out_dir=out, progress=False, log=None)
    torch.manual_seed(12345)  # the interruption may leave any RNG state behind
    resumed = fit(settings, train, ui, out_dir=out, resume=True, progress=False, log=None)

    assert resumed.resumed_from == 1 and len(resumed.history) == 3
    a, b = _weights(straight.model), _weights(resumed.model)
    assert a.keys() == b.keys()
    differing = [k for k in a if not torch.equal(a[k], b[k])]
    assert differing == []
    assert straight.history[-1]["total"] == resumed.history[-1]["total"]


@pytest.mark.parametrize("losses", [(), ("id",), ("mse",), ("l1",), LOSS_TERMS])
def test_every_loss_switch_trains(losses: tuple[str, ...]) -> None:
    train, ui = _data()
    settings = _settings(epochs=1).with_losses(losses)
    result = fit(settings, train, ui, progress=False, log=None)
    row = result.history[-1]
    terms = {"id": "diversion", "mse": "attention", "l1": "regression"}
    for term, field in terms.items():
        if term in losses:
            assert row[field] > 0.0, (term, row)
        else:
            assert row[field] == 0.0, (term, row)
    assert row["total"] >= row["classification"] > 0.0


def test_modules_of_switched_off_terms_stay_untouched() -> None:
    train, ui = _data()
    settings = _settings(epochs=1).with_losses(())
    torch.manual_seed(settings.seed)
    before = _weights(build_model(settings, 8).criterion)
    after = _weights(fit(settings, train, ui, progress=False, log=None).model.criterion)
    assert all(torch.equal(before[k], after[k]) for k in before if "regression" in k or "attention" in k)


def test_parameter_groups_partition_the_model_with_table5_rates() -> None:
    settings = _settings()
    model = build_model(settings, 8)
    groups = model.parameter_groups(settings)
    assert [g["name"] for g in groups] == ["backbone", "recognition", "attention", "regression"]
    assert [g["lr"] for g in groups] == [2e-3, 2e-3, 2e-3, 2e-4]
    grouped = [id(p) for g in groups for p in g["params"]]
    trainable = [id(p) for p in model.parameters() if p.requires_grad]
    assert sorted(grouped) == sorted(trainable) and len(set(grouped)) == len(grouped)
    assert groups[1]["params"] == [model.head.weight]


def test_frozen_batchnorm_keeps_statistics() -> None:
    train, ui = _data()
    settings = _settings(epochs=1, freeze_batchnorm=True)
    torch.manual_seed(settings.seed)
    reference = build_model(settings, 8)
    trained = fit(settings, train, ui, progress=False, log=None).model
    ref = dict(reference.backbone.named_buffers())
    for name, buffer in trained.backbone.named_buffers():
        if name.endswith("running_mean") and name.startswith(("bn", "layer")):
            assert torch.equal(buffer, ref[name]), name


def test_lr_decay_applies_from_the_decay_epoch() -> None:
    train, ui = _data()
    result = fit(_settings(epochs=2, lr_decay_epoch=2), train, ui, progress=False, log=None)
    assert result.history[0]["lr_backbone"] == pytest.approx(2e-3)
    assert result.history[1]["lr_backbone"] == pytest.approx(2e-4)


def test_empty_ui_set_is_refused() -> None:
    train, ui = _data()
    with pytest.raises(ValueError, match="UI set"):
        fit(_settings(), train, ui.subset(torch.arange(0)), progress=False, log=None)
