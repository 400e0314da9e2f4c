"""The embedded synthetic benchmark: procedural very-low-resolution faces in the real datasets' layouts.

A stand-in, not a substitute: every figure obtained on it must be reported as *synthetic* and never compared
with the paper's tables. See ``docs/synthetic.md``.

Example::

    from recognizability.data.synthetic import generate
    root = generate("tinyface", "data/tinyface_synthetic", seed=0, with_ui=True)  # + root / "UI"

    # the same from a shell:
    # python -m recognizability.data.synthetic --layout tinyface --out data/tinyface_synthetic --with-ui
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .degrade import HARD_THRESHOLD, DegradationParameters, degrade_images, sample_degradation, severity
from .identities import ParameterTable, sample_identities, sample_variation
from .layouts import (
    METADATA_COLUMNS,
    METADATA_FILENAME,
    PROVENANCE_FILENAME,
    SCFACE_DISTANCE_LEVELS,
    write_scface,
    write_survface,
    write_tinyface,
    write_ui,
)
from .png import encode_png, write_png
from .render import RENDER_SIZE, render_faces
from .sizes import LAYOUT_SIZES, SCFaceSizes, SurvFaceSizes, TinyFaceSizes, UISizes, sizes_for

__all__ = [
    "HARD_THRESHOLD",
    "LAYOUTS",
    "METADATA_COLUMNS",
    "METADATA_FILENAME",
    "PROVENANCE_FILENAME",
    "RENDER_SIZE",
    "SCFACE_DISTANCE_LEVELS",
    "UI_FOLDER",
    "DegradationParameters",
    "ParameterTable",
    "SCFaceSizes",
    "SurvFaceSizes",
    "TinyFaceSizes",
    "UISizes",
    "degrade_images",
    "encode_png",
    "generate",
    "render_faces",
    "sample_degradation",
    "sample_identities",
    "sample_variation",
    "severity",
    "sizes_for",
    "write_png",
]

#: Layout names accepted by :func:`generate`.
LAYOUTS: tuple[str, ...] = tuple(LAYOUT_SIZES)
#: Folder, inside a dataset tree, that ``generate(..., with_ui=True)`` writes the UI set to.
UI_FOLDER = "UI"

_WRITERS = {"tinyface": write_tinyface, "scface": write_scface, "survface": write_survface, "ui": write_ui}


def generate(
    layout: str,
    out_dir: str | Path,
    seed: int = 0,
    scale: str = "small",
    *,
    with_ui: bool = False,
    overwrite: bool = False,
    **sizes: int,
) -> Path:
    """Write a synthetic tree in ``layout`` to ``out_dir`` and return ``out_dir`` as a Path.

    Args:
        layout: "tinyface", "scface", "survface" or "ui".
        out_dir: root of the tree (created; must be absent or empty unless ``overwrite``).
        seed: non-negative int; the same seed and sizes give byte-identical files.
        scale: "small" (seconds on 2 CPU cores) or "full" (the real dataset's sizes).
        with_ui: also write a UI set (same seed and scale; its identities appear nowhere else) to
            ``out_dir / "UI"``, a tree of its own with its own metadata and provenance files. Not allowed for
            ``layout="ui"``.
        overwrite: replace ``out_dir`` if it holds an earlier synthetic tree (``SYNTHETIC.txt`` at its root);
        a
            non-empty folder without that file is never deleted.
        **sizes: overrides of the layout's size fields (:class:`TinyFaceSizes`, :class:`SCFaceSizes`,
            :class:`SurvFaceSizes`, :class:`UISizes`).

    Returns:
        ``Path(out_dir)``.
    """
    if layout not in _WRITERS:
        raise ValueError(f"expected layout in {list(LAYOUTS)}, got {layout!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"expected seed to be a non-negative int, got {seed!r}")
    if with_ui and layout == "ui":
        raise ValueError(
            "expected with_ui=False for layout='ui' (the tree is already a UI set), got with_ui=True"
        )
    chosen = sizes_for(layout, scale, **sizes)
    root = Path(out_dir)
    if root.exists():
        if not root.is_dir():
            raise ValueError(f"expected out_dir to be a directory or absent, got the file {root}")
        if any(root.iterdir()):
            if not overwrite:
                raise FileExistsError(
                    f"expected out_dir empty or absent, got non-empty {root} (pass overwrite=True)"
                )
            if not (root / PROVENANCE_FILENAME).is_file():
                raise FileExistsError(
                    f"refusing to overwrite {root}: expected a synthetic tree with {PROVENANCE_FILENAME}, "
                    "found none"
                )
            shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    _WRITERS[layout](root, seed, chosen)  # type: ignore[operator]
    if with_ui:
        ui_root = root / UI_FOLDER
        ui_root.mkdir()
        write_ui(ui_root, seed, sizes_for("ui", scale))
    return root
