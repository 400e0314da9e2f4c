"""How many identities and images each synthetic layout holds: a ``small`` default and a ``full`` preset.

``small`` generates in seconds on 2 CPU cores and trains the CPU demo in minutes; ``full`` matches the real
datasets' sizes (``datasets.md``) for GPU runs. Every field can be overridden (``generate(...,
probe_images=500)``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar

__all__ = ["LAYOUT_SIZES", "SCFaceSizes", "SurvFaceSizes", "TinyFaceSizes", "UISizes", "sizes_for"]


@dataclass(frozen=True)
class _Sizes:
    """Common behaviour: validation of non-negative integers and the two presets."""

    _FULL: ClassVar[dict[str, int]] = {}

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"expected {f.name} to be a non-negative int, got {value!r}")
        self._check()

    def _check(self) -> None:
        """Layout-specific consistency checks."""

    def _need(self, ok: bool, what: str) -> None:
        if not ok:
            values = ", ".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))
            raise ValueError(f"{type(self).__name__}: expected {what}, got {values}")

    @classmethod
    def small(cls) -> Any:
        return cls()

    @classmethod
    def full(cls) -> Any:
        return cls(**cls._FULL)

    def with_overrides(self, **overrides: int) -> Any:
        names = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise TypeError(
                f"{type(self).__name__}: expected size names among {sorted(names)}, got {unknown}"
            )
        return replace(self, **overrides)


@dataclass(frozen=True)
class TinyFaceSizes(_Sizes):
    """TinyFace-like tree (full: 2,570 training identities / 7,804 images; 2,569 gallery identities, 2,563 of
    them with probes; 3,728 probes, 4,443 gallery-match and 153,428 distractor images)."""

    train_identities: int = 250
    train_images: int = 4000
    test_identities: int = 150
    probe_identities: int = 147
    probe_images: int = 220
    gallery_images: int = 255
    distractor_images: int = 1000
    _FULL: ClassVar[dict[str, int]] = {
        "train_identities": 2570,
        "train_images": 7804,
        "test_identities": 2569,
        "probe_identities": 2563,
        "probe_images": 3728,
        "gallery_images": 4443,
        "distractor_images": 153428,
    }

    def _check(self) -> None:
        self._need(self.train_images >= self.train_identities, "train_images >= train_identities")
        self._need(self.test_identities >= 1, "test_identities >= 1")
        self._need(self.probe_identities <= self.test_identities, "probe_identities <= test_identities")
        self._need(self.probe_images >= self.probe_identities >= 1, "probe_images >= probe_identities >= 1")
        self._need(self.gallery_images >= self.test_identities, "gallery_images >= test_identities")


@dataclass(frozen=True)
class SCFaceSizes(_Sizes):
    """SCface-like tree: one frontal mugshot per subject, surveillance images from ``cameras`` visible
    cameras at three distances (full = small: 130 subjects, cameras 1-5, as the real database's protocol
    uses)."""

    subjects: int = 130
    cameras: int = 5
    _FULL: ClassVar[dict[str, int]] = {"subjects": 130, "cameras": 5}

    def _check(self) -> None:
        self._need(1 <= self.subjects <= 999, "1 <= subjects <= 999 (three-digit subject names)")
        self._need(1 <= self.cameras <= 7, "1 <= cameras <= 7")


@dataclass(frozen=True)
class SurvFaceSizes(_Sizes):
    """QMUL-SurvFace-like tree (full: 5,319 training identities / 220,890 images; 3,000 watch-list identities;
    gallery, mated and unmated probes summing to the test split's 242,617 images (the split of that total
    between the three folders is this library's choice, the spec gives only the total); 5,320 positive and
    5,320 negative verification pairs)."""

    train_identities: int = 150
    train_images: int = 1200
    watchlist_identities: int = 100
    gallery_images: int = 200
    mated_probe_images: int = 200
    unmated_identities: int = 150
    unmated_probe_images: int = 200
    verification_pairs: int = 200
    _FULL: ClassVar[dict[str, int]] = {
        "train_identities": 5319,
        "train_images": 220890,
        "watchlist_identities": 3000,
        "gallery_images": 60040,
        "mated_probe_images": 60040,
        "unmated_identities": 7254,
        "unmated_probe_images": 122537,
        "verification_pairs": 5320,
    }

    def _check(self) -> None:
        self._need(self.train_images >= self.train_identities, "train_images >= train_identities")
        self._need(self.watchlist_identities >= 1, "watchlist_identities >= 1")
        self._need(self.gallery_images >= self.watchlist_identities, "gallery_images >= watchlist_identities")
        self._need(
            self.mated_probe_images >= self.watchlist_identities, "mated_probe_images >= watchlist_identities"
        )
        self._need(
            self.unmated_probe_images >= self.unmated_identities, "unmated_probe_images >= unmated_identities"
        )
        self._need(self.unmated_identities >= 1 or self.unmated_probe_images == 0, "unmated_identities >= 1")


@dataclass(frozen=True)
class UISizes(_Sizes):
    """UI set: extremely degraded faces of one-off identities plus non-face crops (full: 11,707 images in
    all, the size of the paper's detector-harvested set, 5 % of them non-faces)."""

    face_images: int = 285
    nonface_images: int = 15
    _FULL: ClassVar[dict[str, int]] = {"face_images": 11122, "nonface_images": 585}

    def _check(self) -> None:
        self._need(self.face_images + self.nonface_images >= 1, "at least one image")


LAYOUT_SIZES: dict[str, type[_Sizes]] = {
    "tinyface": TinyFaceSizes,
    "scface": SCFaceSizes,
    "survface": SurvFaceSizes,
    "ui": UISizes,
}


def sizes_for(layout: str, scale: str = "small", **overrides: int) -> Any:
    """The sizes of ``layout`` at ``scale`` ("small" or "full") with ``overrides`` applied."""
    if layout not in LAYOUT_SIZES:
        raise ValueError(f"expected layout in {sorted(LAYOUT_SIZES)}, got {layout!r}")
    if scale not in ("small", "full"):
        raise ValueError(f"expected scale 'small' or 'full', got {scale!r}")
    cls = LAYOUT_SIZES[layout]
    base = cls.small() if scale == "small" else cls.full()
    return base.with_overrides(**overrides)
