"""Generator version 2: 3-D faces rendered deterministically, batch-independent, with pose, expression and
occluders recorded in the metadata."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from recognizability.data.synthetic import (
    GENERATOR_VERSION,
    IMAGE_COLUMNS,
    METADATA_COLUMNS,
    DegradationParameters,
    ParameterTable,
    generate,
    render_batch,
    render_faces,
)
from recognizability.data.synthetic.identities import IDENTITY_SCHEMA, identity_rng, sample_identity
from recognizability.data.synthetic.variation import VARIATION_SCHEMA, sample_variation


def tables(count: int, occlusion_probability: float = 0.5) -> tuple[ParameterTable, ParameterTable]:
    identities = [sample_identity(identity_rng(0, 99, i // 2)) for i in range(count)]
    variations = [
        sample_variation(identity_rng(0, 98, i), occlusion_probability=occlusion_probability)
        for i in range(count)
    ]
    return (
        ParameterTable.from_rows(identities, IDENTITY_SCHEMA),
        ParameterTable.from_rows(variations, VARIATION_SCHEMA),
    )


def rows(root: Path) -> list[dict[str, str]]:
    with (root / "synthetic_metadata.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_version_is_2_and_every_tree_names_it(tmp_path: Path) -> None:
    assert GENERATOR_VERSION == 2
    root = generate("ui", tmp_path / "ui", seed=0, face_images=1, nonface_images=1)
    assert "generator version: 2" in (root / "SYNTHETIC.txt").read_text().splitlines()


def test_renders_are_deterministic_and_independent_of_the_batch() -> None:
    identities, variations = tables(6)
    first, occluded = render_batch(identities, variations, 48)
    again, occluded_again = render_batch(identities, variations, 48)
    assert first.shape == (6, 48, 48, 3) and first.dtype == np.float32
    assert np.array_equal(first, again) and np.array_equal(occluded, occluded_again)
    assert 0.0 <= first.min() and first.max() <= 1.0
    for i in range(6):  # an image does not depend on the others in its batch
        one = ParameterTable(identities.values[i : i + 1], identities.schema)
        other = ParameterTable(variations.values[i : i + 1], variations.schema)
        assert np.array_equal(render_faces(one, other, 48)[0], first[i])


def test_an_identity_keeps_its_face_and_images_vary() -> None:
    identities, variations = tables(2, occlusion_probability=0.0)  # one identity, two images
    assert np.array_equal(identities.values[0], identities.values[1])
    images = render_faces(identities, variations, 48)
    assert np.abs(images[0] - images[1]).mean() > 0.01


def test_metadata_records_pose_expression_and_occluders(tmp_path: Path) -> None:
    assert METADATA_COLUMNS[-len(IMAGE_COLUMNS) :] == IMAGE_COLUMNS
    assert METADATA_COLUMNS[4 : 4 + len(DegradationParameters.column_names())] == (
        DegradationParameters.column_names()
    )
    root = generate("hr", tmp_path / "hr", seed=0, identities=20, images_per_identity=6, image_size=16)
    table = rows(root)
    yaw = np.array([float(r["yaw"]) for r in table])
    pitch = np.array([float(r["pitch"]) for r in table])
    roll = np.array([float(r["roll"]) for r in table])
    assert np.abs(yaw).max() <= 60.0 and np.abs(pitch).max() <= 20.0 and np.abs(roll).max() <= 15.0
    assert np.abs(yaw).max() > 25.0 and np.abs(yaw).mean() < 20.0  # mostly near frontal, some turned
    for column in ("hat", "mask", "hand", "glasses"):
        assert {r[column] for r in table} <= {"0", "1", "2"}
    occluded = [r for r in table if "1" in (r["hat"], r["mask"], r["hand"])]
    assert occluded and all(
        r["hat"] == "0" and r["mask"] == "0" and r["hand"] == "0" for r in table if r not in occluded
    )
    assert np.mean([float(r["occlusion"]) > 0 for r in occluded]) > 0.5
    assert all(float(r["occlusion"]) == 0.0 for r in table if r not in occluded and r["glasses"] != "2")
    smiles = [float(r["smile"]) for r in table]
    assert 0.0 in smiles and max(smiles) > 0.3
    assert all(0.0 <= float(r["eye_open"]) <= 1.0 for r in table)


def test_mugshots_are_frontal_and_neutral(tmp_path: Path) -> None:
    root = generate("scface", tmp_path / "sc", seed=0, subjects=2, cameras=1)
    mugshots = [r for r in rows(root) if r["path"].startswith("mugshot")]
    assert len(mugshots) == 2
    for row in mugshots:
        assert float(row["yaw"]) == float(row["pitch"]) == float(row["roll"]) == 0.0
        assert float(row["smile"]) == float(row["mouth_open"]) == 0.0
        assert row["hat"] == row["mask"] == row["hand"] == "0"


@pytest.mark.parametrize("size", [8, 33])
def test_render_sizes(size: int) -> None:
    identities, variations = tables(1)
    assert render_faces(identities, variations, size).shape == (1, size, size, 3)


def test_render_bad_input() -> None:
    identities, variations = tables(2)
    with pytest.raises(ValueError, match="size"):
        render_faces(identities, variations, 4)
    with pytest.raises(ValueError, match="as many variations as identities"):
        render_faces(identities, ParameterTable(variations.values[:1], variations.schema))
    with pytest.raises(ValueError, match="IDENTITY_SCHEMA"):
        render_faces(variations, identities)
