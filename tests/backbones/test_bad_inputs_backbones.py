"""Bad inputs to every public function and module of ``recognizability.backbones``: one table, each row the
call, the exception type and a pattern of its message (the argument named, the expected and the received
value); then calls that fail and must change nothing."""

from __future__ import annotations

import pytest
import torch

import recognizability.backbones as backbones
from tests.helpers.bad_inputs import (
    Row,
    assert_unchanged,
    small_state_with_non_finite_values,
    snapshot,
    table_tests,
    under_cpu_autocast,
    x,
)

ROWS: list[Row] = [
    (
        "create_backbone",
        lambda: backbones.create_backbone("resnet"),
        ValueError,
        r"name to be one of \[.*'small_vlr_net'\].*got 'resnet'",
    ),
    ("create_backbone", lambda: backbones.create_backbone(5), TypeError, r"name to be a str, got int"),
    (
        "pretrained_weights",
        lambda: backbones.pretrained_weights("small_vlr_net", "vggface2"),
        ValueError,
        r"tag of the weights shipped for 'small_vlr_net', one of \['synthetic-hr'\], got 'vggface2'",
    ),
    (
        "pretrained_weights",
        lambda: backbones.pretrained_weights("small_vlr_net", 3),
        TypeError,
        r"tag to be a str, got int",
    ),
    (
        "pretrained_weights",
        lambda: backbones.pretrained_weights("resnet", "synthetic-hr"),
        ValueError,
        r"name to be one of .*got 'resnet'",
    ),
    (
        "canonical_backbone_name",
        lambda: backbones.canonical_backbone_name("resnet", "--backbone"),
        ValueError,
        r"expected --backbone to be one of \[.*'iresnet50'.*\] \(or alias .*\), got 'resnet'",
    ),
    (
        "iresnet18",
        lambda: backbones.iresnet18(dropout=1.0),
        ValueError,
        r"dropout to be a float in \[0, 1\), got 1.0",
    ),
    (
        "iresnet34",
        lambda: backbones.iresnet34(embedding_dim=0),
        ValueError,
        r"embedding_dim to be a positive int, got 0",
    ),
    (
        "iresnet50",
        lambda: backbones.iresnet50(dropout="0.1"),
        TypeError,
        r"dropout to be a float in \[0, 1\), got '0.1'",
    ),
    (
        "iresnet100",
        lambda: backbones.iresnet100(embedding_dim=2.5),
        TypeError,
        r"embedding_dim to be a positive int, got 2.5",
    ),
    (
        "IResNet",
        lambda: backbones.IResNet((3, 4, 0, 3)),
        ValueError,
        r"layers to be four positive ints, got \(3, 4, 0, 3\)",
    ),
    (
        "AdaFaceIR",
        lambda: backbones.AdaFaceIR((3, 4, 14)),
        ValueError,
        r"layers to be four positive ints, got \(3, 4, 14\)",
    ),
    (
        "adaface_ir50",
        lambda: backbones.adaface_ir50(dropout=-0.1),
        ValueError,
        r"dropout to be a float in \[0, 1\), got -0.1",
    ),
    (
        "adaface_ir101",
        lambda: backbones.adaface_ir101(embedding_dim=True),
        TypeError,
        r"embedding_dim to be a positive int, got True",
    ),
    (
        "mobilefacenet",
        lambda: backbones.mobilefacenet(embedding_dim=0),
        ValueError,
        r"embedding_dim to be a positive int, got 0",
    ),
    (
        "MobileFaceNet",
        lambda: backbones.MobileFaceNet(dropout=2.0),
        ValueError,
        r"dropout to be a float in \[0, 1\), got 2.0",
    ),
    (
        "small_vlr_net",
        lambda: backbones.small_vlr_net(width=3),
        ValueError,
        r"width to be an even positive int, got 3",
    ),
    (
        "SmallVLRNet",
        lambda: backbones.SmallVLRNet(input_size=(30, 30)),
        ValueError,
        r"input_size to be two positive ints divisible by 8, got \(30, 30\)",
    ),
    (
        "FaceBackbone",
        lambda: backbones.small_vlr_net()(x(2, 3, 16, 16)),
        ValueError,
        r"images of shape \(B, 3, 32, 32\) for SmallVLRNet.*got shape \(2, 3, 16, 16\)",
    ),
    (
        "FaceBackbone",
        lambda: backbones.small_vlr_net().forward_head(x(2, 3, 3, 3)),
        ValueError,
        r"feature_map of shape \(B, 128, 4, 4\) for SmallVLRNet, got shape \(2, 3, 3, 3\)",
    ),
    (
        "FaceBackbone",
        lambda: backbones.small_vlr_net().forward_with_features([1.0]),
        TypeError,
        r"images to be a torch.Tensor, got list",
    ),
    (
        "small_vlr_net",
        lambda: backbones.small_vlr_net(input_size="32"),
        TypeError,
        r"expected input_size to be an int or a pair \(H, W\) of ints, got '32'",
    ),
    (
        "small_vlr_net",
        lambda: backbones.small_vlr_net(input_size=(32, 32, 3)),
        TypeError,
        r"expected input_size to be an int or a pair \(H, W\) of ints, got \(32, 32, 3\)",
    ),
    (
        "small_vlr_net",
        lambda: backbones.small_vlr_net(input_size=30),
        ValueError,
        r"expected input_size to be two positive ints divisible by 8, got 30",
    ),
    (
        "SmallVLRNet",
        lambda: backbones.SmallVLRNet(input_size=(0, 32)),
        ValueError,
        r"expected input_size to hold positive ints, got \(0, 32\)",
    ),
    (
        "create_backbone",
        lambda: backbones.create_backbone("iresnet50", input_size=96),
        ValueError,
        r"expected input_size \(112, 112\) for 'iresnet50', got \(96, 96\)",
    ),
    (
        "create_backbone",
        lambda: backbones.create_backbone("mobilefacenet", input_size=None),
        TypeError,
        r"expected input_size to be an int or a pair \(H, W\) of ints, got None",
    ),
    (
        "create_backbone",
        lambda: backbones.create_backbone("small_vlr_net", pretrained="synthetic-hr", input_size=48),
        ValueError,
        r"expected the architecture of pretrained='synthetic-hr' \(\{'input_size': \(32, 32\)\}\), "
        r"got \{'input_size': \(48, 48\)\}",
    ),
    (
        "FaceBackbone",
        lambda: backbones.small_vlr_net()(x(2, 3, 32, 32).half()),
        TypeError,
        r"expected images of dtype torch.float32, the dtype of SmallVLRNet's parameters \(or float16, "
        r"bfloat16 or float32 under torch.autocast, which leaves float64 as it is\), got dtype torch.float16",
    ),
    (
        "FaceBackbone",
        lambda: backbones.small_vlr_net().forward_features(x(2, 3, 32, 32).double()),
        TypeError,
        r"expected images of dtype torch.float32, .* got dtype torch.float64",
    ),
    (
        "FaceBackbone",
        lambda: under_cpu_autocast(lambda: backbones.small_vlr_net().eval()(x(2, 3, 32, 32).double())),
        TypeError,
        r"expected images of dtype torch.float32, .*which leaves float64 as it is\), got dtype torch.float64",
    ),
    (
        "FaceBackbone",
        lambda: backbones.small_vlr_net().train()(x(1, 3, 32, 32)),
        ValueError,
        r"expected images of shape \(B, 3, 32, 32\) with B >= 2 while batch norm trains, "
        r"got shape \(1, 3, 32, 32\): SmallVLRNet has 14 batch-norm layers in training mode",
    ),
    (
        "FaceBackbone",
        lambda: backbones.small_vlr_net().train().forward_with_features(x(2, 3, 32, 32)[:0]),
        ValueError,
        r"expected images of shape \(B, 3, 32, 32\) with B >= 2 while batch norm trains, got shape "
        r"\(0, 3, 32, 32\)",
    ),
    (
        "FaceBackbone",
        lambda: backbones.small_vlr_net().train().forward_head(x(1, 128, 4, 4)),
        ValueError,
        r"expected feature_map of shape \(B, 128, 4, 4\) with B >= 2 while batch norm trains, "
        r"got shape \(1, 128, 4, 4\)",
    ),
    (
        "FaceBackbone",
        lambda: backbones.small_vlr_net()(torch.empty(2, 3, 32, 32, device="meta")),
        ValueError,
        r"expected images on the device of SmallVLRNet's parameters \(cpu\), got meta",
    ),
    (
        "check_backbone_images",
        lambda: backbones.check_backbone_images(torch.nn.Conv2d(3, 4, 3), torch.zeros(2, 3, 5, 5).double()),
        TypeError,
        r"expected images of dtype torch.float32, the dtype of Conv2d's parameters .* got dtype "
        r"torch.float64",
    ),
    (
        "check_backbone_images",
        lambda: backbones.check_backbone_images(torch.nn.BatchNorm2d(3), torch.zeros(1, 3, 5, 5)),
        ValueError,
        r"expected images of shape \(B, 3, H, W\) with B >= 2 while batch norm trains, got shape "
        r"\(1, 3, 5, 5\): BatchNorm2d has 1 batch-norm layers",
    ),
    (
        "check_backbone_images",
        lambda: backbones.check_backbone_images(torch.nn.Identity(), torch.zeros(2, 4, 5, 5)),
        ValueError,
        r"expected images of shape \(B, 3, H, W\) for Identity .*got shape \(2, 4, 5, 5\)",
    ),
    (
        "training_batchnorm_layers",
        lambda: backbones.training_batchnorm_layers("model"),
        TypeError,
        r"expected model to be an nn.Module, got str",
    ),
    (
        "normalize_for",
        lambda: backbones.normalize_for(torch.zeros(1, 3, 4, 4), "x"),
        TypeError,
        r"model_or_format to be an nn.Module or a format name, got Tensor",
    ),
    (
        "channel_order_for",
        lambda: backbones.channel_order_for("x"),
        ValueError,
        r"model_or_format to be a backbone or one of \['adaface', 'arcface_torch', 'insightface'\], got 'x'",
    ),
    (
        "freeze_batchnorm",
        lambda: backbones.freeze_batchnorm("model"),
        TypeError,
        r"module to be an nn.Module, got str",
    ),
    (
        "unfreeze_batchnorm",
        lambda: backbones.unfreeze_batchnorm(3),
        TypeError,
        r"module to be an nn.Module, got int",
    ),
    (
        "load_pretrained",
        lambda: backbones.load_pretrained(backbones.small_vlr_net(), "/nonexistent/x.pt"),
        FileNotFoundError,
        r"at '/nonexistent/x.pt', found no such file",
    ),
    (
        "load_pretrained",
        lambda: backbones.load_pretrained(
            backbones.small_vlr_net(width=8), small_state_with_non_finite_values()
        ),
        backbones.CheckpointError,
        r"refused to load 'checkpoint': expected finite weights, got NaN or infinite values in 2 of 85 "
        r"tensors: \[conv1.weight \(1 of 108 values\), bn1.running_var \(2 of 4 values\)\]. "
        r"Nothing was loaded",
    ),
    (
        "load_pretrained",
        lambda: backbones.load_pretrained(
            backbones.small_vlr_net(width=8), small_state_with_non_finite_values(), strict=False
        ),
        backbones.CheckpointError,
        r"expected finite weights, got NaN or infinite values in 2 of 85 tensors",
    ),
    (
        "extract_state_dict",
        lambda: backbones.extract_state_dict("abc"),
        backbones.CheckpointError,
        r"checkpoint to hold a dict .*got str",
    ),
    (
        "read_checkpoint_file",
        lambda: backbones.read_checkpoint_file(3),
        TypeError,
        r"expected path to be a str or os.PathLike .*got int",
    ),
    (
        "is_frozen",
        lambda: backbones.is_frozen("model"),
        TypeError,
        r"expected layer to be an nn.Module, got str",
    ),
]


test_bad_input_raises_a_clear_error, test_table_covers_every_public_function_and_module = table_tests(
    ROWS, [backbones], "recognizability.backbones."
)


def test_backbone_batch_norm_statistics_unchanged_by_refused_images() -> None:
    net = backbones.small_vlr_net().train()
    before = snapshot(net)
    refused = (
        x(2, 3, 16, 16),
        torch.zeros(2, 3, 32, 32, dtype=torch.uint8),
        x(2, 3, 32, 32).half(),
        x(2, 3, 32, 32).double(),
        x(1, 3, 32, 32),  # one sample while batch norm trains
        x(2, 3, 32, 32)[:0],  # an empty batch would still count a step (num_batches_tracked)
    )
    for bad in refused:
        for method in (net, net.forward_features, net.forward_with_features):
            with pytest.raises((ValueError, TypeError)):
                method(bad)
    with pytest.raises(ValueError, match="B >= 2 while batch norm trains"):
        net.forward_head(x(1, 128, 4, 4))
    assert_unchanged(net, before)


def test_backbones_accept_what_the_checks_allow() -> None:
    net = backbones.small_vlr_net(input_size=32)
    assert net.input_size == (32, 32) and backbones.small_vlr_net(input_size=[48, 40]).input_size == (48, 40)
    assert backbones.create_backbone("small_vlr_net", input_size=16, width=8).input_size == (16, 16)
    assert backbones.create_backbone(
        "small_vlr_net", pretrained="synthetic-hr", input_size=32
    ).input_size == (
        32,
        32,
    )
    assert backbones.create_backbone("mobilefacenet", input_size=112).input_size == (112, 112)
    net.eval()  # a single image, and none, embed in eval mode
    assert net(x(1, 3, 32, 32)).shape == (1, 512) and net(x(2, 3, 32, 32)[:0]).shape == (0, 512)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # autocast casts float16/bfloat16/float32 images
        for dtype in (torch.float16, torch.bfloat16, torch.float32):
            assert net(x(2, 3, 32, 32).to(dtype)).shape == (2, 512)
    assert net.double()(x(2, 3, 32, 32).double()).dtype == torch.float64  # the parameters' dtype
    frozen = backbones.freeze_batchnorm(backbones.small_vlr_net().train())
    with pytest.raises(ValueError, match=r"has 1 batch-norm layers in training mode \(e.g. \['features'\]\)"):
        frozen(x(1, 3, 32, 32))  # the trunk is frozen; the head's BatchNorm1d still trains
    frozen.features.eval()
    assert frozen(x(1, 3, 32, 32)).shape == (1, 512)  # no layer trains: a batch of one is fine
    assert backbones.training_batchnorm_layers(frozen) == []
    assert backbones.training_batchnorm_layers(frozen, assume_train=True) == ["features"]


def test_backbone_unchanged_by_refused_non_finite_weights() -> None:
    net = backbones.small_vlr_net(width=8)
    before = snapshot(net)
    for strict in (True, False):
        with pytest.raises(backbones.CheckpointError, match="expected finite weights"):
            backbones.load_pretrained(net, small_state_with_non_finite_values(), strict=strict)
    assert_unchanged(net, before)  # all or nothing: not even the finite tensors were copied
