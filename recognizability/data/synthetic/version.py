"""The generator's version: it changes whenever the same seed and sizes would give other pixels.

Version 1: flat-filled cartoon faces (releases up to 0.1.0). Version 2: 3-D heads under directional light
in natural-textured scenes, degraded by a camera model with JPEG compression. Trees record it in
``SYNTHETIC.txt`` and the generation cache keys folders by it, so no tree of another version is reused.
"""

from __future__ import annotations

__all__ = ["GENERATOR_VERSION"]

#: Version of the synthetic face generator (see the module docstring).
GENERATOR_VERSION = 2
