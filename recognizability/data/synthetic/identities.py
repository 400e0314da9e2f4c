"""Procedural identities of the synthetic benchmark: a person's fixed head shape and colouring.

An *identity* is a reproducible vector of facial parameters (:data:`IDENTITY_SCHEMA`): head size and shape
(width, height, depth, jaw taper), the relief of the face (eye sockets, brow ridge, nose bridge and tip,
nostril wings, cheekbones, lips, chin), the placement and size of eyes, brows, nose and mouth, skin tone,
iris, lip and hair colours, hair style (bald, buzz, short, medium, long; hairline, fringe, parting, volume),
beard (stubble, moustache, goatee, full) and glasses (clear or dark). Every image of the identity shares
these; what changes from one image to the next is drawn by :func:`variation.sample_variation`.

Face coordinates, used by every part of the renderer: X to the person's left on the image (right of the
picture), Y down, both in units of the head's half-width, origin between the eyes; the head's depth axis Z
points out of the face. Colours are linear light (see :func:`parameters.linear`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .parameters import ParameterTable, bell, identity_rng, linear, pick
from .variation import GAMMAS, NUM_GAMMAS, VARIATION_SCHEMA, sample_variation

__all__ = [
    "BEARD_STYLES",
    "GAMMAS",
    "HAIR_STYLES",
    "IDENTITY_SCHEMA",
    "NUM_GAMMAS",
    "VARIATION_SCHEMA",
    "ParameterTable",
    "identity_rng",
    "sample_identities",
    "sample_identity",
    "sample_variation",
]

#: Hair styles (value of the ``hair_style`` parameter = index).
HAIR_STYLES: tuple[str, ...] = ("bald", "buzz", "short", "medium", "long")
#: Beard styles (value of the ``beard`` parameter = index).
BEARD_STYLES: tuple[str, ...] = ("none", "stubble", "moustache", "goatee", "full")

#: Identity parameters: name -> number of columns (face coordinates, see the module docstring).
IDENTITY_SCHEMA: dict[str, int] = {
    "head_width": 1,  # half-width of the head, image half-widths (before the per-image scale)
    "head_height": 1,  # half-height of the head ellipsoid / half-width
    "head_depth": 1,  # half-depth / half-width
    "jaw_taper": 1,  # how much narrower the head is at the chin than at the cheekbones
    "eye_y": 1,
    "eye_spacing": 1,  # X of the eye centres
    "eye_width": 1,  # half-width of the eye opening
    "eye_height": 1,  # half-height of the open eye
    "eye_tilt": 1,  # rise of the outer corner
    "socket_depth": 1,
    "brow_y": 1,  # height of the brow above the eye centre
    "brow_thickness": 1,
    "brow_arch": 1,
    "brow_length": 1,
    "brow_darkness": 1,  # 0 = skin-coloured, 1 = hair-coloured
    "brow_ridge": 1,
    "nose_length": 1,  # Y of the nose tip
    "nose_width": 1,  # half-width of the nostril wings
    "nose_height": 1,  # how far the tip stands out
    "nose_bridge": 1,  # bridge relief relative to the tip
    "mouth_y": 1,
    "mouth_width": 1,  # half-width
    "lip_thickness": 1,
    "lip_fullness": 1,  # how far the lips stand out
    "cheekbones": 1,
    "chin": 1,
    "skin": 3,  # linear RGB
    "lips": 3,
    "iris": 3,
    "hair": 3,
    "hair_style": 1,  # index into HAIR_STYLES
    "hairline": 1,  # Y of the hairline at the temples
    "hair_volume": 1,
    "fringe": 1,  # how far below the hairline the hair comes at the centre
    "parting": 1,  # -1..1: side of the parting
    "beard": 1,  # index into BEARD_STYLES
    "beard_density": 1,
    "glasses": 1,  # 0 none, 1 clear, 2 dark
    "glasses_frame": 3,
    "glasses_size": 1,
}

# sRGB anchors of the skin-tone line, from very light to very dark (face datasets span all of it).
_SKIN_LINE = np.array(
    [
        [0.96, 0.80, 0.70],
        [0.87, 0.67, 0.55],
        [0.76, 0.55, 0.42],
        [0.60, 0.41, 0.29],
        [0.44, 0.29, 0.20],
        [0.27, 0.17, 0.12],
    ]
)
# Hair palette (sRGB) and its weights: black, dark brown, brown, auburn, blond, grey, white.
_HAIR_PALETTE = np.array(
    [
        [0.05, 0.045, 0.04],
        [0.15, 0.10, 0.07],
        [0.30, 0.20, 0.12],
        [0.45, 0.22, 0.11],
        [0.72, 0.58, 0.38],
        [0.52, 0.50, 0.48],
        [0.80, 0.79, 0.76],
    ]
)
_HAIR_WEIGHTS = (0.26, 0.20, 0.15, 0.07, 0.12, 0.12, 0.08)
_IRIS_PALETTE = np.array(
    [[0.30, 0.18, 0.09], [0.14, 0.09, 0.06], [0.30, 0.45, 0.62], [0.32, 0.45, 0.30], [0.45, 0.36, 0.20]]
)
_IRIS_WEIGHTS = (0.35, 0.3, 0.15, 0.1, 0.1)
_HAIR_STYLE_WEIGHTS = (0.07, 0.13, 0.35, 0.25, 0.20)
_BEARD_WEIGHTS = (0.62, 0.14, 0.07, 0.07, 0.10)


def _u(rng: np.random.Generator, low: float, high: float) -> float:
    return float(rng.uniform(low, high))


def sample_identity(rng: np.random.Generator) -> dict[str, float | list[float]]:
    """Draw one identity's parameters (see :data:`IDENTITY_SCHEMA`)."""
    tone = rng.uniform() * (len(_SKIN_LINE) - 1)
    i = min(int(tone), len(_SKIN_LINE) - 2)
    t = tone - i
    skin = (1.0 - t) * _SKIN_LINE[i] + t * _SKIN_LINE[i + 1]
    skin = skin * np.array([1.0 + 0.03 * bell(rng), 1.0, 1.0 + 0.04 * bell(rng)])
    lips = skin * np.array([0.92, 0.68, 0.68]) * (0.85 + 0.1 * rng.uniform())
    hair = _HAIR_PALETTE[pick(rng, _HAIR_WEIGHTS)] * (0.8 + 0.45 * rng.uniform())
    iris = _IRIS_PALETTE[pick(rng, _IRIS_WEIGHTS)] * (0.85 + 0.3 * rng.uniform())
    dark = rng.uniform() < 0.65
    frame = [0.05, 0.05, 0.05] if dark else [float(v) for v in rng.uniform(0.15, 0.8, 3)]
    glasses_draw = rng.uniform()
    glasses = 0.0 if glasses_draw < 0.8 else (1.0 if glasses_draw < 0.95 else 2.0)
    style = pick(rng, _HAIR_STYLE_WEIGHTS)
    return {
        "head_width": _u(rng, 0.70, 0.80),
        "head_height": _u(rng, 1.36, 1.56),
        "head_depth": _u(rng, 1.10, 1.30),
        "jaw_taper": _u(rng, 0.22, 0.45),
        "eye_y": 0.05 * bell(rng),
        "eye_spacing": _u(rng, 0.35, 0.43),
        "eye_width": _u(rng, 0.145, 0.185),
        "eye_height": _u(rng, 0.055, 0.08),
        "eye_tilt": 0.03 * bell(rng),
        "socket_depth": _u(rng, 0.07, 0.13),
        "brow_y": _u(rng, 0.17, 0.24),
        "brow_thickness": _u(rng, 0.035, 0.07),
        "brow_arch": _u(rng, 0.0, 0.06),
        "brow_length": _u(rng, 0.18, 0.25),
        "brow_darkness": _u(rng, 0.45, 1.0),
        "brow_ridge": _u(rng, 0.02, 0.07),
        "nose_length": _u(rng, 0.45, 0.58),
        "nose_width": _u(rng, 0.12, 0.18),
        "nose_height": _u(rng, 0.14, 0.26),
        "nose_bridge": _u(rng, 0.3, 0.7),
        "mouth_y": _u(rng, 0.80, 0.92),
        "mouth_width": _u(rng, 0.26, 0.36),
        "lip_thickness": _u(rng, 0.045, 0.075),
        "lip_fullness": _u(rng, 0.02, 0.05),
        "cheekbones": _u(rng, 0.03, 0.08),
        "chin": _u(rng, 0.03, 0.08),
        "skin": linear(skin),
        "lips": linear(lips),
        "iris": linear(iris),
        "hair": linear(hair),
        "hair_style": float(style),
        "hairline": _u(rng, -0.95, -0.72) + (0.12 * rng.uniform() if style == 1 else 0.0),
        "hair_volume": _u(rng, 0.01, 0.05) if style <= 1 else _u(rng, 0.05, 0.18),
        "fringe": _u(rng, 0.0, 0.35) if style >= 2 else 0.0,
        "parting": bell(rng),
        "beard": float(pick(rng, _BEARD_WEIGHTS)),
        "beard_density": _u(rng, 0.5, 1.0),
        "glasses": glasses,
        "glasses_frame": linear(frame),
        "glasses_size": _u(rng, 1.15, 1.4),
    }


def sample_identities(seed: int, stream: int, indices: Sequence[int]) -> ParameterTable:
    """The identities ``indices`` of ``stream`` under ``seed``: a table of shape (len(indices), P)."""
    rows = [sample_identity(identity_rng(seed, stream, index)) for index in indices]
    return ParameterTable.from_rows(rows, IDENTITY_SCHEMA)
