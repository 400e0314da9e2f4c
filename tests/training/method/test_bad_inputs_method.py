"""Bad inputs of the method layer: a bad training batch raises before the backbone runs (no statistic
changes), the guards' arguments, modes restored on every exit path, embedding and validation arguments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

from recognizability.backbones import freeze_batchnorm
from recognizability.training import MethodModules, build_modules
from recognizability.training.config.presets import demo_config
from recognizability.training.data.images import ImageSet
from recognizability.training.method.guards import (
    check_batch_size_for_training,
    check_training_batch,
    evaluation_mode,
)
from recognizability.training.method.steps import embed_images, validate
from tests.helpers.models import (
    EMBEDDING_DIM,
    NUM_CLASSES,
    same_state,
    small_model,
    state,
)
from tests.helpers.tiny import step_losses

_THREE: Any = 3  # a value of the wrong type
_BN1 = "batch normalisation cannot train on one sample"

GUARD_FAULTS: list[tuple[str, Callable[[], Any], type[BaseException], str]] = [
    ("check_batch_size_for_training(1)", lambda: check_batch_size_for_training(small_model(), 1), ValueError,
        f"batch_size >= 2.*{_BN1}"),
    ("check_batch_size_for_training(0)", lambda: check_batch_size_for_training(small_model(), 0), ValueError,
        "batch_size >= 1"),
    ("check_batch_size_for_training('8')", lambda: check_batch_size_for_training(small_model(), "8"),
        TypeError, "batch_size to be an int"),
    ("evaluation_mode(3)", lambda: evaluation_mode(_THREE).__enter__(), TypeError, "nn.Module"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "call", "error", "words"), GUARD_FAULTS, ids=[row[0] for row in GUARD_FAULTS]
)
def test_bad_guard_arguments_are_named(
    name: str, call: Callable[[], Any], error: type[BaseException], words: str
) -> None:
    with pytest.raises(error, match=words):
        call()


# ----------------------------------------------------------------------------------------------------------
# The training step: bad batches raise before the backbone runs
# ----------------------------------------------------------------------------------------------------------

_IMAGES = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(3))
_ONE_NAN = _IMAGES.clone()
_ONE_NAN[1, 0, 5, 7] = float("nan")

BATCH_FAULTS: list[tuple[str, torch.Tensor, Any, type[BaseException], str]] = [
    ("label_out_of_range", _IMAGES, torch.tensor([0, 1, 2, NUM_CLASSES]), ValueError, r"values in \[0, 5\)"),
    ("negative_label", _IMAGES, torch.tensor([0, -1, 2, 3]), ValueError, r"values in \[0, 5\)"),
    ("float_labels", _IMAGES, torch.tensor([0.0, 1.0, 2.0, 3.0]), TypeError, "integer dtype"),
    ("bool_labels", _IMAGES, torch.tensor([True, False, True, False]), TypeError, "integer dtype"),
    ("labels_of_another_batch", _IMAGES, torch.tensor([0, 1, 2]), ValueError, r"\(B,\) = \(4,\)"),
    ("labels_2d", _IMAGES, torch.zeros(4, 1, dtype=torch.int64), ValueError, r"\(B,\) = \(4,\)"),
    ("labels_a_list", _IMAGES, [0, 1, 2, 3], TypeError, "labels to be a torch.Tensor"),
    ("one_image", _IMAGES[:1], torch.tensor([0]), ValueError, r"B >= 2 while batch norm trains"),
    ("images_3d", _IMAGES[0], torch.tensor([0, 1, 2]), ValueError,
     r"\(B, 3, 32, 32\).*got shape \(3, 32, 32\)"),
    ("images_of_another_size", torch.randn(4, 3, 16, 16), torch.tensor([0, 1, 2, 3]), ValueError,
     r"\(B, 3, 32, 32\)"),
    ("one_nan_pixel", _ONE_NAN, torch.arange(4), ValueError, "expected finite images, got 1 NaN"),
    ("inf_images", torch.full((4, 3, 32, 32), float("inf")), torch.arange(4), ValueError, "finite images"),
    ("float16_images", _IMAGES.half(), torch.arange(4), TypeError,
     r"dtype torch.float32.*got dtype torch.float16"),
    ("float64_images", _IMAGES.double(), torch.arange(4), TypeError, "float64"),
    ("uint8_images", torch.zeros(4, 3, 32, 32, dtype=torch.uint8), torch.arange(4), TypeError,
     "floating-point images"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "images", "labels", "error", "words"), BATCH_FAULTS, ids=[row[0] for row in BATCH_FAULTS]
)
def test_a_bad_training_batch_changes_no_statistic(
    name: str, images: torch.Tensor, labels: Any, error: type[BaseException], words: str
) -> None:
    model = small_model()
    model.train()
    before = state(model)
    with pytest.raises(error, match=words):
        check_training_batch(model, images, labels, NUM_CLASSES)  # the example's check, before the step
    assert same_state(before, state(model))  # batch-norm running statistics included


def test_a_training_step_before_the_ui_centre_is_fitted_changes_nothing() -> None:
    torch.manual_seed(0)
    config = demo_config("tinyface").replace(embedding_dim=EMBEDDING_DIM, pretrained=None)
    model = build_modules(config, NUM_CLASSES)
    model.train()
    before = state(model)
    with pytest.raises(RuntimeError, match=r"fitted UI centre.*ui_center\.fit"):
        check_training_batch(model, _IMAGES, torch.arange(4), NUM_CLASSES)
    assert same_state(before, state(model))


def test_float_images_are_accepted_under_autocast() -> None:
    model = small_model()
    model.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        check_training_batch(model, _IMAGES.bfloat16(), torch.arange(4), NUM_CLASSES)
        out = step_losses(model, _IMAGES.bfloat16(), torch.arange(4))
    assert torch.isfinite(out.total)


def test_one_image_is_fine_when_no_batch_norm_trains() -> None:
    model = small_model()
    model.eval()
    check_training_batch(model, _IMAGES[:1], torch.tensor([0]), NUM_CLASSES)
    frozen = nn.Sequential(freeze_batchnorm(nn.Sequential(nn.Conv2d(3, 3, 1), nn.BatchNorm2d(3))))
    assert check_batch_size_for_training(frozen, 1) == 1


# ----------------------------------------------------------------------------------------------------------
# Modes are restored on every exit path
# ----------------------------------------------------------------------------------------------------------


def test_evaluation_mode_restores_every_flag_after_an_exception() -> None:
    model = small_model(freeze=True)
    model.train()
    frozen = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert frozen and not any(m.training for m in frozen)  # frozen layers stay in eval inside train()
    modes = [m.training for m in model.modules()]
    with pytest.raises(RuntimeError, match="inside"), evaluation_mode(model):
        assert not any(m.training for m in model.modules())
        raise RuntimeError("raised inside the block")
    assert [m.training for m in model.modules()] == modes
    model.eval()
    with evaluation_mode(model):
        pass
    assert not any(m.training for m in model.modules())


# ----------------------------------------------------------------------------------------------------------
# Embedding a set and validation: arguments checked, modes restored on every exit path
# ----------------------------------------------------------------------------------------------------------


def _image_set(n: int = 6) -> ImageSet:
    g = torch.Generator().manual_seed(5)
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    return ImageSet(images, torch.arange(n) % NUM_CLASSES, None, None, [f"i{k}" for k in range(n)])


_CPU = torch.device("cpu")
EMBED_FAULTS: list[tuple[str, Callable[[MethodModules], Any], type[BaseException], str]] = [
    ("input_size 0", lambda m: embed_images(m, _image_set(), 0, _CPU), ValueError, "input_size"),
    ("batch_size 0", lambda m: embed_images(m, _image_set(), 32, _CPU, batch_size=0), ValueError,
        "batch_size"),
    ("degrade_to 0", lambda m: embed_images(m, _image_set(), 32, _CPU, degrade_to=0), ValueError,
        "degrade_to"),
    ("not an ImageSet", lambda m: embed_images(m, _THREE, 32, _CPU), TypeError, "ImageSet"),
    ("a size the backbone refuses", lambda m: embed_images(m, _image_set(), 16, _CPU), ValueError,
        r"\(B, 3, 32, 32\)"),
    ("validate degrade_to 0", lambda m: validate(m, _image_set(), 32, 0, _CPU), ValueError, "degrade_to"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "call", "error", "words"), EMBED_FAULTS, ids=[r[0] for r in EMBED_FAULTS])
def test_a_failed_embedding_leaves_every_mode_and_statistic_as_it_was(
    name: str, call: Callable[[MethodModules], Any], error: type[BaseException], words: str
) -> None:
    model = small_model(freeze=True)
    model.train()
    modes = [m.training for m in model.modules()]
    before = state(model)
    with pytest.raises(error, match=words):
        call(model)
    assert [m.training for m in model.modules()] == modes and model.training
    assert same_state(before, state(model))
