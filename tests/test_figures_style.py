"""The shared figure helpers: false-match rates written one way, the Wilson interval, the vector formats."""

from __future__ import annotations

import math

import pytest

from recognizability._figures import check_vector_formats, fmr_text, method_style, wilson_interval


def test_fmr_text_writes_rates_as_the_tables_do() -> None:
    assert [fmr_text(x) for x in (1e-2, 1e-3, 5e-4, 0.3, 1.0)] == ["1e-2", "1e-3", "5e-4", "0.3", "1"]


def test_wilson_interval_matches_its_formula_and_stays_in_0_1() -> None:
    lower, upper = wilson_interval([0.5, 0.0, 1.0], 100)
    z = 1.959964
    half = z * math.sqrt(0.25 / 100 + z * z / 40000) / (1 + z * z / 100)
    assert lower[0] == pytest.approx(0.5 - half) and upper[0] == pytest.approx(0.5 + half)
    assert lower[1] == 0.0 < upper[1] and lower[2] < upper[2] == 1.0
    assert wilson_interval([0.3], 0) == ([0.3], [0.3])  # no trials, no interval


def test_vector_formats_are_checked_and_kept_once() -> None:
    assert check_vector_formats(["pdf", "svg", "pdf"]) == ("pdf", "svg")
    assert check_vector_formats("svg") == ("svg",)
    with pytest.raises(ValueError, match=r"expected vector formats from \['pdf', 'svg'\], got 'png'"):
        check_vector_formats(["png"])


def test_the_paper_s_method_is_blue_wherever_it_appears() -> None:
    assert method_style("full").color == method_style("learned_index").color == "#0072B2"
