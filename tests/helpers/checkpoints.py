"""A stand-in for a run's settings, as checkpoints see them (any class with to_dict/from_dict)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

__all__ = ["StandInSettings"]


@dataclass(frozen=True)
class StandInSettings:
    """A run's settings as checkpoints see them: to_dict/from_dict, epochs, a step cap, other fields."""

    epochs: int = 3
    tau: float = 0.5
    lr: float = 0.1
    seed: int = 0
    max_steps_per_epoch: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> StandInSettings:
        return cls(**values)

    def replace(self, **changes: Any) -> StandInSettings:
        return dataclasses.replace(self, **changes)
