"""How many identities and images each synthetic layout holds: named size presets per layout.

Every layout has ``small`` (the default: seconds on 2 CPU cores, trains the CPU demo in minutes) and ``full``
(the real dataset's sizes, ``datasets.md``, for GPU runs); some have more (:data:`PRESETS`): TinyFace's
``evidence`` (a test set large enough to resolve small effects) and the HR set's ``gpu``. Every field can be
overridden (``generate(..., probe_images=500)``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar

from ..._validation import check_choice, check_positive_int

__all__ = [
    "LAYOUT_SIZES",
    "PRESETS",
    "HRSizes",
    "SCFaceSizes",
    "SurvFaceSizes",
    "TinyFaceSizes",
    "UISizes",
    "presets_of",
    "sizes_for",
]

#: Largest id a protocol .mat file can hold: the real files store ids as uint16.
_MAX_MAT_ID = 65535


@dataclass(frozen=True)
class _Sizes:
    """Common behaviour: validation of non-negative integers and the named presets."""

    _FULL: ClassVar[dict[str, int]] = {}
    #: Presets beyond ``small`` (the field defaults) and ``full``: name -> field values.
    _EXTRA: ClassVar[dict[str, dict[str, int]]] = {}

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            check_positive_int(value, f.name, minimum=0)
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

    @classmethod
    def preset_names(cls) -> tuple[str, ...]:
        """``("small", "full", ...)``: the presets :meth:`preset` accepts."""
        return ("small", "full", *cls._EXTRA)

    @classmethod
    def preset(cls, name: str) -> Any:
        """The sizes of preset ``name`` (see :meth:`preset_names`)."""
        if name == "small":
            return cls.small()
        if name == "full":
            return cls.full()
        if name in cls._EXTRA:
            return cls(**cls._EXTRA[name])
        raise ValueError(f"{cls.__name__}: expected a preset in {list(cls.preset_names())}, got {name!r}")

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
    them with probes; 3,728 probes, 4,443 gallery-match and 153,428 distractor images).

    ``evidence``: the small default's training set (the same files for the same seed) with a test set of
    4,000 probes of 1,000 identities (642 of them hard for seed 0 with generator version 2, about 16 %), 1,500
    gallery-match and 2,000 distractor images, for paired comparisons that must resolve differences of a few
    points of rank-1.
    """

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
    _EXTRA: ClassVar[dict[str, dict[str, int]]] = {
        "evidence": {
            "test_identities": 1000,
            "probe_identities": 1000,
            "probe_images": 4000,
            "gallery_images": 1500,
            "distractor_images": 2000,
        }
    }

    def _check(self) -> None:
        self._need(self.train_identities >= 1, "train_identities >= 1 (Training_Set needs an identity)")
        self._need(self.train_images >= self.train_identities, "train_images >= train_identities")
        self._need(self.test_identities >= 1, "test_identities >= 1")
        self._need(self.test_identities <= _MAX_MAT_ID, f"test_identities <= {_MAX_MAT_ID} (uint16 .mat ids)")
        self._need(self.probe_identities <= self.test_identities, "probe_identities <= test_identities")
        self._need(self.probe_images >= self.probe_identities >= 1, "probe_images >= probe_identities >= 1")
        self._need(self.gallery_images >= self.test_identities, "gallery_images >= test_identities")
        self._need(
            self.distractor_images >= 1,
            "distractor_images >= 1 (the layout always has Testing_Set/Gallery_Distractor)",
        )


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
        self._need(self.train_identities >= 1, "train_identities >= 1 (training_set needs an identity)")
        self._need(self.train_images >= self.train_identities, "train_images >= train_identities")
        self._need(self.watchlist_identities >= 1, "watchlist_identities >= 1")
        self._need(
            self.watchlist_identities <= _MAX_MAT_ID,
            f"watchlist_identities <= {_MAX_MAT_ID} (uint16 .mat ids)",
        )
        self._need(self.gallery_images >= self.watchlist_identities, "gallery_images >= watchlist_identities")
        self._need(
            self.mated_probe_images >= self.watchlist_identities, "mated_probe_images >= watchlist_identities"
        )
        self._need(
            self.unmated_probe_images >= self.unmated_identities, "unmated_probe_images >= unmated_identities"
        )
        self._need(
            self.unmated_identities >= 1,
            "unmated_identities >= 1 (the layout always has Face_Identification_Test_Set/unmated_probe)",
        )
        self._need(
            self.verification_pairs >= 1,
            "verification_pairs >= 1 (the layout always has the verification test set)",
        )


@dataclass(frozen=True)
class UISizes(_Sizes):
    """UI set: extremely degraded faces of one-off identities plus non-face crops (full: 11,707 images in
    all, the size of the paper's detector-harvested set, 5 % of them non-faces)."""

    face_images: int = 285
    nonface_images: int = 15
    _FULL: ClassVar[dict[str, int]] = {"face_images": 11122, "nonface_images": 585}

    def _check(self) -> None:
        self._need(self.face_images + self.nonface_images >= 1, "at least one image")


#: Side limits of the HR layout's images (8 px: the smallest the renderer draws; 224: twice the 112 x 112 of
#: the usual face-recognition input).
HR_IMAGE_SIZE_RANGE = (8, 224)


@dataclass(frozen=True)
class HRSizes(_Sizes):
    """Clean high-resolution pretraining set (a VGGFace2 stand-in): ``identities`` folders of
    ``images_per_identity`` square images of ``image_size`` pixels.

    Presets: ``small`` 1,000 x 16 at 32 x 32 (the CPU demo's pretraining set); ``gpu`` 2,000 x 32 at
    112 x 112; ``full`` 8,631 x 362 at 112 x 112, the size of VGGFace2's training split (8,631 identities;
    3.31 million images of 9,131 identities in all, about 362 per identity; Cao et al., FG 2018).
    """

    identities: int = 1000
    images_per_identity: int = 16
    image_size: int = 32
    _FULL: ClassVar[dict[str, int]] = {"identities": 8631, "images_per_identity": 362, "image_size": 112}
    _EXTRA: ClassVar[dict[str, dict[str, int]]] = {
        "gpu": {"identities": 2000, "images_per_identity": 32, "image_size": 112}
    }

    def _check(self) -> None:
        self._need(self.identities >= 1, "identities >= 1")
        self._need(self.images_per_identity >= 1, "images_per_identity >= 1")
        low, high = HR_IMAGE_SIZE_RANGE
        self._need(low <= self.image_size <= high, f"{low} <= image_size <= {high}")


LAYOUT_SIZES: dict[str, type[_Sizes]] = {
    "tinyface": TinyFaceSizes,
    "scface": SCFaceSizes,
    "survface": SurvFaceSizes,
    "ui": UISizes,
    "hr": HRSizes,
}

#: Preset names of every layout, e.g. ``PRESETS["tinyface"] == ("small", "full", "evidence")``.
PRESETS: dict[str, tuple[str, ...]] = {layout: cls.preset_names() for layout, cls in LAYOUT_SIZES.items()}


def presets_of(layout: str) -> tuple[str, ...]:
    """The preset names ``layout`` accepts as ``scale``."""
    return PRESETS[check_choice(layout, "layout", tuple(LAYOUT_SIZES))]


def _quoted(names: tuple[str, ...]) -> str:
    quoted = [repr(name) for name in names]
    return " or ".join(quoted) if len(quoted) <= 2 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def sizes_for(layout: str, scale: str = "small", **overrides: int) -> Any:
    """The sizes of ``layout`` at preset ``scale`` (see :data:`PRESETS`) with ``overrides`` applied."""
    names = presets_of(layout)
    if scale not in names:
        raise ValueError(f"expected scale {_quoted(names)} for layout {layout!r}, got {scale!r}")
    return LAYOUT_SIZES[layout].preset(scale).with_overrides(**overrides)
