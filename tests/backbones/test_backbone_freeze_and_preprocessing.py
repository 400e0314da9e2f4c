"""freeze_batchnorm keeps BN statistics and affine fixed through training; normalize_for per format."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from recognizability.backbones import (
    adaface_ir50,
    channel_order_for,
    freeze_batchnorm,
    is_frozen,
    mobilefacenet,
    normalize_for,
    small_vlr_net,
    unfreeze_batchnorm,
)


def _bn_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {
        f"{name}.{k}": v.detach().clone()
        for name, m in model.named_modules()
        if isinstance(m, nn.BatchNorm2d)
        for k, v in [*m.named_parameters(recurse=False), *m.named_buffers(recurse=False)]
    }


def test_frozen_batchnorm_does_not_move_during_training_steps() -> None:
    torch.manual_seed(0)
    model = freeze_batchnorm(small_vlr_net())
    keys_before = list(model.state_dict())
    before = _bn_state(model)
    others_before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1, momentum=0.9)
    for step in range(3):
        model.train()  # what every training loop calls each epoch
        x = torch.randn(8, 3, 32, 32) * (step + 1) + step
        loss = model(x).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = _bn_state(model)
    assert before.keys() == after.keys() and len(before) > 0
    for k in before:
        assert torch.equal(before[k], after[k]), k
    changed = [
        n for n, p in model.named_parameters() if p.requires_grad and not torch.equal(p, others_before[n])
    ]
    assert "conv1.weight" in changed and "fc.weight" in changed  # the rest of the network did train
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(not m.training and is_frozen(m) for m in bns)
    assert all(not p.requires_grad for m in bns for p in m.parameters())
    assert model.features.training  # BatchNorm1d of the head is not frozen
    assert list(model.state_dict()) == keys_before


def test_frozen_model_copies_pickles_and_unfreezes() -> None:
    model = freeze_batchnorm(freeze_batchnorm(small_vlr_net()))  # idempotent
    clone = pickle.loads(pickle.dumps(copy.deepcopy(model)))
    clone.train()
    assert all(not m.training for m in clone.modules() if isinstance(m, nn.BatchNorm2d))
    unfreeze_batchnorm(model.train())
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(m.training and not is_frozen(m) and type(m) is nn.BatchNorm2d for m in bns)
    assert all(p.requires_grad for m in bns for p in m.parameters())


def test_freeze_rejects_bad_input() -> None:
    class MyBN(nn.BatchNorm2d):
        pass

    with pytest.raises(TypeError, match=r"expected module to be an nn\.Module"):
        freeze_batchnorm("model")  # type: ignore[type-var]
    with pytest.raises(TypeError, match="MyBN"):
        freeze_batchnorm(nn.Sequential(MyBN(3)))
    with pytest.raises(TypeError, match=r"expected module to be an nn\.Module, got dict"):
        unfreeze_batchnorm({})  # type: ignore[type-var]
    for not_a_layer in ("model", None, nn.BatchNorm2d):
        with pytest.raises(TypeError, match=r"expected layer to be an nn\.Module, got (str|NoneType|type)"):
            is_frozen(not_a_layer)  # type: ignore[arg-type]


def test_freeze_that_raises_changes_nothing() -> None:
    """A BN subclass anywhere is refused before any layer is frozen, wherever it sits in the model."""

    class MyBN(nn.BatchNorm2d):
        pass

    model = nn.Sequential(nn.BatchNorm2d(3), nn.Sequential(nn.BatchNorm2d(3), MyBN(3)))
    with pytest.raises(TypeError, match=r"cannot freeze '1\.1' of class MyBN"):
        freeze_batchnorm(model)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert [type(m) for m in bns] == [nn.BatchNorm2d, nn.BatchNorm2d, MyBN] and all(m.training for m in bns)
    assert not any(is_frozen(m) for m in model.modules())
    assert all(p.requires_grad for p in model.parameters())


def _reference_adaface_to_input(rgb_hwc: np.ndarray) -> np.ndarray:
    """AdaFace inference.py ``to_input``: BGR, ((x / 255) - 0.5) / 0.5, HWC -> CHW."""
    bgr = ((rgb_hwc[:, :, ::-1] / 255.0) - 0.5) / 0.5
    return np.ascontiguousarray(bgr.transpose(2, 0, 1))


def _reference_insightface(rgb_hwc: np.ndarray) -> np.ndarray:
    """arcface_torch inference.py after cvtColor(BGR2RGB): CHW, div(255).sub(0.5).div(0.5)."""
    return np.ascontiguousarray(rgb_hwc.transpose(2, 0, 1)) / 255.0 * 2.0 - 1.0


def test_normalize_for_matches_each_projects_preprocessing() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(6, 5, 3), dtype=np.uint8)
    chw = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))
    ours_ada = normalize_for("adaface", chw).double().numpy()
    np.testing.assert_allclose(ours_ada, _reference_adaface_to_input(rgb.astype(np.float64)), atol=1e-6)
    ours_if = normalize_for("insightface", chw[None]).double().numpy()[0]
    np.testing.assert_allclose(ours_if, _reference_insightface(rgb.astype(np.float64)), atol=1e-6)
    # keyed by model
    assert channel_order_for(small_vlr_net()) == "RGB" and channel_order_for(mobilefacenet()) == "RGB"
    with torch.device("meta"):
        assert channel_order_for(adaface_ir50()) == "BGR"
    # floats on [0, 1] with max_value=1 give the same result as uint8
    torch.testing.assert_close(
        normalize_for("adaface", chw.float() / 255, max_value=1.0), normalize_for("adaface", chw)
    )


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 3), st.integers(1, 6), st.integers(1, 6), st.sampled_from(["insightface", "adaface"]))
def test_normalize_for_range_and_dtype(batch: int, h: int, w: int, fmt: str) -> None:
    images = torch.randint(0, 256, (batch, 3, h, w), dtype=torch.uint8)
    out = normalize_for(fmt, images)
    assert out.dtype == torch.float32 and out.shape == images.shape
    assert out.min() >= -1.0 and out.max() <= 1.0
    # the colour flip is its own inverse: RGB and BGR outputs differ exactly by reversing channels
    other = "adaface" if fmt == "insightface" else "insightface"
    assert torch.equal(normalize_for(other, images), out.flip(-3))


def test_normalize_for_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="expected model_or_format"):
        normalize_for("vggface", torch.zeros(3, 4, 4, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"got shape \(4, 4\)"):
        normalize_for("adaface", torch.zeros(4, 4, dtype=torch.uint8))
    with pytest.raises(TypeError, match="uint8 or floating-point"):
        normalize_for("adaface", torch.zeros(3, 4, 4, dtype=torch.int32))
    with pytest.raises(ValueError, match=r"expected max_value to be a finite float > 0, got 0"):
        normalize_for("adaface", torch.zeros(3, 4, 4), max_value=0)
    with pytest.raises(ValueError, match=r"expected max_value to be a finite float > 0, got inf"):
        normalize_for("adaface", torch.zeros(3, 4, 4), max_value=float("inf"))  # would give all -1
    with pytest.raises(TypeError, match="expected max_value to be a float, got str"):
        normalize_for("adaface", torch.zeros(3, 4, 4), max_value="255")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"expected dtype to be a floating-point torch\.dtype, got 'float32'"):
        normalize_for("adaface", torch.zeros(3, 4, 4), dtype="float32")  # type: ignore[arg-type]
    with pytest.raises(
        TypeError, match=r"expected dtype to be a floating-point torch\.dtype, got torch\.int64"
    ):
        normalize_for("adaface", torch.zeros(3, 4, 4), dtype=torch.int64)
    with pytest.raises(ValueError, match="input_channel_order"):
        normalize_for(nn.Linear(2, 2), torch.zeros(3, 4, 4))
