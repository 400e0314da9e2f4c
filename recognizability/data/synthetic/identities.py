"""Procedural identities and within-identity variation of the synthetic benchmark.

An *identity* is a reproducible vector of facial parameters (face outline, skin tone, hair shape and colour,
eye position/size/colour, brows, nose, mouth, optional glasses and beard). An *image variation* is a vector of
the parameters that change from one photo of a person to the next (pose, expression, illumination, background
clutter, partial occlusion). Both are drawn from ``numpy.random.Generator`` (PCG64) streams seeded by
``SeedSequence([seed, stream, index, ...])``, so identity 17 of stream 1 is the same person whatever the sizes
asked for.

Parameters live in :class:`ParameterTable` rows: one row per identity (or per image), named columns, so the
renderer works on whole batches with numpy broadcasting.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "GAMMAS",
    "IDENTITY_SCHEMA",
    "NUM_CLUTTER_SHAPES",
    "NUM_GAMMAS",
    "VARIATION_SCHEMA",
    "ParameterTable",
    "identity_rng",
    "sample_identities",
    "sample_identity",
    "sample_variation",
]

#: Background clutter shapes per image.
NUM_CLUTTER_SHAPES = 4
#: Discrete gamma curves an image may be rendered with (index = ``gamma_index`` variation parameter).
GAMMAS: tuple[float, ...] = tuple(0.65 + 0.1 * i for i in range(9))
NUM_GAMMAS = len(GAMMAS)

#: Identity parameters: name -> number of columns. Coordinates are in the face frame, x right, y down, [-1,
# 1].
IDENTITY_SCHEMA: dict[str, int] = {
    "face_width": 1,  # half-width of the face ellipse
    "face_height": 1,  # half-height
    "face_center_y": 1,
    "jaw": 1,  # 1 = round chin, smaller = narrower jaw
    "skin": 3,  # RGB in [0, 1]
    "hair": 3,
    "hair_amount": 1,  # 0 = bald, 1 = full
    "hair_volume": 1,  # how far hair extends beyond the face outline
    "hair_length": 1,  # how far hair falls down the sides
    "fringe": 1,  # how low the hairline comes down the forehead
    "ear_size": 1,
    "eye_y": 1,
    "eye_spacing": 1,  # half the distance between eye centres
    "eye_width": 1,
    "eye_aspect": 1,  # height / width
    "iris": 3,
    "brow_gap": 1,
    "brow_thickness": 1,
    "brow_tilt": 1,
    "brow_length": 1,
    "nose_length": 1,
    "nose_width": 1,
    "mouth_y": 1,
    "mouth_width": 1,
    "lip_thickness": 1,
    "lips": 3,
    "glasses": 1,  # 0 or 1
    "glasses_frame": 3,
    "glasses_size": 1,
    "beard": 1,  # 0 or 1
    "beard_top": 1,  # where the beard starts, relative to the mouth
}

#: Per-image variation parameters: name -> number of columns.
VARIATION_SCHEMA: dict[str, int] = {
    "face_present": 1,  # 0 renders a non-face crop (background clutter only)
    "rotation": 1,  # in-plane rotation, radians
    "shift": 2,  # (x, y) translation of the face, frame units
    "scale": 1,
    "yaw": 1,  # in [-1, 1]: yaw-like squeeze and sideways shift of the features
    "smile": 1,
    "mouth_open": 1,
    "eye_open": 1,
    "brow_raise": 1,
    "gaze": 2,
    "light_direction": 2,  # unit vector in the image plane
    "light_strength": 1,
    "brightness": 1,
    "color_cast": 3,  # per-channel gain
    "gamma_index": 1,  # index into GAMMAS of the renderer
    "background": 6,  # two RGB colours of the background gradient
    "clutter": 8 * NUM_CLUTTER_SHAPES,  # per shape: cx, cy, half-w, half-h, r, g, b, is_ellipse
    "occluder": 8,  # present, cx, cy, half-w, half-h, r, g, b
}


@dataclass(frozen=True)
class ParameterTable:
    """Rows of named parameters.

    Attributes:
        values: float64 array of shape (N, P), P = the total width of ``schema``.
        schema: column name -> width, in column order.
    """

    values: NDArray[np.float64]
    schema: Mapping[str, int]

    def __post_init__(self) -> None:
        width = sum(self.schema.values())
        if self.values.ndim != 2 or self.values.shape[1] != width:
            raise ValueError(f"expected values of shape (N, {width}), got shape {tuple(self.values.shape)}")

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def _slice(self, name: str) -> slice:
        start = 0
        for key, width in self.schema.items():
            if key == name:
                return slice(start, start + width)
            start += width
        raise KeyError(f"expected a parameter name in {list(self.schema)}, got {name!r}")

    def column(self, name: str) -> NDArray[np.float64]:
        """The column ``name`` as shape (N,) (width 1) or (N, width)."""
        part = self.values[:, self._slice(name)]
        return part[:, 0] if part.shape[1] == 1 else part

    @classmethod
    def from_rows(
        cls, rows: Sequence[Mapping[str, float | Sequence[float]]], schema: Mapping[str, int]
    ) -> ParameterTable:
        """Stack per-row dictionaries (each value a float or a sequence of ``width`` floats)."""
        width = sum(schema.values())
        values = np.zeros((len(rows), width), dtype=np.float64)
        for i, row in enumerate(rows):
            start = 0
            for key, size in schema.items():
                values[i, start : start + size] = row[key]
                start += size
        return cls(values=values, schema=dict(schema))


def identity_rng(seed: int, *keys: int) -> np.random.Generator:
    """A PCG64 generator seeded by ``SeedSequence([seed, *keys])`` (all non-negative integers)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), *(int(k) for k in keys)]))


# Hair palette: black, dark brown, brown, auburn, blond, grey (RGB, before jitter).
_HAIR_PALETTE = np.array(
    [
        [0.08, 0.07, 0.06],
        [0.22, 0.14, 0.08],
        [0.40, 0.26, 0.14],
        [0.55, 0.25, 0.12],
        [0.80, 0.66, 0.40],
        [0.62, 0.62, 0.62],
    ]
)
_IRIS_PALETTE = np.array(
    [[0.30, 0.18, 0.08], [0.15, 0.10, 0.06], [0.25, 0.45, 0.70], [0.30, 0.50, 0.30], [0.45, 0.40, 0.25]]
)
_SKIN_LIGHT = np.array([0.96, 0.82, 0.72])
_SKIN_DARK = np.array([0.33, 0.21, 0.14])


def sample_identity(rng: np.random.Generator) -> dict[str, float | list[float]]:
    """Draw one identity's facial parameters (see :data:`IDENTITY_SCHEMA`)."""
    tone = float(rng.uniform(0.0, 1.0))
    skin = (1.0 - tone) * _SKIN_LIGHT + tone * _SKIN_DARK + rng.normal(0.0, 0.025, 3)
    hair = _HAIR_PALETTE[int(rng.integers(len(_HAIR_PALETTE)))] * rng.uniform(0.8, 1.2) + rng.normal(
        0.0, 0.03, 3
    )
    iris = _IRIS_PALETTE[int(rng.integers(len(_IRIS_PALETTE)))] + rng.normal(0.0, 0.03, 3)
    lips = skin * np.array([0.85, 0.55, 0.55]) + rng.normal(0.0, 0.03, 3)
    frame = [0.05, 0.05, 0.05] if rng.uniform() < 0.6 else list(rng.uniform(0.1, 0.7, 3))
    return {
        "face_width": float(rng.uniform(0.50, 0.66)),
        "face_height": float(rng.uniform(0.68, 0.84)),
        "face_center_y": float(rng.uniform(0.02, 0.10)),
        "jaw": float(rng.uniform(0.55, 1.0)),
        "skin": list(np.clip(skin, 0.0, 1.0)),
        "hair": list(np.clip(hair, 0.0, 1.0)),
        "hair_amount": float(0.0 if rng.uniform() < 0.08 else 1.0),
        "hair_volume": float(rng.uniform(0.0, 0.30)),
        "hair_length": float(rng.uniform(0.0, 1.0)),
        "fringe": float(rng.uniform(0.0, 0.35)),
        "ear_size": float(rng.uniform(0.08, 0.14)),
        "eye_y": float(rng.uniform(-0.24, -0.08)),
        "eye_spacing": float(rng.uniform(0.18, 0.28)),
        "eye_width": float(rng.uniform(0.075, 0.11)),
        "eye_aspect": float(rng.uniform(0.40, 0.70)),
        "iris": list(np.clip(iris, 0.0, 1.0)),
        "brow_gap": float(rng.uniform(0.07, 0.14)),
        "brow_thickness": float(rng.uniform(0.015, 0.040)),
        "brow_tilt": float(rng.uniform(-0.30, 0.30)),
        "brow_length": float(rng.uniform(0.09, 0.15)),
        "nose_length": float(rng.uniform(0.12, 0.24)),
        "nose_width": float(rng.uniform(0.05, 0.10)),
        "mouth_y": float(rng.uniform(0.28, 0.42)),
        "mouth_width": float(rng.uniform(0.13, 0.25)),
        "lip_thickness": float(rng.uniform(0.018, 0.045)),
        "lips": list(np.clip(lips, 0.0, 1.0)),
        "glasses": float(rng.uniform() < 0.2),
        "glasses_frame": [float(v) for v in frame],
        "glasses_size": float(rng.uniform(1.3, 1.7)),
        "beard": float(rng.uniform() < 0.18),
        "beard_top": float(rng.uniform(-0.08, 0.06)),
    }


def sample_identities(seed: int, stream: int, indices: Sequence[int]) -> ParameterTable:
    """The identities ``indices`` of ``stream`` under ``seed``: a table of shape (len(indices), P)."""
    rows = [sample_identity(identity_rng(seed, stream, index)) for index in indices]
    return ParameterTable.from_rows(rows, IDENTITY_SCHEMA)


def sample_variation(
    rng: np.random.Generator,
    *,
    face_present: bool = True,
    occlusion_probability: float = 0.2,
    frontal: bool = False,
) -> dict[str, float | list[float]]:
    """Draw one image's within-identity variation (see :data:`VARIATION_SCHEMA`).

    ``frontal=True`` gives a mugshot: frontal pose, neutral expression, even light, plain background, no
    occluder.
    """
    k = 0.0 if frontal else 1.0
    angle = float(rng.uniform(0.0, 2.0 * np.pi))
    # Muted scenes: a grey level per gradient end plus a small tint (saturated backgrounds would dominate the
    # few pixels of a VLR image far more than real surveillance backgrounds do).
    background = np.repeat(rng.uniform(0.15, 0.85, 2), 3) + rng.uniform(-0.12, 0.12, 6)
    if frontal:
        background = np.full(6, 0.85)
    clutter: list[float] = []
    for _ in range(NUM_CLUTTER_SHAPES):
        size = rng.uniform(0.08, 0.45, 2) * k
        color = rng.uniform(0.1, 0.9) + rng.uniform(-0.15, 0.15, 3)
        clutter += [*rng.uniform(-1.0, 1.0, 2), *size, *np.clip(color, 0.0, 1.0), float(rng.uniform() < 0.5)]
    occluded = (not frontal) and rng.uniform() < occlusion_probability
    occluder = [
        float(occluded),
        *rng.uniform(-0.5, 0.5, 2),
        *rng.uniform(0.15, 0.45, 2),
        *rng.uniform(0.0, 1.0, 3),
    ]
    return {
        "face_present": float(face_present),
        "rotation": float(rng.uniform(-0.15, 0.15)) * k,
        "shift": list(rng.uniform(-0.07, 0.07, 2) * k),
        "scale": float(1.0 + rng.uniform(-0.08, 0.06) * k),
        "yaw": float(rng.uniform(-0.45, 0.45)) * k,
        "smile": float(rng.uniform(-0.4, 1.0)) * k,
        "mouth_open": float(max(0.0, rng.uniform(-0.6, 1.0))) * k,
        "eye_open": float(1.0 - rng.uniform(0.0, 0.5) * k),
        "brow_raise": float(rng.uniform(-0.03, 0.04)) * k,
        "gaze": list(rng.uniform(-0.3, 0.3, 2) * k),
        "light_direction": [math.cos(angle), math.sin(angle)],
        "light_strength": float(rng.uniform(0.0, 0.4)) * k,
        "brightness": float(1.0 + rng.uniform(-0.2, 0.1) * k),
        "color_cast": list(1.0 + rng.uniform(-0.08, 0.08, 3) * k),
        "gamma_index": float(rng.integers(NUM_GAMMAS)) if not frontal else float(NUM_GAMMAS // 2),
        "background": list(background),
        "clutter": clutter,
        "occluder": occluder,
    }
