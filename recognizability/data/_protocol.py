"""Shared steps of the readers: natural identity order, identity folders, and .mat-listed image folders."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from ._images import BROKEN_LINK, NOT_A_FILE, NOT_AN_IMAGE, is_image_file, walk_files
from ._mat import MatFormatError
from .records import ReadReport

__all__ = ["check_bijection", "identity_sort_key", "list_identity_folders", "match_listed_files"]


def identity_sort_key(name: str) -> tuple[int, int, str]:
    """Sort key putting numeric names in numeric order ("2" < "10") before any non-numeric name."""
    return (0, int(name), name) if name.isdigit() else (1, 0, name)


def list_identity_folders(folder: Path, report: ReadReport) -> list[tuple[str, list[Path]]]:
    """(identity name, sorted image files) per identity sub-folder of ``folder``, in natural identity order.

    Files lying directly in ``folder``, non-image files and identity folders holding no image are counted as
    excluded in ``report``. Identity folders are walked recursively, following symbolic links
    (:func:`walk_files`).
    """
    if not folder.is_dir():
        raise FileNotFoundError(
            f"expected the identity folder {folder} (one sub-folder per identity); it does not exist"
        )
    identities: list[tuple[str, list[Path]]] = []
    for entry in sorted(folder.iterdir(), key=lambda p: identity_sort_key(p.name)):
        if not entry.is_dir():
            if entry.is_file():
                report.exclude("file outside an identity folder", entry)
            else:
                report.exclude(BROKEN_LINK if entry.is_symlink() else NOT_A_FILE, entry)
            continue
        images: list[Path] = []
        for path in walk_files(entry, report):
            if is_image_file(path):
                images.append(path)
            else:
                report.exclude(NOT_AN_IMAGE, path)
        if images:
            identities.append((entry.name, images))
        else:
            report.exclude("identity folder with no image (no label given to it)", entry)
    if not identities:
        raise FileNotFoundError(f"expected identity sub-folders holding images in {folder}; found none")
    return identities


def match_listed_files(folder: Path, names: Sequence[str], mat_path: Path, report: ReadReport) -> list[Path]:
    """The files of ``folder`` listed by name in ``mat_path``, in the .mat order.

    Names are matched case-insensitively (``x.jpg`` finds ``x.JPG``). A listed name with no file is an error
    (the tree is incomplete); a file on disk that the .mat does not list is counted as excluded in ``report``.
    """
    if not folder.is_dir():
        raise FileNotFoundError(
            f"expected the image folder {folder} (listed by {mat_path.name}); it does not exist"
        )
    on_disk: dict[str, Path] = {}
    for path in walk_files(folder, report):
        on_disk.setdefault(path.relative_to(folder).as_posix().lower(), path)
    listed: list[Path] = []
    missing: list[str] = []
    for name in names:
        key = name.replace("\\", "/").lower()
        if key in on_disk:
            listed.append(on_disk.pop(key))
        else:
            missing.append(name)
    if missing:
        shown = ", ".join(repr(name) for name in missing[:5])
        raise FileNotFoundError(
            f"{len(missing)} of {len(names)} images listed in {mat_path} are missing from {folder}, "
            f"e.g. {shown}"
        )
    for path in on_disk.values():
        reason = f"not listed in {mat_path.name}" if is_image_file(path) else NOT_AN_IMAGE
        report.exclude(reason, path)
    return listed


def check_bijection(pairs: Iterable[tuple[str, int]], what: str) -> None:
    """Check that file-name identities and .mat ids relabel each other one-to-one (else MatFormatError)."""
    id_of: dict[str, int] = {}
    name_of: dict[int, str] = {}
    conflicts: list[str] = []
    for person, mat_id in pairs:
        if id_of.setdefault(person, mat_id) != mat_id:
            conflicts.append(f"identity {person!r} has ids {id_of[person]} and {mat_id}")
        if name_of.setdefault(mat_id, person) != person:
            conflicts.append(f"id {mat_id} is given to identities {name_of[mat_id]!r} and {person!r}")
        if len(conflicts) >= 5:
            break
    if conflicts:
        raise MatFormatError(
            f"{what}: expected the .mat ids to relabel the file-name identities one-to-one, but "
            + "; ".join(conflicts)
        )
