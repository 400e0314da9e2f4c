"""Within-identity variation: what changes from one photograph of a person to the next.

Pose as a rotation of the 3-D head (yaw up to about 60 degrees, pitch 20, roll 15; bell-shaped, most faces
near frontal as in face datasets), framing (shift and scale of a detector-style crop), expression (smile,
open mouth, closed or narrowed eyes, gaze), illumination (a directional light's elevation and azimuth,
ambient share, specular strength, exposure, colour cast, tone curve), the scene (background colours and
texture, clothing) and occluders (hats, masks, hands; glasses belong to the identity).

Angles are radians; the light direction is a unit vector in camera coordinates (x right, y down, z towards
the camera), computed with Python's ``math`` once per image.
"""

from __future__ import annotations

import math

import numpy as np

from .parameters import bell, linear, pick

__all__ = ["GAMMAS", "NUM_GAMMAS", "OCCLUDERS", "VARIATION_SCHEMA", "sample_variation"]

#: Exponents of the tone curves an image may be encoded with (index = ``gamma_index``): linear light ->
#: display value ``x ** g``; 1 / 2.2 is the usual one.
GAMMAS: tuple[float, ...] = tuple((1.0 / 2.2) * (0.9 + 0.025 * i) for i in range(9))
NUM_GAMMAS = len(GAMMAS)
#: Occluders an image may have besides glasses (each its own column group).
OCCLUDERS: tuple[str, ...] = ("hat", "mask", "hand")
_OCCLUDER_WEIGHTS = (0.45, 0.25, 0.30)

#: Per-image variation parameters: name -> number of columns.
VARIATION_SCHEMA: dict[str, int] = {
    "face_present": 1,  # 0 renders a non-face crop (scene only)
    "yaw": 1,  # radians, positive: the face turns towards the picture's right
    "pitch": 1,  # radians, positive: chin down
    "roll": 1,  # radians, in-plane
    "shift": 2,  # (x, y) of the head in the crop, image half-widths
    "scale": 1,  # multiplies the identity's head size
    "smile": 1,  # 0..1
    "mouth_open": 1,  # 0..1
    "eye_open": 1,  # 0 closed .. 1 open
    "gaze": 2,
    "light_direction": 3,  # unit vector towards the light, camera coordinates
    "ambient": 1,  # share of light that is not directional
    "specular": 1,
    "exposure": 1,
    "color_cast": 3,  # per-channel gain
    "gamma_index": 1,  # index into GAMMAS
    "background": 6,  # two linear RGB colours of the scene
    "texture_seed": 1,  # seed of the scene's multi-scale texture
    "texture_strength": 1,
    "edge": 5,  # a straight scene edge: cos, sin of its normal, offset, contrast, softness
    "clothing": 3,
    "hat": 5,  # present, style (0 cap, 1 beanie), linear RGB
    "mask": 4,  # present, linear RGB
    "hand": 6,  # present, cx, cy, size, cos and sin of its tilt
}


def _plain(rng: np.random.Generator, low: float, high: float) -> list[float]:
    """A muted linear RGB colour: a grey level in [low, high] with a small tint."""
    grey = float(rng.uniform(low, high))
    return linear([grey + 0.08 * bell(rng) for _ in range(3)])


def sample_variation(
    rng: np.random.Generator,
    *,
    face_present: bool = True,
    occlusion_probability: float = 0.2,
    frontal: bool = False,
) -> dict[str, float | list[float]]:
    """Draw one image's within-identity variation (see :data:`VARIATION_SCHEMA`).

    ``frontal=True`` gives a mugshot: frontal pose, neutral expression, light from the front, plain light
    background, no occluder.
    """
    k = 0.0 if frontal else 1.0
    turn = bell(rng)
    yaw = math.radians(60.0) * (0.75 * turn + 0.25 * turn * turn * turn) * k
    pitch = math.radians(20.0) * bell(rng) * k
    roll = math.radians(15.0) * bell(rng) * k
    smile = float(rng.uniform(0.3, 1.0)) if rng.uniform() < 0.4 else 0.0
    mouth_open = float(rng.uniform(0.2, 1.0)) if rng.uniform() < 0.2 else 0.0
    eye_draw = rng.uniform()
    eye_open = 0.0 if eye_draw < 0.05 else 1.0 - 0.35 * float(rng.uniform())
    elevation = math.radians(float(rng.uniform(10.0, 50.0)) if not frontal else 25.0)
    azimuth = math.radians(float(rng.uniform(-45.0, 45.0)) * k)
    light = [
        math.sin(azimuth) * math.cos(elevation),
        -math.sin(elevation),
        math.cos(azimuth) * math.cos(elevation),
    ]
    angle = float(rng.uniform(0.0, 2.0 * math.pi))
    edge = [math.cos(angle), math.sin(angle), float(rng.uniform(-1.2, 1.2)), *rng.uniform(0.0, 1.0, 2)]
    background = _plain(rng, 0.15, 0.85) + _plain(rng, 0.15, 0.85)
    occluder = (not frontal) and face_present and rng.uniform() < occlusion_probability
    which = pick(rng, _OCCLUDER_WEIGHTS)
    tilt = float(rng.uniform(-0.6, 0.6))
    hat = [float(occluder and which == 0), float(rng.uniform() < 0.5), *_plain(rng, 0.05, 0.9)]
    mask = [float(occluder and which == 1), *_plain(rng, 0.35, 0.95)]
    hand = [
        float(occluder and which == 2),
        float(rng.uniform(-0.45, 0.45)),
        float(rng.uniform(0.25, 0.9)),
        float(rng.uniform(0.3, 0.5)),
        math.cos(tilt),
        math.sin(tilt),
    ]
    return {
        "face_present": float(face_present),
        "yaw": yaw,
        "pitch": pitch,
        "roll": roll,
        "shift": [0.05 * bell(rng) * k, 0.05 * bell(rng) * k],
        "scale": 1.0 + 0.07 * bell(rng) * k,
        "smile": smile * k,
        "mouth_open": mouth_open * k,
        "eye_open": eye_open if not frontal else 1.0,
        "gaze": [0.5 * bell(rng) * k, 0.3 * bell(rng) * k],
        "light_direction": light,
        "ambient": float(rng.uniform(0.3, 0.55)) if not frontal else 0.45,
        "specular": float(rng.uniform(0.02, 0.12)),
        "exposure": float(rng.uniform(0.85, 1.2)) if not frontal else 1.0,
        "color_cast": [1.0 + 0.05 * bell(rng) * k for _ in range(3)],
        "gamma_index": float(rng.integers(NUM_GAMMAS)) if not frontal else float(NUM_GAMMAS // 2),
        "background": background if not frontal else linear([0.82] * 3) * 2,
        "texture_seed": float(rng.integers(2**31)),
        "texture_strength": float(rng.uniform(0.15, 0.7)) * k,
        "edge": edge,
        "clothing": _plain(rng, 0.05, 0.8),
        "hat": hat,
        "mask": mask,
        "hand": hand,
    }
