"""Helpers for the protocol .mat files of TinyFace and QMUL-SurvFace, read with ``scipy.io.loadmat``.

MATLAB cell arrays of file names come back from ``loadmat`` as object arrays whose elements are 1-element
string arrays, so a name of an (N, 1) cell is ``x[i][0][0]`` (the convention of the public evaluation code).
Id vectors are numeric arrays of shape (N, 1) or (1, N). Variable names that vary between copies are accepted
from a list of candidates; anything else fails with a message naming the file, the variables expected and the
variables found.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io

__all__ = ["MatFormatError", "find_variable", "load_mat", "locate_file", "read_id_vector", "read_name_cells"]


class MatFormatError(ValueError):
    """A protocol .mat file exists but does not hold what the protocol says it holds."""


def locate_file(name: str, folders: Sequence[Path], what: str) -> Path:
    """The first ``folder / name`` that exists; otherwise FileNotFoundError naming every place searched."""
    for folder in folders:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    searched = ", ".join(str(folder / name) for folder in folders)
    raise FileNotFoundError(f"{what}: expected the file {name!r} in one of: {searched}; none exists")


def load_mat(path: Path) -> dict[str, Any]:
    """``scipy.io.loadmat(path)`` without the ``__header__``-style entries, with errors that name the file.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        MatFormatError: the file is empty, truncated, not a .mat file, or MATLAB v7.3 (HDF5).
    """
    if not path.is_file():
        raise FileNotFoundError(f"expected a MATLAB .mat file at {path}; it does not exist")
    expected = "expected a MATLAB v5/v7 .mat file"
    if path.stat().st_size == 0:
        raise MatFormatError(f"could not read {path}: {expected}, got an empty file (0 bytes)")
    try:
        content: dict[str, Any] = scipy.io.loadmat(str(path))
    except NotImplementedError as error:  # MATLAB v7.3 files are HDF5, which scipy does not read
        raise MatFormatError(
            f"{path} is a MATLAB v7.3 (HDF5) file, which scipy.io.loadmat cannot read; "
            "re-save it with save(..., '-v7') in MATLAB/Octave"
        ) from error
    except Exception as error:  # scipy raises ValueError, TypeError, IndexError... on a malformed file
        raise MatFormatError(
            f"could not read {path}: {expected}, got a file scipy.io.loadmat cannot read "
            f"(truncated, corrupt or another format?): {error}"
        ) from error
    return {key: value for key, value in content.items() if not key.startswith("__")}


def find_variable(content: dict[str, Any], candidates: Sequence[str], path: Path) -> tuple[str, Any]:
    """The first of ``candidates`` present in ``content``, as (name, value); MatFormatError otherwise."""
    for name in candidates:
        if name in content:
            return name, content[name]
    expected = " or ".join(repr(name) for name in candidates)
    found = ", ".join(repr(name) for name in sorted(content)) or "none"
    raise MatFormatError(f"{path}: expected a variable named {expected}, found variables: {found}")


def _cell_to_str(cell: Any, path: Path, variable: str, index: tuple[int, ...]) -> str:
    value = cell
    # Unwrap the 1-element arrays loadmat wraps cell contents in, down to the string.
    while isinstance(value, np.ndarray):
        if value.size != 1:
            raise MatFormatError(
                f"{path}: variable {variable!r} entry {index} should hold one file name, "
                f"got an array of shape {value.shape}"
            )
        value = value.reshape(-1)[0]
    if not isinstance(value, str):
        raise MatFormatError(
            f"{path}: variable {variable!r} entry {index} should be a file name (string), "
            f"got {type(value).__name__}"
        )
    return value.strip()


def read_name_cells(value: Any, path: Path, variable: str, columns: int = 1) -> list[tuple[str, ...]]:
    """Rows of an N x ``columns`` cell array of file names, e.g. (N, 1) -> [(name,), ...], in file order."""
    if not isinstance(value, np.ndarray) or value.dtype != object:
        raise MatFormatError(
            f"{path}: variable {variable!r} should be a cell array of file names, got "
            f"{type(value).__name__} with dtype {getattr(value, 'dtype', None)}"
        )
    array = value
    if columns == 1 and array.ndim == 2 and array.shape[0] == 1 and array.shape[1] != 1:
        array = array.T  # a 1 x N cell holds the same list as an N x 1 one
    if array.ndim != 2 or array.shape[1] != columns:
        raise MatFormatError(
            f"{path}: variable {variable!r} should be an N x {columns} cell array, got shape {value.shape}"
        )
    return [
        tuple(_cell_to_str(array[i][j], path, variable, (i, j)) for j in range(columns))
        for i in range(array.shape[0])
    ]


def read_id_vector(value: Any, path: Path, variable: str) -> list[int]:
    """An N x 1 (or 1 x N) numeric id vector as a list of ints; MatFormatError for anything else."""
    if not isinstance(value, np.ndarray) or value.dtype == object or value.dtype.kind not in "iuf":
        raise MatFormatError(
            f"{path}: variable {variable!r} should be a numeric id vector, got {type(value).__name__} "
            f"with dtype {getattr(value, 'dtype', None)}"
        )
    if value.ndim > 2 or (value.ndim == 2 and min(value.shape) > 1):
        raise MatFormatError(
            f"{path}: variable {variable!r} should be an N x 1 id vector, got shape {value.shape}"
        )
    flat = value.reshape(-1)
    if flat.dtype.kind == "f" and not np.all(flat == np.round(flat)):
        raise MatFormatError(
            f"{path}: variable {variable!r} should hold integer ids, found non-integer values"
        )
    return [int(v) for v in flat]


#: One protocol listing: the .mat file read, its image names, and their ids (same order).
ProtocolListing = tuple[Path, list[str], list[int]]


def read_protocol_listings(
    mat_files: Mapping[str, tuple[str, Sequence[str], Sequence[str], str]],
    folders: Sequence[Path],
    dataset: str,
) -> dict[str, ProtocolListing]:
    """Read the name/id pairs of every protocol .mat file of a dataset (TinyFace, QMUL-SurvFace).

    Args:
        mat_files: ``part -> (file name, candidate name variables, candidate id variables, image folder)``.
        folders: where the .mat files may be, searched in order.
        dataset: the dataset's name, for messages.

    Returns:
        ``part -> (.mat path, names, ids)``; fails with a message naming the file and variable when a file is
        missing, a variable absent or malformed, or the names and ids differ in number.
    """
    listings: dict[str, ProtocolListing] = {}
    for part, (file_name, name_vars, id_vars, _) in mat_files.items():
        mat_path = locate_file(file_name, folders, f"{dataset} {part} protocol")
        content = load_mat(mat_path)
        name_var, names_value = find_variable(content, name_vars, mat_path)
        id_var, ids_value = find_variable(content, id_vars, mat_path)
        names = [row[0] for row in read_name_cells(names_value, mat_path, name_var)]
        ids = read_id_vector(ids_value, mat_path, id_var)
        if len(names) != len(ids):
            raise ValueError(
                f"{mat_path}: expected as many ids as names, got {len(names)} names in {name_var!r} "
                f"and {len(ids)} ids in {id_var!r}"
            )
        listings[part] = (mat_path, names, ids)
    return listings
