"""Generate a synthetic tree once into a cache folder and reuse it.

Runs that do not name a dataset tree use the synthetic stand-in of their benchmark; :func:`generate_cached`
writes it once per (layout, seed, generator version, resolved sizes) under ``cache_dir() / "synthetic"`` and
returns the same folder on every later call. The folder name carries :data:`GENERATOR_VERSION` and a digest
of every resolved size, so a tree written by another version of the generator or with other sizes (other
defaults included) is never mistaken for the one asked for. The tree is written to a temporary sibling and
moved into place with ``os.replace``, so an interrupted run never leaves a partial tree under the final name,
and two processes racing for the same tree both end with a complete one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

from ..._validation import check_choice, check_positive_int
from ..metadata import is_synthetic_tree
from .sizes import LAYOUT_SIZES, sizes_for
from .version import GENERATOR_VERSION

__all__ = ["CACHE_ENV", "cache_dir", "cached_tree_path", "generate_cached"]

#: Environment variable naming the cache folder.
CACHE_ENV = "RECOGNIZABILITY_CACHE"


def cache_dir() -> Path:
    """``$RECOGNIZABILITY_CACHE`` or ``~/.cache/recognizability``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "recognizability"


def cached_tree_path(
    layout: str,
    seed: int,
    sizes: Mapping[str, int] | None = None,
    cache: str | os.PathLike[str] | None = None,
    scale: str = "small",
) -> Path:
    """Where :func:`generate_cached` keeps the tree (nothing is written):
    ``<cache>/synthetic/<layout>-seed<seed>-gen<GENERATOR_VERSION>-<digest of the resolved sizes>``.

    Raises:
        ValueError, TypeError: as :func:`generate_cached`.
    """
    check_choice(layout, "layout", tuple(LAYOUT_SIZES))
    check_positive_int(seed, "seed", minimum=0)
    if sizes is not None and not isinstance(sizes, Mapping):
        raise TypeError(f"expected sizes to be a mapping of size names to ints, got {type(sizes).__name__}")
    if cache is not None and not isinstance(cache, (str, os.PathLike)):
        raise TypeError(f"expected cache to be a path (str or os.PathLike), got {type(cache).__name__}")
    resolved = dataclasses.asdict(sizes_for(layout, scale, **dict(sizes or {})))
    digest = hashlib.sha256(repr(sorted(resolved.items())).encode()).hexdigest()[:10]
    folder = Path(cache) if cache is not None else cache_dir()
    return folder / "synthetic" / f"{layout}-seed{seed}-gen{GENERATOR_VERSION}-{digest}"


def generate_cached(
    layout: str,
    seed: int,
    sizes: Mapping[str, int] | None = None,
    cache: str | os.PathLike[str] | None = None,
    scale: str = "small",
) -> Path:
    """The synthetic ``layout`` tree of ``seed`` at preset ``scale`` with ``sizes`` overridden: generated
    into the cache on first use (without a UI set), reused afterwards.

    Args:
        layout: a layout of :func:`generate`.
        seed: non-negative int.
        sizes: overrides of the layout's size fields (None: the preset's).
        cache: cache folder (None: :func:`cache_dir`).
        scale: a size preset of the layout.

    Returns:
        The tree's root (see :func:`cached_tree_path`).

    Every argument is checked before anything is written.

    Raises:
        ValueError: unknown layout or preset, bad seed or sizes.
        TypeError: an unknown size name, ``sizes`` not a mapping, ``cache`` not a path.
    """
    from . import generate  # the package's entry point (imported here: it imports this module)

    target = cached_tree_path(layout, seed, sizes, cache, scale)
    if is_synthetic_tree(target):
        return target
    overrides: dict[str, int] = dict(sizes or {})
    try:  # generate stages the tree beside the target and moves it into place (stale stages it removes)
        generate(layout, target, seed, scale, with_ui=False, overwrite=False, workers=1, **overrides)
    except OSError:  # FileExistsError included
        if not is_synthetic_tree(target):  # not a race lost to another process
            raise
    return target
