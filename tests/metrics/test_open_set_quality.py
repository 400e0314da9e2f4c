import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import spearmanr

from recognizability.metrics import (
    crfiqa_quality,
    error_versus_reject,
    ers_quality,
    evaluate_survface,
    magface_quality,
    serfiq_quality,
    spearman_correlation,
    tpir_at_fpir,
)
from tests.helpers import metric_references as ref


def _open_problem(seed):
    g = torch.Generator().manual_seed(seed)
    gallery = torch.randint(-1, 2, (20, 4), generator=g).double()
    labels = torch.arange(20) % 7
    mated = torch.randint(-1, 2, (15, 4), generator=g).double()
    mated_labels = torch.randint(0, 7, (15,), generator=g)
    unmated = torch.randint(-1, 2, (10, 4), generator=g).double()
    return mated, mated_labels, unmated, gallery, labels


@given(st.integers(0, 10_000), st.sampled_from([0.0, 0.1, 0.3, 0.55, 1.0]), st.integers(1, 5))
@settings(max_examples=30, deadline=None)
def test_tpir_matches_loop_reference(seed, fpir, rank):
    mated, ml, unmated, gallery, gl = _open_problem(seed)
    result = tpir_at_fpir(mated, ml, unmated, gallery, gl, fpir, rank=rank, normalize=False)
    tpir, realised = ref.open_set(
        mated.tolist(),
        ml.tolist(),
        unmated.tolist(),
        gallery.tolist(),
        gl.tolist(),
        rank,
        float(result.threshold),
    )
    assert float(result.tpir) == pytest.approx(tpir)
    assert float(result.realised_fpir) == pytest.approx(realised) and realised <= fpir
    # threshold is the smallest unmated top score qualifying (or just above the highest)
    tops = (unmated @ gallery.T).amax(1)
    lower = tops[tops < result.threshold]
    if lower.numel():
        assert (tops >= lower.max()).double().mean() > fpir
    assert 0.0 <= result.auc <= 1.0


def test_template_gallery_and_survface_report():
    g = torch.Generator().manual_seed(0)
    gallery, labels = torch.randn(60, 16, generator=g), torch.arange(60) % 20
    mated, ml = gallery[:40] + 0.5 * torch.randn(40, 16, generator=g), labels[:40]
    unmated = torch.randn(30, 16, generator=g)
    pos = (torch.randn(50, 16, generator=g), torch.randn(50, 16, generator=g))
    pos = (pos[0], pos[0] + 0.3 * pos[1])
    neg = (torch.randn(50, 16, generator=g), torch.randn(50, 16, generator=g))
    report = evaluate_survface(mated, ml, unmated, gallery, labels, pos, neg)
    direct = tpir_at_fpir(mated, ml, unmated, gallery, labels, [0.3, 0.2, 0.1], gallery="template")
    assert report.tpir20_at_fpir_0_1 == pytest.approx(float(direct.tpir[2]))
    assert report.tar_at_far_0_3 is not None and report.tar_at_far_0_3 >= report.tar_at_far_0_001
    assert '"gallery": "template"' in report.to_json()


def test_mated_probe_without_mate_errors():
    with pytest.raises(ValueError, match="without a gallery mate"):
        tpir_at_fpir(
            torch.eye(2), torch.tensor([0, 5]), torch.eye(2), torch.eye(2), torch.tensor([0, 1]), 0.1
        )


def _pairs(seed, n=120):
    g = torch.Generator().manual_seed(seed)
    genuine = torch.rand(n, generator=g) < 0.4
    scores = torch.where(genuine, 0.5, 0.0) + 0.25 * torch.randn(n, generator=g)
    scores = (scores * 8).round() / 8  # ties in scores
    quality = (torch.rand(n, generator=g) * 6).round()  # ties in quality
    return scores.clamp(-1, 1).double(), genuine, quality.double()


@given(st.integers(0, 10_000))
@settings(max_examples=15, deadline=None)
def test_crfiqa_erc_matches_loop_reference(seed):
    scores, genuine, quality = _pairs(seed)
    fractions = [0.0, 0.1, 0.25, 0.5]
    result = error_versus_reject(scores, genuine, quality, 0.05, fractions, threshold="crfiqa")
    for f, fnmr in zip(fractions, result.fnmr.tolist(), strict=True):
        assert fnmr == pytest.approx(
            ref.crfiqa_fnmr(scores.tolist(), genuine.tolist(), quality.tolist(), 0.05, f)
        )


@given(st.integers(0, 10_000))
@settings(max_examples=15, deadline=None)
def test_fixed_and_recomputed_erc_match_loop_reference(seed):
    scores, genuine, quality = _pairs(seed)
    s, gen, q = scores.tolist(), genuine.tolist(), quality.tolist()
    fractions = [0.0, 0.2, 0.4]
    fixed = error_versus_reject(scores, genuine, quality, 0.1, fractions, threshold="fixed")
    _, t, _ = ref.tar_at_far(
        [x for x, m in zip(s, gen, strict=False) if m],
        [x for x, m in zip(s, gen, strict=False) if not m],
        0.1,
    )
    gq = sorted(v for v, m in zip(q, gen, strict=False) if m)
    for f, fnmr in zip(fractions, fixed.fnmr.tolist(), strict=True):
        # ties dropped together: discard all genuine with quality < some level, largest count <= f * N_g
        levels = sorted(set(gq))
        dropped = max(sum(v < lev for v in gq) for lev in levels if sum(v < lev for v in gq) <= f * len(gq))
        cut = gq[dropped] if dropped < len(gq) else math.inf
        kept = [x for x, m, v in zip(s, gen, q, strict=False) if m and v >= cut]
        assert fnmr == pytest.approx(sum(x < t for x in kept) / len(kept))
    recomputed = error_versus_reject(scores, genuine, quality, 0.1, fractions, threshold="recomputed")
    qs = sorted(q)
    for f, fnmr in zip(fractions, recomputed.fnmr.tolist(), strict=True):
        dropped = max(sum(v < lev for v in qs) for lev in set(qs) if sum(v < lev for v in qs) <= f * len(qs))
        cut = qs[dropped]
        keep = [(x, m) for x, m, v in zip(s, gen, q, strict=False) if v >= cut]
        _, t2, _ = ref.tar_at_far([x for x, m in keep if m], [x for x, m in keep if not m], 0.1)
        assert fnmr == pytest.approx(sum(x < t2 for x, m in keep if m) / sum(m for _, m in keep))
    assert not math.isnan(fixed.edc_pauc) and fixed.edc_pauc_minus_best <= fixed.edc_pauc


def test_edc_pauc_hand_example():
    # genuine only matter for "fixed": 4 genuine with qualities 1,2,3,4; the two lowest are errors.
    scores = torch.tensor([0.0, 0.0, 1.0, 1.0, 0.5])
    genuine = torch.tensor([True, True, True, True, False])
    quality = torch.tensor([1.0, 2.0, 3.0, 4.0, 0.0])
    r = error_versus_reject(
        scores, genuine, quality, 0.5, [0.0, 0.25, 0.5], threshold="fixed", discard_limit=0.5
    )
    assert r.fnmr.tolist() == pytest.approx([0.5, 1 / 3, 0.0])
    assert r.edc_pauc == pytest.approx(0.25 * 0.5 + 0.25 * (1 / 3))
    assert r.edc_pauc_minus_best == pytest.approx(r.edc_pauc - 0.5**2 / 2)


def test_erc_bad_input():
    with pytest.raises(ValueError, match="threshold to be one of"):
        error_versus_reject([0.1, 0.9], [False, True], [1.0, 2.0], 0.1, threshold="magface")
    with pytest.raises(ValueError, match="finite pair_quality"):
        error_versus_reject([0.1, 0.9], [False, True], [float("nan"), 2.0], 0.1)
    with pytest.raises(ValueError, match="genuine and impostor"):
        error_versus_reject([0.1, 0.9], [True, True], [1.0, 2.0], 0.1)


@given(st.lists(st.integers(0, 4), min_size=3, max_size=30), st.integers(0, 1000))
@settings(max_examples=50, deadline=None)
def test_spearman_matches_scipy_with_ties(x, seed):
    y = np.random.default_rng(seed).integers(0, 4, len(x)).tolist()
    if len(set(x)) < 2 or len(set(y)) < 2:
        with pytest.raises(ValueError, match="constant"):
            spearman_correlation(x, y)
        return
    assert spearman_correlation(x, y) == pytest.approx(spearmanr(x, y).statistic)


def test_quality_baselines_against_definitions():
    x = torch.tensor([[3.0, 4.0], [0.0, -1.0]])
    u = torch.tensor([1.0, 0.0])
    torch.testing.assert_close(ers_quality(x, u), torch.tensor([1 - 0.6, 1.0]))
    torch.testing.assert_close(magface_quality(x), torch.tensor([5.0, 1.0]))
    w = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    cr = crfiqa_quality(x, torch.tensor([1, 0]), w)  # CCS / (NNCCS + 1 + 1e-9)
    torch.testing.assert_close(cr, torch.tensor([0.8 / (0.6 + 1 + 1e-9), 0.0]))
    torch.testing.assert_close(
        crfiqa_quality(x[:1], torch.tensor([1]), w, offset=2.0), torch.tensor([0.8 / (0.6 + 2.0)])
    )


@pytest.mark.parametrize(
    ("scale", "dtype"),
    [(1e19, torch.float32), (1e-30, torch.float32), (300.0, torch.float16), (1.0, torch.float64)],
)
def test_magface_quality_is_the_norm_at_any_scale(scale: float, dtype: torch.dtype) -> None:
    """The squares of 1e19 (float32) or 300 (float16) overflow: the norm is taken after a rescaling."""
    x = torch.tensor([[3.0, 4.0], [0.0, -1.0], [0.0, 0.0]], dtype=torch.float64)
    got = magface_quality((x * scale).to(dtype))
    assert got.dtype == (torch.float64 if dtype == torch.float64 else torch.float32)
    torch.testing.assert_close(got.double(), torch.tensor([5.0, 1.0, 0.0], dtype=torch.float64) * scale)


def test_serfiq_restores_modes_and_matches_definition():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(6, 8), torch.nn.BatchNorm1d(8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 4)
    )
    model.train()
    images = torch.randn(3, 6)
    torch.manual_seed(1)
    q = serfiq_quality(model, images, passes=5)
    assert all(m.training for m in model.modules())
    torch.manual_seed(1)
    model.eval()
    model[2].train()
    with torch.no_grad():
        runs = [torch.nn.functional.normalize(model(images), dim=1) for _ in range(5)]
    for b in range(3):
        d = [float((runs[i][b] - runs[j][b]).norm()) for i in range(5) for j in range(5) if i < j]
        assert float(q[b]) == pytest.approx(2 / (1 + math.exp(sum(d) / len(d))), rel=1e-5)
    with pytest.raises(ValueError, match="dropout"):
        serfiq_quality(torch.nn.Linear(6, 4), images)
