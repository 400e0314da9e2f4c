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
    "hr": "a2af91f3bbee914800fb9e1edf2df08c73b4a23f00c877fa421b1d0e9f9d054f",
    "scface": "9fe188cdf08e718ac2e100d312bf3a9a466ba62b68e6af284d488059fae849a3",
    "survface": "878d1ed6d3797f17233126c75991c127e5bb53b0367aa717846c9c6adbc95fc3",
    "tinyface": "95d162dd86b15838ca8fe71a96ba9f480d2ac1218e634666a7b702cae53cfee1",
    "ui": "88071783d6ea37a11974ee6c10cb8c55914667a0f2d289c7dc971dbb65903a3d",
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
