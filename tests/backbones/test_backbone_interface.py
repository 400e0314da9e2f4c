"""The common interface: shapes, return types, input checks, registry, channels_last, compile, BN warm-up."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from recognizability.backbones import (
    AdaFaceIR,
    BackboneOutput,
    FaceBackbone,
    IResNet,
    MobileFaceNet,
    available_backbones,
    create_backbone,
    iresnet50,
    mobilefacenet,
    small_vlr_net,
)


def _images(batch: int, size: int) -> torch.Tensor:
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize(
    "name", ["iresnet18", "iresnet34", "iresnet50", "iresnet100", "adaface_ir50", "adaface_ir101"]
)
def test_paper_backbones_feature_map_is_512x7x7(name: str) -> None:
    with torch.device("meta"):
        model = create_backbone(name).eval()
    assert (
        model.feature_shape == (512, 7, 7) and model.input_size == (112, 112) and model.embedding_dim == 512
    )
    out = model.forward_with_features(torch.empty(2, 3, 112, 112, device="meta"))
    assert isinstance(out, BackboneOutput)
    assert out.feature_map.shape == (2, 512, 7, 7) and out.embedding.shape == (2, 512)


def test_forward_equals_head_of_features_and_with_features() -> None:
    torch.manual_seed(0)
    model = mobilefacenet().eval()
    x = _images(2, 112)
    with torch.no_grad():
        f = model.forward_features(x)
        v = model(x)
        both = model.forward_with_features(x)
    assert f.shape == (2, 512, 7, 7) and v.shape == (2, 512)
    assert isinstance(v, torch.Tensor) and isinstance(both, BackboneOutput)
    assert torch.equal(model.forward_head(f), v)
    assert torch.equal(both.embedding, v) and torch.equal(both.feature_map, f)


def test_small_vlr_net_shapes_and_sizes() -> None:
    model = small_vlr_net()
    assert model.input_size == (32, 32) and model.feature_shape == (128, 4, 4)
    out = model.forward_with_features(_images(5, 32))
    assert out.feature_map.shape == (5, 128, 4, 4) and out.embedding.shape == (5, 512)
    other = small_vlr_net(input_size=(48, 40), width=32, embedding_dim=64)
    out = other.forward_with_features(torch.randn(3, 3, 48, 40))
    assert out.feature_map.shape == (3, 64, 6, 5) and out.embedding.shape == (3, 64)
    # gradients reach every trainable parameter (the network trains end to end)
    out.embedding.square().sum().backward()
    assert all(p.grad is not None for p in other.parameters() if p.requires_grad)


def test_small_vlr_net_feature_map_feeds_the_paper_modules() -> None:
    nn_mod = pytest.importorskip("recognizability.nn")
    if not hasattr(nn_mod, "PerceptibilityAttention"):
        pytest.skip("recognizability.nn.PerceptibilityAttention not available")
    model = small_vlr_net()
    f = model.forward_features(_images(4, 32))
    attention = nn_mod.PerceptibilityAttention(
        model.feature_shape[0], model.embedding_dim, model.feature_shape[1:]
    )
    regression = nn_mod.PerceptibilityRegression(f[0].numel())
    assert attention(f).shape == (4, model.embedding_dim)
    assert regression(f).shape == (4,)


@pytest.mark.parametrize(
    ("images", "error", "pattern"),
    [
        (
            torch.randn(2, 3, 64, 64),
            ValueError,
            r"expected images of shape \(B, 3, 32, 32\).*got shape \(2, 3, 64, 64\)",
        ),
        (torch.randn(3, 32, 32), ValueError, r"got shape \(3, 32, 32\)"),
        (torch.randn(2, 1, 32, 32), ValueError, r"got shape \(2, 1, 32, 32\)"),
        (torch.zeros(2, 3, 32, 32, dtype=torch.uint8), TypeError, "normalize_for"),
        ([[1.0]], TypeError, "expected images to be a torch.Tensor"),
    ],
)
def test_bad_images_are_rejected(images: object, error: type[Exception], pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        small_vlr_net()(images)  # type: ignore[arg-type]


def test_bad_feature_map_and_constructor_arguments() -> None:
    model = small_vlr_net()
    with pytest.raises(ValueError, match=r"expected feature_map of shape \(B, 128, 4, 4\)"):
        model.forward_head(torch.randn(2, 512, 7, 7))
    with pytest.raises(ValueError, match="expected dropout"):
        iresnet50(dropout=1.5)
    with pytest.raises(ValueError, match="expected embedding_dim"):
        mobilefacenet(embedding_dim=0)
    with pytest.raises(ValueError, match="divisible by 8"):
        small_vlr_net(input_size=(30, 30))
    for cls in (IResNet, AdaFaceIR):
        with pytest.raises(ValueError, match=r"expected layers to be four positive ints, got \(3, 4, 0, 3\)"):
            cls((3, 4, 0, 3))


@pytest.mark.parametrize(
    ("build", "error", "words"),
    [
        (
            lambda: IResNet("3, 4, 14, 3"),
            TypeError,
            r"expected layers to be four positive ints, got '3, 4, 14, 3'",
        ),
        (
            lambda: AdaFaceIR((3, 4, 14.0, 3)),
            TypeError,
            r"expected layers to be four positive ints, got \(3, 4, 14.0, 3\)",
        ),
        (
            lambda: IResNet((3, 4, 14)),
            ValueError,
            r"expected layers to be four positive ints, got \(3, 4, 14\)",
        ),
        (
            lambda: iresnet50(embedding_dim="512"),
            TypeError,
            "expected embedding_dim to be a positive int, got '512'",
        ),
        (
            lambda: mobilefacenet(embedding_dim=True),
            TypeError,
            "expected embedding_dim to be a positive int, got True",
        ),
        (lambda: small_vlr_net(width=0), ValueError, "expected width to be a positive int, got 0"),
        (lambda: small_vlr_net(width=8.0), TypeError, "expected width to be a positive int, got 8.0"),
        (
            lambda: iresnet50(head_in_float32="no"),
            TypeError,
            "expected head_in_float32 to be a bool, got str",
        ),
        (
            lambda: mobilefacenet(head_in_float32=0),
            TypeError,
            "expected head_in_float32 to be a bool, got int",
        ),
        (
            lambda: AdaFaceIR((1, 1, 1, 1), head_in_float32=None),
            TypeError,
            "expected head_in_float32 to be a bool",
        ),
    ],
)
def test_constructor_argument_types(
    build: Callable[[], FaceBackbone], error: type[Exception], words: str
) -> None:
    """A wrong Python type is a TypeError (also a ValueError, as in earlier releases) naming the argument."""
    with pytest.raises(error, match=words) as caught:
        build()
    assert isinstance(caught.value, ValueError)


def test_registry() -> None:
    names = available_backbones()
    assert names == sorted(names)
    assert {"iresnet18", "iresnet50", "iresnet100", "mobilefacenet", "adaface_ir50", "small_vlr_net"} <= set(
        names
    )
    assert type(create_backbone("r50", dropout=0.2)).__name__ == "IResNet"
    assert create_backbone("small_vlr_net", embedding_dim=32).embedding_dim == 32
    with pytest.raises(ValueError, match="expected name to be one of"):
        create_backbone("resnet50")
    with pytest.raises(TypeError):
        create_backbone("mobilefacenet", dropuot=0.2)  # misspelt argument is not dropped silently


def test_dropout_option_is_active_in_training_only() -> None:
    model = small_vlr_net(dropout=0.4)
    x = _images(4, 32)
    model.eval()
    with torch.no_grad():
        a, b = model(x), model(x)
    assert torch.equal(a, b)
    model.train()
    torch.manual_seed(0)
    with torch.no_grad():
        c = model(x)
        d = model(x)
    assert not torch.equal(c, d)


def test_channels_last_gives_the_same_result() -> None:
    torch.manual_seed(0)
    model = small_vlr_net().eval()
    x = _images(4, 32)
    with torch.no_grad():
        ref = model(x)
        model_cl = model.to(memory_format=torch.channels_last)
        out = model_cl.forward_with_features(x.contiguous(memory_format=torch.channels_last))
    # different convolution kernels: equal up to float32 rounding
    torch.testing.assert_close(out.embedding, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    ("factory", "size"),
    [
        (small_vlr_net, 32),
        (lambda: IResNet((1, 1, 1, 1)), 112),  # same block/head code as iresnet18-100, one block per stage
        (MobileFaceNet, 112),
        (lambda: AdaFaceIR((1, 1, 1, 1)), 112),
    ],
    ids=["small_vlr_net", "iresnet", "mobilefacenet", "adaface"],
)
def test_compiles_with_fullgraph(factory: Callable[[], FaceBackbone], size: int) -> None:
    # backend="eager": Dynamo must capture one graph (no graph breaks); no code generation is paid for.
    torch.manual_seed(0)
    model = factory().eval()
    x = _images(2, size)
    compiled = torch.compile(model.forward_with_features, fullgraph=True, backend="eager")
    with torch.no_grad():
        out = compiled(x)
        ref = model.forward_with_features(x)
    assert torch.equal(out.embedding, ref.embedding) and torch.equal(out.feature_map, ref.feature_map)


def test_input_checks_compile_in_one_graph_in_training_mode_and_still_refuse() -> None:
    # The checks read metadata only: in training mode (batch-norm layers train) the whole forward is still
    # one graph, and a refused batch raises the eager error (compiled without fullgraph) with the running
    # statistics untouched.
    torch.manual_seed(0)
    model = small_vlr_net(width=8).train()
    x = _images(2, 32)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    out = torch.compile(model, fullgraph=True, backend="eager")(x)
    model.load_state_dict(state)
    torch.testing.assert_close(out, model(x))
    model.load_state_dict(state)
    compiled = torch.compile(model, backend="eager")
    with pytest.raises(ValueError, match=r"B >= 2 while batch norm trains, got shape \(1, 3, 32, 32\)"):
        compiled(x[:1])
    with pytest.raises(TypeError, match=r"expected images of dtype torch.float32"):
        compiled(x.double())
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


def _shallow(cls: type[FaceBackbone], head_in_float32: bool) -> FaceBackbone:
    # one block per stage for the IResNets: same head, cheaper to build
    if cls is MobileFaceNet:
        return MobileFaceNet(head_in_float32=head_in_float32).eval()
    return cls((1, 1, 1, 1), head_in_float32=head_in_float32).eval()  # type: ignore[call-arg]


@pytest.mark.parametrize("backbone_cls", [IResNet, MobileFaceNet, AdaFaceIR])
def test_head_stays_float32_under_autocast(backbone_cls: type[FaceBackbone]) -> None:
    # What arcface_torch's fp16 mode does: trunk under autocast, FC (+ BN1d) in float32. Only the head runs
    # here (bfloat16 feature map in), which keeps the CPU test cheap.
    f = torch.randn(2, 512, 7, 7).to(torch.bfloat16)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        v = _shallow(backbone_cls, True).forward_head(f)
        v_low = _shallow(backbone_cls, False).forward_head(f)
    assert v.dtype == torch.float32
    assert v_low.dtype == torch.bfloat16


def _warm_up_batchnorm(model: nn.Module, images: torch.Tensor) -> None:
    """Exact BN statistics from ``images``: cumulative average (momentum=None) over one training-mode pass."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        model(images)
    model.eval()


def test_fresh_iresnet_overflows_in_eval_and_is_finite_after_bn_warm_up() -> None:
    # arcface_torch's init (conv weights ~ N(0, 0.1)) with running statistics 0/1 makes each block grow the
    # activations; in eval mode a fresh IResNet-50 explodes (~1e26 here, inf in the
    # reference dump). Documented in docs/checkpoints.md.
    torch.manual_seed(0)
    model: FaceBackbone = iresnet50().eval()
    x = _images(4, 112)
    with torch.no_grad():
        fresh = model(x[:1])
    assert not torch.isfinite(fresh).all() or fresh.norm() > 1e6
    _warm_up_batchnorm(model, x)
    with torch.no_grad():
        v = model(x)
    assert torch.isfinite(v).all()
    assert v.norm(dim=1).max() < 1e3
