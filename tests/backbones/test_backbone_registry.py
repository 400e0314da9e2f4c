"""create_backbone: input_size for every backbone, and the shipped pretrained weights by tag."""

from __future__ import annotations

import pytest

from recognizability.backbones import available_backbones, create_backbone
from recognizability.backbones.registry import available_pretrained


@pytest.mark.parametrize("name", ["iresnet18", "mobilefacenet", "adaface_ir50"])
def test_fixed_size_backbones_accept_their_size_and_refuse_others(name: str) -> None:
    assert create_backbone(name, input_size=(112, 112)).input_size == (112, 112)
    with pytest.raises(ValueError, match=r"expected input_size \(112, 112\)"):
        create_backbone(name, input_size=(32, 32))


def test_small_vlr_net_takes_its_input_size() -> None:
    assert create_backbone("small_vlr_net", input_size=(48, 48)).feature_shape[1:] == (6, 6)


def test_unknown_pretrained_tag_names_the_choices() -> None:
    with pytest.raises(ValueError, match="expected pretrained to be one of"):
        create_backbone("iresnet18", pretrained="vggface2")
    with pytest.raises(TypeError, match="pretrained"):
        create_backbone("iresnet18", pretrained=1)  # type: ignore[arg-type]
    assert set(available_pretrained()) <= set(available_backbones())
