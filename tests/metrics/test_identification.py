import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from recognizability.metrics import (
    CMCAccumulator,
    cmc,
    evaluate_scface,
    evaluate_tinyface,
    flip_fuse,
    identity_templates,
)
from tests.helpers import metric_references as ref


def _tied_problem(seed: int, n_probe: int = 12, n_gallery: int = 25, dim: int = 4):
    """Integer-valued features (exact dot products, many ties), some distractors (label -1)."""
    g = torch.Generator().manual_seed(seed)
    gallery = torch.randint(-1, 2, (n_gallery, dim), generator=g).double()
    gallery_labels = torch.randint(0, 6, (n_gallery,), generator=g)
    gallery_labels[-5:] = -1
    present = torch.unique(gallery_labels[gallery_labels >= 0])
    probe_labels = present[torch.randint(0, present.numel(), (n_probe,), generator=g)]
    probes = torch.randint(-1, 2, (n_probe, dim), generator=g).double()
    return probes, probe_labels, gallery, gallery_labels


@given(st.integers(0, 10_000))
@settings(max_examples=40, deadline=None)
def test_ranks_and_ap_match_loop_reference_with_ties(seed):
    probes, probe_labels, gallery, gallery_labels = _tied_problem(seed)
    result = cmc(probes, probe_labels, gallery, gallery_labels, (1, 2, 5), normalize=False)
    ranks, aps = ref.closed_set(
        probes.tolist(), probe_labels.tolist(), gallery.tolist(), gallery_labels.tolist()
    )
    assert result.ranks_of_probes.tolist() == ranks
    torch.testing.assert_close(result.average_precision, torch.tensor(aps, dtype=torch.float64))
    expected = [sum(r < k for r in ranks) / len(ranks) for k in (1, 2, 5)]
    torch.testing.assert_close(result.rates, torch.tensor(expected, dtype=torch.float64))


@given(st.integers(0, 10_000), st.integers(1, 60))
@settings(max_examples=30, deadline=None)
def test_chunked_equals_unchunked_and_cmc_monotone(seed, max_elements):
    probes, probe_labels, gallery, gallery_labels = _tied_problem(seed)
    whole = cmc(probes, probe_labels, gallery, gallery_labels, (1, 3, 5, 25), normalize=False)
    chunked = cmc(
        probes,
        probe_labels,
        gallery,
        gallery_labels,
        (1, 3, 5, 25),
        normalize=False,
        max_elements=max_elements,
    )
    assert torch.equal(whole.ranks_of_probes, chunked.ranks_of_probes)
    torch.testing.assert_close(whole.average_precision, chunked.average_precision)
    assert bool((whole.rates[1:] >= whole.rates[:-1]).all())


def test_separate_distractors_equal_concatenated_gallery_and_accumulator():
    g = torch.Generator().manual_seed(0)
    gallery = torch.randn(40, 16, generator=g)
    labels = torch.arange(40) % 15
    distractors = torch.randn(300, 16, generator=g)
    probes = gallery[:30] + 0.8 * torch.randn(30, 16, generator=g)
    probe_labels = labels[:30]
    joint = cmc(
        probes, probe_labels, torch.cat([gallery, distractors]), torch.cat([labels, torch.full((300,), -1)])
    )
    split = cmc(probes, probe_labels, gallery, labels, distractor_features=distractors, max_elements=500)
    assert torch.equal(joint.ranks_of_probes, split.ranks_of_probes)
    acc = CMCAccumulator(gallery, labels, distractor_features=distractors)
    acc.update(probes[:11], probe_labels[:11])
    acc.update(probes[11:], probe_labels[11:])
    assert torch.equal(acc.compute().ranks_of_probes, joint.ranks_of_probes)
    report = evaluate_tinyface(probes, probe_labels, gallery, labels, distractors)
    assert report.rank_1 == pytest.approx(float(joint.rates[0]))
    assert report.mean_average_precision == pytest.approx(joint.mean_average_precision)
    assert '"with_distractors": true' in report.to_json()


def test_identity_ranking_loop_reference():
    probes, probe_labels, gallery, gallery_labels = _tied_problem(7, n_probe=20)
    result = cmc(probes, probe_labels, gallery, gallery_labels, (1,), ranking="identity", normalize=False)
    for p, y, r in zip(probes, probe_labels, result.ranks_of_probes, strict=True):
        scores = gallery @ p
        best = {
            int(lab): float(scores[gallery_labels == lab].max())
            for lab in torch.unique(gallery_labels)
            if lab >= 0
        }
        mate = best.pop(int(y))
        expected = sum(v >= mate for v in best.values()) + int((scores[gallery_labels < 0] >= mate).sum())
        assert int(r) == expected


def test_identity_templates_are_normalised_means():
    x = torch.tensor([[3.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    t, labels = identity_templates(x, torch.tensor([4, 4, 1]))
    assert labels.tolist() == [1, 4]
    torch.testing.assert_close(t[1], torch.tensor([1.0, 1.0]) / 2**0.5)


@pytest.mark.parametrize("scale", [1e-30, 1.0, 1e38])
def test_templates_and_flip_fusion_at_any_scale_and_refused_when_they_cancel(scale):
    """Means of features near the largest float32 do not overflow; a mean or a flip sum that cancels out has
    no direction and is refused (before: a zero vector, every later cosine 0)."""
    x = torch.tensor([[3.0, 0.0], [0.0, 2.0], [1.0, 1.0]]) * scale
    raw, _ = identity_templates(x, torch.tensor([4, 4, 1]), normalize=False)
    torch.testing.assert_close(raw[1], torch.tensor([1.5, 1.0]) * scale)
    fused = flip_fuse(x, x.flip(1))
    torch.testing.assert_close(fused, torch.full((3, 2), 2**-0.5))
    with pytest.raises(ValueError, match=r"labels \[4\]\) whose features are zero or cancel out"):
        identity_templates(torch.cat([x[:1], -x[:1], x[2:]]), torch.tensor([4, 4, 1]))
    with pytest.raises(ValueError, match=r"got 1 row\(s\) \(e.g. rows \[1\]\)"):
        flip_fuse(x, torch.stack([x[0], -x[1], x[2]]))


def test_float32_agrees_with_float64():
    g = torch.Generator().manual_seed(5)
    gallery, labels = torch.randn(200, 32, generator=g), torch.arange(200) % 50
    probes = gallery[:100] + 0.7 * torch.randn(100, 32, generator=g)
    a = cmc(probes, labels[:100], gallery, labels)
    b = cmc(probes.double(), labels[:100], gallery.double(), labels)
    assert torch.equal(a.ranks_of_probes, b.ranks_of_probes)
    assert a.mean_average_precision == pytest.approx(b.mean_average_precision)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cpu_equals_cuda():
    probes, probe_labels, gallery, gallery_labels = _tied_problem(11, n_probe=30, n_gallery=60)
    cpu = cmc(probes, probe_labels, gallery, gallery_labels, normalize=False, max_elements=100)
    gpu = cmc(
        probes.cuda(),
        probe_labels.cuda(),
        gallery.cuda(),
        gallery_labels.cuda(),
        normalize=False,
        max_elements=100,
    )
    assert torch.equal(cpu.ranks_of_probes, gpu.ranks_of_probes)


def test_missing_probe_identity_errors_or_is_counted():
    gallery, labels = torch.eye(3), torch.tensor([0, 1, 2])
    probes, probe_labels = torch.eye(3)[[0, 1]], torch.tensor([0, 7])
    with pytest.raises(ValueError, match="absent from gallery_labels"):
        cmc(probes, probe_labels, gallery, labels)
    result = cmc(probes, probe_labels, gallery, labels, missing_probes="exclude")
    assert result.num_excluded_probes == 1 and result.num_probes == 1 and float(result.rates[0]) == 1.0


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"probe_labels": torch.tensor([[0]])}, ValueError, r"probe_labels of shape \(1,\)"),
        ({"probe_features": torch.tensor([[float("nan"), 0.0, 0.0]])}, ValueError, "finite probe_features"),
        (
            {"probe_features": torch.zeros(0, 3), "probe_labels": torch.zeros(0, dtype=torch.long)},
            ValueError,
            "at least one row",
        ),
        ({"probe_labels": torch.tensor([0.0])}, TypeError, "integer probe_labels"),
        ({"ranks": (0,)}, ValueError, "positive integers"),
    ],
)
def test_bad_input(kwargs, error, message):
    args = {
        "probe_features": torch.eye(3)[:1],
        "probe_labels": torch.tensor([0]),
        "gallery_features": torch.eye(3),
        "gallery_labels": torch.tensor([0, 1, 2]),
    }
    args.update(kwargs)
    with pytest.raises(error, match=message):
        cmc(**args)


def test_scface_rank1_per_distance():
    gallery, labels = torch.eye(4), torch.tensor([1, 2, 3, 4])
    probes = torch.tensor(
        [
            [1.0, 0.1, 0, 0],
            [0.1, 1.0, 0, 0],
            [0, 1.0, 0.1, 0],
            [0, 0, 0.1, 1.0],
            [0, 0, 1.0, 0],
            [1.0, 0, 0, 0],
        ]
    )
    probe_labels = torch.tensor([1, 2, 3, 4, 3, 2])
    distances = torch.tensor([1, 1, 2, 2, 3, 3])
    report = evaluate_scface(probes, probe_labels, distances, gallery, labels)
    assert (report.rank_1_d1, report.rank_1_d2, report.rank_1_d3) == (1.0, 0.5, 0.5)
    assert report.rank_1_average == pytest.approx(2 / 3)
    extra = torch.cat([gallery, torch.tensor([[0.5, 0.5, 0.0, 0.0]])])
    only = evaluate_scface(
        probes, probe_labels, distances, extra, torch.tensor([1, 2, 3, 4, 9]), gallery="probes"
    )
    assert only.num_gallery == 4


def test_row_max_filter_keeps_counts_exact_when_some_probes_beat_every_distractor():
    # Probes 0-5 sit on their mate (no distractor can reach them: the counting pass is skipped for them);
    # probes 6-11 are far from their mates (every distractor chunk must be counted exactly).
    g = torch.Generator().manual_seed(3)
    gallery = torch.nn.functional.normalize(torch.randn(6, 8, generator=g, dtype=torch.float64), dim=1)
    gallery_labels = torch.arange(6)
    distractors = torch.nn.functional.normalize(torch.randn(40, 8, generator=g, dtype=torch.float64), dim=1)
    probes = torch.cat([gallery, -gallery])
    probe_labels = torch.cat([gallery_labels, gallery_labels])
    result = cmc(
        probes,
        probe_labels,
        gallery,
        gallery_labels,
        (1, 5),
        max_elements=24,
        distractor_features=distractors,
    )
    full_gallery = torch.cat([gallery, distractors])
    full_labels = torch.cat([gallery_labels, torch.full((40,), -1)])
    ranks, aps = ref.closed_set(
        probes.tolist(), probe_labels.tolist(), full_gallery.tolist(), full_labels.tolist()
    )
    assert result.ranks_of_probes.tolist() == ranks
    assert ranks[:6] == [0] * 6 and min(ranks[6:]) > 0
    torch.testing.assert_close(result.average_precision, torch.tensor(aps, dtype=torch.float64))
