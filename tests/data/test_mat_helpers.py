"""Protocol .mat helpers and label rules: property tests against direct constructions."""

from __future__ import annotations

import pickle
import string
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recognizability.data import MatFormatError, TinyFace
from recognizability.data._mat import find_variable, load_mat, read_id_vector, read_name_cells
from recognizability.data._protocol import check_bijection, identity_sort_key
from tests.helpers.fake_trees import build_tinyface, cell_column

names = st.lists(
    st.text(alphabet=string.ascii_letters + string.digits + "_.", min_size=1, max_size=12), max_size=8
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(listed=names.filter(bool), row=st.booleans())
def test_cell_array_of_names_round_trips_through_savemat(
    tmp_path: Path, listed: list[str], row: bool
) -> None:
    path = tmp_path / "x.mat"
    cells = cell_column(listed)
    scipy.io.savemat(str(path), {"probe_set": cells.T if row else cells, "probe_ids": np.arange(len(listed))})
    content = load_mat(path)
    # The convention of the public evaluation code, x[i][0][0], on an N x 1 cell:
    if not row:
        assert [content["probe_set"][i][0][0] for i in range(len(listed))] == listed
    assert [r[0] for r in read_name_cells(content["probe_set"], path, "probe_set")] == listed
    assert read_id_vector(content["probe_ids"], path, "probe_ids") == list(range(len(listed)))


@given(st.lists(st.tuples(st.sampled_from("abcdef"), st.integers(0, 5)), max_size=20))
def test_bijection_check_agrees_with_a_direct_definition(pairs: list[tuple[str, int]]) -> None:
    one_to_one = all(
        (a == c) == (b == d) for a, b in pairs for c, d in pairs
    )  # same person <=> same id, over every two rows
    if one_to_one:
        check_bijection(pairs, "test")
    else:
        with pytest.raises(MatFormatError, match="one-to-one"):
            check_bijection(pairs, "test")


@given(st.lists(st.integers(0, 10**6), unique=True, max_size=30))
def test_numeric_identities_sort_numerically(values: list[int]) -> None:
    ordered = sorted((str(v) for v in values), key=identity_sort_key)
    assert ordered == [str(v) for v in sorted(values)]
    assert sorted(["b", "10", "a", "9"], key=identity_sort_key) == ["9", "10", "a", "b"]


def test_malformed_variables_fail_naming_file_and_variable(tmp_path: Path) -> None:
    path = tmp_path / "x.mat"
    scipy.io.savemat(
        str(path), {"numeric": np.ones((3, 1)), "pairs": cell_column(["a", "b"]), "frac": np.array([[1.5]])}
    )
    content = load_mat(path)
    with pytest.raises(
        MatFormatError, match=r"x\.mat: variable 'numeric' should be a cell array of file names"
    ):
        read_name_cells(content["numeric"], path, "numeric")
    with pytest.raises(MatFormatError, match=r"'pairs' should be an N x 2 cell array, got shape \(2, 1\)"):
        read_name_cells(content["pairs"], path, "pairs", columns=2)
    with pytest.raises(MatFormatError, match="'pairs' should be a numeric id vector"):
        read_id_vector(content["pairs"], path, "pairs")
    with pytest.raises(MatFormatError, match="integer ids"):
        read_id_vector(content["frac"], path, "frac")
    with pytest.raises(
        MatFormatError, match=r"expected a variable named 'a' or 'b', found variables: 'frac', "
    ):
        find_variable(content, ("a", "b"), path)
    (tmp_path / "bad.mat").write_bytes(b"not a mat file at all")
    with pytest.raises(MatFormatError, match=r"bad\.mat"):
        load_mat(tmp_path / "bad.mat")


def test_datasets_pickle_for_dataloader_workers(tmp_path: Path) -> None:
    data = TinyFace(build_tinyface(tmp_path / "t"), "gallery")
    clone = pickle.loads(pickle.dumps(data))
    assert clone.samples == data.samples and clone.report.to_dict() == data.report.to_dict()
