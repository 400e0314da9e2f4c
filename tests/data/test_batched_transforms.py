"""Batched transforms: shapes, dtypes, ranges, identities, per-sample references, determinism, devices."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from torch.overrides import TorchFunctionMode

from recognizability.backbones import normalize_for
from recognizability.data import transforms as T

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def batch(b: int = 6, h: int = 20, w: int = 16, seed: int = 0, device: str = "cpu") -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (b, 3, h, w), generator=g, dtype=torch.uint8).to(device)


def seeded(seed: int = 1) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# resize_batch ----------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    b=st.integers(1, 4),
    h=st.integers(2, 24),
    w=st.integers(2, 24),
    out_h=st.integers(2, 40),
    out_w=st.integers(2, 40),
)
def test_resize_keeps_dtype_and_range(b: int, h: int, w: int, out_h: int, out_w: int) -> None:
    images = batch(b, h, w)
    out = T.resize_batch(images, (out_h, out_w))
    assert out.shape == (b, 3, out_h, out_w) and out.dtype == torch.uint8
    floats = T.resize_batch(images.float(), (out_h, out_w), value_range=(0.0, 255.0))
    assert floats.dtype == torch.float32
    assert floats.min() >= 0.0 and floats.max() <= 255.0
    # uint8 result = the float64 result rounded to 6 decimals, then to integers (ties to even): the recipe of
    # docs/deployment.md, exact in any float64 implementation
    exact = T.resize_batch(images.double(), (out_h, out_w), value_range=(0.0, 255.0))
    assert torch.equal(out, exact.round(decimals=6).round().to(torch.uint8))
    assert (out.int() - floats.round().int()).abs().max() <= 1  # float32 differs at most at ties


def test_resize_clamps_bicubic_overshoot_and_matches_interpolate() -> None:
    # A 0/255 checkerboard makes bicubic overshoot below 0 and above 255.
    board = ((torch.arange(8)[:, None] + torch.arange(8)[None, :]) % 2 * 255).to(torch.uint8)
    images = board.expand(2, 3, 8, 8).contiguous()
    raw = F.interpolate(images.double(), size=(29, 29), mode="bicubic", align_corners=False, antialias=True)
    assert raw.min() < 0 and raw.max() > 255  # the overshoot the clamp exists for
    out = T.resize_batch(images, 29)  # uint8: float64, 6 decimals, integers (ties to even), clamped
    assert torch.equal(out, raw.round(decimals=6).round().clamp(0, 255).to(torch.uint8))
    plain = F.interpolate(images.double(), size=(29, 29), mode="bicubic", align_corners=False)
    assert torch.equal(
        T.resize_batch(images, 29, antialias=False),
        plain.round(decimals=6).round().clamp(0, 255).to(torch.uint8),
    )
    assert T.resize_batch(images, 8) is images  # already that size


@pytest.mark.parametrize(
    ("size", "out"), [((20, 16), (112, 112)), ((112, 112), (16, 16)), ((112, 112), (64, 64))]
)
def test_resize_matches_pillow_bicubic(size: tuple[int, int], out: tuple[int, int]) -> None:
    """Pillow's Image.resize(BICUBIC) is the reference. On smooth content the two agree within one grey level
    (rounding); on content that overshoots they differ more, because Pillow clips to uint8 between its
    horizontal and vertical passes while the batched resize clips once at the end."""
    h, w = size
    yy, xx = torch.linspace(0, 1, h)[:, None], torch.linspace(0, 1, w)[None, :]
    phase = torch.tensor([0.0, 2.0, 4.0]).view(3, 1, 1)
    images = (127.5 + 100 * torch.sin(3 * yy + 2 * xx + phase)).round().to(torch.uint8)[None]
    ours = T.resize_batch(images, out)[0]
    pil = np.stack(
        [
            np.asarray(Image.fromarray(images[0, c].numpy(), mode="L").resize(out[::-1], Image.BICUBIC))
            for c in range(3)
        ]
    )
    assert (ours.int() - torch.from_numpy(pil).int()).abs().max() <= 1


def test_constant_images_stay_constant_through_resize_and_degrade() -> None:
    images = torch.full((3, 3, 112, 112), 77, dtype=torch.uint8)
    assert torch.equal(T.degrade(images, 16), images)
    assert torch.equal(T.resize_batch(images, (50, 30)), torch.full((3, 3, 50, 30), 77, dtype=torch.uint8))


def test_degrade_equals_down_then_up_and_loses_detail() -> None:
    images = batch(4, 112, 112)
    expected = T.resize_batch(T.resize_batch(images, 16), 112)
    assert torch.equal(T.degrade(images, 16), expected)
    # Random noise has no content below 16 x 16: the degraded batch is much smoother.
    assert T.degrade(images).float().std() < 0.5 * images.float().std()


# flip ----------------------------------------


def test_flip_twice_is_identity_and_p_bounds() -> None:
    images = batch()
    once = T.random_horizontal_flip(images, p=1.0)
    assert torch.equal(once, images.flip(-1))
    assert torch.equal(T.random_horizontal_flip(once, p=1.0), images)
    assert torch.equal(T.random_horizontal_flip(images, p=0.0), images)


def test_flip_matches_per_sample_reference() -> None:
    images = batch(b=32)
    out = T.random_horizontal_flip(images, p=0.5, generator=seeded(3))
    draws = torch.rand(32, generator=seeded(3))
    reference = torch.stack([img.flip(-1) if u < 0.5 else img for img, u in zip(images, draws, strict=True)])
    assert torch.equal(out, reference)
    assert 0 < int((draws < 0.5).sum()) < 32  # both branches exercised


# rotation ----------------------------------------


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32, torch.float64])
def test_rotation_by_zero_is_identity(dtype: torch.dtype) -> None:
    images = batch(3, 20, 16).to(dtype)
    out = T.rotate_batch(images, torch.zeros(3))
    assert out.dtype == dtype and out.shape == images.shape
    # Sampling at the pixel centres with bilinear weights (1, 0): equal up to float rounding of the grid.
    torch.testing.assert_close(out.double(), images.double(), atol=1e-3, rtol=0)
    torch.testing.assert_close(
        T.random_rotation(images, max_degrees=0.0).double(), images.double(), atol=1e-3, rtol=0
    )


def test_rotation_by_90_degrees_is_rot90_counter_clockwise() -> None:
    images = batch(2, 12, 12).double()
    out = T.rotate_batch(images, torch.tensor([90.0, -90.0]))
    # 90 degrees about the centre of a square maps pixel centres onto pixel centres: bilinear is exact.
    torch.testing.assert_close(out[0], torch.rot90(images[0], 1, dims=(-2, -1)), atol=1e-6, rtol=0)
    torch.testing.assert_close(out[1], torch.rot90(images[1], -1, dims=(-2, -1)), atol=1e-6, rtol=0)


def test_rotation_of_non_square_image_keeps_a_centred_disc() -> None:
    # A 40 x 24 image whose pixels hold their distance to the centre: a rotation about the centre (with the
    # aspect ratio respected) maps every pixel well inside to a pixel of (nearly) the same distance.
    h, w = 40, 24
    y = torch.arange(h, dtype=torch.float64) - (h - 1) / 2
    x = torch.arange(w, dtype=torch.float64) - (w - 1) / 2
    radius = torch.sqrt(y[:, None] ** 2 + x[None, :] ** 2)
    images = radius.expand(1, 3, h, w).contiguous()
    out = T.rotate_batch(images, torch.tensor([10.0]))
    inside = radius < 10
    torch.testing.assert_close(out[0, 0][inside], radius[inside], atol=0.15, rtol=0)  # bilinear error


def test_rotation_angles_are_per_sample_and_within_range() -> None:
    images = batch(b=16, h=24, w=24).double()
    out = T.random_rotation(images, 10.0, generator=seeded(5))
    angles = (torch.rand(16, generator=seeded(5)) * 2 - 1) * 10
    assert angles.abs().max() <= 10 and angles.std() > 1
    reference = torch.cat([T.rotate_batch(img[None], a[None]) for img, a in zip(images, angles, strict=True)])
    torch.testing.assert_close(out, reference)


# rescale ----------------------------------------


def test_rescale_matches_per_sample_reference() -> None:
    images = batch(b=24, h=112, w=112)
    out = T.random_rescale(images, (64, 100), p=0.5, generator=seeded(7))
    g = seeded(7)
    apply, choice = torch.rand(24, generator=g) < 0.5, (torch.rand(24, generator=g) * 2).long()
    options = {k: T.resize_batch(T.resize_batch(images, s), 112) for k, s in enumerate((64, 100))}
    for i in range(24):
        expected = options[int(choice[i])][i] if apply[i] else images[i]
        assert torch.equal(out[i], expected)
    assert {(bool(a), int(c)) for a, c in zip(apply, choice, strict=True)} >= {
        (True, 0),
        (True, 1),
        (False, 0),
    }


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_rescale_row_selection_path_equals_where_path(dtype: torch.dtype) -> None:
    images = batch(b=16, h=40, w=40).to(dtype)
    apply = torch.rand(16, generator=seeded(2)) < 0.6
    choice = torch.randint(0, 3, (16,), generator=seeded(3))
    targets = [(8, 8), (20, 20), (30, 12)]
    selected = T._rescale_selected(images, apply, choice, targets, True, (0.0, 255.0), select_rows=True)
    where = T._rescale_selected(images, apply, choice, targets, True, (0.0, 255.0), select_rows=False)
    assert torch.equal(selected, where)
    assert torch.equal(selected[~apply], images[~apply])


def test_rescale_p_zero_is_identity_and_p_one_changes_every_image() -> None:
    images = batch(b=8, h=112, w=112)
    assert torch.equal(T.random_rescale(images, p=0.0), images)
    changed = T.random_rescale(images, p=1.0) != images
    assert changed.flatten(1).any(dim=1).all()


# normalize ----------------------------------------


def test_normalize_values_and_channel_order() -> None:
    images = torch.tensor([0, 255, 51], dtype=torch.uint8).view(1, 3, 1, 1)
    rgb = T.normalize(images)
    torch.testing.assert_close(rgb.flatten(), torch.tensor([-1.0, 1.0, (51 / 255 - 0.5) / 0.5]))
    assert rgb.dtype == torch.float32
    torch.testing.assert_close(T.normalize(images, "BGR").flatten(), rgb.flatten().flip(0))
    torch.testing.assert_close(T.normalize(images.double()), rgb.double())


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_normalize_is_the_batch_form_of_normalize_for(dtype: torch.dtype) -> None:
    """One normalisation in the package: ``normalize`` gives bit for bit what ``normalize_for`` gives."""
    images = torch.randint(0, 256, (2, 3, 5, 4), generator=torch.Generator().manual_seed(0)).to(dtype)
    out_dtype = torch.float32 if dtype == torch.uint8 else dtype
    for order, checkpoint_format in (("RGB", "insightface"), ("BGR", "adaface")):
        expected = normalize_for(checkpoint_format, images, 255.0, dtype=out_dtype)
        got = T.normalize(images, order)
        assert got.dtype == out_dtype and torch.equal(got, expected)


# modules ----------------------------------------


def test_train_augmentation_output_and_reproducibility() -> None:
    images = batch(b=8, h=18, w=14)
    aug = T.TrainAugmentation(generator=seeded(11))
    out = aug(images)
    assert out.shape == (8, 3, 112, 112) and out.dtype == torch.float32
    assert out.min() >= -1.0 and out.max() <= 1.0
    again = T.TrainAugmentation(generator=seeded(11))(images)
    assert torch.equal(out, again)
    assert not torch.equal(out, aug(images))  # the generator advanced: new draws
    raw = T.TrainAugmentation(normalize_output=False, flip_p=0.0, max_degrees=0.0, rescale_p=0.0)(images)
    torch.testing.assert_close(raw, T.resize_batch(images.float(), 112, value_range=(0.0, 255.0)))


def test_eval_transform_reproduces_the_paper_validation_images() -> None:
    images = batch(b=4, h=20, w=16)
    out = T.EvalTransform(flip=True, degrade_size=16, channel_order="BGR")(images)
    pixel = (0.0, 255.0)
    expected = T.degrade(
        T.resize_batch(images.float(), 112, value_range=pixel).flip(-1), 16, value_range=pixel
    )
    torch.testing.assert_close(out, T.normalize(expected, "BGR"))
    plain = T.EvalTransform()(images)
    torch.testing.assert_close(plain, T.normalize(T.resize_batch(images.float(), 112, value_range=pixel)))


def test_no_python_loop_over_samples() -> None:
    """The number of torch calls must not grow with the batch size (a per-sample loop would)."""

    class CountCalls(TorchFunctionMode):
        def __init__(self) -> None:
            super().__init__()
            self.calls = 0

        def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            self.calls += 1
            return func(*args, **(kwargs or {}))

    def count(size: int) -> list[int]:
        images = batch(b=size, h=20, w=16)
        aug = T.TrainAugmentation(generator=seeded(0))
        counts = []
        for fn in (
            lambda x: aug(x),
            lambda x: T.random_rotation(x, generator=seeded(0)),
            lambda x: T.random_rescale(x, generator=seeded(0)),
            lambda x: T.random_horizontal_flip(x, generator=seeded(0)),
        ):
            with CountCalls() as mode:
                fn(images)
            counts.append(mode.calls)
        return counts

    small, large = count(2), count(64)
    assert small == large and min(small) > 0


# collate ----------------------------------------


def test_collate_resizes_or_pads_variable_sizes() -> None:
    items = [(batch(1, 20, 16)[0], 3), (batch(1, 12, 9)[0], 5), (batch(1, 112, 112)[0], -1)]
    images, labels = T.collate_variable_size(items, size=112)
    assert images.shape == (3, 3, 112, 112) and images.dtype == torch.uint8
    assert labels.tolist() == [3, 5, -1] and labels.dtype == torch.int64
    assert torch.equal(images[0], T.resize_batch(items[0][0][None], 112)[0])
    assert torch.equal(images[2], items[2][0])
    padded, _ = T.collate_variable_size(items[:2], mode="pad")
    assert padded.shape == (2, 3, 20, 16)
    assert torch.equal(padded[1, :, 4:16, 3:12], items[1][0]) and padded[1, :, :4].eq(0).all()
    loader = torch.utils.data.DataLoader(
        items, batch_size=3, collate_fn=functools.partial(T.collate_variable_size, size=32)
    )
    assert next(iter(loader))[0].shape == (3, 3, 32, 32)


# bad input ----------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (
            lambda: T.resize_batch(torch.zeros(3, 8, 8), 4),
            ValueError,
            r"shape \(B, C, H, W\), got shape \(3, 8, 8\)",
        ),
        (lambda: T.resize_batch(torch.zeros(1, 3, 8, 8, dtype=torch.int32), 4), TypeError, "got torch.int32"),
        (
            lambda: T.resize_batch(torch.zeros(1, 3, 8, 8), 0),
            ValueError,
            "expected size to hold positive ints, got 0",
        ),
        (
            lambda: T.random_horizontal_flip(torch.zeros(1, 3, 8, 8), p=1.5),
            ValueError,
            r"p to be a float in \[0, 1\], got 1.5",
        ),
        (lambda: T.random_rotation(torch.zeros(1, 3, 8, 8), max_degrees=-1), ValueError, "max_degrees"),
        (
            lambda: T.rotate_batch(torch.zeros(2, 3, 8, 8), torch.zeros(3)),
            ValueError,
            r"degrees of shape \(2,\)",
        ),
        (lambda: T.random_rescale(torch.zeros(1, 3, 8, 8), sizes=()), ValueError, "at least one size"),
        (
            lambda: T.normalize(torch.zeros(1, 3, 8, 8), "BRG"),
            ValueError,
            r"one of \['RGB', 'BGR'\], got 'BRG'",
        ),
        (lambda: T.normalize(torch.zeros(1, 1, 8, 8)), ValueError, "3 channels"),
        (lambda: T.collate_variable_size([]), ValueError, "non-empty batch"),
        (
            lambda: T.collate_variable_size([(torch.zeros(3, 4, 4), 0)], mode="crop"),
            ValueError,
            r"mode to be one of \['resize', 'pad'\]",
        ),
    ],
)
def test_bad_input_raises_clear_errors(call, error, pattern) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=pattern):
        call()


# devices ----------------------------------------


@pytest.mark.cuda
@needs_cuda
def test_cuda_matches_cpu_for_deterministic_ops() -> None:
    images = batch(b=4, h=20, w=16)
    cuda = images.cuda()
    torch.testing.assert_close(
        T.resize_batch(cuda, 112).cpu().float(), T.resize_batch(images, 112).float(), atol=1, rtol=0
    )
    angles = torch.tensor([-10.0, 0.0, 5.0, 10.0])
    torch.testing.assert_close(
        T.rotate_batch(cuda.double(), angles.cuda()).cpu(),
        T.rotate_batch(images.double(), angles),
        atol=1e-6,
        rtol=0,
    )
    out = T.TrainAugmentation(generator=torch.Generator(device="cuda").manual_seed(0))(cuda)
    assert out.device.type == "cuda" and out.shape == (4, 3, 112, 112)
    # A CPU generator also drives a CUDA batch (draws are copied host-to-device).
    cpu_gen = T.TrainAugmentation(generator=seeded(0))(cuda)
    assert cpu_gen.device.type == "cuda"
