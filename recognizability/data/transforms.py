"""Batched image transforms on (B, C, H, W) tensors, on whatever device the batch lives.

Decoding happens in DataLoader workers (one image at a time, at its stored size);
:func:`collate_variable_size` brings the differently sized VLR images of a batch to one size on the worker,
and everything after that runs on the whole batch at once, on the GPU when the batch is there, with no Python
loop over samples:

- :func:`resize_batch`: bicubic resize (the supplement: "we rescale all the images into 112x112 pixels through
  bi-cubic interpolation");
- :func:`random_horizontal_flip`, :func:`random_rotation` (+-10 degrees), :func:`random_rescale` (down to
  64 x 64 or 100 x 100 and back): the paper's training augmentation (supplement, implementation details);
- :func:`degrade`: down to 16 x 16 and back, the paper's validation degradation;
- :func:`normalize`: ``(x / 255 - 0.5) / 0.5`` in the channel order a checkpoint expects (RGB or BGR);
- :class:`TrainAugmentation` and :class:`EvalTransform` compose them.

Pixel values are on the 0..255 scale until :func:`normalize`: uint8 batches, or float batches holding 0..255
values. Each function returns the dtype it was given (uint8 results are rounded and clamped to 0..255, since
bicubic interpolation overshoots; :func:`resize_batch` computes them in float64, so that any float64
implementation of its weights reproduces its bytes: docs/deployment.md). Random functions take an optional
``torch.Generator`` for reproducibility; random numbers are drawn on the generator's device and moved to the
batch's device (a host-to-device copy, never a device-to-host sync).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._validation import (
    ArgumentTypeError,
    check_bool,
    check_choice,
    check_finite,
    check_finite_float,
    check_float_in_range,
    check_size_pair,
)
from ..backbones.preprocessing import normalize_for

__all__ = [
    "EvalTransform",
    "TrainAugmentation",
    "collate_variable_size",
    "degrade",
    "normalize",
    "random_horizontal_flip",
    "random_rescale",
    "random_rotation",
    "resize_batch",
    "rotate_batch",
]

Size = int | tuple[int, int]

#: The checkpoint format of each colour order, to reach the one normalisation,
#: :func:`recognizability.backbones.normalize_for` (insightface reads RGB, AdaFace BGR).
_FORMAT_OF_ORDER = {"RGB": "insightface", "BGR": "adaface"}


def _check_batch(images: object, name: str = "images") -> Tensor:
    if not isinstance(images, Tensor):
        raise TypeError(
            f"expected {name} to be a torch.Tensor of shape (B, C, H, W), got {type(images).__name__}"
        )
    if images.ndim != 4:
        raise ValueError(f"expected {name} of shape (B, C, H, W), got shape {tuple(images.shape)}")
    if images.dtype != torch.uint8 and not images.is_floating_point():
        raise TypeError(f"expected {name} of dtype uint8 or floating point, got {images.dtype}")
    return images


def _check_generator(generator: object) -> torch.Generator | None:
    """``generator`` is None or a ``torch.Generator`` (TypeError naming it otherwise)."""
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"expected generator to be a torch.Generator or None, got {type(generator).__name__}")
    return generator


def _check_generator_device(generator: torch.Generator | None, images: Tensor) -> None:
    """The draws come from the CPU or from the batch's own device: a generator on another device would
    make every draw a device-to-device (or device-to-host) copy, or fail inside torch (a meta generator)."""
    if generator is not None and generator.device.type != "cpu" and generator.device != images.device:
        raise ValueError(
            f"expected generator on the cpu or on the device of images ({images.device}), "
            f"got a generator on {generator.device}"
        )


def _check_random(generator: object, images: Tensor) -> torch.Generator | None:
    """Check the generator of a random transform before anything is drawn from it."""
    checked = _check_generator(generator)
    _check_generator_device(checked, images)
    return checked


def _check_value_range(value_range: object) -> tuple[float, float] | None:
    """None, or a pair ``(low, high)`` of finite floats with ``low <= high``."""
    if value_range is None:
        return None
    expected = "expected value_range to be None or a pair (low, high) of finite floats with low <= high"
    if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
        raise TypeError(f"{expected}, got {value_range!r}")
    low = check_finite_float(value_range[0], "value_range[0]")
    high = check_finite_float(value_range[1], "value_range[1]")
    if low > high:
        raise ValueError(f"{expected}, got {value_range!r}")
    return (low, high)


def _check_sizes(sizes: object, name: str) -> list[tuple[int, int]]:
    """A sequence (tuple or list) of sizes, each an int or an (H, W) pair."""
    if not isinstance(sizes, (tuple, list)):
        raise TypeError(
            f"expected {name} to be a tuple or list of sizes (ints or (H, W) pairs), "
            f"got {type(sizes).__name__} {sizes!r}"
        )
    return [check_size_pair(size, f"{name}[{i}]") for i, size in enumerate(sizes)]


def _uniform(count: int, device: torch.device, generator: torch.Generator | None) -> Tensor:
    """(count,) float32 uniform in [0, 1), drawn on the generator's device, returned on ``device``."""
    source = generator.device if generator is not None else device
    return torch.rand(count, generator=generator, device=source).to(device, non_blocking=True)


def _to_compute(images: Tensor) -> Tensor:
    """Float32 copy for uint8/half inputs (bicubic is not implemented for every low-precision dtype)."""
    return images if images.dtype in (torch.float32, torch.float64) else images.float()


def _resize_compute(images: Tensor) -> Tensor:
    """What :func:`resize_batch` interpolates: float64 for uint8 images (weights and sums exact to ~1e-13,
    so that the rounding to integers gives the same bytes in any float64 implementation; float32 on a device
    without float64), else as :func:`_to_compute`."""
    if images.dtype == torch.uint8 and images.device.type != "mps":
        return images.double()
    return _to_compute(images)


#: Decimals uint8 results are rounded to before the rounding to integers: a value within 5e-7 of a half
#: becomes that half exactly (ties to even), so summation-order differences of float64 (~1e-13) cannot
#: round it either way.
_SNAP_DECIMALS = 6


def _restore(result: Tensor, like: Tensor, value_range: tuple[float, float] | None) -> Tensor:
    if like.dtype == torch.uint8:
        snapped = result.round(decimals=_SNAP_DECIMALS)
        return snapped.round().clamp(0.0, 255.0).to(torch.uint8)
    if value_range is not None:
        result = result.clamp(value_range[0], value_range[1])
    return result.to(like.dtype)


def resize_batch(
    images: Tensor,
    size: Size,
    *,
    antialias: bool = True,
    value_range: tuple[float, float] | None = None,
) -> Tensor:
    """Bicubic resize of a batch: (B, C, H, W) -> (B, C, size_h, size_w), same dtype and device.

    Args:
        images: (B, C, H, W) uint8 or float.
        size: output size, an int (square) or (H, W).
        antialias: True (default) gives Pillow's bicubic resampling (kernel a = -0.5, low-pass filtered when
            shrinking), matching ``PIL.Image.resize(..., BICUBIC)`` within one grey level on smooth content;
            False gives PyTorch's plain bicubic (a = -0.75, no low-pass, aliasing when shrinking).
        value_range: for float inputs, clamp the result to this range (bicubic overshoots); uint8 results are
            always rounded and clamped to 0..255.

    uint8 images are interpolated in float64, rounded to 6 decimals, then to the nearest integer (ties to
    even) and clamped to 0..255: the exact recipe of docs/deployment.md ("Preprocessing, exactly"), which a
    numpy script reproduces byte for byte. Returns the input unchanged when it already has the requested
    size.
    """
    _check_batch(images)
    target = check_size_pair(size, "size")
    antialias = check_bool(antialias, "antialias")
    value_range = _check_value_range(value_range)
    if tuple(images.shape[-2:]) == target:
        return images
    result = F.interpolate(
        _resize_compute(images), size=target, mode="bicubic", align_corners=False, antialias=antialias
    )
    return _restore(result, images, value_range)


def random_horizontal_flip(
    images: Tensor, p: float = 0.5, *, generator: torch.Generator | None = None
) -> Tensor:
    """Mirror each image left-right with probability ``p``, independently per sample: (B, C, H, W) -> same.

    ``generator``: None (torch's global stream) or a ``torch.Generator`` on the CPU or on the batch's device.
    """
    _check_batch(images)
    p = check_float_in_range(p, "p", 0, 1)
    generator = _check_random(generator, images)
    flip = (_uniform(images.shape[0], images.device, generator) < p).view(-1, 1, 1, 1)
    return torch.where(flip, images.flip(-1), images)


def rotate_batch(
    images: Tensor, degrees: Tensor | float, *, value_range: tuple[float, float] | None = None
) -> Tensor:
    """Rotate each image about its centre by its own angle: (B, C, H, W), degrees (B,) -> (B, C, H, W).

    Positive angles turn the picture counter-clockwise as displayed (row 0 at the top). Bilinear sampling
    (``affine_grid`` / ``grid_sample``, ``align_corners=False``) with zeros outside the image, so corners that
    come from outside are black (0) on the 0..255 scale. The aspect ratio is respected for H != W.
    ``value_range`` clamps float results (bilinear weights sum to one only up to rounding).

    ``degrees`` is a (B,) tensor (one angle per image) or a Python number (the same angle for every image).
    A NaN or infinite angle would give NaN pixels: a Python number is always checked; a tensor is checked
    while value checks are on (:func:`recognizability.value_checks`; one host sync).
    """
    _check_batch(images)
    value_range = _check_value_range(value_range)
    if isinstance(degrees, Tensor):
        if degrees.shape != (images.shape[0],):
            raise ValueError(
                f"expected degrees of shape ({images.shape[0]},) (one angle per image), "
                f"got shape {tuple(degrees.shape)}"
            )
        if degrees.dtype == torch.bool or degrees.is_complex():
            raise TypeError(f"expected degrees with a real (integer or floating) dtype, got {degrees.dtype}")
        check_finite(degrees, "degrees")
        angles = degrees
    else:
        if not isinstance(degrees, numbers.Real) or isinstance(degrees, bool):
            raise ArgumentTypeError(
                f"expected degrees to be a tensor of shape ({images.shape[0]},) or a float, "
                f"got {type(degrees).__name__}"
            )
        angle = check_finite_float(degrees, "degrees")
        angles = torch.full((images.shape[0],), angle, device=images.device)
    return _rotate(images, angles, value_range)


def _rotate(images: Tensor, degrees: Tensor, value_range: tuple[float, float] | None) -> Tensor:
    """:func:`rotate_batch` on checked arguments (random_rotation draws finite angles: no value check)."""
    height, width = images.shape[-2:]
    compute = _to_compute(images)
    radians = degrees.to(device=images.device, dtype=compute.dtype) * (math.pi / 180.0)
    cos, sin = torch.cos(radians), torch.sin(radians)
    zero = torch.zeros_like(cos)
    # Output pixel (x, y) (offsets from the centre, y down) samples the input at R(x, y) with
    # R = [[cos, -sin], [sin, cos]]; in affine_grid's normalised coordinates (x / (W/2), y / (H/2)) the
    # off-diagonal terms pick up the aspect ratio.
    theta = torch.stack((cos, -sin * (height / width), zero, sin * (width / height), cos, zero), dim=-1).view(
        -1, 2, 3
    )
    grid = F.affine_grid(theta, list(compute.shape), align_corners=False)
    result = F.grid_sample(compute, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return _restore(result, images, value_range)


def random_rotation(
    images: Tensor,
    max_degrees: float = 10.0,
    *,
    generator: torch.Generator | None = None,
    value_range: tuple[float, float] | None = None,
) -> Tensor:
    """Rotate each image by its own angle drawn uniformly from [-max_degrees, max_degrees] (paper: 10).

    (B, C, H, W) -> (B, C, H, W), same dtype and device. See :func:`rotate_batch` for the conventions.
    """
    _check_batch(images)
    degrees = check_float_in_range(max_degrees, "max_degrees", 0, 180)
    value_range = _check_value_range(value_range)
    generator = _check_random(generator, images)
    angles = (_uniform(images.shape[0], images.device, generator) * 2.0 - 1.0) * degrees
    return _rotate(images, angles, value_range)


def random_rescale(
    images: Tensor,
    sizes: Sequence[Size] = (64, 100),
    p: float = 0.5,
    *,
    generator: torch.Generator | None = None,
    antialias: bool = True,
    value_range: tuple[float, float] | None = None,
) -> Tensor:
    """With probability ``p`` per image, shrink it to one of ``sizes`` (uniform choice) and enlarge it back.

    The paper rescales "by 64x64, 100x100" at 112 x 112; how often is not stated, so ``p`` defaults to 0.5.
    No loop over samples. On an accelerator every size is computed for the whole batch and each sample picks
    its result with ``torch.where`` (no host sync; cost ``len(sizes)`` batched down-and-up resizes). On the
    CPU, where selecting rows costs no device sync, only the chosen rows of each size are resized (about
    ``p`` of one size's cost) unless under ``torch.compile``; both paths give identical results.
    (B, C, H, W) -> same shape, dtype, device.
    """
    _check_batch(images)
    p = check_float_in_range(p, "p", 0, 1)
    targets = _check_sizes(sizes, "sizes")
    if not targets:
        raise ValueError("expected at least one size in sizes, got an empty sequence")
    antialias = check_bool(antialias, "antialias")
    value_range = _check_value_range(value_range)
    generator = _check_random(generator, images)
    apply = _uniform(images.shape[0], images.device, generator) < p
    choice = (
        (_uniform(images.shape[0], images.device, generator) * len(targets))
        .long()
        .clamp_(max=len(targets) - 1)
    )
    return _rescale_selected(
        images,
        apply,
        choice,
        targets,
        antialias,
        value_range,
        # Row selection has a data-dependent size, which torch.compile cannot trace: compiled code takes the
        # torch.where path.
        select_rows=images.device.type == "cpu" and not torch.compiler.is_compiling(),
    )


def _rescale_selected(
    images: Tensor,
    apply: Tensor,
    choice: Tensor,
    targets: Sequence[tuple[int, int]],
    antialias: bool,
    value_range: tuple[float, float] | None,
    select_rows: bool,
) -> Tensor:
    """Rows with ``apply`` go down to ``targets[choice]`` and back; the others are returned unchanged."""
    height, width = images.shape[-2], images.shape[-1]
    result = images.clone() if select_rows else images
    for index, target in enumerate(targets):  # loop over the (few) sizes, never over samples
        pick = apply & (choice == index)
        if select_rows:
            rows = torch.nonzero(pick).flatten()  # CPU tensor: no device synchronisation
            source = images.index_select(0, rows)
        else:
            source = images
        shrunk = resize_batch(source, target, antialias=antialias, value_range=value_range)
        restored = resize_batch(shrunk, (height, width), antialias=antialias, value_range=value_range)
        if select_rows:
            result.index_copy_(0, rows, restored)
        else:
            result = torch.where(pick.view(-1, 1, 1, 1), restored, result)
    return result


def degrade(
    images: Tensor,
    size: Size = 16,
    *,
    antialias: bool = True,
    value_range: tuple[float, float] | None = None,
) -> Tensor:
    """Shrink every image to ``size`` (paper: 16 x 16) and enlarge it back: (B, C, H, W) -> same shape.

    The paper's validation images are "downsampled by 16x16 pixels" from 112 x 112 (supplement).
    """
    _check_batch(images)
    height, width = images.shape[-2:]
    shrunk = resize_batch(images, size, antialias=antialias, value_range=value_range)
    return resize_batch(shrunk, (height, width), antialias=antialias, value_range=value_range)


def normalize(images: Tensor, channel_order: str = "RGB") -> Tensor:
    """``(x / 255 - 0.5) / 0.5`` -> values in [-1, 1], channels reordered for the checkpoint format.

    The batch form of :func:`recognizability.backbones.normalize_for`, which computes it, keyed by colour
    order instead of by model.

    Args:
        images: (B, 3, H, W) RGB on the 0..255 scale, uint8 or float.
        channel_order: ``"RGB"`` (AdaFace-style checkpoints read BGR: pass ``"BGR"``; insightface ``"RGB"``).
            Check a backbone's ``input_channel_order``.

    Returns:
        (B, 3, H, W) float32 (or the input's float dtype).
    """
    _check_batch(images)
    channel_order = check_choice(channel_order, "channel_order", ("RGB", "BGR"))
    if images.shape[1] != 3:
        raise ValueError(f"expected images with 3 channels (B, 3, H, W), got shape {tuple(images.shape)}")
    dtype = images.dtype if images.is_floating_point() else torch.float32
    return normalize_for(_FORMAT_OF_ORDER[channel_order], images, 255.0, dtype=dtype)


def _label(label: object, index: int) -> int:
    """An int label (Python or numpy int, or a one-element integer tensor); TypeError naming the item."""
    if isinstance(label, Tensor) and label.numel() == 1 and not label.is_floating_point():
        label = label.item()
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)):
        raise TypeError(f"expected batch[{index}] label to be an int, got {type(label).__name__} {label!r}")
    return int(label)


def collate_variable_size(
    batch: Sequence[tuple[Tensor, int]],
    size: Size = 112,
    mode: str = "resize",
    *,
    antialias: bool = True,
) -> tuple[Tensor, Tensor]:
    """DataLoader ``collate_fn`` for images of different stored sizes: -> (images (B, C, h, w), labels (B,)).

    VLR images differ in size (TinyFace averages 20 x 16), so they cannot be stacked as decoded. In a worker,
    ``mode="resize"`` bicubic-resizes each image to ``size`` (cheap: the images are tiny; the loop runs on the
    CPU worker, not on the training device); ``mode="pad"`` zero-pads each image, centred, to the largest
    height and width in the batch (``size`` is then ignored). Use ``functools.partial(collate_variable_size,
    size=...)`` to choose the size. Images keep their dtype (uint8 from the readers); labels are int64.
    """
    check_choice(mode, "mode", ("resize", "pad"))
    antialias = check_bool(antialias, "antialias")
    if not isinstance(batch, Sequence) or isinstance(batch, (str, bytes)):
        raise TypeError(
            f"expected batch to be a sequence of (image, label) pairs, got {type(batch).__name__}"
        )
    if len(batch) == 0:
        raise ValueError("expected a non-empty batch of (image, label) pairs, got an empty one")
    images: list[Tensor] = []
    labels: list[int] = []
    for index, item in enumerate(batch):
        if not (isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], Tensor)):
            raise TypeError(
                f"expected batch[{index}] to be an (image tensor (C, H, W), label) pair, got {item!r}"
            )
        image, label = item
        if image.ndim != 3:
            raise ValueError(f"expected batch[{index}] image of shape (C, H, W), got {tuple(image.shape)}")
        if images and (image.shape[0], image.dtype) != (images[0].shape[0], images[0].dtype):
            raise ValueError(
                f"expected every image with batch[0]'s {images[0].shape[0]} channels and dtype "
                f"{images[0].dtype}, got batch[{index}] with {image.shape[0]} channels and dtype "
                f"{image.dtype}"
            )
        images.append(image)
        labels.append(_label(label, index))
    if mode == "resize":
        target = check_size_pair(size, "size")
        stacked = [resize_batch(image.unsqueeze(0), target, antialias=antialias)[0] for image in images]
    else:
        height = max(image.shape[-2] for image in images)
        width = max(image.shape[-1] for image in images)
        stacked = []
        for image in images:
            top, left = (height - image.shape[-2]) // 2, (width - image.shape[-1]) // 2
            pad = (left, width - image.shape[-1] - left, top, height - image.shape[-2] - top)
            stacked.append(F.pad(image, pad))
    return torch.stack(stacked), torch.tensor(labels, dtype=torch.int64)


class TrainAugmentation(nn.Module):
    """The paper's training pipeline on a batch, on any device: (B, 3, h, w) 0..255 -> (B, 3, H, W) float.

    Steps: bicubic resize to ``size`` (112), random horizontal flip (``flip_p``), random rotation within
    +-``max_degrees`` (10), random rescale to one of ``rescale_sizes`` (64, 100) and back with probability
    ``rescale_p``, then :func:`normalize` in ``channel_order`` (skipped if ``normalize_output`` is False,
    leaving float values on the 0..255 scale). The batch is converted to float32 once, so intermediate steps
    are not re-quantised. ``generator`` (optional) makes the random draws reproducible; it is used in every
    mode (``train()``/``eval()`` leave it on; evaluate with :class:`EvalTransform`). It must live on the CPU
    or on the device of the batches (checked on each call, before anything is drawn).
    """

    def __init__(
        self,
        size: Size = 112,
        *,
        flip_p: float = 0.5,
        max_degrees: float = 10.0,
        rescale_sizes: Sequence[Size] = (64, 100),
        rescale_p: float = 0.5,
        channel_order: str = "RGB",
        normalize_output: bool = True,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.size = check_size_pair(size, "size")
        self.flip_p = check_float_in_range(flip_p, "flip_p", 0, 1)
        self.max_degrees = check_float_in_range(max_degrees, "max_degrees", 0, 180)
        self.rescale_sizes = tuple(_check_sizes(rescale_sizes, "rescale_sizes"))
        self.rescale_p = check_float_in_range(rescale_p, "rescale_p", 0, 1)
        check_choice(channel_order, "channel_order", ("RGB", "BGR"))
        self.channel_order = channel_order
        self.normalize_output = check_bool(normalize_output, "normalize_output")
        self.generator = _check_generator(generator)

    def forward(self, images: Tensor) -> Tensor:
        """(B, 3, h, w) uint8 or float on the 0..255 scale -> (B, 3, size) float32."""
        _check_batch(images)
        _check_generator_device(self.generator, images)
        pixel_range = (0.0, 255.0)
        x = _to_compute(images)
        x = resize_batch(x, self.size, value_range=pixel_range)
        x = random_horizontal_flip(x, self.flip_p, generator=self.generator)
        if self.max_degrees > 0:
            x = random_rotation(x, self.max_degrees, generator=self.generator, value_range=pixel_range)
        if self.rescale_sizes and self.rescale_p > 0:
            x = random_rescale(
                x, self.rescale_sizes, self.rescale_p, generator=self.generator, value_range=pixel_range
            )
        return normalize(x, self.channel_order) if self.normalize_output else x

    def extra_repr(self) -> str:
        return (
            f"size={self.size}, flip_p={self.flip_p}, max_degrees={self.max_degrees}, "
            f"rescale_sizes={self.rescale_sizes}, rescale_p={self.rescale_p}, "
            f"channel_order={self.channel_order!r}"
        )


class EvalTransform(nn.Module):
    """Deterministic evaluation pipeline: resize to ``size``, optional flip and degradation, normalise.

    ``EvalTransform(flip=True, degrade_size=16)`` reproduces the paper's validation images (horizontally
    flipped and downsampled to 16 x 16, back to 112). (B, 3, h, w) 0..255 -> (B, 3, size) float32.
    """

    def __init__(
        self,
        size: Size = 112,
        *,
        channel_order: str = "RGB",
        flip: bool = False,
        degrade_size: Size | None = None,
        normalize_output: bool = True,
    ) -> None:
        super().__init__()
        self.size = check_size_pair(size, "size")
        check_choice(channel_order, "channel_order", ("RGB", "BGR"))
        self.channel_order = channel_order
        self.flip = check_bool(flip, "flip")
        self.degrade_size = None if degrade_size is None else check_size_pair(degrade_size, "degrade_size")
        self.normalize_output = check_bool(normalize_output, "normalize_output")

    def forward(self, images: Tensor) -> Tensor:
        """(B, 3, h, w) uint8 or float on the 0..255 scale -> (B, 3, size) float32."""
        _check_batch(images)
        pixel_range = (0.0, 255.0)
        x = resize_batch(_to_compute(images), self.size, value_range=pixel_range)
        if self.flip:
            x = x.flip(-1)
        if self.degrade_size is not None:
            x = degrade(x, self.degrade_size, value_range=pixel_range)
        return normalize(x, self.channel_order) if self.normalize_output else x

    def extra_repr(self) -> str:
        return (
            f"size={self.size}, channel_order={self.channel_order!r}, flip={self.flip}, "
            f"degrade_size={self.degrade_size}"
        )
