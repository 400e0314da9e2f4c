"""Input validation shared by the whole package, and the one switch for checks that read tensor values.

Two kinds of checks exist:

* **Structural checks** (type, rank, sizes, dtype, device) read only tensor metadata. They cost no
  device-to-host synchronisation and are always on.
* **Value checks** (labels inside ``[0, num_classes)``, finiteness, a fitted UI centre) must read tensor
  *values*; on an accelerator each one forces a host sync. They are on by default and controlled by one
  process-wide switch: :func:`set_value_checks`, :func:`value_checks_enabled`, and the context manager
  :func:`value_checks`. Benchmarks and speed-minded training loops turn them off after a first checked step.
  Inside ``torch.compile`` the value checks are skipped (a sync cannot be traced into a graph); run a
  first step eagerly to validate the data.

Every helper raises :class:`TypeError` (wrong Python or tensor type/dtype) or :class:`ValueError`
(wrong shape, size, device or value) with a message naming the argument, the expected and the received value,
e.g. ``expected labels of shape (B,) = (4,), got shape (4, 1)``. Every check has the form
``check_xxx(value, name, ...)`` and returns the checked value; the whole package uses these and no others.
A wrong Python type for a plain argument (an int, float, bool or choice) raises :class:`ArgumentTypeError`,
a :class:`TypeError` that is also a :class:`ValueError`: earlier releases raised ``ValueError`` there, and
code catching it keeps working.
"""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Iterator, Sequence
from typing import TypeVar

import torch
from torch import Tensor

__all__ = [
    "ArgumentTypeError",
    "check_bool",
    "check_choice",
    "check_finite",
    "check_finite_float",
    "check_float_in_range",
    "check_floating",
    "check_integer",
    "check_labels",
    "check_nonempty",
    "check_positive_float",
    "check_positive_int",
    "check_reduction",
    "check_same_device",
    "check_shape",
    "check_size_pair",
    "check_tensor",
    "format_shape",
    "set_value_checks",
    "value_checks",
    "value_checks_enabled",
]

_VALUE_CHECKS_ENABLED: bool = True

_Choice = TypeVar("_Choice")


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong Python type: a :class:`TypeError`, and a :class:`ValueError` for the code
    written against earlier releases, whose checks raised ``ValueError`` for it."""


def set_value_checks(enabled: bool) -> None:
    """Turn the host-syncing value checks on (default) or off for the whole process.

    Value checks cover labels in range, finiteness of inputs such as the UI centre, and whether a
    :class:`~recognizability.nn.UICenter` has been fitted. With checks off no forward pass of the package
    synchronises with the device; invalid values then give undefined results (on CUDA an out-of-range label
    may trigger a device-side assert).

    Args:
        enabled: ``True`` to run value checks, ``False`` to skip them.
    """
    if not isinstance(enabled, bool):
        raise TypeError(f"expected enabled to be a bool, got {type(enabled).__name__}")
    global _VALUE_CHECKS_ENABLED
    _VALUE_CHECKS_ENABLED = enabled


def value_checks_enabled() -> bool:
    """Return whether value checks run now: the switch is on and ``torch.compile`` is not tracing."""
    return _VALUE_CHECKS_ENABLED and not torch.compiler.is_compiling()


@contextlib.contextmanager
def value_checks(enabled: bool) -> Iterator[None]:
    """Context manager that sets the value-check switch for a block and restores the previous setting.

    Example::

        with value_checks(False):
            out = criterion(feature_map, embeddings, labels, arcface_out, ui_center)
    """
    global _VALUE_CHECKS_ENABLED
    previous = _VALUE_CHECKS_ENABLED
    set_value_checks(enabled)
    try:
        yield
    finally:
        _VALUE_CHECKS_ENABLED = previous


# ----------------------------------------------------------------------------------------------------------
# Structural checks (metadata only: free, always on)
# ----------------------------------------------------------------------------------------------------------


def format_shape(expected: Sequence[int | str]) -> str:
    """Format an expected shape: ``("B", 512)`` -> ``"(B, 512)"``, ``("B",)`` -> ``"(B,)"``."""
    items = [str(e) for e in expected]
    if len(items) == 1:
        return f"({items[0]},)"
    return "(" + ", ".join(items) + ")"


def check_tensor(value: object, name: str) -> Tensor:
    """Raise :class:`TypeError` unless ``value`` is a :class:`torch.Tensor`; return it typed as one."""
    if not isinstance(value, Tensor):
        raise TypeError(f"expected {name} to be a torch.Tensor, got {type(value).__name__}")
    return value


def check_shape(value: object, name: str, expected: Sequence[int | str]) -> Tensor:
    """Check the rank and the fixed sizes of a tensor.

    Args:
        value: the tensor to check.
        name: the argument name used in the message.
        expected: one entry per dimension; an ``int`` is a required size, a ``str`` (``"B"``, ``"C"``) is a
            free size named in the message.

    Raises:
        TypeError: ``value`` is not a tensor.
        ValueError: wrong number of dimensions or a wrong fixed size.
    """
    tensor = check_tensor(value, name)
    ok = tensor.ndim == len(expected) and all(
        isinstance(e, str) or tensor.shape[i] == e for i, e in enumerate(expected)
    )
    if not ok:
        raise ValueError(
            f"expected {name} of shape {format_shape(expected)}, "
            f"got shape {format_shape(tuple(tensor.shape))}"
        )
    return tensor


def check_nonempty(value: Tensor, name: str, dim: int = 0) -> None:
    """Raise :class:`ValueError` when dimension ``dim`` of ``value`` has size 0 (an empty batch)."""
    if value.shape[dim] == 0:
        raise ValueError(
            f"expected a non-empty {name} (size >= 1 along dim {dim}), "
            f"got shape {format_shape(tuple(value.shape))}"
        )


def check_floating(value: Tensor, name: str) -> None:
    """Raise :class:`TypeError` unless ``value`` has a floating-point dtype."""
    if not value.dtype.is_floating_point:
        raise TypeError(f"expected {name} with a floating-point dtype, got {value.dtype}")


def check_integer(value: Tensor, name: str) -> None:
    """Raise :class:`TypeError` unless ``value`` has an integer dtype (bool excluded)."""
    if value.dtype.is_floating_point or value.dtype.is_complex or value.dtype == torch.bool:
        raise TypeError(f"expected {name} with an integer dtype (e.g. torch.int64), got {value.dtype}")


def check_same_device(value: Tensor, name: str, reference: Tensor, reference_name: str) -> None:
    """Raise :class:`ValueError` unless ``value`` lives on the device of ``reference``."""
    if value.device != reference.device:
        raise ValueError(
            f"expected {name} on the device of {reference_name} ({reference.device}), got {value.device}"
        )


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_bool(value: object, name: str) -> bool:
    """Check ``value`` is a ``bool`` (not 0/1 or a string); return it."""
    if not isinstance(value, bool):
        raise ArgumentTypeError(f"expected {name} to be a bool, got {type(value).__name__}")
    return value


def check_positive_int(value: object, name: str, *, minimum: int = 1) -> int:
    """Check ``value`` is an ``int`` (bool excluded) ``>= minimum`` (default 1: a positive int; 0: a
    non-negative int); return it."""
    bound = {1: "a positive int", 0: "a non-negative int"}.get(minimum, f"an int >= {minimum}")
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise ArgumentTypeError(f"expected {name} to be {bound}, got {value!r}")
    if value < minimum:
        raise ValueError(f"expected {name} to be {bound}, got {value!r}")
    return int(value)


def check_size_pair(value: object, name: str) -> tuple[int, int]:
    """Check an image size: an ``int`` (a square) or a pair ``(H, W)`` (tuple or list) of positive ints
    (bool excluded); return it as ``(H, W)``.

    Example: ``check_size_pair(32, "input_size")`` returns ``(32, 32)``; ``check_size_pair("32", "size")``
    raises ``expected size to be an int or a pair (H, W) of ints, got '32'``.
    """
    pair: tuple[object, ...]
    if isinstance(value, (tuple, list)) and len(value) == 2:
        pair = tuple(value)
    else:
        pair = (value, value)
    if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in pair):
        raise ArgumentTypeError(f"expected {name} to be an int or a pair (H, W) of ints, got {value!r}")
    height, width = (int(v) for v in pair)  # type: ignore[call-overload]  # numbers.Integral
    if height < 1 or width < 1:
        raise ValueError(f"expected {name} to hold positive ints, got {value!r}")
    return (height, width)


def check_choice(value: object, name: str, choices: Sequence[_Choice]) -> _Choice:
    """Check ``value`` is one of ``choices``; return it."""
    for choice in choices:
        if isinstance(value, bool) != isinstance(choice, bool):
            continue  # True is not the choice 1
        try:
            equal = bool(value == choice)
        except (TypeError, ValueError, RuntimeError):  # e.g. a tensor or an array compared with a string
            equal = False
        if equal:
            return choice
    raise ValueError(f"expected {name} to be one of {list(choices)!r}, got {value!r}")


def check_positive_float(value: object, name: str, *, allow_zero: bool = False) -> float:
    """Check a Python number is finite and positive (or non-negative); return it as ``float``."""
    if not _is_real(value):
        raise ArgumentTypeError(f"expected {name} to be a float, got {type(value).__name__}")
    number = float(value)  # type: ignore[arg-type]  # a numbers.Real
    bad = not math.isfinite(number) or number < 0 or (number == 0 and not allow_zero)
    if bad:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"expected {name} to be a finite float {bound}, got {value!r}")
    return number


def check_finite_float(value: object, name: str) -> float:
    """Check a Python number is finite (any sign); return it as ``float``."""
    if not _is_real(value):
        raise ArgumentTypeError(f"expected {name} to be a float, got {type(value).__name__}")
    number = float(value)  # type: ignore[arg-type]  # a numbers.Real
    if not math.isfinite(number):
        raise ValueError(f"expected {name} to be a finite float, got {value!r}")
    return number


def check_float_in_range(
    value: object,
    name: str,
    low: float,
    high: float,
    *,
    low_closed: bool = True,
    high_closed: bool = True,
    high_text: str | None = None,
) -> float:
    """Check a Python number lies in the interval from ``low`` to ``high`` (closed or open at each end).

    Example: ``check_float_in_range(dropout, "dropout", 0, 1, high_closed=False)`` raises
    ``expected dropout to be a float in [0, 1), got 1.0``. ``high_text`` names the upper bound in the
    message (e.g. ``"pi"``).
    """
    upper = f"{high:g}" if high_text is None else high_text
    interval = f"{'[' if low_closed else '('}{low:g}, {upper}{']' if high_closed else ')'}"
    if not _is_real(value):
        raise ArgumentTypeError(f"expected {name} to be a float in {interval}, got {value!r}")
    number = float(value)  # type: ignore[arg-type]  # a numbers.Real
    above = number >= low if low_closed else number > low
    below = number <= high if high_closed else number < high
    if not (above and below):  # NaN fails both
        raise ValueError(f"expected {name} to be a float in {interval}, got {value!r}")
    return number


def check_reduction(reduction: object, allowed: Sequence[str], name: str = "reduction") -> str:
    """``check_choice(reduction, name, allowed)``, in the argument order of earlier releases."""
    return check_choice(reduction, name, allowed)


# ----------------------------------------------------------------------------------------------------------
# Combined checks; the value parts run only while value checks are enabled
# ----------------------------------------------------------------------------------------------------------


def check_labels(
    labels: object, num_classes: int, batch_size: int, reference: Tensor, reference_name: str
) -> Tensor:
    """Check class labels: an integer tensor of shape ``(B,)`` on the device of ``reference``.

    While value checks are on, also check every label lies in ``[0, num_classes)`` (one host sync) so an
    out-of-range label never reaches a gather/scatter or a CUDA device-side assert.

    Returns:
        ``labels`` as int64 (no copy when it already is).
    """
    tensor = check_tensor(labels, "labels")
    check_integer(tensor, "labels")
    if tensor.ndim != 1 or tensor.shape[0] != batch_size:
        raise ValueError(
            f"expected labels of shape (B,) = ({batch_size},) to match {reference_name}, "
            f"got shape {format_shape(tuple(tensor.shape))}"
        )
    check_same_device(tensor, "labels", reference, reference_name)
    if value_checks_enabled() and tensor.numel() > 0:
        out_of_range = (tensor < 0) | (tensor >= num_classes)
        if bool(out_of_range.any()):
            low, high = int(tensor.min()), int(tensor.max())
            raise ValueError(
                f"expected labels with values in [0, {num_classes}), got values in [{low}, {high}]"
            )
    return tensor.long()


def check_finite(value: Tensor, name: str) -> None:
    """While value checks are on, raise :class:`ValueError` if ``value`` holds NaN or inf (one host sync)."""
    if value_checks_enabled() and not bool(torch.isfinite(value).all()):
        count = int((~torch.isfinite(value)).sum())
        raise ValueError(f"expected {name} with finite values, got {count} non-finite value(s)")
