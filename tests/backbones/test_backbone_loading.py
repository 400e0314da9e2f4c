"""Checkpoints written the way arcface_torch and AdaFace write them load and reproduce outputs exactly."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from recognizability.backbones import (
    AdaFaceIR,
    CheckpointError,
    FaceBackbone,
    IResNet,
    iresnet18,
    iresnet50,
    load_pretrained,
    mobilefacenet,
    small_vlr_net,
)


def _trained_like(model: FaceBackbone, seed: int = 0) -> FaceBackbone:
    """Give every parameter and BN statistic a non-default value, so a load that skips a tensor shows."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                tensor.fill_(7)
            elif name.endswith("running_var"):
                tensor.copy_(torch.rand(tensor.shape, generator=gen) * 0.5 + 0.75)
            elif tensor.dim() <= 1:
                tensor.copy_(
                    torch.rand(tensor.shape, generator=gen) * 0.2 + (0.95 if "weight" in name else -0.1)
                )
            else:
                fan_in = tensor[0].numel()
                tensor.copy_(torch.randn(tensor.shape, generator=gen) * (1.0 / fan_in) ** 0.5)
    return model.eval()


def _images(batch: int = 2, size: int = 112) -> torch.Tensor:
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(1))


def _shallow_iresnet() -> FaceBackbone:
    # Same classes and key scheme as iresnet18/50/100 (whose keys are checked against the reference
    # dumps), one block per stage to keep the CPU forward cheap.
    return IResNet((1, 1, 1, 1))


def _shallow_adaface() -> FaceBackbone:
    return AdaFaceIR((1, 2, 1, 1))


@pytest.mark.parametrize("factory", [_shallow_iresnet, mobilefacenet], ids=["iresnet", "mobilefacenet"])
def test_arcface_torch_backbone_pth_round_trip(tmp_path: Path, factory: Callable[[], FaceBackbone]) -> None:
    source = _trained_like(factory())
    path = tmp_path / "backbone.pth"
    # arcface_torch train_v2.py: torch.save(backbone.module.state_dict(), ".../model.pt")
    torch.save(source.state_dict(), path)
    target = factory().eval()
    report = load_pretrained(target, path)
    assert report.format == "arcface_torch" and report.is_exact
    assert set(report.loaded_keys) == set(source.state_dict())
    x = _images()
    with torch.no_grad():
        assert torch.equal(target(x), source(x))
        assert torch.equal(target.forward_features(x), source.forward_features(x))
    # loading keeps arcface_torch's frozen ``features.weight`` frozen (IResNet); MobileFaceNet has none
    frozen = [n for n, p in target.named_parameters() if not p.requires_grad]
    assert frozen == (["features.weight"] if factory is _shallow_iresnet else [])


def test_adaface_ckpt_round_trip(tmp_path: Path) -> None:
    source = _trained_like(_shallow_adaface())
    # AdaFace trains with PyTorch Lightning: the backbone lives at ``model.`` and the margin head at ``head.``
    # (the reference dump lists the head's kernel (512, C), t, batch_mean, batch_std).
    state = OrderedDict((f"model.{k}", v) for k, v in source.state_dict().items())
    state["head.kernel"] = torch.randn(512, 10)
    state["head.t"] = torch.zeros(1)
    state["head.batch_mean"] = torch.ones(1) * 20
    state["head.batch_std"] = torch.ones(1) * 100
    ckpt = {"epoch": 25, "global_step": 1000, "pytorch-lightning_version": "1.4.4", "state_dict": state}
    path = tmp_path / "adaface_ir50_ms1mv2.ckpt"
    torch.save(ckpt, path)
    target = _shallow_adaface().eval()
    report = load_pretrained(target, path)
    assert report.format == "adaface" and report.is_exact
    assert {"state_dict/head.kernel", "epoch", "global_step"} <= set(report.ignored_keys)
    x = _images()
    with torch.no_grad():
        assert torch.equal(target(x), source(x))


def test_arcface_torch_training_checkpoint_and_ddp_prefix(tmp_path: Path) -> None:
    source = _trained_like(small_vlr_net())
    wrapped = {f"module.{k}": v for k, v in source.state_dict().items()}
    opt = torch.optim.SGD(source.parameters(), lr=0.1, momentum=0.9)
    path = tmp_path / "checkpoint_gpu_0.pt"
    torch.save(
        {"epoch": 3, "global_step": 9, "state_dict_backbone": wrapped, "state_optimizer": opt.state_dict()},
        path,
    )
    target = small_vlr_net().eval()
    report = load_pretrained(target, path)
    assert report.format == "arcface_torch_checkpoint"
    assert report.stripped_prefixes == ("module.",)
    x = _images(4, 32)
    with torch.no_grad():
        assert torch.equal(target(x), source(x))


def test_mapping_input_and_missing_num_batches_tracked_is_tolerated() -> None:
    source = _trained_like(small_vlr_net())
    state = {k: v for k, v in source.state_dict().items() if not k.endswith("num_batches_tracked")}
    target = small_vlr_net().eval()
    report = load_pretrained(target, {"backbone." + k: v for k, v in state.items()})
    assert report.is_exact and report.stripped_prefixes == ("backbone.",)
    x = _images(2, 32)
    with torch.no_grad():
        assert torch.equal(target(x), source(x))


def test_wrong_architecture_raises_listing_keys_and_loads_nothing(tmp_path: Path) -> None:
    path = tmp_path / "r18.pth"
    torch.save(iresnet18().state_dict(), path)
    with torch.device("meta"):
        target = iresnet50()
    with pytest.raises(CheckpointError) as info:
        load_pretrained(target, path)
    message = str(info.value)
    assert "missing keys" in message and "layer1.2.bn1.weight" in message
    assert "iresnet18" in message  # the hint names what the checkpoint looks like
    assert "Nothing was loaded" in message


def test_cross_family_checkpoint_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "mbf.pth"
    torch.save(mobilefacenet().state_dict(), path)
    with pytest.raises(
        CheckpointError, match=r"(?s)333 unexpected keys.*looks like an arcface_torch MobileFaceNet"
    ):
        load_pretrained(small_vlr_net(), path)


def test_shape_mismatch_is_reported_and_strict_false_loads_the_rest() -> None:
    source = _trained_like(small_vlr_net(embedding_dim=128))
    target = small_vlr_net(embedding_dim=256)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(CheckpointError, match=r"fc.weight: checkpoint \(128, 2048\) vs model \(256, 2048\)"):
        load_pretrained(target, source.state_dict())
    for k, v in target.state_dict().items():  # strict failure corrupted nothing
        assert torch.equal(v, before[k]), k
    report = load_pretrained(target, source.state_dict(), strict=False)
    mismatched = {k for k, _, _ in report.mismatched_shapes}
    assert mismatched == {
        "fc.weight",
        "fc.bias",
        "features.weight",
        "features.bias",
        "features.running_mean",
        "features.running_var",
    }
    assert not report.is_exact
    for k, v in target.state_dict().items():
        expected = before[k] if k in mismatched else source.state_dict()[k]
        assert torch.equal(v, expected), k


def test_unexpected_keys_with_strict_false_are_reported() -> None:
    source = _trained_like(small_vlr_net())
    state = dict(source.state_dict())
    state["extra.weight"] = torch.ones(3)
    del state["conv1.weight"]
    target = small_vlr_net()
    report = load_pretrained(target, state, strict=False)
    assert report.unexpected_keys == ("extra.weight",)
    assert report.missing_keys == ("conv1.weight",)


def test_non_tensor_entries_and_bad_arguments(tmp_path: Path) -> None:
    model = small_vlr_net()
    with pytest.raises(CheckpointError, match="non-tensor entries"):
        load_pretrained(model, {"conv1.weight": [1.0, 2.0]})
    with pytest.raises(CheckpointError, match="empty"):
        load_pretrained(model, {})
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_pretrained(model, tmp_path / "nope.pth")
    with pytest.raises(TypeError, match=r"expected model to be an nn\.Module"):
        load_pretrained("iresnet50", tmp_path / "x.pth")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected path"):
        load_pretrained(model, 3)  # type: ignore[arg-type]


class _NotATensor:
    pass


def test_pickled_objects_are_refused_by_weights_only(tmp_path: Path) -> None:
    path = tmp_path / "pickled.pth"
    torch.save({"conv1.weight": torch.zeros(1), "obj": _NotATensor()}, path)
    with pytest.raises(CheckpointError, match="weights_only=True"):
        load_pretrained(small_vlr_net(), path)


def test_read_checkpoint_file_is_public_and_names_the_file(tmp_path: Path) -> None:
    from recognizability import backbones

    assert "read_checkpoint_file" in backbones.__all__
    saved = {"epoch": 3, "weights": {"w": torch.arange(4.0)}, "note": "ok"}
    torch.save(saved, tmp_path / "good.pt")
    read = backbones.read_checkpoint_file(tmp_path / "good.pt")
    assert read["epoch"] == 3 and read["note"] == "ok"
    assert torch.equal(read["weights"]["w"], torch.arange(4.0))

    (tmp_path / "notes.txt").write_text("not a checkpoint\n")
    with pytest.raises(
        CheckpointError, match=r"expected a run's weights at '.*notes\.txt', got a text file"
    ) as caught:
        backbones.read_checkpoint_file(tmp_path / "notes.txt", expected="a run's weights")
    assert caught.value.path is not None and caught.value.path.endswith("notes.txt")
    torch.save({"obj": _NotATensor()}, tmp_path / "pickled.pt")
    with pytest.raises(CheckpointError, match=r"pickled\.pt") as refused:
        backbones.read_checkpoint_file(tmp_path / "pickled.pt")
    assert any("_NotATensor" in name for name in refused.value.forbidden_globals)
    with pytest.raises(FileNotFoundError, match=r"absent\.pt"):
        backbones.read_checkpoint_file(tmp_path / "absent.pt")


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads the process's memory map (Linux)")
def test_a_mapped_read_maps_the_file_and_never_writes_it(tmp_path: Path) -> None:
    from recognizability.backbones import read_checkpoint_file

    path = tmp_path / "mapped.pt"
    torch.save({"w": torch.arange(6.0)}, path)

    def mapped() -> bool:
        return str(path) in Path("/proc/self/maps").read_text()

    read = read_checkpoint_file(path)
    assert not mapped()
    tensor = read_checkpoint_file(path, mmap=True)["w"]
    assert mapped() and torch.equal(tensor, torch.arange(6.0))
    tensor += 1  # copy-on-write: the file keeps what was saved
    assert torch.equal(read_checkpoint_file(path)["w"], torch.arange(6.0))
    assert torch.equal(read["w"], tensor - 1)


@pytest.mark.parametrize("container", ["plain", "arcface_torch_checkpoint", "adaface"])
def test_non_finite_weights_are_refused_naming_the_file_and_nothing_is_loaded(
    tmp_path: Path, container: str
) -> None:
    state = _trained_like(small_vlr_net(width=8)).state_dict()
    state["fc.weight"][3, :5] = float("nan")
    state["features.bias"][0] = float("-inf")
    checkpoint: dict[str, object] = {
        "plain": state,
        "arcface_torch_checkpoint": {"state_dict_backbone": state},
        "adaface": {"state_dict": {f"model.{k}": v for k, v in state.items()}},
    }[container]
    path = tmp_path / "diverged.pt"
    torch.save(checkpoint, path)
    model = small_vlr_net(width=8)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for strict in (True, False):
        with pytest.raises(CheckpointError) as caught:
            load_pretrained(model, path, strict=strict)
        assert str(caught.value).startswith(f"refused to load {str(path)!r}: expected finite weights")
        assert "in 2 of 85 tensors: [fc.weight (5 of 131072 values), features.bias (1 of 512 values)]" in str(
            caught.value
        )
        assert caught.value.path == str(path)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_shipped_weights_are_checked_for_non_finite_values_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``create_backbone(..., pretrained=tag)`` loads through load_pretrained: a (hypothetical) shipped file
    holding NaN is refused by name, whatever its checksum says."""
    import hashlib

    from recognizability.backbones import create_backbone, registry

    model = small_vlr_net(input_size=(32, 32), width=8, embedding_dim=16)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["conv1.weight"].fill_(float("nan"))
    (tmp_path / "weights").mkdir()
    path = tmp_path / "weights" / "nan.pt"
    torch.save(state, path)
    weights = registry.PretrainedWeights(
        backbone="small_vlr_net",
        tag="nan-test",
        filename="nan.pt",
        architecture={"input_size": (32, 32), "width": 8, "embedding_dim": 16},
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
    )
    monkeypatch.setitem(registry._PRETRAINED, ("small_vlr_net", "nan-test"), weights)
    monkeypatch.setattr(registry.resources, "files", lambda package: tmp_path)
    with pytest.raises(
        CheckpointError, match=r"refused to load '.*nan\.pt': expected finite weights, got NaN "
    ):
        create_backbone("small_vlr_net", pretrained="nan-test", input_size=32)
