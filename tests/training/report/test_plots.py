"""The run figures follow the package's one style: a fixed colour and marker per method across plot calls,
integer rank ticks on a 0..1 axis, titles that name the data set, the model and n (and fit the figure), the
ERC panel of the printed FMR first, no learned-index figure for a run that did not train L_L1, every logged
term in the training curves, Fig. 1's panels in order on one x range, vector copies on request, and the
comparison of runs on one set of axes with the seed spread. Read from the matplotlib objects, not pixels."""

from __future__ import annotations

from pathlib import Path

import pytest

from recognizability._figures import METHOD_STYLES, method_style
from recognizability.training.report import plots
from recognizability.training.report.plots import PLOT_NAMES, plot_comparison, plot_report
from tests.helpers.figures import caught_figures, line_of, run_report, titles

pytest.importorskip("matplotlib")


def test_a_method_keeps_its_colour_and_marker_across_plot_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with caught_figures(monkeypatch, plots) as first:
        plot_report(run_report(quality=("learned_index", "ers", "magface_norm")), tmp_path / "a")
    with caught_figures(monkeypatch, plots) as second:
        plot_report(run_report(quality=("magface_norm", "crfiqa", "ers")), tmp_path / "b")
    for name in ("ers", "magface_norm"):
        style = METHOD_STYLES[name]
        a, b = line_of(first["erc.png"], style.label), line_of(second["erc.png"], style.label)
        assert a.get_color() == b.get_color() == style.color
        assert a.get_marker() == b.get_marker() == style.marker
    assert (
        line_of(second["erc.png"], METHOD_STYLES["crfiqa"].label).get_color() == METHOD_STYLES["crfiqa"].color
    )


def test_a_name_added_later_gets_the_same_style_every_time() -> None:
    style = method_style("my_new_score")
    assert style == method_style("my_new_score") and style.label == "my_new_score"
    assert style.color not in {s.color for s in METHOD_STYLES.values()}


def test_ranks_have_integer_ticks_and_the_cmc_axis_runs_from_0_to_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with caught_figures(monkeypatch, plots) as figures:
        plot_report(run_report(), tmp_path)
        plot_comparison({"arcface": run_report(losses=()), "full": run_report()}, tmp_path / "comparison.png")
    for name in ("cmc.png", "comparison.png"):
        (ax,) = figures[name].axes
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), (name, ticks)
        assert ax.get_ylim() == (0.0, 1.0)


def test_every_title_names_the_dataset_the_model_and_n_and_fits_the_figure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with caught_figures(monkeypatch, plots) as figures:
        plot_report(run_report(), tmp_path)
        plot_comparison({"arcface": run_report(losses=()), "full": run_report()}, tmp_path / "comparison.png")
    assert set(figures) == {*PLOT_NAMES, "comparison.png"}
    for name, fig in figures.items():
        text = "\n".join(titles(fig))
        assert "tinyface" in text and "synthetic" in text, name
        assert "small_vlr_net" in text and "n = " in text, name
        for text, extent, box in fig.title_boxes:
            assert box.x0 - 1 <= extent.x0 and extent.x1 <= box.x1 + 1, (name, text)
            assert extent.y1 <= box.y1 + 1, (name, text)


def test_the_erc_panel_of_the_printed_fmr_comes_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = run_report()
    with caught_figures(monkeypatch, plots) as figures:
        plot_report(report, tmp_path)
    left, right = figures["erc.png"].axes
    assert left.get_title().startswith("FMR 1e-2") and "printed" in left.get_title()
    assert right.get_title() == "FMR 1e-3"
    legend = [t.get_text() for t in left.get_legend().get_texts()]
    area = report["quality"]["ers"]["erc_auc_fmr_0.01"]  # the figure the printed table shows
    assert f"{METHOD_STYLES['ers'].label} (area {area:.4f})" in legend


def test_no_learned_index_figure_for_a_run_without_l1(tmp_path: Path) -> None:
    written = plot_report(run_report(losses=("id", "mse")), tmp_path / "without")
    assert "index_vs_ui_distance.png" not in [p.name for p in written]
    written = plot_report(run_report(losses=("l1",)), tmp_path / "with")
    assert "index_vs_ui_distance.png" in [p.name for p in written]


def test_training_curves_draw_every_logged_term_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = [
        {"epoch": float(e), "total": 3.0 - e, "classification": 2.0, "regression": 0.5, "my_term": 0.1 * e,
         "images_per_second": 100.0, "lr_backbone": 1e-4, "val_accuracy": 0.5}
        for e in (1, 2, 3)
    ]  # fmt: skip
    with caught_figures(monkeypatch, plots) as figures:
        plot_report(run_report(history=history), tmp_path)
    panels = [ax.get_title() for ax in figures["training_curves.png"].axes if ax.get_visible()]
    assert panels == ["total", "classification (L_cls)", "regression (L_L1)", "my_term", "val_accuracy"]
    ax = figures["training_curves.png"].axes[3]
    assert list(ax.get_lines()[0].get_ydata()) == [0.1, 0.2, pytest.approx(0.3)]


def test_fig1_panels_start_of_fine_tuning_first_on_one_x_range(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with caught_figures(monkeypatch, plots) as figures:
        plot_report(run_report(), tmp_path)
    first, second = figures["ui_cluster.png"].axes
    assert first.get_title().startswith("start of fine-tuning") and second.get_title().startswith("after")
    assert first.get_xlim() == second.get_xlim()


def test_vector_copies_beside_each_png_when_asked(tmp_path: Path) -> None:
    written = plot_report(run_report(), tmp_path, vector=("pdf", "svg"))
    names = {p.name for p in written}
    for png in PLOT_NAMES:
        stem = Path(png).stem
        assert {f"{stem}.png", f"{stem}.pdf", f"{stem}.svg"} <= names
    assert (tmp_path / "erc.pdf").read_bytes()[:5] == b"%PDF-"
    assert b"<svg" in (tmp_path / "erc.svg").read_bytes()[:2000]
    assert {p.name for p in plot_report(run_report(), tmp_path / "png")} == set(PLOT_NAMES)
    with pytest.raises(ValueError, match="vector formats"):
        plot_report(run_report(), tmp_path, vector=("eps",))


def test_the_comparison_draws_the_seed_spread_of_a_run_with_several(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeds = [run_report(), run_report()]
    seeds[1]["curves"]["cmc"]["rates"] = [r - 0.1 for r in seeds[1]["curves"]["cmc"]["rates"]]
    with caught_figures(monkeypatch, plots) as figures:
        plot_comparison({"arcface": run_report(losses=()), "full": seeds}, tmp_path / "comparison.png")
    (ax,) = figures["comparison.png"].axes
    full = line_of(figures["comparison.png"], METHOD_STYLES["full"].label)
    assert full.get_color() == METHOD_STYLES["full"].color and "mean of 2 seeds" in full.get_label()
    arcface = line_of(figures["comparison.png"], METHOD_STYLES["arcface"].label)
    assert arcface.get_color() == METHOD_STYLES["arcface"].color
    band = ax.collections[1].get_paths()[0].vertices  # the full run's band: the range over its two seeds
    assert band[:, 1].max() - band[:, 1].min() >= 0.1
    assert "range over seeds" in titles(figures["comparison.png"])[0]
