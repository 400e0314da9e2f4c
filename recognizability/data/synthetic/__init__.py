"""The embedded synthetic benchmark: procedural very-low-resolution faces in the real datasets' layouts.

A stand-in, not a substitute: every figure obtained on it must be reported as *synthetic* and never compared
with the paper's tables. See ``docs/synthetic.md``.

Example::

    from recognizability.data.synthetic import generate
    root = generate("tinyface", "data/tinyface_synthetic", seed=0, with_ui=True)  # + root / "UI"
    hr = generate("hr", "data/hr_synthetic", seed=0)  # clean faces for pretraining: <identity>/<k>.png

    # the same from a shell:
    # python -m recognizability.data.synthetic --layout tinyface --out data/tinyface_synthetic --with-ui
"""

from __future__ import annotations

import csv
import os
import secrets
import shutil
from pathlib import Path

from ..._validation import check_choice, check_positive_int
from ..metadata import METADATA_FILENAME, SYNTHETIC_MARKER
from .cache import cache_dir, cached_tree_path, generate_cached
from .camera import degrade_images
from .degrade import HARD_THRESHOLD, DegradationParameters, sample_degradation, severity
from .identities import ParameterTable, sample_identities
from .layouts import (
    HR_OCCLUSION_PROBABILITY,
    IMAGE_COLUMNS,
    METADATA_COLUMNS,
    PROVENANCE_FILENAME,
    SCFACE_DISTANCE_LEVELS,
    hr_identity_name,
    write_hr,
    write_scface,
    write_survface,
    write_tinyface,
    write_ui,
)
from .png import encode_png, write_png
from .render import RENDER_SIZE, render_batch, render_faces
from .sizes import (
    LAYOUT_SIZES,
    PRESETS,
    HRSizes,
    SCFaceSizes,
    SurvFaceSizes,
    TinyFaceSizes,
    UISizes,
    presets_of,
    sizes_for,
)
from .variation import sample_variation
from .version import GENERATOR_VERSION

__all__ = [
    "GENERATOR_VERSION",
    "HARD_THRESHOLD",
    "HR_OCCLUSION_PROBABILITY",
    "IMAGE_COLUMNS",
    "LAYOUTS",
    "METADATA_COLUMNS",
    "METADATA_FILENAME",
    "PRESETS",
    "PROVENANCE_FILENAME",
    "RENDER_SIZE",
    "SCFACE_DISTANCE_LEVELS",
    "SYNTHETIC_MARKER",
    "UI_FOLDER",
    "DegradationParameters",
    "HRSizes",
    "ParameterTable",
    "SCFaceSizes",
    "SurvFaceSizes",
    "TinyFaceSizes",
    "UISizes",
    "cache_dir",
    "cached_tree_path",
    "degrade_images",
    "encode_png",
    "generate",
    "generate_cached",
    "hr_identity_name",
    "presets_of",
    "render_batch",
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

_WRITERS = {
    "tinyface": write_tinyface,
    "scface": write_scface,
    "survface": write_survface,
    "ui": write_ui,
    "hr": write_hr,
}
#: Infix of the temporary sibling folder a tree is written to before it is moved into place.
_PARTIAL = ".partial-"
#: Names of the protocol .mat files the writers produce (any folder of a tree).
_MAT_SUFFIXES = ("_img_ID_pairs.mat", "_pairs_names.mat")


def generate(
    layout: str,
    out_dir: str | os.PathLike[str],
    seed: int = 0,
    scale: str = "small",
    *,
    with_ui: bool = False,
    overwrite: bool = False,
    workers: int = 1,
    **sizes: int,
) -> Path:
    """Write a synthetic tree in ``layout`` to ``out_dir`` and return ``out_dir`` as a Path.

    Args:
        layout: "tinyface", "scface", "survface", "ui" or "hr" (clean high-resolution faces for pretraining,
            ``<identity>/<k>.png``).
        out_dir: root of the tree (created with its parents; must be absent or an empty folder unless
            ``overwrite``; never a symbolic link).
        seed: non-negative int; the same seed and sizes give byte-identical files.
        scale: a size preset of the layout (:data:`PRESETS`): "small" (seconds on 2 CPU cores) and "full"
            (the real dataset's sizes) for every layout, "evidence" for "tinyface", "gpu" for "hr".
        with_ui: also write a UI set (its identities appear nowhere else) to ``out_dir / "UI"``, a tree of
            its own with its own metadata and provenance files, at the same ``scale`` when the UI layout has
            that preset and at "small" otherwise. Not allowed for ``layout="ui"`` nor ``"hr"`` (whose
            sub-folders are identities).
        overwrite: replace ``out_dir`` if it holds an earlier synthetic tree (``SYNTHETIC.txt`` at its root)
            and nothing else: a folder without that file, or holding files the generator did not write, is
            never deleted.
        workers: processes that render (1: this one). The files are byte-identical for any number; more
            workers pay off for large trees (the ``gpu`` and ``full`` presets).
        **sizes: overrides of the layout's size fields (:class:`TinyFaceSizes`, :class:`SCFaceSizes`,
            :class:`SurvFaceSizes`, :class:`UISizes`, :class:`HRSizes`).

    Returns:
        ``Path(out_dir)``.

    Every argument is checked before anything is written. The tree is written to a temporary sibling folder
    (``.<name>.partial-*``) and moved into place when complete, so a call that fails or is interrupted leaves
    ``out_dir`` as it was (an earlier tree it was asked to replace included); a sibling left by a killed run
    is removed by the next call for the same ``out_dir``.

    Raises:
        ValueError: unknown layout or preset, bad seed, workers or sizes, sizes whose tree a reader would
            refuse, ``with_ui`` for "ui" or "hr".
        TypeError: an unknown size name, or ``out_dir`` not a path.
        FileExistsError: ``out_dir`` is a file, a symbolic link, non-empty without ``overwrite``, or not a
            synthetic tree of the generator's files alone.
    """
    check_choice(layout, "layout", LAYOUTS)
    check_positive_int(seed, "seed", minimum=0)
    if with_ui and layout in ("ui", "hr"):
        what = "already a UI set" if layout == "ui" else "identity folders only"
        raise ValueError(
            f"expected with_ui=False for layout={layout!r} (the tree is {what}), got with_ui=True"
        )
    check_positive_int(workers, "workers")
    if not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError(f"expected out_dir to be a path (str or os.PathLike), got {type(out_dir).__name__}")
    chosen = sizes_for(layout, scale, **sizes)
    ui_sizes = sizes_for("ui", scale if scale in presets_of("ui") else "small") if with_ui else None
    root = Path(out_dir).expanduser().absolute()
    replace_existing = _check_target(root, overwrite)

    made = _make_parents(root.parent)
    _remove_stale_partials(root)
    partial = root.parent / f".{root.name}{_PARTIAL}{os.getpid()}-{secrets.token_hex(4)}"
    trash: Path | None = None
    try:
        partial.mkdir()
        _WRITERS[layout](partial, seed, chosen, workers)  # type: ignore[operator]
        if ui_sizes is not None:
            ui_root = partial / UI_FOLDER
            ui_root.mkdir()
            write_ui(ui_root, seed, ui_sizes, workers)
        if replace_existing:
            trash = root.parent / f".{root.name}.replaced-{os.getpid()}-{secrets.token_hex(4)}"
            os.replace(root, trash)
        elif root.exists():
            root.rmdir()  # empty (checked above)
        os.replace(partial, root)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        if trash is not None and not root.exists():
            os.replace(trash, root)  # put the earlier tree back
            trash = None
        for folder in reversed(made):
            try:
                folder.rmdir()
            except OSError:
                break
        raise
    if trash is not None:
        shutil.rmtree(trash)
    return Path(out_dir)


def _check_target(root: Path, overwrite: bool) -> bool:
    """Whether an existing tree at ``root`` is to be replaced; FileExistsError if it may not be touched."""
    if root.is_symlink():
        raise FileExistsError(
            f"expected out_dir to be a folder or absent, got the symbolic link {root} -> {os.readlink(root)} "
            "(pass its target instead)"
        )
    if not root.exists():
        return False
    if not root.is_dir():
        raise FileExistsError(f"expected out_dir to be a folder or absent, got the file {root}")
    if not any(root.iterdir()):
        return False
    if not overwrite:
        raise FileExistsError(f"expected out_dir empty or absent, got non-empty {root} (pass overwrite=True)")
    if not (root / SYNTHETIC_MARKER).is_file():
        raise FileExistsError(
            f"refusing to overwrite {root}: expected a synthetic tree with {SYNTHETIC_MARKER}, found none"
        )
    foreign = _foreign_files(root)
    if foreign:
        shown = ", ".join(str(path) for path in foreign[:3])
        raise FileExistsError(
            f"refusing to overwrite {root}: expected only the files the generator wrote, found "
            f"{len(foreign)} others, e.g. {shown} (move them, or delete the folder yourself)"
        )
    return True


def _foreign_files(root: Path) -> list[Path]:
    """Files and links under the synthetic tree ``root`` that the generator does not write (sorted)."""
    listed: set[str] = set()
    try:
        with (root / METADATA_FILENAME).open(newline="", encoding="utf-8") as handle:
            listed = {row.get("path", "") for row in csv.DictReader(handle)}
    except (OSError, UnicodeDecodeError, csv.Error):
        pass  # no readable table: every image then counts as foreign
    foreign: list[Path] = []
    ui_root = root / UI_FOLDER
    nested_ui = (ui_root / SYNTHETIC_MARKER).is_file() and not ui_root.is_symlink()
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if nested_ui and (path == ui_root or relative.startswith(f"{UI_FOLDER}/")):
            continue
        if path.is_symlink() or not (path.is_dir() or path.is_file()):
            foreign.append(path)
        elif path.is_file() and not (
            relative in listed
            or relative in (SYNTHETIC_MARKER, METADATA_FILENAME)
            or path.name.endswith(_MAT_SUFFIXES)
        ):
            foreign.append(path)
    if nested_ui:
        foreign += _foreign_files(ui_root)
    return foreign


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return the ones created, outermost first."""
    missing: list[Path] = []
    current = folder
    while not current.exists():
        missing.append(current)
        current = current.parent
    folder.mkdir(parents=True, exist_ok=True)
    return list(reversed(missing))


def _remove_stale_partials(root: Path) -> None:
    """Delete ``.<name>.partial-<pid>-*`` siblings of ``root`` left by runs whose process is gone."""
    prefix = f".{root.name}{_PARTIAL}"
    for sibling in root.parent.iterdir():  # not glob: the name may hold glob characters
        if not sibling.name.startswith(prefix):
            continue
        pid_text = sibling.name[len(prefix) :].split("-", 1)[0]
        if not sibling.is_dir() or sibling.is_symlink() or not pid_text.isdigit():
            continue
        if _process_alive(int(pid_text)):
            continue
        shutil.rmtree(sibling, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's) or cannot tell: leave it
    return True
