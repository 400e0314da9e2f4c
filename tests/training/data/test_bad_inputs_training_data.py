"""Bad inputs of the training data layer: image sets refuse what would be read wrong."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from recognizability.backbones import create_backbone
from recognizability.training.data.images import ImageSet, prepare_batch
from tests.helpers.models import (
    NUM_CLASSES,
)


def _image_set(n: int = 6) -> ImageSet:
    g = torch.Generator().manual_seed(5)
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    return ImageSet(images, torch.arange(n) % NUM_CLASSES, None, None, [f"i{k}" for k in range(n)])


IMAGE_SET_FAULTS: list[tuple[str, Callable[[], Any], type[BaseException], str]] = [
    ("float images in [0, 1]", lambda: ImageSet(torch.rand(4, 3, 32, 32), torch.arange(4), None, None,
        list("abcd")), TypeError, r"images to be uint8.*got dtype torch.float32"),
    ("4 images, 1 path", lambda: ImageSet(_image_set(4).images, torch.arange(4), None, None, ["a"]),
        ValueError, r"N = 4.*'paths': 1"),
    ("3 labels", lambda: ImageSet(_image_set(4).images, torch.arange(3), None, None, list("abcd")),
        ValueError, r"'labels': 3"),
    ("severity of 2", lambda: ImageSet(_image_set(4).images, torch.arange(4), torch.rand(2), None,
        list("abcd")), ValueError, r"'severity': 2"),
    ("int32 labels", lambda: ImageSet(_image_set(4).images, torch.arange(4).int(), None, None, list("abcd")),
        TypeError, "int64"),
    ("prepare_batch(float)", lambda: prepare_batch(torch.rand(2, 3, 32, 32), 32, create_backbone(
        "small_vlr_net")), TypeError, r"uint8.*got torch.float32"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "call", "error", "words"), IMAGE_SET_FAULTS, ids=[r[0] for r in IMAGE_SET_FAULTS]
)
def test_image_sets_refuse_what_would_be_read_wrong(
    name: str, call: Callable[[], Any], error: type[BaseException], words: str
) -> None:
    with pytest.raises(error, match=words):
        call()
