"""The calibration the lab promises (docs/synthetic.md): the CPU demo's baseline, ArcFace alone fine-tuned
from the shipped pretrained backbone on the small default TinyFace-like tree exactly as
``examples/train_tinyface.py`` trains it, matches a rank-1 neither near 0 nor near 100 % (30-80 %), clearly
lower on the hard probes, and its accuracy falls as the ground-truth severity rises. Synthetic figures; the
same run the demo makes (about a minute)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from recognizability import metrics
from recognizability.training import RunOptions, Session, demo_config, embed_images
from tests.helpers.tiny import load_example

#: Severity bins with at least this many probes are compared.
MIN_PROBES = 10


@pytest.fixture
def two_threads() -> Iterator[None]:
    """The demo's thread count on a quiet 2-core machine (the run's figures depend on it in the last bits)."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
def test_the_demo_baseline_meets_the_labs_calibration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, two_threads: None
) -> None:
    monkeypatch.setenv("RECOGNIZABILITY_CACHE", str(tmp_path / "cache"))
    session = Session(RunOptions(out=tmp_path / "out", threads=2, progress=False, plots=False), write=False)
    config = demo_config("tinyface").with_losses(())  # the demo's ArcFace-alone run
    data = session.load_data("tinyface", config.model.input_size)
    result = load_example("train_tinyface").train("arcface", config, data, session)

    size, cpu = config.model.input_size, torch.device("cpu")
    v = {name: embed_images(result.model, images, size, cpu)[0] for name, images in data.tests.items()}
    probe, gallery = data.tests["probe"], data.tests["gallery"]
    searched = metrics.cmc(
        v["probe"], probe.labels, v["gallery"], gallery.labels, (1,), distractor_features=v["distractor"]
    )
    hits = (searched.ranks_of_probes == 0).float()
    assert hits.numel() == len(probe)  # every probe has a mate in the small tree
    severity, hard = probe.severity, probe.hard
    assert severity is not None and hard is not None

    rank_1 = float(hits.mean())
    assert 0.30 <= rank_1 <= 0.80, rank_1
    hard_rate, easy_rate = float(hits[hard].mean()), float(hits[~hard].mean())
    assert hard_rate < 0.6 * easy_rate, (hard_rate, easy_rate)  # clearly lower on hard probes
    rates = []
    for low in (0.0, 0.2, 0.4, 0.6, 0.8):
        in_bin = (severity >= low) & (severity < low + 0.2)
        if int(in_bin.sum()) >= MIN_PROBES:
            rates.append(float(hits[in_bin].mean()))
    assert len(rates) >= 3 and rates == sorted(rates, reverse=True), rates  # accuracy falls with severity
