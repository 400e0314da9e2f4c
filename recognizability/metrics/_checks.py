"""Input conversions and checks of metric inputs (scores, features, labels, masks, rates), and the report
base class shared by the metric modules.

Every public metric validates its input here or with the package's checks of
:mod:`recognizability._validation` (all of the form ``check_xxx(value, name, ...)``) and raises
``ValueError``/``TypeError`` that names the argument, the expected and the received value. Checks that need
a device-to-host sync (finiteness, emptiness) are fine here: metrics are evaluation code, not forward passes.
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

from .._validation import ArgumentTypeError, check_choice, check_positive_int

__all__ = [
    "Report",
    "as_tensor",
    "check_choice",
    "check_features",
    "check_fractions",
    "check_labels",
    "check_mask",
    "check_positive_int",
    "check_ranks",
    "check_rates",
    "check_scores",
]


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


def check_scores(x: Any, name: str, allow_empty: bool = False, *, distances: bool = False) -> Tensor:
    """1-D finite floating scores; integer input is promoted to float64. With ``distances``, every value must
    be >= 0 (a distance is never negative: a negative one is a similarity passed by mistake)."""
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
    if distances and t.numel() and bool((t < 0).any()):
        negative = int((t < 0).sum())
        raise ValueError(
            f"expected {name} >= 0 (distances, e.g. sqrt(2 - 2 cos) of unit-norm features), got {negative} "
            f"negative value(s) out of {t.numel()}, the lowest {float(t.min()):g} (similarities?)"
        )
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


def _float_values(x: Any, name: str) -> tuple[Tensor, bool]:
    """Python number(s), a sequence or a tensor of real numbers as a 1-D float64 CPU tensor; and whether the
    input was a single number."""
    if isinstance(x, bool) or isinstance(x, str):
        raise ArgumentTypeError(f"expected {name} as a number or a sequence of numbers, got {x!r}")
    scalar = isinstance(x, int | float) or (isinstance(x, Tensor | np.ndarray) and x.ndim == 0)
    t = as_tensor([x] if scalar and not isinstance(x, Tensor | np.ndarray) else x, name)
    if t.dtype == torch.bool or t.is_complex():
        raise ArgumentTypeError(f"expected {name} as real numbers, got dtype {t.dtype}")
    if t.dim() > 1:
        raise ValueError(f"expected {name} as a number or a 1-D sequence, got shape {tuple(t.shape)}")
    t = t.detach().to(torch.float64).reshape(-1).cpu()
    if t.numel() == 0:
        raise ValueError(f"expected at least one {name} value, got an empty sequence")
    return t, scalar


def check_rates(x: float | Sequence[float] | Tensor, name: str) -> tuple[Tensor, bool]:
    """Target rates in [0, 1] (any order, no duplicates) as a 1-D float64 tensor, plus whether the input was a
    scalar."""
    t, scalar = _float_values(x, name)
    if not bool(((t >= 0) & (t <= 1)).all()):  # NaN fails too
        raise ValueError(f"expected {name} in [0, 1], got {t.tolist()}")
    if torch.unique(t).numel() != t.numel():
        raise ValueError(f"expected {name} without duplicates, got {t.tolist()}")
    return t, scalar


def check_fractions(x: Sequence[float] | Tensor, name: str) -> Tensor:
    """Fractions in [0, 1), strictly increasing (sorted, no duplicates), as a 1-D float64 tensor."""
    t, _ = _float_values(x, name)
    if not bool(((t >= 0) & (t < 1)).all()):
        raise ValueError(f"expected {name} in [0, 1), got {t.tolist()}")
    if t.numel() > 1 and not bool((t[1:] > t[:-1]).all()):
        raise ValueError(f"expected {name} in increasing order without duplicates, got {t.tolist()}")
    return t


def check_ranks(ranks: Sequence[int], name: str = "ranks") -> tuple[int, ...]:
    """Ranks k >= 1 (a sequence of distinct ints) as a tuple."""
    if isinstance(ranks, str) or not isinstance(ranks, Sequence | Tensor | np.ndarray):
        raise ArgumentTypeError(f"expected {name} as a sequence of positive integers, got {ranks!r}")
    values = ranks.tolist() if isinstance(ranks, Tensor | np.ndarray) else list(ranks)
    try:
        out = tuple(check_positive_int(k, name) for k in values)
    except ValueError as error:
        raise type(error)(f"expected {name} as positive integers, got {tuple(values)}") from None
    if not out:
        raise ValueError(f"expected {name} as positive integers, got {tuple(values)}")
    if len(set(out)) != len(out):
        raise ValueError(f"expected {name} without duplicates, got {out}")
    return out


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
