"""Build a margin head by name: ``build_margin_head("adaface", 512, num_classes)``."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from types import MappingProxyType

from ._prototypes import MarginHead
from .adaface import AdaFace
from .arcface import ArcFace
from .cosface import CosFace
from .curricularface import CurricularFace
from .magface import MagFace

__all__ = ["MARGIN_HEADS", "MARGIN_HEAD_NAMES", "build_margin_head"]

#: Every margin head of the library by its lower-case name; ``arcface`` is the paper's (Table 5).
MARGIN_HEADS: Mapping[str, type[MarginHead]] = MappingProxyType(
    {
        "arcface": ArcFace,
        "cosface": CosFace,
        "adaface": AdaFace,
        "curricularface": CurricularFace,
        "magface": MagFace,
    }
)
#: The names :func:`build_margin_head` accepts, e.g. for an ``argparse`` ``choices=``.
MARGIN_HEAD_NAMES: tuple[str, ...] = tuple(MARGIN_HEADS)


def build_margin_head(name: str, embedding_dim: int, num_classes: int, **options: float) -> MarginHead:
    """Build the margin head ``name`` with its own paper's defaults, overridden by ``options``.

    Args:
        name: one of :data:`MARGIN_HEAD_NAMES` (``arcface``, ``cosface``, ``adaface``, ``curricularface``,
            ``magface``).
        embedding_dim: ``D``.
        num_classes: ``C >= 2``.
        **options: keyword arguments of that head's constructor (e.g. ``scale``, ``margin``; ``h`` for
            AdaFace, ``lambda_g`` for MagFace). An option the head does not take is an error, never dropped.

    Returns:
        The head module; its forward returns :class:`~recognizability.nn.MarginHeadOutput`.

    Example::

        head = build_margin_head("adaface", 512, num_classes=2570, margin=0.4)
    """
    if not isinstance(name, str) or name.lower() not in MARGIN_HEADS:
        choices = ", ".join(repr(n) for n in MARGIN_HEAD_NAMES)
        raise ValueError(f"expected name to be one of {choices}, got {name!r}")
    cls = MARGIN_HEADS[name.lower()]
    accepted = [
        p
        for p in inspect.signature(cls.__init__).parameters
        if p not in ("self", "embedding_dim", "num_classes")
    ]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise TypeError(
            f"expected options of {cls.__name__} among {', '.join(accepted)}, "
            f"got unknown {', '.join(unknown)}"
        )
    return cls(embedding_dim, num_classes, **options)
