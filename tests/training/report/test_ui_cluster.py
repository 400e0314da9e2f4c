"""Fig. 1 of a backbone: embedding, UI centre and statistics agree with the pieces computed by hand."""

from __future__ import annotations

import pytest
import torch

from recognizability.backbones import create_backbone, normalize_for
from recognizability.metrics.ui_cluster import ui_cluster_statistics
from recognizability.training.data.images import ImageSet
from recognizability.training.report.ui_cluster import backbone_ui_cluster


def _set(n: int, seed: int, with_truth: bool = True) -> ImageSet:
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8)
    severity = torch.rand(n, generator=g)
    return ImageSet(
        images=images,
        labels=torch.zeros(n, dtype=torch.int64),
        severity=severity if with_truth else None,
        hard=(severity >= 0.5) if with_truth else None,
        paths=[f"{i}.png" for i in range(n)],
    )


def test_backbone_ui_cluster_equals_the_hand_computation() -> None:
    torch.manual_seed(0)
    backbone = create_backbone("small_vlr_net", input_size=(32, 32), embedding_dim=16)
    faces, ui = _set(40, 1), _set(12, 2)
    backbone.train()
    result = backbone_ui_cluster(backbone, faces, ui, 32)
    assert backbone.training  # mode restored

    backbone.eval()
    with torch.no_grad():
        v = backbone(normalize_for(backbone, faces.images.float()))
        u = torch.nn.functional.normalize(
            torch.nn.functional.normalize(backbone(normalize_for(backbone, ui.images.float())), dim=1).mean(
                0
            ),
            dim=0,
        )
    distance = 1.0 - torch.nn.functional.normalize(v, dim=1) @ u
    expected = ui_cluster_statistics(distance, faces.severity, faces.hard)  # type: ignore[arg-type]
    assert result.spearman_with_severity == pytest.approx(expected.spearman_with_severity, abs=1e-5)
    assert result.hard_share_nearest == expected.hard_share_nearest
    assert result.mean_distance_hard == pytest.approx(expected.mean_distance_hard, abs=1e-5)


def test_backbone_ui_cluster_needs_ground_truth() -> None:
    backbone = create_backbone("small_vlr_net", input_size=(32, 32), embedding_dim=16)
    with pytest.raises(ValueError, match="severity and hard flags"):
        backbone_ui_cluster(backbone, _set(8, 1, with_truth=False), _set(8, 2), 32)
