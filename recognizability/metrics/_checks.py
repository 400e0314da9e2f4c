"""Input checks and the report base class shared by the metric modules.

Every public metric validates its input here and raises ``ValueError``/``TypeError`` that names the
argument, the expected and the received value. Checks that need a device-to-host sync (finiteness,
emptiness) are fine here: metrics are evaluation code, not forward passes.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["Report"]


def as_tensor(x: Any, name: str) -> Tensor:
    """Convert ``x`` (tensor, numpy array or sequence) to a tensor without copying a tensor input."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray | Sequence):
        try:
            return torch.as_tensor(np.asarray(x))
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"expected {name} as a tensor or array of numbers, got {type(x).__name__}"
            ) from error
    raise TypeError(f"expected {name} as a torch.Tensor or array-like, got {type(x).__name__}")


def check_scores(x: Any, name: str, allow_empty: bool = False) -> Tensor:
    """1-D finite floating scores; integer input is promoted to float64."""
    t = as_tensor(x, name)
    if t.dim() != 1:
        raise ValueError(f"expected {name} of shape (N,), got shape {tuple(t.shape)}")
    if t.dtype == torch.bool or t.is_complex():
        raise TypeError(f"expected {name} of a real dtype, got {t.dtype}")
    if not t.is_floating_point():
        t = t.to(torch.float64)
    if t.numel() == 0 and not allow_empty:
        raise ValueError(f"expected {name} to hold at least one score, got an empty tensor")
    if t.numel() and not bool(torch.isfinite(t).all()):
        bad = int((~torch.isfinite(t)).sum())
        raise ValueError(f"expected finite {name}, got {bad} NaN/inf value(s) out of {t.numel()}")
    return t


def check_features(x: Any, name: str, dim: int | None = None, allow_empty: bool = False) -> Tensor:
    """2-D finite floating features ``(N, D)``."""
    t = as_tensor(x, name)
    if t.dim() != 2:
        raise ValueError(f"expected {name} of shape (N, D), got shape {tuple(t.shape)}")
    if not t.is_floating_point():
        raise TypeError(f"expected floating-point {name}, got dtype {t.dtype}")
    if t.shape[0] == 0 and not allow_empty:
        raise ValueError(f"expected {name} with at least one row, got shape {tuple(t.shape)}")
    if dim is not None and t.shape[1] != dim:
        raise ValueError(
            f"expected {name} of shape (N, {dim}) to match the other features, got {tuple(t.shape)}"
        )
    if t.numel() and not bool(torch.isfinite(t).all()):
        raise ValueError(f"expected finite {name}, got NaN/inf values")
    return t


def check_labels(x: Any, name: str, n: int) -> Tensor:
    """1-D integer labels of length ``n`` (int64 on the input's device)."""
    t = as_tensor(x, name)
    if t.dim() != 1 or t.shape[0] != n:
        raise ValueError(f"expected {name} of shape ({n},), got shape {tuple(t.shape)}")
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise TypeError(f"expected integer {name}, got dtype {t.dtype}")
    return t.to(torch.int64)


def check_mask(x: Any, name: str, n: int) -> Tensor:
    """1-D boolean (or 0/1 integer) mask of length ``n``."""
    t = as_tensor(x, name)
    if t.dim() != 1 or t.shape[0] != n:
        raise ValueError(f"expected {name} of shape ({n},), got shape {tuple(t.shape)}")
    if t.dtype != torch.bool:
        if t.is_floating_point() or t.is_complex():
            raise TypeError(f"expected boolean {name}, got dtype {t.dtype}")
        if t.numel() and not bool(((t == 0) | (t == 1)).all()):
            raise ValueError(f"expected {name} with values in {{0, 1}}, got other values")
        t = t.bool()
    return t


def check_rates(x: float | Sequence[float] | Tensor, name: str) -> tuple[Tensor, bool]:
    """Target rates in [0, 1] as a 1-D float64 tensor, plus whether the input was a scalar."""
    scalar = isinstance(x, int | float) or (isinstance(x, Tensor) and x.dim() == 0)
    t = torch.as_tensor(x, dtype=torch.float64).reshape(-1).cpu()
    if t.numel() == 0:
        raise ValueError(f"expected at least one {name} value, got an empty sequence")
    if not bool(((t >= 0) & (t <= 1)).all()):
        raise ValueError(f"expected {name} in [0, 1], got {t.tolist()}")
    return t, scalar


def check_ranks(ranks: Sequence[int], name: str = "ranks") -> tuple[int, ...]:
    out = tuple(int(k) for k in ranks)
    if not out or any(k < 1 for k in out):
        raise ValueError(f"expected {name} as positive integers, got {tuple(ranks)}")
    return out


def check_choice(value: str, name: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"expected {name} to be one of {tuple(choices)}, got {value!r}")
    return value


def check_positive_int(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"expected {name} as a positive int, got {value!r}")
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Tensor | np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class Report:
    """Mixin for the result dataclasses: ``to_dict()`` gives plain Python values, ``to_json()`` a JSON string.

    Tensors become (nested) lists, non-finite floats become ``"inf"``/``"-inf"``/``None`` so the JSON is
    strict.
    """

    def to_dict(self) -> dict[str, Any]:
        if not dataclasses.is_dataclass(self):
            raise TypeError(f"{type(self).__name__} is not a dataclass")
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)
