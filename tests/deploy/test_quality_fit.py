"""The pieces of a quality fit on a frozen recognizer: leave-one-out prototypes, targets, the regression fit,
SER-FIQ's batched stochastic pass, the feature cache and the quality model file."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from recognizability.backbones import create_backbone, normalize_for
from recognizability.deploy import (
    Preprocessing,
    QualityModel,
    load_quality_model,
    serfiq_quality_of_backbone,
    stochastic_embeddings,
)
from recognizability.deploy.quality_fit import (
    QualityFitSettings,
    embed_faces,
    fit_regression,
    leave_one_out_cosines,
    pseudo_ui_positions,
    quality_targets,
    split_identities,
    ui_center_of,
)
from recognizability.functional import recognizability_index_from_parts
from recognizability.metrics import serfiq_score
from recognizability.nn import PerceptibilityRegression
from recognizability.nn.certainty_ratio import certainty_ratio
from recognizability.training.run import CheckpointError


def _loo_reference(v: torch.Tensor, labels: list[int]) -> tuple[list[float], list[float]]:
    """Leave-one-out prototypes by their definition, face by face, float64: the own prototype is the
    normalised mean of the other faces of the class; each other class's is the normalised mean of all its
    faces."""
    unit = [row / row.norm() for row in v.double()]
    classes = sorted(set(labels))
    positive, negative = [], []
    for i, (u, y) in enumerate(zip(unit, labels, strict=True)):
        others = torch.stack([unit[j] for j in range(len(unit)) if labels[j] == y and j != i]).mean(0)
        positive.append(float(u @ (others / others.norm())))
        best = -math.inf
        for c in classes:
            if c != y:
                mean = torch.stack([unit[j] for j in range(len(unit)) if labels[j] == c]).mean(0)
                best = max(best, float(u @ (mean / mean.norm())))
        negative.append(best)
    return positive, negative


@pytest.mark.parametrize("rows_per_chunk", [1, 5, 4096])
def test_leave_one_out_cosines_equal_their_definition(rows_per_chunk: int) -> None:
    g = torch.Generator().manual_seed(0)
    labels = [0, 0, 3, 3, 3, 7, 7, 0, 9, 9]  # classes 1, 2, 4-6 and 8 hold no face
    v = torch.randn(len(labels), 6, generator=g, dtype=torch.float64) * 5
    positive, negative = leave_one_out_cosines(v, torch.tensor(labels), rows_per_chunk=rows_per_chunk)
    expected_positive, expected_negative = _loo_reference(v, labels)
    torch.testing.assert_close(positive, torch.tensor(expected_positive, dtype=torch.float64))
    torch.testing.assert_close(negative, torch.tensor(expected_negative, dtype=torch.float64))


def test_two_faces_see_each_other_not_themselves() -> None:
    """For a class of two, the own prototype is the other face: the positive cosine is their cosine."""
    v = torch.tensor([[1.0, 0.0], [0.6, 0.8], [-1.0, 0.0], [0.0, -1.0]])
    positive, _ = leave_one_out_cosines(v, torch.tensor([0, 0, 1, 1]))
    torch.testing.assert_close(positive, torch.tensor([0.6, 0.6, 0.0, 0.0]))


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(1e-3, 1e3))
def test_leave_one_out_cosines_read_directions_only(seed: int, scale: float) -> None:
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(12) % 4
    v = torch.randn(12, 5, generator=g, dtype=torch.float64)
    scales = torch.rand(12, 1, generator=g, dtype=torch.float64) * scale + 1e-3
    for a, b in zip(leave_one_out_cosines(v, labels), leave_one_out_cosines(v * scales, labels), strict=True):
        torch.testing.assert_close(a, b)
        assert bool(((a >= -1) & (a <= 1)).all())


@pytest.mark.parametrize(
    ("labels", "match"),
    [([0, 0, 1], "at least 2 faces"), ([2, 2, 2], "at least 2 classes"), ([0, -1, 0], "labels >= 0")],
)
def test_leave_one_out_cosines_refuse_unusable_classes(labels: list[int], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        leave_one_out_cosines(torch.randn(3, 4), torch.tensor(labels))


def test_targets_are_the_index_and_the_certainty_ratio_of_those_cosines() -> None:
    g = torch.Generator().manual_seed(1)
    v, labels = torch.randn(20, 8, generator=g), torch.arange(20) % 5
    center = torch.randn(8, generator=g)
    positive, negative = leave_one_out_cosines(v, labels)
    ui = torch.nn.functional.cosine_similarity(v, center[None], dim=1)
    index = quality_targets(v, labels, "index", center)
    torch.testing.assert_close(index, recognizability_index_from_parts(positive, negative, ui))
    torch.testing.assert_close(
        quality_targets(v, labels, "certainty_ratio"), certainty_ratio(positive, negative)
    )
    with pytest.raises(ValueError, match="ui_center"):
        quality_targets(v, labels, "index")


def test_ui_center_is_the_normalised_mean_direction() -> None:
    v = torch.tensor([[2.0, 0.0], [0.0, 5.0]])
    torch.testing.assert_close(ui_center_of(v), torch.tensor([1.0, 1.0]) / math.sqrt(2))


def test_fit_regression_recovers_a_linear_target_from_raw_inputs() -> None:
    """Inputs of very different scales and offsets: the fit standardises them and folds the standardisation
    back, so the returned module reads raw inputs; the global random stream is left alone."""
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2000, 12, generator=g) * torch.logspace(-2, 2, 12) + torch.linspace(-50, 50, 12)
    w = torch.randn(12, generator=g) / torch.logspace(-2, 2, 12)
    y = (x - torch.linspace(-50, 50, 12)) @ w + 3.0
    state, threads = torch.random.get_rng_state(), torch.get_num_threads()
    fit = fit_regression(x, y, QualityFitSettings(regression_input="embedding", steps=1500, batch_size=256))
    assert torch.equal(torch.random.get_rng_state(), state) and torch.get_num_threads() == threads
    assert isinstance(fit.module, PerceptibilityRegression) and not fit.module.training
    with torch.no_grad():
        predicted = fit.module(x)
    assert float(torch.corrcoef(torch.stack([predicted, y]))[0, 1]) > 0.999
    assert fit.loss_last < fit.loss_first


def test_fit_regression_is_reproducible_from_its_seed() -> None:
    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(300, 40, generator=g), torch.rand(300, generator=g) * 4
    fits = [fit_regression(x, y, QualityFitSettings(steps=50, seed=s)).module for s in (7, 8)]
    with torch.no_grad():  # a caller without autograd gets the same fit
        fits.insert(1, fit_regression(x, y, QualityFitSettings(steps=50, seed=7)).module)
    assert torch.equal(fits[0].fc.weight, fits[1].fc.weight)
    assert not torch.equal(fits[0].fc.weight, fits[2].fc.weight)


def test_fit_regression_with_the_diversion_term_raises_the_predictions() -> None:
    g = torch.Generator().manual_seed(4)
    x, y = torch.randn(500, 16, generator=g), torch.full((500,), -2.0)
    plain = QualityFitSettings(
        target="index", regression_input="embedding", diversion_weight=0.0, steps=300, learning_rate=0.05
    )
    base = fit_regression(x, y, plain).module
    pushed = fit_regression(x, y, plain.replace(diversion_weight=5.0, tau=1.0)).module
    with torch.no_grad():  # the hinge max(0, 1 - xi_hat) outweighs the smooth L1 pulling back to -2
        assert abs(float(base(x).mean()) + 2.0) < 0.05
        assert float(pushed(x).mean()) > 0.9


def test_settings_refuse_what_they_cannot_do() -> None:
    with pytest.raises(ValueError, match="target"):
        QualityFitSettings(target="norm")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="diversion_weight 0 with target='certainty_ratio'"):
        QualityFitSettings(target="certainty_ratio", diversion_weight=0.4)
    with pytest.raises(ValueError, match="fmr"):
        QualityFitSettings(fmr=0.0)
    assert QualityFitSettings().module_dropout == 0.9
    assert QualityFitSettings(regression_input="embedding").module_dropout == 0.0


def test_the_defaults_are_the_ones_the_evidence_chose() -> None:
    # docs/quality.md: the index on the feature map with the diversion term at 0.4 (Table 5's 2 : 5)
    default = QualityFitSettings()
    assert (default.target, default.regression_input, default.diversion_term_weight) == (
        "index",
        "feature_map",
        0.4,
    )
    assert QualityFitSettings(target="certainty_ratio").diversion_term_weight == 0.0
    assert QualityFitSettings(diversion_weight=0.0).diversion_term_weight == 0.0
    assert QualityFitSettings(diversion_weight=1.5).diversion_term_weight == 1.5
    written = QualityFitSettings().resolved()  # what a quality model file records
    assert (written.dropout, written.diversion_weight) == (0.9, 0.4)
    assert QualityFitSettings.from_dict(QualityFitSettings(seed=4).to_dict()) == QualityFitSettings(seed=4)


def test_split_identities_holds_out_a_seeded_share() -> None:
    held = split_identities(50, 0.2, seed=1)
    assert int(held.sum()) == 10 and torch.equal(held, split_identities(50, 0.2, seed=1))
    assert int(split_identities(5, 0.01, seed=0).sum()) == 2  # at least two, to compare identities
    assert int(split_identities(5, 0.0, seed=0).sum()) == 0


def _backbone() -> torch.nn.Module:
    torch.manual_seed(0)
    backbone = create_backbone("small_vlr_net", input_size=16, width=8, embedding_dim=12)
    backbone.train()  # the stochastic pass must switch to eval itself, and switch back
    return backbone


def _stochastic_loop(backbone: torch.nn.Module, feature_map: torch.Tensor, passes: int, dropout: float,
                     seed: int) -> torch.Tensor:  # fmt: skip
    """The stochastic passes one image and one pass at a time, with the keep-masks drawn in the same order."""
    g = torch.Generator().manual_seed(seed)
    backbone.eval()
    out = torch.empty(feature_map.shape[0], passes, backbone.embedding_dim)  # type: ignore[arg-type]
    with torch.no_grad():
        for b in range(feature_map.shape[0]):
            for k in range(passes):
                x = feature_map[b : b + 1].flatten(1)
                keep = torch.rand(x.shape, generator=g) >= dropout
                dropped = torch.where(keep, x / (1 - dropout), 0.0).view(1, *feature_map.shape[1:])
                out[b, k] = backbone.forward_head(dropped)[0]  # type: ignore[operator]
    return out


@pytest.mark.parametrize("max_elements", [1, 100, 1 << 25])
def test_stochastic_embeddings_equal_a_loop_over_images_and_passes(max_elements: int) -> None:
    backbone = _backbone()
    images = torch.randint(
        0, 256, (3, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(5)
    )
    backbone.eval()
    with torch.no_grad():
        feature_map = backbone.forward_features(normalize_for(backbone, images))  # type: ignore[operator]
    backbone.train()
    runs = stochastic_embeddings(
        backbone, feature_map, passes=7, dropout=0.5, generator=torch.Generator().manual_seed(9),
        max_elements=max_elements,
    )  # fmt: skip
    assert all(m.training for m in backbone.modules())  # modes restored
    expected = _stochastic_loop(backbone, feature_map, 7, 0.5, seed=9)
    torch.testing.assert_close(runs, expected, rtol=1e-5, atol=1e-5)
    quality = serfiq_quality_of_backbone(
        backbone, feature_map, passes=7, dropout=0.5, generator=torch.Generator().manual_seed(9)
    )
    torch.testing.assert_close(quality, serfiq_score(expected), rtol=1e-5, atol=1e-6)


def test_without_dropout_every_pass_is_the_embedding() -> None:
    backbone = _backbone().eval()
    feature_map = torch.randn(4, *backbone.feature_shape)  # type: ignore[misc]
    runs = stochastic_embeddings(backbone, feature_map, passes=3, dropout=0.0)
    with torch.no_grad():
        v = backbone.forward_head(feature_map)  # type: ignore[operator]
    torch.testing.assert_close(runs, v[:, None].expand(4, 3, -1))
    assert torch.equal(
        serfiq_quality_of_backbone(backbone, feature_map, passes=3, dropout=0.0), torch.ones(4)
    )


def test_stochastic_embeddings_refuse_bad_arguments() -> None:
    backbone = _backbone()
    with pytest.raises(ValueError, match="passes"):
        stochastic_embeddings(backbone, torch.randn(2, 16, 2, 2), passes=1)
    with pytest.raises(ValueError, match="feature_map of shape"):
        stochastic_embeddings(backbone, torch.randn(2, 16))
    with pytest.raises(TypeError, match="face backbone"):
        stochastic_embeddings(torch.nn.Linear(2, 2), torch.randn(2, 16, 2, 2))


def test_pseudo_ui_positions_are_evenly_spaced() -> None:
    assert pseudo_ui_positions(10, 4).tolist() == [0, 2, 5, 7]
    assert pseudo_ui_positions(3, 5).tolist() == [0, 1, 2]


def _write_faces(root: Path, identities: int = 4, per_identity: int = 5) -> tuple[list[Path], list[int]]:
    from PIL import Image

    g = torch.Generator().manual_seed(6)
    paths, labels = [], []
    for identity in range(identities):
        folder = root / f"person{identity}"
        folder.mkdir(parents=True)
        for k in range(per_identity):
            pixels = torch.randint(0, 256, (16, 16, 3), dtype=torch.uint8, generator=g).numpy()
            path = folder / f"{k}.png"
            Image.fromarray(pixels).save(path)
            paths.append(path)
            labels.append(identity)
    return paths, labels


def test_the_feature_cache_resumes_and_a_second_pass_reads_no_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("PIL")
    import recognizability.deploy.quality_fit.features as features_module

    monkeypatch.setattr(features_module, "SHARD_IMAGES", 6)
    paths, labels = _write_faces(tmp_path / "faces")
    backbone = _backbone().eval()
    preprocessing = Preprocessing(16, "RGB", "small_vlr_net")
    kwargs = dict(backbone_digest="test", ui=paths[:3], pseudo_ui=(2, 5), cache=tmp_path / "cache", workers=0,
                  batch_size=4)  # fmt: skip
    first = embed_faces(backbone, preprocessing, paths, labels, ["a", "b", "c", "d"], **kwargs)  # type: ignore[arg-type]
    assert first.images_read == 23 and first.cache is not None
    assert (
        first.feature_maps.shape == (20, *backbone.feature_shape)
        and first.feature_maps.dtype == torch.float16
    )
    assert first.pseudo_ui_embeddings is not None and first.pseudo_ui_embeddings.shape == (5, 12)
    assert first.ui_embeddings is not None and first.ui_embeddings.shape == (3, 12)
    with torch.no_grad():  # the cached embeddings are the deployed model's
        model = QualityModel(backbone, PerceptibilityRegression(12, 0.0), preprocessing, None, "embedding")
        from recognizability.deploy import embed_images

        torch.testing.assert_close(embed_images(model, paths, workers=0).embeddings, first.embeddings)
    second = embed_faces(backbone, preprocessing, paths, labels, ["a", "b", "c", "d"], **kwargs)  # type: ignore[arg-type]
    assert second.images_read == 0
    for name in ("feature_maps", "embeddings", "labels", "ui_embeddings", "pseudo_ui_embeddings"):
        assert torch.equal(getattr(first, name), getattr(second, name)), name
    shards = sorted(first.cache.glob("faces-*.pt"))
    assert len(shards) == 4  # 20 faces in shards of 6
    shards[1].unlink()  # an interrupted pass: one shard missing
    shards[2].write_bytes(b"not a torch file")  # and one damaged
    third = embed_faces(backbone, preprocessing, paths, labels, ["a", "b", "c", "d"], **kwargs)  # type: ignore[arg-type]
    assert third.images_read == 12 and torch.equal(third.feature_maps, first.feature_maps)
    without_ui = embed_faces(backbone, preprocessing, paths, labels, ["a", "b", "c", "d"],
                             **{**kwargs, "ui": None})  # type: ignore[arg-type]  # fmt: skip
    assert without_ui.images_read == 0 and without_ui.ui_embeddings is None  # the faces have their own folder
    no_pseudo = {**kwargs, "pseudo_ui": None, "cache": tmp_path / "cache2"}
    embed_faces(backbone, preprocessing, paths, labels, ["a", "b", "c", "d"], **no_pseudo)  # type: ignore[arg-type]
    asked = embed_faces(backbone, preprocessing, paths, labels, ["a", "b", "c", "d"],
                        **{**no_pseudo, "pseudo_ui": (2, 5)})  # type: ignore[arg-type]  # fmt: skip
    assert asked.images_read == 20  # shards made without the pseudo-UI faces are made again, the UI's are not
    assert torch.equal(asked.pseudo_ui_embeddings, first.pseudo_ui_embeddings)  # type: ignore[arg-type]
    paths[0].touch()  # a changed image: another cache folder
    import os

    os.utime(paths[0], ns=(1, 1))
    fourth = embed_faces(backbone, preprocessing, paths, labels, ["a", "b", "c", "d"], **kwargs)  # type: ignore[arg-type]
    assert fourth.images_read == 23 and fourth.cache != first.cache


def test_unreadable_faces_are_skipped_and_listed(tmp_path: Path) -> None:
    pytest.importorskip("PIL")
    paths, labels = _write_faces(tmp_path / "faces", identities=2, per_identity=3)
    paths[1].write_bytes(b"\x89PNG\r\n\x1a\n broken")
    features = embed_faces(_backbone().eval(), Preprocessing(16, "RGB", "small_vlr_net"), paths, labels,
                           ["a", "b"], backbone_digest="x", workers=0)  # fmt: skip
    assert len(features) == 5 and [u.path for u in features.unreadable] == [str(paths[1])]
    assert features.labels.tolist() == [0, 0, 1, 1, 1]


def test_a_quality_model_with_an_embedding_head_scores_its_embedding() -> None:
    backbone = _backbone().eval()
    regression = PerceptibilityRegression(12, 0.0)
    model = QualityModel(backbone, regression, Preprocessing(16, "RGB", "small_vlr_net"), None, "embedding")
    images = torch.rand(3, 3, 16, 16) * 255
    _, xi = model.embed_and_score(images)
    with torch.no_grad():
        torch.testing.assert_close(xi, regression(backbone(normalize_for(backbone, images))))
    with pytest.raises(ValueError, match="regression_input"):
        QualityModel(backbone, regression, model.preprocessing, None, "pixels")  # type: ignore[arg-type]


def test_a_damaged_quality_model_file_is_refused_naming_it(tmp_path: Path) -> None:
    from recognizability.deploy.quality_file import write_quality_model_file

    backbone = _backbone().eval()
    common = dict(
        backbone="small_vlr_net", architecture={"input_size": (16, 16), "width": 8, "embedding_dim": 12},
        backbone_state=backbone.state_dict(), backbone_source="test", backbone_sha256="0",
        preprocessing=Preprocessing(16, "RGB", "small_vlr_net").to_dict(), settings={}, report={},
    )  # fmt: skip
    good = tmp_path / "good.pt"
    regression = PerceptibilityRegression(12, 0.0)
    write_quality_model_file(good, regression_input="embedding", regression_state=regression.state_dict(),
                             **common)  # type: ignore[arg-type]  # fmt: skip
    model = load_quality_model(good)
    assert model.regression_input == "embedding" and model.calibration is None
    images = torch.rand(2, 3, 16, 16) * 255
    with torch.no_grad():
        torch.testing.assert_close(
            model.embed_and_score(images)[1], regression(backbone(normalize_for(backbone, images)))
        )
    bad = tmp_path / "bad.pt"  # a head of the embedding's size declared to read the feature map
    write_quality_model_file(bad, regression_input="feature_map", regression_state=regression.state_dict(),
                             **common)  # type: ignore[arg-type]  # fmt: skip
    with pytest.raises(CheckpointError, match=r"bad\.pt.*reads 12 values"):
        load_quality_model(bad)
    other = tmp_path / "other.pt"  # weights of another width
    small = create_backbone("small_vlr_net", input_size=16, width=4, embedding_dim=12)
    write_quality_model_file(other, regression_input="embedding", regression_state=regression.state_dict(),
                             **{**common, "backbone_state": small.state_dict()})  # type: ignore[arg-type]  # fmt: skip
    with pytest.raises(CheckpointError, match=r"other\.pt.*could not rebuild its backbone"):
        load_quality_model(other)


def test_fit_regression_reads_a_float16_cache_without_a_float32_copy() -> None:
    from recognizability.deploy.quality_fit.fitting import _column_moments

    g = torch.Generator().manual_seed(5)
    x = torch.randn(3000, 40, generator=g) * torch.linspace(0.1, 5.0, 40) + 2.0
    y = x[:, :3].sum(1)
    mean, std = _column_moments(x)  # float64 sums in blocks of rows
    want_std, want_mean = torch.std_mean(x.double(), dim=0)
    torch.testing.assert_close(mean.double(), want_mean, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(std.double(), want_std, rtol=1e-6, atol=1e-6)
    settings = QualityFitSettings(regression_input="embedding", steps=200, learning_rate=0.05)
    half = fit_regression(x.half(), y, settings).module
    full = fit_regression(x, y, settings).module
    with torch.no_grad():  # the same fit up to float16 rounding of the inputs
        torch.testing.assert_close(half(x), full(x), rtol=0.02, atol=0.05)
