"""The shipped synthetic-hr backbone: it loads by tag and has the property the method needs (paper Fig. 1).

A backbone pretrained on clean faces maps hard very-low-resolution faces close to the centre of the
unrecognisable identities. Checked here on a freshly generated tree (another seed than any tree the weights
saw), against a randomly initialised network of the same architecture.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from recognizability.backbones import create_backbone
from recognizability.data import ImageFolder, TinyFace
from recognizability.data.synthetic import generate
from recognizability.training.data.images import load_image_set
from recognizability.training.report.ui_cluster import backbone_ui_cluster

SIZES = {
    "train_identities": 40, "train_images": 600, "test_identities": 4, "probe_identities": 4,
    "probe_images": 8, "gallery_images": 8, "distractor_images": 4,
}  # fmt: skip


def test_loads_by_tag_with_its_architecture() -> None:
    backbone = create_backbone("small_vlr_net", pretrained="synthetic-hr", dropout=0.2)
    assert backbone.embedding_dim == 128 and backbone.input_size == (32, 32)
    assert backbone.feature_shape == (128, 4, 4)
    with pytest.raises(ValueError, match="architecture of pretrained='synthetic-hr'"):
        create_backbone("small_vlr_net", pretrained="synthetic-hr", embedding_dim=512)


@pytest.mark.slow
def test_hard_faces_lie_near_the_ui_centre_under_the_pretrained_backbone(tmp_path: Path) -> None:
    root = generate("tinyface", tmp_path / "t", seed=11, with_ui=True, **SIZES)
    faces = load_image_set(TinyFace(root, "train"), 32)
    ui = load_image_set(ImageFolder(root / "UI"), 32)
    shipped = create_backbone("small_vlr_net", pretrained="synthetic-hr")
    pretrained = backbone_ui_cluster(shipped, faces, ui, 32)
    torch.manual_seed(0)
    random = backbone_ui_cluster(
        create_backbone("small_vlr_net", input_size=(32, 32), embedding_dim=128), faces, ui, 32
    )
    assert pretrained.spearman_with_severity < -0.3
    assert pretrained.hard_share_nearest > 2 * pretrained.hard_share_overall
    assert pretrained.spearman_with_severity < random.spearman_with_severity - 0.2
