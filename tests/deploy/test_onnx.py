"""ONNX export: two outputs, dynamic batch, PyTorch's numbers under ONNX Runtime, metadata, no overwrite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from recognizability.deploy import QualityCalibration, load_quality_model

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from recognizability.deploy.onnx import OnnxQualityModel, export_onnx, read_onnx_metadata  # noqa: E402

CALIBRATION = QualityCalibration(
    (-1.0, 0.0, 1.0),
    (0.05, 0.5, 0.97),
    1e-3,
    0.41,
    (0, 50),
    (0.0, 0.4),
    (0.3, 0.1),
    120,
    5000,
    "unit test",
    True,
)


@pytest.fixture(scope="module")
def exported(checkpoint: Path, onnx_model: Path) -> tuple[Path, Path]:
    return checkpoint, onnx_model


@pytest.mark.parametrize("batch", [1, 7])
def test_onnx_runtime_gives_the_pytorch_outputs(exported: tuple[Path, Path], batch: int) -> None:
    checkpoint, path = exported
    model = load_quality_model(checkpoint)
    runtime = OnnxQualityModel(path)
    images = torch.rand((batch, 3, 32, 32), generator=torch.Generator().manual_seed(batch)) * 255
    embedding, xi_hat = model.embed_and_score(images)
    onnx_embedding, onnx_xi_hat = runtime.embed_and_score(images)
    assert onnx_embedding.shape == embedding.shape == (batch, 32)
    assert onnx_xi_hat.shape == xi_hat.shape == (batch,)
    torch.testing.assert_close(onnx_embedding, embedding, atol=1e-4, rtol=0)
    torch.testing.assert_close(onnx_xi_hat, xi_hat, atol=1e-4, rtol=0)


def test_pytorch_outputs_are_the_training_models(checkpoint: Path) -> None:
    """The deployed model is the trained backbone and regression module in eval mode (dropout 0.9 off)."""
    from recognizability.backbones import normalize_for
    from recognizability.deploy import load_trained_model

    trained, _ = load_trained_model(checkpoint)
    images = torch.rand((5, 3, 32, 32), generator=torch.Generator().manual_seed(0)) * 255
    with torch.no_grad():
        expected_v, expected_xi = trained.embed_and_score(normalize_for(trained.backbone, images))
    v, xi = load_quality_model(checkpoint).embed_and_score(images)
    torch.testing.assert_close(v, expected_v, atol=0, rtol=0)
    torch.testing.assert_close(xi, expected_xi, atol=0, rtol=0)


def test_graph_has_two_outputs_a_dynamic_batch_and_no_random_op(exported: tuple[Path, Path]) -> None:
    _, path = exported
    proto = onnx.load(str(path))
    assert [i.name for i in proto.graph.input] == ["images"]
    assert [o.name for o in proto.graph.output] == ["embedding", "xi_hat"]
    batch_dims = [o.type.tensor_type.shape.dim[0] for o in [*proto.graph.input, *proto.graph.output]]
    assert all(d.dim_param and not d.dim_value for d in batch_dims)
    ops = {node.op_type for node in proto.graph.node}
    assert not ops & {"Dropout", "RandomUniform", "RandomUniformLike", "RandomNormal", "Bernoulli"}
    assert not list(path.parent.glob("*.data"))  # weights inside the one file


def test_metadata_carries_preprocessing_and_calibration(exported: tuple[Path, Path]) -> None:
    checkpoint, path = exported
    metadata = read_onnx_metadata(path)
    preprocessing = json.loads(metadata["preprocessing"])
    assert preprocessing["input_size"] == 32 and preprocessing["channel_order"] == "RGB"
    assert preprocessing["backbone"] == "small_vlr_net"
    calibration = QualityCalibration.from_json(checkpoint.with_name("last.calibration.json").read_text())
    assert QualityCalibration.from_json(metadata["calibration"]) == calibration
    runtime = OnnxQualityModel(path)
    assert runtime.calibration == calibration
    assert runtime.preprocessing.input_size == 32


@pytest.mark.slow
def test_export_never_overwrites_without_being_asked(exported: tuple[Path, Path], tmp_path: Path) -> None:
    checkpoint, original = exported
    path = tmp_path / "model.onnx"
    path.write_bytes(original.read_bytes())
    model = load_quality_model(checkpoint, calibration=CALIBRATION)
    with pytest.raises(FileExistsError, match="pass --overwrite"):
        export_onnx(model, path)
    assert path.read_bytes() == original.read_bytes()
    export_onnx(model, path, overwrite=True)
    assert QualityCalibration.from_json(read_onnx_metadata(path)["calibration"]) == CALIBRATION


def test_onnx_model_refuses_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(
        FileNotFoundError,
        match=r"expected --onnx to be an ONNX model written by recognizability export.*no such file",
    ):
        OnnxQualityModel(tmp_path / "none.onnx")
    plain = onnx.helper.make_model(
        onnx.helper.make_graph(
            [onnx.helper.make_node("Identity", ["x"], ["y"])],
            "g",
            [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
            [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])],
        )
    )
    onnx.save(plain, str(tmp_path / "plain.onnx"))
    with pytest.raises(ValueError, match="written by recognizability export"):
        OnnxQualityModel(tmp_path / "plain.onnx")
    with pytest.raises(TypeError, match="expected model to be a QualityModel"):
        export_onnx(torch.nn.Linear(2, 2), tmp_path / "x.onnx")  # type: ignore[arg-type]


@pytest.mark.cuda
def test_cuda_model_gives_the_cpu_outputs(checkpoint: Path) -> None:
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    images = torch.rand((6, 3, 32, 32), generator=torch.Generator().manual_seed(2)) * 255
    cpu = load_quality_model(checkpoint).embed_and_score(images)
    gpu = load_quality_model(checkpoint, device="cuda").embed_and_score(images)
    for a, b in zip(cpu, gpu, strict=True):
        assert b.device.type == "cpu"  # embed_and_score hands back CPU tensors
        torch.testing.assert_close(b, a, atol=1e-3, rtol=1e-3)  # TF32 convolutions on the GPU
