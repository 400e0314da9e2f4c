"""What every figure of the package shares: matplotlib, imported on first use with the headless Agg backend,
and one style.

matplotlib is optional (``pip install recognizability[plot]``); the run reports
(:mod:`recognizability.training.report.plots`), the evaluation of folders
(:mod:`recognizability.deploy.evaluate`) and the explanatory figures (:mod:`recognizability.deploy.figures`)
draw through :func:`pyplot` alone, with these conventions:

- **one colour and marker per method**, whatever the figure or the run (:func:`method_style`): a fixed entry
  of :data:`METHOD_STYLES` for the names the package knows (the paper's method is blue everywhere: its run
  ``full`` and its learned index), and, for any other name (a quality score or a run added later), a colour
  and marker derived from the name itself, so they too stay the same from one figure to the next;
- **every title names the data set, the model and n** (:func:`figure_title`), wrapped to the figure's width
  rather than cut;
- **integer ticks for ranks** (:func:`integer_ticks`), and proportions on a 0..1 axis;
- **a band for the uncertainty** a figure has: the 95 % Wilson interval of a rate measured on n trials
  (:func:`wilson_interval`), or the range over seeds;
- **PNG, and PDF or SVG beside it on request** (:func:`save_figure`, ``vector=("pdf",)``), each file written
  atomically.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from recognizability._files import write_atomically

__all__ = [
    "METHOD_STYLES",
    "VECTOR_FORMATS",
    "MethodStyle",
    "add_vector_option",
    "check_vector_formats",
    "figure_files",
    "figure_title",
    "fmr_text",
    "integer_ticks",
    "method_style",
    "pyplot",
    "save_figure",
    "wilson_interval",
]

#: Vector formats :func:`save_figure` writes beside the PNG on request.
VECTOR_FORMATS: tuple[str, ...] = ("pdf", "svg")


def add_vector_option(parser: argparse.ArgumentParser) -> None:
    """The ``--vector pdf|svg`` option of every command that draws figures (repeatable; ``args.vector`` is a
    list, checked by :func:`check_vector_formats` where the figures are saved)."""
    parser.add_argument(
        "--vector", action="append", choices=VECTOR_FORMATS, default=[],
        help="also write each figure as PDF or SVG beside its PNG (repeatable)",
    )  # fmt: skip


#: Resolution of the PNG files.
PNG_DPI = 120


@dataclass(frozen=True)
class MethodStyle:
    """How one method is drawn in every figure: its legend label, colour, marker and line style."""

    label: str
    color: str
    marker: str
    linestyle: str = "-"


#: The fixed styles (Okabe-Ito colours, readable with every common colour-vision deficiency). Blue is the
#: paper's method: the full method's run and its learned index. Names added later (a new quality score, a
#: fitted head, a run of another head) get a colour and marker from :func:`method_style`'s fallback.
METHOD_STYLES: dict[str, MethodStyle] = {
    # quality scores (report["quality"])
    "learned_index": MethodStyle("learned index xi_hat", "#0072B2", "o"),
    "ers": MethodStyle("ERS (1 - cos to UI centre)", "#E69F00", "s"),
    "magface_norm": MethodStyle("MagFace norm", "#009E73", "^"),
    "crfiqa_trained": MethodStyle("CR-FIQA (trained branch)", "#CC79A7", "D"),
    "crfiqa": MethodStyle("CR-FIQA (oracle)", "#CC79A7", "d", "--"),
    "crfiqa_nearest": MethodStyle("CR-FIQA (nearest prototype)", "#CC79A7", "d", ":"),
    "serfiqa": MethodStyle("SER-FIQ", "#D55E00", "v"),
    "calibrated_quality": MethodStyle("calibrated quality 0-100 (from xi_hat)", "#0072B2", "o"),
    # runs (the margin head alone against the full method) and the modules drawn in activation maps
    "full": MethodStyle("full method (all terms)", "#0072B2", "o"),
    "arcface": MethodStyle("ArcFace alone", "#000000", "s", "--"),
    "adaface": MethodStyle("AdaFace alone", "#56B4E9", "P", "--"),
    "attention": MethodStyle("perceptibility attention", "#0072B2", "o"),
}

#: Colours and markers of names outside :data:`METHOD_STYLES` (Paul Tol's muted scheme, none of the fixed
#: colours), picked by a hash of the name.
_FALLBACK_COLORS: tuple[str, ...] = (
    "#332288", "#117733", "#44AA99", "#88CCEE", "#DDCC77", "#882255", "#AA4499", "#999933", "#661100",
    "#6699CC",
)  # fmt: skip
_FALLBACK_MARKERS: tuple[str, ...] = ("X", "*", "p", "h", "<", ">", "8", "H")


def method_style(name: str) -> MethodStyle:
    """The style of ``name`` in every figure: its fixed entry in :data:`METHOD_STYLES`, or, for any other
    name, a colour and marker chosen by a hash of the name (the same in every process and every figure) and
    the name itself as the label."""
    if name in METHOD_STYLES:
        return METHOD_STYLES[name]
    digest = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big")
    return MethodStyle(
        name,
        _FALLBACK_COLORS[digest % len(_FALLBACK_COLORS)],
        _FALLBACK_MARKERS[(digest // len(_FALLBACK_COLORS)) % len(_FALLBACK_MARKERS)],
    )


def pyplot() -> Any:
    """``matplotlib.pyplot`` with the non-interactive Agg backend (plots work on a headless machine).

    Raises:
        ImportError: matplotlib is not installed, naming the extra that brings it.
    """
    try:
        import matplotlib
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "plots need matplotlib: pip install recognizability[plot] (or run with --no-plots)"
        ) from error
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_title(what: str, *, dataset: str, model: str, n: str, width: float, fontsize: float = 9.0) -> str:
    """``what`` on the first line, then the data set, the model and n, wrapped to fit ``width`` inches.

    Args:
        what: what the figure shows ("CMC", "error versus reject").
        dataset: the data it was measured on, with its provenance ("tinyface layout, synthetic").
        model: the model ("small_vlr_net, ArcFace + L_ID + L_MSE + L_L1").
        n: the sample size, with its unit ("n = 220 mated probes").
        width: the width the title may take, in inches (the figure's).
        fontsize: the title's font size, in points.
    """
    characters = max(20, int(width * 72.0 / (0.6 * fontsize)))  # a glyph is ~0.55 em wide on average
    # n stays on one line (no-break spaces: textwrap breaks at ASCII whitespace only)
    detail = textwrap.fill(f"{dataset}; {model}; {n.replace(' ', chr(0xA0))}", characters)
    return f"{textwrap.fill(what, characters)}\n{detail}"


def fmr_text(value: float) -> str:
    """A false-match rate as the figures and the printed tables write it: ``1e-2``, ``5e-4``, ``0.3``."""
    if value >= 0.1 or value <= 0:
        return f"{value:g}"
    mantissa, exponent = f"{value:e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def integer_ticks(axis: Any) -> None:
    """Ticks at integers only on a matplotlib ``axis`` (``ax.xaxis``): ranks, epochs."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def wilson_interval(rates: Sequence[float], n: int, z: float = 1.959964) -> tuple[list[float], list[float]]:
    """The Wilson score interval (95 % by default) of each rate measured on ``n`` trials: (lower, upper).

    With ``n`` < 1 there is no interval: both bounds are the rates themselves.
    """
    if n < 1:
        return list(rates), list(rates)
    lower, upper = [], []
    for p in rates:
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(max(p * (1 - p) / n + z * z / (4 * n * n), 0.0)) / (1 + z * z / n)
        lower.append(max(0.0, centre - half))
        upper.append(min(1.0, centre + half))
    return lower, upper


def check_vector_formats(vector: Iterable[str]) -> tuple[str, ...]:
    """``vector`` as a tuple of formats of :data:`VECTOR_FORMATS`, each once.

    Raises:
        ValueError: a format that is not "pdf" or "svg", naming it.
    """
    formats: list[str] = []
    for item in (vector,) if isinstance(vector, str) else vector:
        if item not in VECTOR_FORMATS:
            raise ValueError(f"expected vector formats from {list(VECTOR_FORMATS)}, got {item!r}")
        if item not in formats:
            formats.append(item)
    return tuple(formats)


def figure_files(folder: str | Path, names: Iterable[str], vector: Iterable[str] = ()) -> list[Path]:
    """The files :func:`save_figure` writes in ``folder`` for the PNG ``names``: each PNG and its copies in
    the formats of ``vector`` (what a command checks with ``check_new_output`` before drawing)."""
    formats = check_vector_formats(vector)
    suffixes = ("png", *formats)
    return [Path(folder) / Path(name).with_suffix(f".{suffix}") for name in names for suffix in suffixes]


def save_figure(fig: Any, path: str | Path, *, vector: Iterable[str] = ()) -> list[Path]:
    """Write ``fig`` to ``path`` (a ``.png``) and, for each format of ``vector``, beside it with that suffix;
    each file atomically. Closes the figure. Returns the paths written, the PNG first."""
    formats = check_vector_formats(vector)
    png = Path(path)
    if png.suffix != ".png":
        raise ValueError(f"expected a .png path for the figure, got {str(png)!r}")
    plt = pyplot()
    written = []
    try:
        for suffix in ("png", *formats):
            target = png.with_suffix(f".{suffix}")
            options: dict[str, Any] = {"format": suffix}
            if suffix == "png":
                options["dpi"] = PNG_DPI
            else:
                # no creation date: the same figure gives the same bytes
                options["metadata"] = {"CreationDate": None} if suffix == "pdf" else {"Date": None}

            def write(handle: IO[bytes], options: dict[str, Any] = options) -> None:
                fig.savefig(handle, **options)

            write_atomically(target, write, shared=True)
            written.append(target)
    finally:
        plt.close(fig)
    return written
