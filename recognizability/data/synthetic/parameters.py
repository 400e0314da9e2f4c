"""Parameter tables and the random draws every part of the generator shares.

A :class:`ParameterTable` holds one row of named parameters per identity or per image, so the renderer works
on whole batches with numpy broadcasting. Random streams are PCG64 generators seeded by
``SeedSequence([seed, *keys])`` (:func:`identity_rng`), so identity 17 of a stream is the same person whatever
the sizes asked for.

Determinism: the draws use only ``uniform`` and ``integers`` (exact functions of the PCG64 bits), never
``normal``, whose ziggurat tails call the C library's ``exp`` and ``log``; bell-shaped jitter is a sum of
uniforms (:func:`bell`). Colours are given in sRGB and turned into linear light with Python's ``math.pow``
once per parameter (:func:`linear`), never on the pixel grid.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["ParameterTable", "bell", "identity_rng", "linear", "pick"]


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


def bell(rng: np.random.Generator) -> float:
    """A bell-shaped draw in [-1, 1] (mean 0, std 1/3): the scaled sum of three uniforms."""
    return float((rng.uniform() + rng.uniform() + rng.uniform() - 1.5) / 1.5)


def linear(srgb: Sequence[float]) -> list[float]:
    """sRGB components in [0, 1] -> linear light (gamma 2.2), with Python's math (one value at a time)."""
    return [math.pow(min(max(float(c), 0.0), 1.0), 2.2) for c in srgb]


def pick(rng: np.random.Generator, weights: Sequence[float]) -> int:
    """An index drawn with probabilities proportional to ``weights`` (one uniform, exact comparisons)."""
    total = float(sum(weights))
    draw = rng.uniform() * total
    acc = 0.0
    for i, w in enumerate(weights):
        acc += w
        if draw < acc:
            return i
    return len(weights) - 1
