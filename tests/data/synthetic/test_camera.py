"""The camera model: JPEG written out in numpy, the pipeline's upsampling, severity of the new parameters."""

from __future__ import annotations

import io

import numpy as np
import pytest

from recognizability.data.synthetic import DegradationParameters, degrade_images, sample_degradation, severity
from recognizability.data.synthetic.identities import identity_rng
from recognizability.data.synthetic.jpeg import _BASIS, jpeg_roundtrip, quantisation_tables


def smooth_image(seed: int = 0, size: int = 24) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(30, 225, (4, 4, 3))
    index = np.arange(size) * 4 // size
    return coarse[index][:, index].astype(np.uint8)


def test_dct_basis_is_orthonormal() -> None:
    product = np.einsum("ux,vx->uv", _BASIS, _BASIS)
    np.testing.assert_allclose(product, np.eye(8), atol=1e-15)


def test_quantisation_tables_follow_the_standard_scaling() -> None:
    luma, chroma = quantisation_tables(50)
    assert luma[0, 0] == 16 and luma[7, 7] == 99 and chroma[0, 0] == 17
    assert np.all(quantisation_tables(100)[0] == 1)
    assert quantisation_tables(10)[0][0, 0] == 80
    with pytest.raises(ValueError, match=r"quality in 1\.\.100"):
        quantisation_tables(0)


def test_jpeg_loses_more_at_lower_quality_and_is_deterministic() -> None:
    image = smooth_image()
    errors = []
    for quality in (95, 60, 25, 8):
        out = jpeg_roundtrip(image, quality)
        assert out.shape == image.shape and out.dtype == np.uint8
        assert np.array_equal(out, jpeg_roundtrip(image, quality))
        errors.append(np.abs(out.astype(float) - image).mean())
    assert errors == sorted(errors) and errors[0] < 4.0 and errors[-1] > errors[0] + 2.0


def test_jpeg_loss_is_close_to_a_real_encoder() -> None:
    pil = pytest.importorskip("PIL.Image")
    image = smooth_image(1, 32)
    for quality in (75, 30):
        buffer = io.BytesIO()
        pil.fromarray(image).save(buffer, format="JPEG", quality=quality)
        real = np.asarray(pil.open(io.BytesIO(buffer.getvalue())).convert("RGB"), dtype=float)
        ours = jpeg_roundtrip(image, quality).astype(float)
        real_error = np.abs(real - image).mean()
        ours_error = np.abs(ours - image).mean()
        assert 0.4 * real_error <= ours_error <= 2.5 * real_error + 0.5
        assert np.abs(ours - real).mean() < 6.0


def test_pipeline_upsampling_keeps_the_stored_size_and_blurs() -> None:
    rng = np.random.default_rng(0)
    render = rng.uniform(0, 1, (2, 48, 48, 3)).astype(np.float32)
    sharp = DegradationParameters(24, 20, 0.0, 0.0, 0.0, 0.0, 256)
    enlarged = DegradationParameters(24, 20, 0.0, 0.0, 0.0, 0.0, 256, upsample=2.0)
    assert enlarged.sensor_size() == (12, 10)
    a, b = degrade_images(render, [sharp, enlarged], [identity_rng(0, 1), identity_rng(0, 2)])
    assert a.shape == b.shape == (24, 20, 3)
    detail = [np.abs(np.diff(x.astype(float), axis=1)).mean() for x in (a, b)]
    assert detail[1] < detail[0]


def test_every_stage_runs_on_a_tiny_image() -> None:
    render = np.full((1, 48, 48, 3), 0.5, dtype=np.float32)
    p = DegradationParameters(3, 2, 2.0, 1.5, 0.7, 0.2, 16, 0.0, 5, 1.0)
    out = degrade_images(render, [p], [identity_rng(0, 3)])
    assert out[0].shape == (3, 2, 3)


def test_sampled_parameters_cover_the_camera() -> None:
    drawn = [sample_degradation(identity_rng(0, 9, k), k / 400) for k in range(400)]
    assert any(d.jpeg_quality < 50 for d in drawn) and any(d.jpeg_quality == 100 for d in drawn)
    assert any(d.upsample > 1.0 for d in drawn) and all(1.0 <= d.upsample <= 1.6 for d in drawn)
    assert all(1 <= d.jpeg_quality <= 100 for d in drawn)
    values = [
        float(
            severity(
                d.height,
                d.width,
                d.gaussian_sigma,
                d.motion_length,
                d.noise_sigma,
                256,
                0.0,
                d.jpeg_quality,
                d.upsample,
            )
        )
        for d in drawn
    ]
    assert np.mean(values[:100]) < np.mean(values[-100:])
