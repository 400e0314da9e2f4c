"""Checks shared by the backbone constructors (a private module of the package: public names, one place)."""

from __future__ import annotations

from .._validation import ArgumentTypeError, check_positive_int

__all__ = ["check_stage_depths"]


def check_stage_depths(layers: object) -> tuple[int, int, int, int]:
    """Validate the number of residual units in each of the four stages of an IResNet / AdaFace IR.

    Raises:
        ArgumentTypeError: ``layers`` is not a tuple or list, or holds something other than ints.
        ValueError: not four entries, or an entry < 1.
    """
    message = f"expected layers to be four positive ints, got {layers!r}"
    if not isinstance(layers, (tuple, list)):
        raise ArgumentTypeError(message)
    if len(layers) != 4:
        raise ValueError(message)
    try:
        depths = tuple(check_positive_int(depth, "layers") for depth in layers)
    except ArgumentTypeError:
        raise ArgumentTypeError(message) from None
    except ValueError:
        raise ValueError(message) from None
    return (depths[0], depths[1], depths[2], depths[3])
