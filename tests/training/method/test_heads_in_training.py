"""Every margin head of ``--head`` and the chunked head of ``--head-parallel`` trained through an example's
``train`` function (tiny configuration, CPU), the head's s and m from the configuration, and the validation's
nearest prototype without an (N, C) tensor."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from recognizability.nn import (
    AdaFace,
    ArcFace,
    ChunkedArcFace,
    ChunkedMarginHead,
    CosFace,
    CurricularFace,
    MagFace,
    ShardedArcFace,
    ShardedMarginHead,
    available_heads,
)
from recognizability.training import MethodModules, build_head, build_modules, replicated_modules
from recognizability.training.config import HeadConfig
from recognizability.training.method.steps import nearest_class
from tests.helpers.tiny import load_example, tiny_config, tiny_data, tiny_session

train = load_example("train_tinyface").train
#: The library's own head classes, by name.
HEAD_CLASSES = {"arcface": ArcFace, "cosface": CosFace, "adaface": AdaFace, "curricularface": CurricularFace,
                "magface": MagFace}  # fmt: skip


def _config(**changes: object) -> object:
    # from a random start (the shipped pretrained backbone has another D), BatchNorm statistics trained
    return tiny_config(epochs=1, max_steps_per_epoch=2, pretrained=None, freeze_batchnorm=False, **changes)


@pytest.mark.parametrize("name", available_heads())
def test_each_head_trains_through_the_example(name: str, tmp_path: Path) -> None:
    data = tiny_data(tmp_path, n=64)
    config = _config(name=name)
    before = build_head(config.head, 32, data.num_classes)
    result = train(name, config, data, tiny_session())
    head = result.model.head
    assert type(head) is HEAD_CLASSES[name]
    assert type(before) is type(head)
    (row,) = result.history
    assert row["steps"] == 2.0
    assert all(math.isfinite(row[k]) for k in ("total", "classification", "regression", "diversion"))
    assert row["classification"] > 0.0
    assert 0.0 <= row["val_accuracy"] <= 1.0
    assert result.config.head.name == name


def test_scale_and_margin_reach_the_head_and_default_to_its_paper() -> None:
    cosface = build_head(HeadConfig(name="cosface"), 8, 5)
    assert isinstance(cosface, CosFace) and (cosface.scale, cosface.margin) == (64.0, 0.35)
    given = build_head(HeadConfig(name="cosface", scale=30.0, margin=0.2), 8, 5)
    assert isinstance(given, CosFace) and (given.scale, given.margin) == (30.0, 0.2)
    magface = build_head(HeadConfig(name="magface", scale=32.0), 8, 5)
    assert isinstance(magface, MagFace) and magface.scale == 32.0
    assert (magface.lower_margin, magface.upper_margin) == (0.45, 0.8)  # MagFace's own


def test_changing_the_head_takes_the_new_heads_scale_and_margin() -> None:
    paper = tiny_config()
    assert (paper.head.scale, paper.head.margin) == (64.0, 0.45)
    assert paper.replace(name="cosface").head == HeadConfig(name="cosface")
    assert paper.replace(name="adaface", margin=0.3).head == HeadConfig(name="adaface", margin=0.3)
    assert paper.replace(name="arcface").head == paper.head  # the same head keeps its values
    with pytest.raises(ValueError, match="margin None with the head 'magface'"):
        HeadConfig(name="magface", margin=0.5)
    assert paper.replace(name="magface").head.margin is None  # the preset's m does not follow


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"name": "softmax"}, r"head to be one of \['arcface', .*\], got 'softmax'"),
        ({"parallel": "dense"}, "parallel to be one of"),
        ({"scale": 0.0}, "scale"),
        ({"margin": -0.1}, "margin"),
    ],
)
def test_bad_head_settings_are_refused(changes: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        HeadConfig(**changes)  # type: ignore[arg-type]


def test_a_sharded_head_without_a_process_group_holds_every_class() -> None:
    # what the model loader builds from a sharded run's checkpoint; the command line refuses it without
    # torchrun (tests/training/test_distributed_heads.py)
    head = build_head(HeadConfig(parallel="sharded"), 8, 5)
    assert isinstance(head, ShardedMarginHead)
    assert (head.world_size, head.class_start, head.class_end) == (1, 0, 5)


def test_chunked_head_trains_like_the_dense_head(tmp_path: Path) -> None:
    data = tiny_data(tmp_path, n=64)
    dense = train("dense", _config(), data, tiny_session())
    chunked = train("chunked", _config(parallel="chunked"), data, tiny_session())
    assert isinstance(chunked.model.head, ChunkedMarginHead)
    assert not isinstance(dense.model.head, ChunkedMarginHead)
    for key in ("total", "classification", "regression", "diversion", "attention", "val_accuracy"):
        # float32: the chunked head sums its exponentials in another order than the dense softmax
        assert chunked.history[0][key] == pytest.approx(dense.history[0][key], rel=1e-5, abs=1e-6), key
    a, b = dense.model.state_dict(), chunked.model.state_dict()
    assert a.keys() == b.keys()  # one checkpoint layout
    # The prototypes get large gradients: equal after two Adam steps. Parameters whose gradients are near
    # zero (BatchNorm biases) are not compared: Adam's step m / sqrt(v) is about +-lr whatever the size of the
    # gradient, so float32 rounding in the softmax's summation order can flip it.
    torch.testing.assert_close(b["head.weight"], a["head.weight"], rtol=1e-4, atol=1e-6)


def test_resume_with_another_head_is_refused(tmp_path: Path) -> None:
    data = tiny_data(tmp_path / "data", n=64)
    train("run", _config(), data, tiny_session(tmp_path / "out"))
    with pytest.raises(ValueError, match="name: checkpoint 'arcface', this run 'cosface'"):
        train("run", _config(name="cosface"), data, tiny_session(tmp_path / "out", resume=True))


@pytest.mark.parametrize("chunk_size", [1, 3, 5, 64])
def test_nearest_class_walks_the_prototypes_in_chunks(chunk_size: int) -> None:
    g = torch.Generator().manual_seed(0)
    head = ChunkedArcFace(6, 11, chunk_size=4)
    embeddings = torch.randn(40, 6, generator=g)
    normalize = torch.nn.functional.normalize
    dense = normalize(embeddings, dim=1) @ normalize(head.weight, dim=1).T
    assert torch.equal(nearest_class(embeddings, head, chunk_size=chunk_size), dense.argmax(dim=1))


def test_nearest_class_needs_prototypes() -> None:
    with pytest.raises(TypeError, match=r"prototypes as \.weight, got NoneType"):
        nearest_class(torch.randn(2, 4), torch.nn.Identity())


def test_only_a_sharded_head_is_kept_out_of_the_gradient_average() -> None:
    config = _config()
    dense = build_modules(config, 4)
    assert replicated_modules(dense) == (dense,)
    sharded = MethodModules(dense.backbone, ShardedArcFace(32, 4), dense.criterion, dense.ui_center)
    kept = replicated_modules(sharded)
    assert all(m is not sharded.head for m in kept)
    in_average = {id(p) for m in kept for p in m.parameters()}
    assert in_average == {id(p) for n, p in sharded.named_parameters() if not n.startswith("head.")}


def test_every_margin_head_runs_chunked_and_sharded_through_the_config() -> None:
    for name in available_heads():
        chunked = build_head(HeadConfig(name=name, parallel="chunked"), 8, 5)
        sharded = build_head(HeadConfig(name=name, parallel="sharded"), 8, 5)
        assert isinstance(chunked, ChunkedMarginHead) and isinstance(sharded, ShardedMarginHead)
        assert type(chunked.margin_component) is type(
            build_head(HeadConfig(name=name), 8, 5).margin_component
        )


def test_a_head_registered_by_the_user_is_selectable_with_head(tmp_path: Path) -> None:
    from recognizability.nn import CosFaceMargin, head_registry, register_head
    from recognizability.training import parse_args

    @register_head("tightcosface")
    class TightCosFace(CosFaceMargin):
        def __init__(self, scale: float = 32.0, margin: float = 0.2) -> None:
            super().__init__(scale, margin)

    try:
        arguments = parse_args("tinyface", ["--head", "tightcosface", "--head-parallel", "chunked",
                                            "--out", str(tmp_path)])  # fmt: skip
        head = build_head(arguments.config.head, 8, 5)
        assert isinstance(head, ChunkedMarginHead) and isinstance(head.margin_component, TightCosFace)
        assert list(arguments.runs) == ["tightcosface", "full"]
    finally:
        del head_registry._REGISTRY["tightcosface"]
