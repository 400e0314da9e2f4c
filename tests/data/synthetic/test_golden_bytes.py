"""Existing seeds keep producing the same bytes: each layout's tiny tree hashed against a recorded digest.

The digests belong to generator version 2 (3-D faces, camera model with JPEG); version 1's flat faces had
others. A change to them means every synthetic figure recorded with this version would no longer be
reproducible from its seed: such a change must come with a new ``GENERATOR_VERSION`` (which also changes the
generation cache's keys) and new digests here. ``SYNTHETIC.txt`` is left out of the digest because it names
the package version; ``test_generate.py`` checks it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from recognizability.data.synthetic import GENERATOR_VERSION, generate
from tests.helpers.synthetic_sizes import TINY

SIZES = {**TINY, "hr": dict(identities=2, images_per_identity=2, image_size=16)}
GOLDEN = {
    "hr": "1048abbc5223ffeb114643adb4f41cb0a4c46c2eeafdd9a3676d5ff4f8ad18b4",
    "scface": "5245d6410425fdf2c15bec37e6f9f6768f73befca949d2043611b88a8734236f",
    "survface": "003017e67b2ac8d7c513f0579f6866588178766fd1679f8d9828c89cee5f1632",
    "tinyface": "898c828c4735f34575d5060aaa8a752f7ae60a132cb83fb70bf78c2e56738710",
    "ui": "7ceb796df124a62c79482d3b44b15cec9c76035af5a357009427bc7e0968ee7b",
}


def tree_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name != "SYNTHETIC.txt":
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.mark.parametrize("layout", sorted(GOLDEN))
def test_seed_5_bytes_unchanged(tmp_path: Path, layout: str) -> None:
    assert GENERATOR_VERSION == 2, "new generator version: record its digests"
    root = generate(layout, tmp_path / layout, seed=5, **SIZES[layout])
    assert tree_hash(root) == GOLDEN[layout]
