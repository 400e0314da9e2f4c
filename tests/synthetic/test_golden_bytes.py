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
from test_generate import TINY

from recognizability.data.synthetic import GENERATOR_VERSION, generate

SIZES = {**TINY, "hr": dict(identities=2, images_per_identity=2, image_size=16)}
GOLDEN = {
    "hr": "1048abbc5223ffeb114643adb4f41cb0a4c46c2eeafdd9a3676d5ff4f8ad18b4",
    "scface": "2f17def80a3d4d243407569cefae3274cbe79d8333c9acc54d9d4a2f58b0db7c",
    "survface": "533f5d3878d62f66c0f135a15d2954ee238f99b09f3ed8aa5061909da1d64904",
    "tinyface": "b1c548e425e0ffbe1cec6ad2629661ebdc9e122c9dfd07e6e3dd96177eaeffd9",
    "ui": "73c0b13fd491c4bf58af38043e5aeded304c8ffc088c82802e56d52929c6fca2",
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
